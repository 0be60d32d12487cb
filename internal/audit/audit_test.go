package audit

import (
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hexabase/hexabase-ai/internal/httpapi"
	"github.com/hexabase/hexabase-ai/internal/store"
	"github.com/hexabase/hexabase-ai/internal/store/sqlstore"
	"github.com/hexabase/hexabase-ai/internal/testutil"
)

func TestNewRejectsMissingDependencies(t *testing.T) {
	st, err := sqlstore.Open(t.Context(), ":memory:", slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	good := Config{Store: st, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: time.Now, Registry: prometheus.NewRegistry()}
	for _, tc := range []struct {
		name  string
		edit  func(c *Config)
		error string
	}{
		{"store", func(c *Config) { c.Store = nil }, "audit: Store is required"},
		{"logger", func(c *Config) { c.Logger = nil }, "audit: Logger is required"},
		{"now", func(c *Config) { c.Now = nil }, "audit: Now is required"},
		{"registry", func(c *Config) { c.Registry = nil }, "audit: Registry is required"},
		{"timeout", func(c *Config) { c.WriteTimeout = -time.Second }, "audit: WriteTimeout must not be negative"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := good
			c.Registry = prometheus.NewRegistry()
			tc.edit(&c)
			if _, err := New(c); err == nil || err.Error() != tc.error {
				t.Fatalf("error %v, want %q", err, tc.error)
			}
		})
	}
	if _, err := New(good); err != nil {
		t.Fatal(err)
	}
	// The metrics are registered, so a second Log on the same registry fails.
	if _, err := New(good); err == nil {
		t.Fatal("second registration accepted")
	}
}

func TestActionFor(t *testing.T) {
	for _, tc := range []struct {
		method, path, action, want string
	}{
		{"POST", "/api/v1/organizations/{org}/workspaces", "", "workspace.create"},
		{"POST", "/api/v1/organizations/{org}/workspaces/{workspace}/token", "", "workspace.token.issue"},
		{"POST", "/auth/login", "", "auth.login"},
		{"DELETE", "/auth/sessions/{session}", "", "auth.session.revoke"},
		{"POST", "/auth/2fa/verify", "", "auth.2fa.enable"},
		{"POST", "/auth/login", "custom.login", "custom.login"}, // Route.Action wins
		// Derived for routes the table does not know.
		{"POST", "/api/v1/organizations/{org}/backups", "", "backup.create"},
		{"POST", "/api/v1/organizations/{org}/workspaces/{workspace}/policies", "", "workspace.policy.create"},
		{"PUT", "/api/v1/organizations/{org}/workspaces/{workspace}/quota", "", "workspace.quota.update"},
		{"PATCH", "/api/v1/organizations/{org}/settings/{key}", "", "setting.update"},
		{"DELETE", "/api/v1/organizations/{org}/webhooks/{hook}", "", "webhook.delete"},
		{"POST", "/auth/2fa/webauthn/register", "", "auth.2fa.webauthn.register"},
		{"POST", "/auth/device/approve", "", "auth.device.approve"},
		{"POST", "/auth/api-keys", "", "auth.api_key.create"},
		{"POST", "/api/v1/things/{id}", "", "thing.create"},
		{"DELETE", "/api/v1/files/{path...}", "", "file.delete"},
		{"POST", "/api/v1/status", "", "status"},
		{"POST", "/", "", "unknown"},
	} {
		t.Run(strings.TrimSpace(tc.method+" "+tc.path+" "+tc.action), func(t *testing.T) {
			got := ActionFor(httpapi.Route{Method: tc.method, Path: tc.path, Action: tc.action})
			if got != tc.want {
				t.Errorf("%s %s: %q, want %q", tc.method, tc.path, got, tc.want)
			}
		})
	}
}

func TestActionForResult(t *testing.T) {
	for _, tc := range []struct{ action, result, want string }{
		{"auth.login", store.AuditSuccess, "auth.login"},
		{"auth.login", store.AuditDenied, "auth.login.failed"},
		{"auth.login", store.AuditFailure, "auth.login.failed"},
		{"auth.login.mfa", store.AuditDenied, "auth.login.mfa.failed"},
		{"workspace.create", store.AuditDenied, "workspace.create"},
	} {
		t.Run(tc.action+" "+tc.result, func(t *testing.T) {
			if got := ActionForResult(tc.action, tc.result); got != tc.want {
				t.Errorf("%s %s: %q, want %q", tc.action, tc.result, got, tc.want)
			}
		})
	}
}

func TestTargets(t *testing.T) {
	names, types := paramTypes("/api/v1/organizations/{org}/workspaces/{workspace}/rolebindings/{binding}")
	if strings.Join(names, ",") != "org,workspace,binding" || strings.Join(types, ",") != "organization,workspace,rolebinding" {
		t.Fatalf("names %v types %v", names, types)
	}
	names, types = paramTypes("/x/{a}/{b...}")
	if strings.Join(names, ",") != "a,b" || strings.Join(types, ",") != "x,b" {
		t.Fatalf("names %v types %v", names, types)
	}
	for _, tc := range []struct{ method, path, want string }{
		{"POST", "/api/v1/organizations/{org}/workspaces", "workspace"},
		{"POST", "/api/v1/organizations/{org}/workspaces/{workspace}/token", ""},
		{"PATCH", "/api/v1/organizations/{org}/workspaces", ""},
		{"POST", "/api/v1/organizations/{org}", ""},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			if got := createdType(tc.method, tc.path); got != tc.want {
				t.Errorf("%s %s: %q, want %q", tc.method, tc.path, got, tc.want)
			}
		})
	}
}

func TestTruncateKeepsUTF8(t *testing.T) {
	s := strings.Repeat("é", 200) // 400 bytes
	got := truncate(s, 255)
	if len(got) > 255 || !utf8.ValidString(got) || len(got) != 254 {
		t.Fatalf("len %d valid %v", len(got), utf8.ValidString(got))
	}
	if truncate("short", 10) != "short" {
		t.Fatal("short string changed")
	}
}

func TestSettersOutsideARequest(t *testing.T) {
	// No audited request in the context: the setters do nothing.
	ctx := t.Context()
	SetActor(ctx, "u", "e")
	SetTarget(ctx, "k", "i")
	SetAction(ctx, "a")
	if entryFrom(ctx) != nil {
		t.Fatal("an entry appeared")
	}
}

func query(q string) *http.Request {
	return httptest.NewRequest("GET", "/x?"+q, nil)
}

func TestFilterFromQuery(t *testing.T) {
	f, err := filterFromQuery(query("actor=A%40x.io&action=auth.*&result=denied&target=workspace:w1&since=2025-01-01T00:00:00Z&until=2025-01-02T00:00:00%2B01:00"))
	if err != nil {
		t.Fatal(err)
	}
	want := store.AuditFilter{ActorEmail: "A@x.io", ActionPrefix: "auth.", Result: "denied", TargetType: "workspace", TargetID: "w1",
		Since: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), Until: time.Date(2025, 1, 1, 23, 0, 0, 0, time.UTC)}
	if f != want {
		t.Fatalf("filter\n got %+v\nwant %+v", f, want)
	}
	if f, err := filterFromQuery(query("actor=0192&action=workspace.create&target=w2")); err != nil || f.ActorID != "0192" || f.Action != "workspace.create" || f.TargetID != "w2" {
		t.Fatalf("%+v %v", f, err)
	}
	for _, tc := range []struct{ query, field string }{
		{"since=2025-01-01", "since"},
		{"until=now", "until"},
		{"since=2025-01-02T00:00:00Z&until=2025-01-02T00:00:00Z", "until"},
		{"result=ok", "result"},
		{"action=a%25", "action"},
		{"action=.x", "action"},
		{"action=" + strings.Repeat("a", 101), "action"},
		{"target=:x", "target"},
		{"target=x%00", "target"},
		{"actor=%07", "actor"},
	} {
		t.Run(testutil.CaseName(tc.query), func(t *testing.T) {
			_, err := filterFromQuery(query(tc.query))
			var e *httpapi.Error
			if !errors.As(err, &e) || e.Status != 422 || len(e.Fields) != 1 || e.Fields[0].Field != tc.field {
				t.Errorf("%s: %v, want a 422 naming %s", tc.query, err, tc.field)
			}
		})
	}
}

// FuzzFilterFromQuery: any query either parses or is a 422 naming fields.
func FuzzFilterFromQuery(f *testing.F) {
	for _, s := range []string{"actor=a@b&action=auth.*", "since=2025-01-01T00:00:00Z", "target=a:b:c", "result=%ff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		r := &http.Request{URL: &url.URL{RawQuery: raw}}
		_, err := filterFromQuery(r)
		if err == nil {
			return
		}
		var e *httpapi.Error
		if !errors.As(err, &e) || e.Status != 422 || len(e.Fields) == 0 {
			t.Fatalf("%q: %v", raw, err)
		}
	})
}
