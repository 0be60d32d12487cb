package server

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"github.com/hexabase/hexabase-ai/internal/config"
	"github.com/hexabase/hexabase-ai/internal/httpapi"
	"github.com/hexabase/hexabase-ai/internal/identity"
	"github.com/hexabase/hexabase-ai/internal/issuer"
	"github.com/hexabase/hexabase-ai/internal/testutil"
)

// TestGatewayTokenChecks: the gateway refuses, before forwarding anything,
// every bearer that is not a live workspace token of this platform for
// the workspace in the path (401 problem+json), and answers 404 for a
// workspace that does not exist. Without a control-plane provider an
// accepted request ends at the upstream (503 workspace-unavailable), which
// shows it passed the checks.
func TestGatewayTokenChecks(t *testing.T) {
	ts := startServerWith(t, func(c *config.Config) {})
	w := newIssuerWorld(t, ts)
	ctx := context.Background()
	tokA := ts.workspaceToken(t, w, w.ownerTok, w.wsA).Token
	tokB := ts.workspaceToken(t, w, w.ownerTok, w.wsB).Token
	// Expired: issued 20 minutes ago (10 minute lifetime).
	ts.offset.Store(int64(-20 * time.Minute))
	_, oldAccess := ts.signIn(t, "owner@example.com")
	expired := ts.workspaceToken(t, w, oldAccess, w.wsA).Token
	ts.offset.Store(0)
	// A second session of the owner, ended after its token was issued.
	ended, endedAccess := ts.signIn(t, "owner@example.com")
	revoked := ts.workspaceToken(t, w, endedAccess, w.wsA).Token
	if err := ts.identity.Logout(ctx, ended); err != nil {
		t.Fatal(err)
	}
	// Tampered: a signature byte changed.
	parts := strings.Split(tokA, ".")
	sig := []byte(parts[2])
	sig[len(sig)/2] ^= 0x01
	tampered := parts[0] + "." + parts[1] + "." + string(sig)
	// Signed by the platform key for workspace A, but without a session
	// (as workspace tokens were before the gateway).
	now := time.Now().Truncate(time.Second)
	owner, err := ts.st.GetUserByEmail(ctx, "owner@example.com")
	if err != nil {
		t.Fatal(err)
	}
	noSid, err := ts.identity.SignJWT(ctx, issuer.WorkspaceClaims{RegisteredClaims: jwt.RegisteredClaims{Issuer: ts.WorkspaceIssuer().URL,
		Subject: owner.ID, Audience: jwt.ClaimStrings{w.wsA}, IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(now.Add(5 * time.Minute)), ID: uuid.NewString()}, Email: owner.Email})
	if err != nil {
		t.Fatal(err)
	}

	k8s := func(ws string) string { return "/k8s/" + ws + "/api/v1/namespaces" }
	unknown := uuid.NewString()
	for _, tc := range []struct {
		name    string
		path    string
		header  http.Header
		status  int
		problem string
	}{
		{"no token", k8s(w.wsA), nil, 401, "unauthorized"},
		{"not a bearer", k8s(w.wsA), http.Header{"Authorization": {"Basic YTpi"}}, 401, "unauthorized"},
		{"the session cookie alone", k8s(w.wsA), http.Header{"Cookie": {identity.AccessCookie + "=" + w.ownerTok}}, 401, "unauthorized"},
		{"a platform access token", k8s(w.wsA), bearer(w.ownerTok), 401, "unauthorized"},
		{"another workspace's token", k8s(w.wsA), bearer(tokB), 401, "unauthorized"},
		{"a tampered token", k8s(w.wsA), bearer(tampered), 401, "unauthorized"},
		{"an expired token", k8s(w.wsA), bearer(expired), 401, "unauthorized"},
		{"a token of a revoked session", k8s(w.wsA), bearer(revoked), 401, "unauthorized"},
		{"a token without a session", k8s(w.wsA), bearer(noSid), 401, "unauthorized"},
		{"an unknown workspace", k8s(unknown), bearer(tokA), 404, "not-found"},
		{"an unknown workspace without a token", k8s(unknown), nil, 401, "unauthorized"},
		{"not a workspace id", "/k8s/..%2Fapi/api", bearer(tokA), 404, "not-found"},
		{"no workspace id", "/k8s/", bearer(tokA), 404, "not-found"},
		{"the workspace's own token (control: accepted, no provider here)", k8s(w.wsA), bearer(tokA), 503, "workspace-unavailable"},
		{"the workspace's own token, another path (control)", "/k8s/" + w.wsA + "/apis/apps/v1/namespaces/web/deployments/x", bearer(tokA), 503, "workspace-unavailable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts.t = t
			a := ts.doWith("GET", tc.path, "", nil, tc.header)
			if a.status != tc.status {
				t.Fatalf("status %d, want %d: %s", a.status, tc.status, a.body)
			}
			if p := a.problem(t); p["type"] != httpapi.ProblemTypeBase+tc.problem {
				t.Fatalf("problem %v, want %s", p["type"], tc.problem)
			}
			if tc.status == 401 && !strings.HasPrefix(a.header.Get("WWW-Authenticate"), "Bearer") {
				t.Fatalf("WWW-Authenticate %q", a.header.Get("WWW-Authenticate"))
			}
			if a.header.Get("X-Request-Id") == "" {
				t.Fatal("no request id")
			}
		})
	}
	ts.t = t
	// Counted per workspace; refusals before a workspace is known, and
	// unknown ids, add no workspace label.
	m := string(ts.metrics().body)
	for _, want := range []string{
		`hks_gateway_requests_total{code="401",verb="get",workspace=""}`,
		`hks_gateway_requests_total{code="401",verb="get",workspace="` + w.wsA + `"} 1`, // another workspace's token
		`hks_gateway_requests_total{code="503",verb="get",workspace="` + w.wsA + `"} 2`,
		`hks_gateway_request_duration_seconds_count{verb="get",workspace="` + w.wsA + `"}`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %s:\n%s", want, grepMetrics(m, "hks_gateway_"))
		}
	}
	if strings.Contains(m, unknown) {
		t.Errorf("an unknown workspace id became a label:\n%s", grepMetrics(m, unknown))
	}
}

// signIn opens another session of an existing user (password
// "password-"+email) and returns its id and access token.
// TestGatewayForgetsDeletedWorkspaces: once a workspace is deleted, the
// gateway's metric series labelled with it are gone (the workspace.delete
// task tells the gateway), while another workspace's stay.
func TestGatewayForgetsDeletedWorkspaces(t *testing.T) {
	ts := startServerWith(t, func(c *config.Config) {})
	w := newIssuerWorld(t, ts)
	for _, ws := range []string{w.wsA, w.wsB} {
		tok := ts.workspaceToken(t, w, w.ownerTok, ws).Token
		if a := ts.doWith("GET", "/k8s/"+ws+"/api", "", nil, bearer(tok)); a.status != 503 {
			t.Fatalf("gateway: %d %s", a.status, a.body)
		}
	}
	label := func(ws string) string { return `workspace="` + ws + `"` }
	if m := string(ts.metrics().body); !strings.Contains(m, label(w.wsA)) || !strings.Contains(m, label(w.wsB)) {
		t.Fatalf("no series of the workspaces:\n%s", grepMetrics(m, "hks_gateway_"))
	}
	if a := ts.do("DELETE", "/api/v1/organizations/"+w.org+"/workspaces/"+w.wsA, w.ownerTok, nil); a.status != 202 {
		t.Fatalf("delete: %d %s", a.status, a.body)
	}
	testutil.WaitFor(t, 30*time.Second, "the deleted workspace's gateway series to go", func() bool {
		return !strings.Contains(string(ts.metrics().body), label(w.wsA))
	})
	if m := string(ts.metrics().body); !strings.Contains(m, label(w.wsB)) {
		t.Errorf("the other workspace's series went too:\n%s", grepMetrics(m, "hks_gateway_"))
	}
}

func (ts *testServer) signIn(t *testing.T, email string) (sessionID, access string) {
	t.Helper()
	tp, err := ts.identity.Login(context.Background(), email, "password-"+email, identity.ClientMeta{IP: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	c, err := ts.identity.Verify(context.Background(), tp.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	return c.SessionID, tp.AccessToken
}

func bearer(tok string) http.Header { return http.Header{"Authorization": {"Bearer " + tok}} }

func grepMetrics(m, sub string) string {
	var out []string
	for _, l := range strings.Split(m, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestGatewayOnTheWorkspaceIssuerEndpoint: with a plain-http platform the
// workspace issuer endpoint's https loopback listener serves the gateway
// too (kubectl sends its exec token to https servers only), through the
// same handler as the API listener: the same 401 refusals, request ids
// and metrics; it still serves the discovery document and the JWKS, and
// nothing else of the API.
func TestGatewayOnTheWorkspaceIssuerEndpoint(t *testing.T) {
	ts := startServer(t, "")
	w := newIssuerWorld(t, ts)
	trust := ts.WorkspaceIssuer()
	if trust.URL == ts.URL() || !strings.HasPrefix(trust.URL, "https://") {
		t.Fatalf("workspace issuer %s on platform %s: want its own https listener", trust.URL, ts.URL())
	}
	tokA := ts.workspaceToken(t, w, w.ownerTok, w.wsA).Token
	tokB := ts.workspaceToken(t, w, w.ownerTok, w.wsB).Token
	c := issuerClient(t, trust.CAPEM)
	get := func(path string, header http.Header) answer {
		t.Helper()
		req, err := http.NewRequest("GET", trust.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range header {
			req.Header[k] = v
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return answer{status: resp.StatusCode, header: resp.Header, body: b}
	}
	k8s := "/k8s/" + w.wsA + "/api/v1/namespaces"
	for _, tc := range []struct {
		name    string
		header  http.Header
		status  int
		problem string
	}{
		{"no token", nil, 401, "unauthorized"},
		{"a platform access token", bearer(w.ownerTok), 401, "unauthorized"},
		{"another workspace's token", bearer(tokB), 401, "unauthorized"},
		{"the workspace's own token (control: accepted, no provider here)", bearer(tokA), 503, "workspace-unavailable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := get(k8s, tc.header)
			if a.status != tc.status {
				t.Fatalf("status %d, want %d: %s", a.status, tc.status, a.body)
			}
			if p := a.problem(t); p["type"] != httpapi.ProblemTypeBase+tc.problem {
				t.Fatalf("problem %v, want %s", p["type"], tc.problem)
			}
			if tc.status == 401 && !strings.HasPrefix(a.header.Get("WWW-Authenticate"), "Bearer") {
				t.Fatalf("WWW-Authenticate %q", a.header.Get("WWW-Authenticate"))
			}
			if a.header.Get("X-Request-Id") == "" {
				t.Fatal("no request id: not the API's handler chain")
			}
		})
	}
	// The same gateway counts them.
	m := string(ts.metrics().body)
	for _, want := range []string{
		`hks_gateway_requests_total{code="401",verb="get",workspace=""} 2`,
		`hks_gateway_requests_total{code="401",verb="get",workspace="` + w.wsA + `"} 1`,
		`hks_gateway_requests_total{code="503",verb="get",workspace="` + w.wsA + `"} 1`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %s:\n%s", want, grepMetrics(m, "hks_gateway_"))
		}
	}
	// Still the issuer's documents, and nothing else of the API.
	for _, p := range []string{issuer.DiscoveryPath, issuer.JWKSPath} {
		if a := get(p, nil); a.status != 200 || a.header.Get("Content-Type") != "application/json" {
			t.Errorf("GET %s: %d %s", p, a.status, a.body)
		}
	}
	for _, p := range []string{"/api/v1/organizations", "/healthz", "/metrics", "/k8"} {
		if a := get(p, bearer(w.ownerTok)); a.status != 404 {
			t.Errorf("GET %s: %d %s, want 404", p, a.status, a.body)
		}
	}
}
