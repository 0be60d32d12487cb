package identity

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/hexabase/hexabase-ai/internal/httpapi"
	"github.com/hexabase/hexabase-ai/internal/store"
)

// ErrOrgMFARequired: the organization requires two-factor authentication
// and the user has not enabled it.
var ErrOrgMFARequired = errors.New("the organization requires two-factor authentication")

// CheckOrgMFA enforces an organization's require_2fa on userID: it is
// ErrOrgMFARequired if the organization orgID requires two-factor
// authentication and the user has not enabled it, nil otherwise. An
// unknown organization is store.ErrNotFound, wrapped.
func (s *Service) CheckOrgMFA(ctx context.Context, userID, orgID string) error {
	_, err := s.orgMFA(ctx, userID, orgID)
	return err
}

// orgMFA is CheckOrgMFA that also returns the organization.
func (s *Service) orgMFA(ctx context.Context, userID, orgID string) (store.Organization, error) {
	o, err := s.st.GetOrganization(ctx, orgID)
	if err != nil {
		return o, fmt.Errorf("require 2fa: %w", err)
	}
	if !o.Require2FA {
		return o, nil
	}
	on, err := s.MFAEnabled(ctx, userID)
	if err != nil {
		return o, fmt.Errorf("require 2fa: %w", err)
	}
	if !on {
		return o, ErrOrgMFARequired
	}
	return o, nil
}

// Routes of an organization that a member without 2FA may still use in
// an organization that requires it: reading the organization (to learn
// why they are refused) and leaving it.
const (
	orgReadPath    = "/api/v1/organizations/{org}"
	orgMemberPath  = "/api/v1/organizations/{org}/members/{user}"
	leaveOrgMethod = http.MethodDelete
	orgReadMethod  = http.MethodGet
)

// RequireOrgMFA is the route middleware that enforces require_2fa on every
// authenticated route under {org} (the organization's id, as resolved
// before it runs): a member without two-factor authentication is refused
// with 403 mfa-required, except when reading the organization or leaving
// it. Non-members pass untouched, so the handler answers them as always
// (404) and the flag does not reveal the organization.
func (s *Service) RequireOrgMFA() httpapi.RouteMiddleware {
	return func(rt httpapi.Route, next http.Handler) http.Handler {
		if rt.Public || !strings.Contains(rt.Path, "{org}") || (rt.Method == orgReadMethod && rt.Path == orgReadPath) {
			return next
		}
		leave := rt.Method == leaveOrgMethod && rt.Path == orgMemberPath
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if p, ok := httpapi.PrincipalFrom(r.Context()); ok && leave && r.PathValue("user") == p.UserID {
				next.ServeHTTP(w, r)
				return
			}
			if err := s.checkOrgMFARequest(r); err != nil {
				httpapi.WriteError(w, r, err)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

func (s *Service) checkOrgMFARequest(r *http.Request) error {
	p, ok := httpapi.PrincipalFrom(r.Context())
	orgID := r.PathValue("org")
	if !ok || orgID == "" {
		return nil
	}
	return s.RequireOrgMFAOf(r.Context(), p.UserID, orgID)
}

// RequireOrgMFAOf is RequireOrgMFA's decision for userID in the
// organization orgID, for callers that hold no request (the live-update
// WebSocket's subscriptions): a 403 mfa-required problem for a member
// without two-factor authentication when the organization requires it,
// nil otherwise (non-members and unknown organizations included: the
// caller answers them).
func (s *Service) RequireOrgMFAOf(ctx context.Context, userID, orgID string) error {
	o, err := s.orgMFA(ctx, userID, orgID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil
	case !errors.Is(err, ErrOrgMFARequired):
		return err
	}
	if _, merr := s.st.GetOrgMember(ctx, orgID, userID); errors.Is(merr, store.ErrNotFound) {
		return nil
	} else if merr != nil {
		return fmt.Errorf("require 2fa: %w", merr)
	}
	return &httpapi.Error{Status: http.StatusForbidden, Type: "mfa-required", Title: "Two-factor authentication required", Cause: err,
		Detail: fmt.Sprintf("the organization %q requires two-factor authentication; enable it (POST /auth/2fa/enroll, then POST /auth/2fa/verify) and try again", o.Slug)}
}
