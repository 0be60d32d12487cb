package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/hexabase/hexabase-ai/internal/httpapi"
	"github.com/hexabase/hexabase-ai/internal/identity"
	"github.com/hexabase/hexabase-ai/internal/store"
)

// mfaSweepInterval is how often expired second-factor challenges are
// deleted.
const mfaSweepInterval = 5 * time.Minute

// wireMFA mounts the two-factor routes, sweeps expired sign-in challenges,
// and enforces organizations' require_2fa on every route under {org}.
func wireMFA(ctx context.Context, d *deps) error {
	if d.docsOnly {
		d.routes = append(d.routes, (&identity.Service{}).MFARoutes()...)
		return nil
	}
	if d.identity == nil || d.store == nil {
		return errors.New("wire mfa: identity and store are required")
	}
	d.routes = append(d.routes, d.identity.MFARoutes()...)
	d.routeMiddleware = append(d.routeMiddleware, requireOrgMFA(d.store, d.identity))
	id, log := d.identity, d.log
	d.background = append(d.background, func(ctx context.Context) error {
		t := time.NewTicker(mfaSweepInterval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return nil
			case <-t.C:
				if n, err := id.SweepMFAChallenges(ctx); err != nil {
					log.Warn("sweep mfa challenges", "error", err)
				} else if n > 0 {
					log.Debug("swept mfa challenges", "count", n)
				}
			}
		}
	})
	return nil
}

// A member without 2FA in an organization that requires it may still read
// the organization (to learn why they are refused) and leave it.
const (
	orgReadPath    = "/api/v1/organizations/{org}"
	orgMemberPath  = "/api/v1/organizations/{org}/members/{user}"
	leaveOrgMethod = http.MethodDelete
	orgReadMethod  = http.MethodGet
)

// mfaChecker tells whether a user has two-factor authentication enabled.
type mfaChecker interface {
	MFAEnabled(ctx context.Context, userID string) (bool, error)
}

var _ mfaChecker = (*identity.Service)(nil)

// requireOrgMFA refuses members without two-factor authentication on the
// routes of an organization with require_2fa, with 403 mfa-required. It
// lets non-members through untouched, so the handler answers them as
// always (404) and the flag does not reveal the organization.
func requireOrgMFA(st store.Store, mfa mfaChecker) httpapi.RouteMiddleware {
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
			if err := checkOrgMFA(r, st, mfa); err != nil {
				httpapi.WriteError(w, r, err)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

func checkOrgMFA(r *http.Request, st store.Store, mfa mfaChecker) error {
	p, ok := httpapi.PrincipalFrom(r.Context())
	orgID := r.PathValue("org")
	if !ok || orgID == "" {
		return nil
	}
	ctx := r.Context()
	o, err := st.GetOrganization(ctx, orgID)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("require 2fa: %w", err)
	}
	if !o.Require2FA {
		return nil
	}
	if _, err := st.GetOrgMember(ctx, orgID, p.UserID); errors.Is(err, store.ErrNotFound) {
		return nil
	} else if err != nil {
		return fmt.Errorf("require 2fa: %w", err)
	}
	on, err := mfa.MFAEnabled(ctx, p.UserID)
	if err != nil {
		return fmt.Errorf("require 2fa: %w", err)
	}
	if on {
		return nil
	}
	return &httpapi.Error{Status: http.StatusForbidden, Type: "mfa-required", Title: "Two-factor authentication required",
		Detail: fmt.Sprintf("the organization %q requires two-factor authentication; enable it (POST /auth/2fa/enroll, then POST /auth/2fa/verify) and try again", o.Slug)}
}
