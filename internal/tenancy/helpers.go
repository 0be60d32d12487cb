package tenancy

import (
	"context"
	"net/http"
	"time"

	"github.com/hexabase/hexabase-ai/internal/api"
	"github.com/hexabase/hexabase-ai/internal/authz"
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

// listPage answers one page of a list under parent, converted for the API.
func listPage[T, O any](r *http.Request, list func(context.Context, string, store.Page) ([]T, string, error), parent string, conv func(T) O) (any, error) {
	page, err := httpapi.PageFromQuery(r)
	if err != nil {
		return nil, err
	}
	items, next, err := list(r.Context(), parent, page)
	if err != nil {
		return nil, err
	}
	return httpapi.NewList(mapSlice(items, conv), next), nil
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
