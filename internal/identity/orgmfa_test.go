package identity

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hexabase/hexabase-ai/internal/httpapi"
	"github.com/hexabase/hexabase-ai/internal/store"
)

// TestRequireOrgMFA: members without 2FA of an organization that requires
// it are refused (403 mfa-required) on its routes, except reading it and
// leaving it; non-members, members with 2FA and other organizations pass.
func TestRequireOrgMFA(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	plain := e.user(t, "plain@example.com")
	other := e.user(t, "other@example.com")
	stranger := e.user(t, "stranger@example.com")
	with, secret, _ := e.enrolled(t, "with@example.com")
	now := e.clock.Now()
	for _, o := range []store.Organization{
		{ID: "org-strict", Name: "Strict", Slug: "strict", Require2FA: true, CreatedAt: now, UpdatedAt: now},
		{ID: "org-lax", Name: "Lax", Slug: "lax", CreatedAt: now, UpdatedAt: now},
	} {
		if err := e.st.CreateOrganization(ctx, o, store.OrgMember{OrgID: o.ID, UserID: with.ID, Role: "owner", CreatedAt: now}); err != nil {
			t.Fatal(err)
		}
		for _, u := range []store.User{plain, other} {
			if err := e.st.AddOrgMember(ctx, store.OrgMember{OrgID: o.ID, UserID: u.ID, Role: "member", CreatedAt: now}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := e.svc.CheckOrgMFA(ctx, plain.ID, "org-strict"); !errors.Is(err, ErrOrgMFARequired) {
		t.Fatalf("CheckOrgMFA without 2FA: %v", err)
	}
	if err := e.svc.CheckOrgMFA(ctx, with.ID, "org-strict"); err != nil {
		t.Fatalf("CheckOrgMFA with 2FA: %v", err)
	}
	if err := e.svc.CheckOrgMFA(ctx, plain.ID, "org-missing"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("CheckOrgMFA of an unknown organization: %v", err)
	}

	a, err := httpapi.New(httpapi.Config{Logger: testLogger(t), Registry: prometheus.NewRegistry(), Auth: e.svc,
		RouteMiddleware: []httpapi.RouteMiddleware{e.svc.RequireOrgMFA()}})
	if err != nil {
		t.Fatal(err)
	}
	ok := func(*http.Request) (any, error) { return map[string]string{"ok": "yes"}, nil }
	a.Mount(
		httpapi.Route{Method: "GET", Path: "/api/v1/organizations/{org}", Handle: ok},
		httpapi.Route{Method: "GET", Path: "/api/v1/organizations/{org}/workspaces", Handle: ok},
		httpapi.Route{Method: "DELETE", Path: "/api/v1/organizations/{org}/members/{user}", Handle: ok},
		httpapi.Route{Method: "GET", Path: "/api/v1/me/things", Handle: ok},
	)
	h := a.Handler()
	tokens := map[string]string{}
	for _, u := range []store.User{plain, stranger} {
		tokens[u.Email] = e.login(t, u.Email).AccessToken
	}
	res, err := e.svc.PasswordSignIn(ctx, with.Email, "correct horse battery", testMeta)
	if err != nil {
		t.Fatal(err)
	}
	tp, err := e.svc.CompleteMFA(ctx, res.MFAToken, TOTPCode(secret, e.clock.Now()), testMeta)
	if err != nil {
		t.Fatal(err)
	}
	tokens[with.Email] = tp.AccessToken
	for _, tc := range []struct {
		name, as, method, path string
		status                 int
	}{
		{"member without 2FA", plain.Email, "GET", "/api/v1/organizations/org-strict/workspaces", 403},
		{"member without 2FA reads the organization", plain.Email, "GET", "/api/v1/organizations/org-strict", 200},
		{"member without 2FA leaves", plain.Email, "DELETE", "/api/v1/organizations/org-strict/members/" + plain.ID, 200},
		{"member without 2FA removes another", plain.Email, "DELETE", "/api/v1/organizations/org-strict/members/" + other.ID, 403},
		{"member with 2FA", with.Email, "GET", "/api/v1/organizations/org-strict/workspaces", 200},
		{"organization without require_2fa", plain.Email, "GET", "/api/v1/organizations/org-lax/workspaces", 200},
		{"non-member", stranger.Email, "GET", "/api/v1/organizations/org-strict/workspaces", 200},
		{"unknown organization", plain.Email, "GET", "/api/v1/organizations/org-missing/workspaces", 200},
		{"route without {org}", plain.Email, "GET", "/api/v1/me/things", 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, tc.path, nil)
			r.Header.Set("Authorization", "Bearer "+tokens[tc.as])
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tc.status {
				t.Fatalf("%d %s, want %d", w.Code, w.Body, tc.status)
			}
			if tc.status == 403 && (!strings.Contains(w.Body.String(), "mfa-required") || !strings.Contains(w.Body.String(), `\"strict\"`)) {
				t.Fatalf("body %s, want mfa-required naming the organization", w.Body)
			}
		})
	}
}
