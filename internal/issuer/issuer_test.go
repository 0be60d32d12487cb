package issuer

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/hexabase/hexabase-ai/internal/api"
	"github.com/hexabase/hexabase-ai/internal/authz"
	"github.com/hexabase/hexabase-ai/internal/httpapi"
	"github.com/hexabase/hexabase-ai/internal/identity"
	"github.com/hexabase/hexabase-ai/internal/seal"
	"github.com/hexabase/hexabase-ai/internal/store"
	"github.com/hexabase/hexabase-ai/internal/store/sqlstore"
)

func TestWorkspaceGroups(t *testing.T) {
	// web ← web-api (child); docs separate.
	projects := []store.Project{
		{ID: "p1", Name: "web"},
		{ID: "p2", Name: "web-api", ParentID: "p1"},
		{ID: "p3", Name: "docs"},
	}
	for _, tc := range []struct {
		name string
		acc  authz.WorkspaceAccess
		want []string
	}{
		{"org owner", authz.WorkspaceAccess{OrgRole: store.RoleOwner, Workspace: authz.Admin}, []string{"hks:workspace-admin"}},
		{"viewer in groups", authz.WorkspaceAccess{Workspace: authz.View, Groups: []string{"team", "all"}}, []string{"all", "hks:viewer", "team"}},
		{"project developer, inherited by the child", authz.WorkspaceAccess{Workspace: authz.View, Projects: map[string]authz.Level{"p1": authz.Develop}, Groups: []string{"team"}},
			[]string{"hks:developer:web", "hks:developer:web-api", "hks:viewer", "team"}},
		{"project role not above the workspace role", authz.WorkspaceAccess{Workspace: authz.Develop, Projects: map[string]authz.Level{"p3": authz.View}},
			[]string{"hks:developer"}},
		{"project only", authz.WorkspaceAccess{Projects: map[string]authz.Level{"p3": authz.Admin}}, []string{"hks:workspace-admin:docs"}},
		{"nothing", authz.WorkspaceAccess{}, []string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := WorkspaceGroups(tc.acc, projects)
			if !slices.Equal(got, tc.want) {
				t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
			}
		})
	}
	// A parent cycle stops the walk.
	cyc := []store.Project{{ID: "a", Name: "a", ParentID: "b"}, {ID: "b", Name: "b", ParentID: "a"}}
	if got := WorkspaceGroups(authz.WorkspaceAccess{Projects: map[string]authz.Level{"a": authz.View}}, cyc); !slices.Equal(got, []string{"hks:viewer:a", "hks:viewer:b"}) {
		t.Fatalf("cycle: %v", got)
	}
}

type env struct {
	st  store.Store
	id  *identity.Service
	now time.Time
}

func newEnv(t *testing.T, accessTTL time.Duration) *env { return newEnvTTL(t, accessTTL) }

func newEnvTB(tb testing.TB) *env { return newEnvTTL(tb, 0) }

func newEnvTTL(t testing.TB, accessTTL time.Duration) *env {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	st, err := sqlstore.Open(context.Background(), filepath.Join(t.TempDir(), "hks.db"), log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	sealer, err := seal.New(make([]byte, seal.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	e := &env{st: st, now: time.Now()}
	e.id, err = identity.New(identity.Config{Store: st, Sealer: sealer, Logger: log, Now: func() time.Time { return e.now },
		Issuer: "http://127.0.0.1:1", Audience: "hks", AccessTTL: accessTTL,
		Argon2: identity.Argon2Params{Memory: 1024, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestNewRefusesMissingDependencies(t *testing.T) {
	e := newEnv(t, 0)
	az, _ := authz.New(e.st)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	full := Config{Identity: e.id, Access: az, Store: e.st, Logger: log, Now: time.Now}
	for _, tc := range []struct {
		name string
		mod  func(*Config)
		want string
	}{
		{"identity", func(c *Config) { c.Identity = nil }, "Identity is required"},
		{"access", func(c *Config) { c.Access = nil }, "Access is required"},
		{"store", func(c *Config) { c.Store = nil }, "Store is required"},
		{"logger", func(c *Config) { c.Logger = nil }, "Logger is required"},
		{"now", func(c *Config) { c.Now = nil }, "Now is required"},
		{"ttl too long", func(c *Config) { c.TokenTTL = 16 * time.Minute }, "TokenTTL must be"},
		{"ttl negative", func(c *Config) { c.TokenTTL = -time.Minute }, "TokenTTL must be"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := full
			tc.mod(&c)
			if _, err := New(c); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
			}
		})
	}
	s, err := New(full)
	if err != nil || s.TokenTTL() != DefaultTokenTTL {
		t.Fatalf("defaults: %v %v", s, err)
	}
	// Capped at the access token lifetime, for which JWKS keeps a key.
	short := newEnv(t, 5*time.Minute)
	full.Identity = short.id
	if s, err := New(full); err != nil || s.TokenTTL() != 5*time.Minute {
		t.Fatalf("cap: %v %v", s.TokenTTL(), err)
	}
	if err := s.RegisterGrant(GrantTokenExchange, s.tokenExchange); err == nil {
		t.Fatal("grant registered twice")
	}
	if err := s.RegisterGrant("", s.tokenExchange); err == nil {
		t.Fatal("empty grant type registered")
	}
	if err := s.RegisterGrant("urn:test", func(*http.Request, url.Values) (any, error) { return nil, nil }); err != nil {
		t.Fatal(err)
	}
	if got := s.Discovery().GrantTypesSupported; !slices.Equal(got, []string{GrantTokenExchange, "urn:test"}) {
		t.Fatalf("grant types %v", got)
	}
}

// TestWorkspaceIssuer: workspace tokens carry Config.WorkspaceIssuer as iss
// (default: the platform issuer); the workspace discovery document names
// it as issuer and beside it the JWKS, while the platform's endpoints stay
// where they are served.
func TestWorkspaceIssuer(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, 0)
	now := time.Now().UTC().Truncate(time.Microsecond)
	u, err := e.id.CreateUser(ctx, "ws@example.com", "correct horse battery", false)
	if err != nil {
		t.Fatal(err)
	}
	org, ws := store.NewID(), store.NewID()
	if err := e.st.CreateOrganization(ctx, store.Organization{ID: org, Name: "W", Slug: "w", CreatedAt: now, UpdatedAt: now},
		store.OrgMember{OrgID: org, UserID: u.ID, Role: store.RoleOwner, CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	if err := e.st.CreateWorkspace(ctx, store.Workspace{ID: ws, OrgID: org, Name: "w", Plan: store.PlanShared, Status: store.WorkspaceRunning,
		CreatedBy: u.ID, CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	az, _ := authz.New(e.st)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	main := e.id.Issuer()
	iss := func(s *Service) string {
		t.Helper()
		wt, err := s.WorkspaceToken(ctx, Subject{UserID: u.ID, Email: u.Email}, org, ws)
		if err != nil {
			t.Fatal(err)
		}
		c := jwt.MapClaims{}
		if _, _, err := jwt.NewParser().ParseUnverified(wt.Token, c); err != nil {
			t.Fatal(err)
		}
		v, _ := c["iss"].(string)
		return v
	}

	// Default: one issuer for both.
	s, err := New(Config{Identity: e.id, Access: az, Store: e.st, Logger: log, Now: time.Now})
	if err != nil {
		t.Fatal(err)
	}
	if s.WorkspaceIssuer() != main || iss(s) != main || s.WorkspaceDiscovery().Issuer != main ||
		!reflect.DeepEqual(s.WorkspaceDiscovery(), s.Discovery()) {
		t.Fatalf("default workspace issuer %q, token iss %q, discovery %+v", s.WorkspaceIssuer(), iss(s), s.WorkspaceDiscovery())
	}

	// A separate https workspace issuer.
	const wsIss = "https://127.0.0.1:7443"
	s, err = New(Config{Identity: e.id, Access: az, Store: e.st, Logger: log, Now: time.Now, WorkspaceIssuer: wsIss})
	if err != nil {
		t.Fatal(err)
	}
	if s.WorkspaceIssuer() != wsIss || iss(s) != wsIss {
		t.Fatalf("workspace issuer %q, token iss %q, want %q", s.WorkspaceIssuer(), iss(s), wsIss)
	}
	d := s.WorkspaceDiscovery()
	if d.Issuer != wsIss || d.JWKSURI != wsIss+JWKSPath || d.TokenEndpoint != main+TokenPath ||
		d.AuthorizationEndpoint != main+AuthorizationPath || d.DeviceAuthorizationEndpoint != main+DeviceAuthorizationPath ||
		!slices.Equal(d.GrantTypesSupported, []string{GrantTokenExchange}) {
		t.Fatalf("workspace discovery %+v", d)
	}
	if pd := s.Discovery(); pd.Issuer != main || pd.JWKSURI != main+JWKSPath {
		t.Fatalf("platform discovery changed: %+v", pd)
	}
	// The exchange grant issues the same iss.
	at, err := e.id.Login(ctx, u.Email, "correct horse battery", identity.ClientMeta{IP: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodPost, TokenPath, strings.NewReader(url.Values{"grant_type": {GrantTokenExchange},
		"subject_token": {at.AccessToken}, "subject_token_type": {TokenTypeAccessToken}, "audience": {ws}}.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	v, err := s.token(r)
	if err != nil {
		t.Fatal(err)
	}
	er, ok := v.(*httpapi.Response).Body.(api.ExchangeResponse)
	if !ok {
		t.Fatalf("exchange answer %#v", v)
	}
	c := jwt.MapClaims{}
	if _, _, err := jwt.NewParser().ParseUnverified(er.IDToken, c); err != nil || c["iss"] != wsIss {
		t.Fatalf("exchanged token iss %v: %v", c["iss"], err)
	}

	for _, bad := range []string{"127.0.0.1:7443", "https://", "https://h/", "https://h/path", "ftp://h", "https://h?x=1", "https://u@h"} {
		t.Run("workspace issuer "+bad, func(t *testing.T) {
			if _, err := New(Config{Identity: e.id, Access: az, Store: e.st, Logger: log, Now: time.Now, WorkspaceIssuer: bad}); err == nil ||
				!strings.Contains(err.Error(), "WorkspaceIssuer") {
				t.Errorf("WorkspaceIssuer %q: %v", bad, err)
			}
		})
	}
}
