package issuer

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hexabase/hexabase-ai/internal/authz"
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
		got := WorkspaceGroups(tc.acc, projects)
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
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
		c := full
		tc.mod(&c)
		if _, err := New(c); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
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
