package tenancy

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/hexabase/hexabase-ai/internal/api"
	"github.com/hexabase/hexabase-ai/internal/authz"
	"github.com/hexabase/hexabase-ai/internal/events"
	"github.com/hexabase/hexabase-ai/internal/httpapi"
	"github.com/hexabase/hexabase-ai/internal/store"
)

// wsWith resolves {org} and {workspace} and requires the caller's workspace-wide
// level to be at least min.
func (s *Service) wsWith(r *http.Request, min authz.Level) (wsCtx, error) {
	wc, err := s.wsFor(r)
	if err != nil {
		return wc, err
	}
	return wc, wc.require(min)
}

// orgWith resolves {org} and requires the caller's organization role to
// be at least min.
func (s *Service) orgWith(r *http.Request, min string) (orgCtx, error) {
	oc, err := s.orgFor(r)
	if err != nil {
		return oc, err
	}
	return oc, oc.require(min)
}

// principalBody is the caller followed by the JSON body decoded into req.
func principalBody(r *http.Request, req any) (httpapi.Principal, error) {
	p, err := httpapi.MustPrincipal(r)
	if err != nil {
		return p, err
	}
	return p, httpapi.DecodeJSON(r, req)
}

// orgBody is orgWith followed by decoding the JSON body into req.
func (s *Service) orgBody(r *http.Request, min string, req any) (orgCtx, error) {
	oc, err := s.orgWith(r, min)
	if err != nil {
		return oc, err
	}
	return oc, httpapi.DecodeJSON(r, req)
}

// wsBody is wsWith followed by decoding the JSON body into req.
func (s *Service) wsBody(r *http.Request, min authz.Level, req any) (wsCtx, error) {
	wc, err := s.wsWith(r, min)
	if err != nil {
		return wc, err
	}
	return wc, httpapi.DecodeJSON(r, req)
}

// projectWith resolves {org}, {workspace} and {project} (404 unless the
// caller sees the project) and then requires the caller's workspace-wide
// level to be at least min.
func (s *Service) projectWith(r *http.Request, min authz.Level) (wsCtx, store.Project, error) {
	wc, err := s.wsFor(r)
	if err != nil {
		return wc, store.Project{}, err
	}
	p, _, err := s.projectFor(r, wc)
	if err != nil {
		return wc, p, err
	}
	return wc, p, wc.require(min)
}

// groupWith resolves {org} and {workspace}, requires the caller's
// workspace-wide level to be at least min, and resolves {group}.
func (s *Service) groupWith(r *http.Request, min authz.Level) (wsCtx, store.Group, error) {
	wc, err := s.wsWith(r, min)
	if err != nil {
		return wc, store.Group{}, err
	}
	g, err := s.groupFor(r, wc)
	return wc, g, err
}

// getIn answers the resource that with resolves for a caller whose
// workspace-wide level is at least min, converted by out.
func getIn[T, O any](r *http.Request, with func(*http.Request, authz.Level) (wsCtx, T, error), min authz.Level, out func(T) O) (any, error) {
	_, v, err := with(r, min)
	if err != nil {
		return nil, err
	}
	return out(v), nil
}

// deleteIn deletes, for a workspace admin, the tree node (project or
// group) that with resolves and publishes event; a node with children is
// a conflict that says busy.
func deleteIn[T any](s *Service, r *http.Request, with func(*http.Request, authz.Level) (wsCtx, T, error), id func(T) string,
	del func(context.Context, string) error, busy, event string) (any, error) {
	wc, v, err := with(r, authz.Admin)
	if err != nil {
		return nil, err
	}
	if err := del(r.Context(), id(v)); err != nil {
		return nil, conflictField(err, "", busy)
	}
	s.notifyIn(r, wc, event, id(v))
	return nil, nil
}

// ownedBy reads the record id with get and answers notHere when it does
// not exist or belongs to another owner (workspace or organization) than
// ownerID; ownerOf names the record's owner.
func ownedBy[T any](ctx context.Context, get func(context.Context, string) (T, error), id, ownerID string, ownerOf func(T) string, notHere error) (T, error) {
	v, err := get(ctx, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && ownerOf(v) != ownerID) {
		return v, notHere
	}
	return v, err
}

// parentIn checks that id, when given, names a record (of the kind what)
// of the workspace wsID; anything else is invalid in parent_id.
func parentIn[T any](r *http.Request, get func(context.Context, string) (T, error), wsOf func(T) string, wsID, id, what string) error {
	if id == "" {
		return nil
	}
	_, err := ownedBy(r.Context(), get, id, wsID, wsOf,
		httpapi.Invalid(httpapi.Field("parent_id", "is not a "+what+" of this workspace")))
	return err
}

func groupWorkspace(g store.Group) string         { return g.WorkspaceID }
func projectWorkspace(p store.Project) string     { return p.WorkspaceID }
func bindingWorkspace(b store.RoleBinding) string { return b.WorkspaceID }

// notifyIn publishes an event about a resource of the workspace whose
// payload names the workspace.
func (s *Service) notifyIn(r *http.Request, wc wsCtx, eventType, resourceID string) {
	s.events.Notify(r.Context(), wc.org.ID, eventType, resourceID, events.InWorkspace{WorkspaceID: wc.ws.ID})
}

// wsList answers one page of a list of the workspace's records to a
// caller whose workspace-wide level is at least min.
func wsList[T, O any](s *Service, r *http.Request, min authz.Level, list func(context.Context, string, store.Page) ([]T, string, error), conv func(T) O) (any, error) {
	wc, err := s.wsWith(r, min)
	if err != nil {
		return nil, err
	}
	return listPage(r, list, wc.ws.ID, conv)
}

// listPage answers one page of a list under parent, converted for the API.
func listPage[T, O any](r *http.Request, list func(context.Context, string, store.Page) ([]T, string, error), parent string, conv func(T) O) (any, error) {
	items, next, err := readPage(r, list, parent)
	if err != nil {
		return nil, err
	}
	return httpapi.NewList(mapSlice(items, conv), next), nil
}

// readPage reads the page of a list under parent that the request's query
// asks for, and the cursor of the next one.
func readPage[T any](r *http.Request, list func(context.Context, string, store.Page) ([]T, string, error), parent string) ([]T, string, error) {
	page, err := httpapi.PageFromQuery(r)
	if err != nil {
		return nil, "", err
	}
	return list(r.Context(), parent, page)
}

func userOut[M store.GroupMember | store.WorkspaceMember](m M) api.User {
	switch v := any(m).(type) {
	case store.GroupMember:
		return api.User{UserID: v.UserID, Email: v.Email, CreatedAt: v.CreatedAt}
	case store.WorkspaceMember:
		return api.User{UserID: v.UserID, Email: v.Email, CreatedAt: v.CreatedAt}
	}
	return api.User{}
}

// undoContext is for compensating a failed step: it keeps the request's
// values but not its cancellation, with a deadline of its own.
func undoContext(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(r.Context()), 10*time.Second)
}

// decodePatch reads the request's merge patch and applies it to view, the
// editable part of the resource as the handler read it, for the checks
// that come before the store's compare-and-swap (which applies the patch
// again, to the row as it is then).
func decodePatch[T any](r *http.Request, view T) (httpapi.MergePatch, T, error) {
	var req T
	patch, err := httpapi.DecodeMergePatch(r)
	if err != nil {
		return patch, req, err
	}
	return patch, req, patch.Apply(view, &req)
}

// patchVersioned applies a merge patch to view (the editable part of a
// resource at version v) into out, whose resource_version field is rv,
// and enforces the preconditions: If-Match, or a resource_version the
// patch names, must be v. It runs inside the store's compare-and-swap,
// on the row as it is now.
func patchVersioned[T any](r *http.Request, patch httpapi.MergePatch, view T, out *T, rv *string, v int64) error {
	if err := patch.Apply(view, out); err != nil {
		return err
	}
	return httpapi.CheckVersion(r, *rv, version(v))
}

// deref is *p, or "" for nil (a member a merge patch removed).
func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}
