package tenancy

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/hexabase/hexabase-ai/internal/httpapi"
	"github.com/hexabase/hexabase-ai/internal/store"
)

// resolved holds what ResolvePath read, so that the handlers of the same
// request do not read it again.
type resolved struct {
	org     *store.Organization
	ws      *store.Workspace
	project *store.Project
	group   *store.Group
	// wc is the workspace and the caller's access to it, once
	// ProjectVisible checked them.
	wc *wsCtx
}

type resolvedKey struct{}

func resolvedFrom(ctx context.Context) resolved {
	rs, _ := ctx.Value(resolvedKey{}).(resolved)
	return rs
}

// ResolvePath is the route middleware that turns the references in a path
// into ids, once per request and before any policy, audit record or
// handler reads them: {org} is an id or a slug, {workspace} an id or a
// name within that organization, {project} and {group} ids or names within
// that workspace. An id wins over a name (names shaped like ids are
// refused when created). A reference that matches nothing is left as it
// is, and the handler answers 404 as it does for an unknown id; resolving
// grants nothing and reveals nothing, since every handler then checks the
// caller's membership on the id (and ProjectVisible their view of the
// project).
func (s *Service) ResolvePath(rt httpapi.Route, next http.Handler) http.Handler {
	has := func(p string) bool { return strings.Contains(rt.Path, "{"+p+"}") }
	if !has("org") {
		return next
	}
	ws, project, group := has("workspace"), has("project"), has("group")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rs, err := s.resolve(r, ws, project, group)
		if err != nil {
			httpapi.WriteError(w, r, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), resolvedKey{}, rs)))
	})
}

// ProjectVisible is the route middleware that keeps hidden projects
// hidden: on every route under {project} the caller who does not see the
// project (no workspace-wide role, no role bound to it or to one of its
// ancestors) gets exactly the answer of an unknown project, 404, before
// the handler runs, so before any call to the workspace's cluster, whose
// own refusal would name the project's namespace. projectFor is the rule;
// this middleware makes sure no route under {project} goes without it. It
// wraps inside ResolvePath (the path holds ids by then) and inside the
// other route middleware.
func (s *Service) ProjectVisible(rt httpapi.Route, next http.Handler) http.Handler {
	if !strings.Contains(rt.Path, "{project}") {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		wc, err := s.wsFor(r)
		if err == nil {
			_, _, err = s.projectFor(r, wc)
		}
		if err != nil {
			httpapi.WriteError(w, r, err)
			return
		}
		rs := resolvedFrom(r.Context())
		rs.wc = &wc
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), resolvedKey{}, rs)))
	})
}

func (s *Service) resolve(r *http.Request, ws, project, group bool) (resolved, error) {
	ctx := r.Context()
	var rs resolved
	o, err := lookup(ctx, r, "org", s.st.GetOrganization,
		func(o store.Organization) bool { return true },
		func(ctx context.Context, ref string) (store.Organization, error) {
			return s.st.GetOrganizationBySlug(ctx, ref)
		},
		func(o store.Organization) string { return o.ID })
	if o == nil || err != nil || !ws {
		rs.org = o
		return rs, err
	}
	rs.org = o
	rs.ws, err = lookup(ctx, r, "workspace", s.st.GetWorkspace,
		func(w store.Workspace) bool { return w.OrgID == o.ID },
		func(ctx context.Context, ref string) (store.Workspace, error) {
			return s.st.GetWorkspaceByName(ctx, o.ID, ref)
		},
		func(w store.Workspace) string { return w.ID })
	if rs.ws == nil || err != nil {
		return rs, err
	}
	wsID := rs.ws.ID
	if project {
		rs.project, err = lookup(ctx, r, "project", s.st.GetProject,
			func(p store.Project) bool { return p.WorkspaceID == wsID },
			func(ctx context.Context, ref string) (store.Project, error) {
				return s.st.GetProjectByName(ctx, wsID, ref)
			},
			func(p store.Project) string { return p.ID })
		if err != nil {
			return rs, err
		}
	}
	if group {
		rs.group, err = lookup(ctx, r, "group", s.st.GetGroup,
			func(g store.Group) bool { return g.WorkspaceID == wsID },
			func(ctx context.Context, ref string) (store.Group, error) { return s.st.GetGroupByName(ctx, wsID, ref) },
			func(g store.Group) string { return g.ID })
	}
	return rs, err
}

// lookup resolves path parameter param: by id (when the row belongs to
// the parent), else by name; found, the parameter is set to
// the id. nil, nil when nothing matches.
func lookup[T any](ctx context.Context, r *http.Request, param string, byID func(context.Context, string) (T, error),
	in func(T) bool, byName func(context.Context, string) (T, error), id func(T) string) (*T, error) {
	ref := r.PathValue(param)
	// Names never have the form of an id (refused when created), so only
	// a reference of that form costs a read by id.
	var v T
	err := store.ErrNotFound
	if store.LooksLikeID(ref) {
		v, err = byID(ctx, ref)
		if err == nil && !in(v) {
			err = store.ErrNotFound
		}
	}
	if errors.Is(err, store.ErrNotFound) {
		v, err = byName(ctx, ref)
	}
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("resolve %s: %w", param, err)
	}
	r.SetPathValue(param, id(v))
	return &v, nil
}

// cached is what ResolvePath read for this id, or a fresh read.
func cached[T any](ctx context.Context, v *T, id string, get func(context.Context, string) (T, error)) (T, error) {
	if v != nil {
		return *v, nil
	}
	return get(ctx, id)
}
