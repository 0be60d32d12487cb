package server

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/golang-jwt/jwt/v5"
	"github.com/spf13/cobra"

	"github.com/hexabase/hexabase-ai/internal/api"
	"github.com/hexabase/hexabase-ai/internal/cli"
	"github.com/hexabase/hexabase-ai/internal/controlplane"
	"github.com/hexabase/hexabase-ai/internal/issuer"
	"github.com/hexabase/hexabase-ai/internal/store"
)

// wsClaims are the claims a workspace API server reads.
type wsClaims struct {
	Email    string   `json:"email"`
	Groups   []string `json:"groups"`
	AuthTime int64    `json:"auth_time"`
	Jti      string   `json:"jti"`
}

// issuerWorld is an organization with two workspaces and people in it.
type issuerWorld struct {
	org, wsA, wsB, project string
	ownerTok, devTok       string // dev: a group bound viewer on A, developer on project "web"
	memberTok, strangerTok string // member: in the org, no groups; stranger: another org
	dev                    store.User
}

func newIssuerWorld(t *testing.T, ts *testServer) issuerWorld {
	t.Helper()
	var w issuerWorld
	_, w.ownerTok = ts.user("owner@example.com")
	var dev, member store.User
	dev, w.devTok = ts.user("dev@example.com")
	member, w.memberTok = ts.user("member@example.com")
	_, w.strangerTok = ts.user("stranger@example.com")
	w.dev = dev
	w.org = ts.do("POST", "/api/v1/organizations", w.ownerTok, map[string]string{"name": "Acme"}).id(t, 201)
	ts.do("POST", "/api/v1/organizations", w.strangerTok, map[string]string{"name": "Other"}).id(t, 201)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Microsecond)
	for _, u := range []store.User{dev, member} {
		if err := ts.st.AddOrgMember(ctx, store.OrgMember{OrgID: w.org, UserID: u.ID, Role: store.RoleMember, CreatedAt: now}); err != nil {
			t.Fatal(err)
		}
	}
	wss := "/api/v1/organizations/" + w.org + "/workspaces"
	w.wsA = ts.do("POST", wss, w.ownerTok, map[string]string{"name": "alpha"}).id(t, 202)
	w.wsB = ts.do("POST", wss, w.ownerTok, map[string]string{"name": "beta"}).id(t, 202)
	a := wss + "/" + w.wsA
	w.project = ts.do("POST", a+"/projects", w.ownerTok, map[string]string{"name": "web"}).id(t, 201)
	g := ts.do("POST", a+"/groups", w.ownerTok, map[string]string{"name": "team"}).id(t, 201)
	ts.do("POST", a+"/members", w.ownerTok, map[string]string{"user_id": dev.ID}).id(t, 201)
	ts.do("POST", a+"/groups/"+g+"/members", w.ownerTok, map[string]string{"user_id": dev.ID}).id(t, 201)
	ts.do("POST", a+"/rolebindings", w.ownerTok, map[string]string{"group_id": g, "role": "viewer"}).id(t, 201)
	ts.do("POST", a+"/rolebindings", w.ownerTok, map[string]string{"group_id": g, "role": "developer", "project_id": w.project}).id(t, 201)
	return w
}

func (w issuerWorld) tokenPath(org, ws string) string {
	return "/api/v1/organizations/" + org + "/workspaces/" + ws + "/token"
}

func (ts *testServer) workspaceToken(t *testing.T, w issuerWorld, tok, ws string) api.WorkspaceToken {
	t.Helper()
	a := ts.do("POST", w.tokenPath(w.org, ws), tok, nil)
	if a.status != 200 {
		t.Fatalf("workspace token: %d %s", a.status, a.body)
	}
	if a.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("token answer cacheable: %v", a.header)
	}
	var wt api.WorkspaceToken
	a.json(t, &wt)
	return wt
}

// verifyWorkspaceToken verifies token as workspace ws's API server does:
// through the discovery document of the issuer it trusts (over https, with
// the issuer's CA if one is given) and the JWKS that names.
func verifyWorkspaceToken(t *testing.T, ctx context.Context, trust controlplane.IssuerTrust, ws, token string) (*oidc.IDToken, error) {
	t.Helper()
	if !strings.HasPrefix(trust.URL, "https://") {
		t.Fatalf("workspace issuer %q is not https", trust.URL)
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{MinVersion: tls.VersionTLS12}}
	if len(trust.CAPEM) > 0 {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(trust.CAPEM) {
			t.Fatalf("workspace issuer CA is not PEM: %q", trust.CAPEM)
		}
		tr.TLSClientConfig.RootCAs = pool
	}
	t.Cleanup(tr.CloseIdleConnections)
	ctx = oidc.ClientContext(ctx, &http.Client{Transport: tr, Timeout: 30 * time.Second})
	p, err := oidc.NewProvider(ctx, trust.URL)
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	return p.Verifier(&oidc.Config{ClientID: ws}).Verify(ctx, token)
}

func TestIssuerDiscoveryAndWorkspaceTokens(t *testing.T) {
	ts := startServer(t, "")
	w := newIssuerWorld(t, ts)
	ctx := context.Background()
	iss := ts.URL()
	// The test server is plain http: workspace tokens name the https
	// workspace issuer endpoint, which workspace API servers trust.
	trust := ts.WorkspaceIssuer()
	if trust.URL == iss || !strings.HasPrefix(trust.URL, "https://127.0.0.1:") || len(trust.CAPEM) == 0 {
		t.Fatalf("workspace issuer %+v for the http server %s", trust, iss)
	}

	// Discovery document of the platform.
	a := ts.do("GET", "/.well-known/openid-configuration", "", nil)
	if a.status != 200 {
		t.Fatalf("discovery: %d %s", a.status, a.body)
	}
	var d api.Discovery
	a.json(t, &d)
	if d.Issuer != iss || d.JWKSURI != iss+"/.well-known/jwks.json" || d.TokenEndpoint != iss+"/auth/token" ||
		d.AuthorizationEndpoint != iss+"/auth/authorize" || d.DeviceAuthorizationEndpoint != iss+"/auth/device/code" ||
		!slices.Equal(d.IDTokenSigningAlgValuesSupported, []string{"RS256"}) ||
		!slices.Contains(d.ClaimsSupported, "email") || !slices.Contains(d.ClaimsSupported, "groups") ||
		!slices.Contains(d.GrantTypesSupported, issuer.GrantTokenExchange) || len(d.SubjectTypesSupported) == 0 ||
		len(d.ResponseTypesSupported) == 0 || !slices.Contains(d.ScopesSupported, "openid") {
		t.Fatalf("discovery document: %s", a.body)
	}

	// The owner (org owner: workspace-admin) gets a token for A that
	// go-oidc verifies with ClientID A, and not with ClientID B.
	before := time.Now()
	wt := ts.workspaceToken(t, w, w.ownerTok, w.wsA)
	if ttl := wt.ExpiresAt.Sub(before); ttl > 10*time.Minute+time.Second || ttl < 9*time.Minute {
		t.Fatalf("token lifetime %s, want 10m", ttl)
	}
	idt, err := verifyWorkspaceToken(t, ctx, trust, w.wsA, wt.Token)
	if err != nil {
		t.Fatalf("go-oidc refused the workspace token: %v", err)
	}
	var c wsClaims
	if err := idt.Claims(&c); err != nil {
		t.Fatal(err)
	}
	if c.Email != "owner@example.com" || !slices.Contains(c.Groups, issuer.GroupWorkspaceAdmin) || c.AuthTime == 0 || c.Jti == "" ||
		!slices.Equal(idt.Audience, []string{w.wsA}) || idt.Issuer != trust.URL {
		t.Fatalf("owner claims: %+v %+v", c, idt)
	}
	if _, err := verifyWorkspaceToken(t, ctx, trust, w.wsB, wt.Token); err == nil || !strings.Contains(err.Error(), "audience") {
		t.Fatalf("token for workspace A accepted for workspace B: %v", err)
	}
	// An access token of the platform is not a workspace token.
	if _, err := verifyWorkspaceToken(t, ctx, trust, w.wsA, w.ownerTok); err == nil {
		t.Fatal("platform access token accepted as a workspace token")
	}

	// The developer: their group, the workspace-wide viewer marker and the
	// project developer marker.
	wt = ts.workspaceToken(t, w, w.devTok, w.wsA)
	idt, err = verifyWorkspaceToken(t, ctx, trust, w.wsA, wt.Token)
	if err != nil {
		t.Fatal(err)
	}
	c = wsClaims{}
	_ = idt.Claims(&c)
	if want := []string{"hks:developer:web", "hks:viewer", "team"}; !slices.Equal(c.Groups, want) || idt.Subject != w.dev.ID {
		t.Fatalf("developer groups %v sub %s, want %v", c.Groups, idt.Subject, want)
	}

	// Refusals.
	for _, tc := range []struct {
		name, path, token string
		status            int
	}{
		{"developer, workspace not visible", w.tokenPath(w.org, w.wsB), w.devTok, 404},
		{"org member without groups", w.tokenPath(w.org, w.wsA), w.memberTok, 404},
		{"other organization's user", w.tokenPath(w.org, w.wsA), w.strangerTok, 404},
		{"workspace under another org id", w.tokenPath(store.NewID(), w.wsA), w.ownerTok, 404},
		{"unknown workspace", w.tokenPath(w.org, store.NewID()), w.ownerTok, 404},
		{"no token", w.tokenPath(w.org, w.wsA), "", 401},
		{"garbage token", w.tokenPath(w.org, w.wsA), "not-a-jwt", 401},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := ts.do("POST", tc.path, tc.token, nil)
			if a.status != tc.status {
				t.Errorf("%s: %d, want %d: %s", tc.name, a.status, tc.status, a.body)
				return
			}
			a.problem(t)
		})
	}

	// The token endpoint: RFC 8693 token exchange.
	form := func(v url.Values) answer { return ts.form("/auth/token", v) }
	exch := url.Values{"grant_type": {issuer.GrantTokenExchange}, "subject_token": {w.ownerTok},
		"subject_token_type": {issuer.TokenTypeAccessToken}, "audience": {w.wsA}}
	a = form(exch)
	if a.status != 200 || a.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("token exchange: %d %v %s", a.status, a.header, a.body)
	}
	var er api.ExchangeResponse
	a.json(t, &er)
	if er.IssuedTokenType != issuer.TokenTypeIDToken || er.TokenType != "N_A" || er.ExpiresIn < 500 || er.IDToken != er.AccessToken {
		t.Fatalf("exchange answer: %s", a.body)
	}
	if _, err := verifyWorkspaceToken(t, ctx, trust, w.wsA, er.AccessToken); err != nil {
		t.Fatalf("exchanged token: %v", err)
	}
	with := func(k, v string) url.Values {
		c := url.Values{}
		for kk, vv := range exch {
			c[kk] = vv
		}
		if v == "" {
			c.Del(k)
		} else {
			c.Set(k, v)
		}
		return c
	}
	for _, tc := range []struct {
		name       string
		v          url.Values
		status     int
		code, fld  string
		rawBody    string
		rawContent string
	}{
		{"no grant_type", with("grant_type", ""), 400, "invalid_request", "grant_type", "", ""},
		{"unknown grant", with("grant_type", "password"), 400, "unsupported_grant_type", "grant_type", "", ""},
		{"no subject_token", with("subject_token", ""), 400, "invalid_request", "subject_token", "", ""},
		{"bad subject_token_type", with("subject_token_type", issuer.TokenTypeIDToken), 400, "invalid_request", "subject_token_type", "", ""},
		{"no audience", with("audience", ""), 400, "invalid_request", "audience", "", ""},
		{"bad requested type", with("requested_token_type", "urn:x"), 400, "invalid_request", "requested_token_type", "", ""},
		{"forged subject", with("subject_token", "eyJhbGciOiJub25lIn0.e30."), 400, "invalid_grant", "subject_token", "", ""},
		{"workspace token as subject", with("subject_token", er.AccessToken), 400, "invalid_grant", "subject_token", "", ""},
		{"audience not visible", with("subject_token", w.memberTok), 400, "invalid_target", "audience", "", ""},
		{"unknown audience", with("audience", store.NewID()), 400, "invalid_target", "audience", "", ""},
		{"repeated parameter", url.Values{"grant_type": {issuer.GrantTokenExchange, issuer.GrantTokenExchange}}, 400, "invalid_request", "grant_type", "", ""},
		{"wrong content type", nil, 415, "invalid_request", "", "grant_type=x", "text/plain"},
		{"json not an object of strings", nil, 400, "invalid_request", "", `{"grant_type":1}`, "application/json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var a answer
			if tc.rawContent != "" {
				a = ts.raw("POST", "/auth/token", tc.rawContent, tc.rawBody)
			} else {
				a = form(tc.v)
			}
			var te issuer.TokenError
			if a.status != tc.status || json.Unmarshal(a.body, &te) != nil || te.Error != tc.code ||
				(tc.fld != "" && (len(te.Errors) != 1 || te.Errors[0].Field != tc.fld)) {
				t.Errorf("%s: %d %s, want %d %s naming %q", tc.name, a.status, a.body, tc.status, tc.code, tc.fld)
			}
			if strings.Contains(string(a.body), "sql") || strings.Contains(string(a.body), "crypto/") {
				t.Errorf("%s: internal text leaked: %s", tc.name, a.body)
			}
		})
	}
	// JSON bodies work too.
	if a := ts.do("POST", "/auth/token", "", map[string]string{"grant_type": issuer.GrantTokenExchange, "subject_token": w.devTok,
		"subject_token_type": issuer.TokenTypeAccessToken, "audience": w.wsA}); a.status != 200 {
		t.Fatalf("json token exchange: %d %s", a.status, a.body)
	}

	// Rotation: the token signed before it still verifies; JWKS serves
	// both keys.
	old := ts.workspaceToken(t, w, w.ownerTok, w.wsA)
	if _, _, err := ts.identity.RotateKeys(ctx); err != nil {
		t.Fatal(err)
	}
	var jwks api.JSONWebKeySet
	ts.do("GET", "/.well-known/jwks.json", "", nil).json(t, &jwks)
	if len(jwks.Keys) != 2 {
		t.Fatalf("jwks after rotation: %+v", jwks)
	}
	if _, err := verifyWorkspaceToken(t, ctx, trust, w.wsA, old.Token); err != nil {
		t.Fatalf("token from before the rotation: %v", err)
	}
	fresh := ts.workspaceToken(t, w, w.ownerTok, w.wsA)
	if kidOf(t, fresh.Token) == kidOf(t, old.Token) {
		t.Fatal("new tokens still signed with the retired key")
	}
	if _, err := verifyWorkspaceToken(t, ctx, trust, w.wsA, fresh.Token); err != nil {
		t.Fatalf("token after the rotation: %v", err)
	}
}

// kidOf is the key id in the header of a JWT.
func kidOf(t *testing.T, tok string) string {
	t.Helper()
	var h struct {
		Kid string `json:"kid"`
	}
	decodeSeg(t, strings.Split(tok, ".")[0], &h)
	return h.Kid
}

// form posts an application/x-www-form-urlencoded body.
func (ts *testServer) form(path string, v url.Values) answer {
	ts.t.Helper()
	return ts.raw("POST", path, "application/x-www-form-urlencoded", v.Encode())
}

// raw sends body with a content type and no token.
func (ts *testServer) raw(method, path, contentType, body string) answer {
	ts.t.Helper()
	return ts.rawWith(method, path, contentType, body, http.Header{})
}

func (ts *testServer) rawWith(method, path, contentType, body string, h http.Header) answer {
	ts.t.Helper()
	req, err := http.NewRequest(method, ts.URL()+path, strings.NewReader(body))
	if err != nil {
		ts.t.Fatal(err)
	}
	req.Header = h
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := ts.client.Do(req)
	if err != nil {
		ts.t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	return answer{status: resp.StatusCode, header: resp.Header, body: b.Bytes()}
}

// TestSessionsAPI: list, delete one, revoke all (keeping the current one),
// and the refusals; access tokens carry sid and fp.
func TestSessionsAPI(t *testing.T) {
	ts := startServer(t, "")
	ts.user("me@example.com")
	_, otherTok := ts.user("other@example.com")
	login := func(ua string) api.TokenPair {
		t.Helper()
		a := ts.rawWith("POST", "/auth/login", "application/json", `{"email":"me@example.com","password":"password-me@example.com"}`,
			http.Header{"User-Agent": {ua}})
		if a.status != 200 {
			t.Fatalf("login: %d %s", a.status, a.body)
		}
		var tp api.TokenPair
		a.json(t, &tp)
		return tp
	}
	laptop, phone, tablet := login("laptop/1"), login("phone/1"), login("tablet/1")
	claims := func(tok string) jwt.MapClaims {
		t.Helper()
		c := jwt.MapClaims{}
		if _, _, err := jwt.NewParser().ParseUnverified(tok, c); err != nil {
			t.Fatal(err)
		}
		return c
	}
	lc, pc := claims(laptop.AccessToken), claims(phone.AccessToken)
	if lc["sid"] == "" || lc["fp"] == nil || lc["fp"] == pc["fp"] || lc["sid"] == pc["sid"] {
		t.Fatalf("sid/fp claims: %v %v", lc, pc)
	}
	list := func(tok string) []api.SessionInfo {
		t.Helper()
		a := ts.do("GET", "/auth/sessions", tok, nil)
		if a.status != 200 {
			t.Fatalf("list sessions: %d %s", a.status, a.body)
		}
		var l struct{ Items []api.SessionInfo }
		a.json(t, &l)
		return l.Items
	}
	ss := list(laptop.AccessToken)
	if len(ss) != 4 { // the three above and the harness's sign-in
		t.Fatalf("sessions: %+v", ss)
	}
	for _, s := range ss {
		if s.Current != (s.ID == lc["sid"]) || s.LastIP != "127.0.0.1" || s.ExpiresAt.IsZero() || s.CreatedAt.IsZero() {
			t.Fatalf("session %+v", s)
		}
	}
	otherSid, _ := claims(otherTok)["sid"].(string)
	phoneSid, _ := pc["sid"].(string)
	for _, tc := range []struct {
		name, method, path, token string
		body                      any
		status                    int
	}{
		{"another user's session", "DELETE", "/auth/sessions/" + otherSid, laptop.AccessToken, nil, 404},
		{"not a session id", "DELETE", "/auth/sessions/x'--", laptop.AccessToken, nil, 404},
		{"unknown session", "DELETE", "/auth/sessions/" + store.NewID(), laptop.AccessToken, nil, 404},
		{"list without token", "GET", "/auth/sessions", "", nil, 401},
		{"delete without token", "DELETE", "/auth/sessions/" + phoneSid, "", nil, 401},
		{"revoke-all without token", "POST", "/auth/sessions/revoke-all", "", nil, 401},
		{"revoke-all unknown field", "POST", "/auth/sessions/revoke-all", laptop.AccessToken, `{"keep":true}`, 422},
		{"revoke-all wrong type", "POST", "/auth/sessions/revoke-all", laptop.AccessToken, `{"keep_current":"yes"}`, 422},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := ts.do(tc.method, tc.path, tc.token, tc.body)
			if a.status != tc.status {
				t.Errorf("%s: %d, want %d: %s", tc.name, a.status, tc.status, a.body)
				return
			}
			a.problem(t)
		})
	}
	if a := ts.do("GET", "/auth/me", otherTok, nil); a.status != 200 {
		t.Fatalf("other user's token after refused delete: %d", a.status)
	}

	// Delete the phone's session: its token stops working at once.
	if a := ts.do("DELETE", "/auth/sessions/"+phoneSid, laptop.AccessToken, nil); a.status != 204 {
		t.Fatalf("delete own session: %d %s", a.status, a.body)
	}
	if a := ts.do("GET", "/auth/me", phone.AccessToken, nil); a.status != 401 {
		t.Fatalf("deleted session's token: %d", a.status)
	}
	// Revoke all but the current one: the tablet is out, the laptop stays.
	a := ts.do("POST", "/auth/sessions/revoke-all", laptop.AccessToken, map[string]bool{"keep_current": true})
	var rr api.RevokeAllResult
	a.json(t, &rr)
	if a.status != 200 || len(rr.Revoked) != 2 || slices.Contains(rr.Revoked, lc["sid"].(string)) {
		t.Fatalf("revoke-all keep_current: %d %s", a.status, a.body)
	}
	if a := ts.do("GET", "/auth/me", tablet.AccessToken, nil); a.status != 401 {
		t.Fatalf("tablet after revoke-all: %d", a.status)
	}
	if a := ts.do("POST", "/auth/refresh", "", map[string]string{"refresh_token": tablet.RefreshToken}); a.status != 401 {
		t.Fatalf("tablet refresh after revoke-all: %d", a.status)
	}
	if ss := list(laptop.AccessToken); len(ss) != 1 || !ss[0].Current {
		t.Fatalf("sessions after revoke-all: %+v", ss)
	}
	// Revoke all, no body: the caller's own session ends too.
	if a := ts.do("POST", "/auth/sessions/revoke-all", laptop.AccessToken, nil); a.status != 200 {
		t.Fatalf("revoke-all: %d %s", a.status, a.body)
	}
	if a := ts.do("GET", "/auth/sessions", laptop.AccessToken, nil); a.status != 401 {
		t.Fatalf("laptop after revoke-all: %d", a.status)
	}
	if a := ts.do("GET", "/auth/me", otherTok, nil); a.status != 200 {
		t.Fatalf("another user's session after revoke-all: %d", a.status)
	}
}

// runCLI runs the hks client commands in-process with args and returns
// standard output.
func runCLI(t *testing.T, args ...string) (string, error) {
	t.Helper()
	root := &cobra.Command{Use: "hks", SilenceUsage: true, SilenceErrors: true}
	cli.AddCommands(root)
	var out, errb bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errb)
	root.SetArgs(args)
	err := root.ExecuteContext(context.Background())
	return out.String(), err
}

// TestKubectlTokenAcceptance: `hks kubectl-token` prints a valid
// ExecCredential that go-oidc verifies against the workspace issuer's
// discovery document (https, with its CA); it caches the token (0600) and refreshes the platform session
// silently; `hks kubeconfig` writes a kubeconfig that runs it.
func TestKubectlTokenAcceptance(t *testing.T) {
	ts := startServer(t, "")
	w := newIssuerWorld(t, ts)
	ctx := context.Background()
	cfgDir := filepath.Join(t.TempDir(), "hks")
	t.Setenv("HKS_CONFIG_DIR", cfgDir)
	t.Setenv("HKS_SERVER", "")
	t.Setenv("HKS_ORG", "")
	t.Setenv("HKS_WORKSPACE", "")
	creds, err := cli.Login(ctx, http.DefaultClient, ts.URL(), "dev@example.com", "password-dev@example.com")
	if err != nil {
		t.Fatal(err)
	}
	// The access token has expired as far as the CLI knows: it must
	// refresh silently.
	creds.ExpiresAt = time.Now().Add(-time.Minute)
	if err := cli.SaveCredentials(creds); err != nil {
		t.Fatal(err)
	}

	out, err := runCLI(t, "kubectl-token", "--org", "acme", "--workspace", "alpha")
	if err != nil {
		t.Fatalf("kubectl-token: %v", err)
	}
	var ec cli.ExecCredential
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&ec); err != nil {
		t.Fatalf("stdout is not an ExecCredential: %v: %q", err, out)
	}
	if ec.APIVersion != "client.authentication.k8s.io/v1" || ec.Kind != "ExecCredential" || ec.Status.Token == "" {
		t.Fatalf("exec credential: %+v", ec)
	}
	exp, err := time.Parse(time.RFC3339, ec.Status.ExpirationTimestamp)
	if err != nil || time.Until(exp) > 15*time.Minute || time.Until(exp) < 5*time.Minute {
		t.Fatalf("expirationTimestamp %q: %v", ec.Status.ExpirationTimestamp, err)
	}
	idt, err := verifyWorkspaceToken(t, ctx, ts.WorkspaceIssuer(), w.wsA, ec.Status.Token)
	if err != nil {
		t.Fatalf("go-oidc refused the kubectl token: %v", err)
	}
	if idt.Subject != w.dev.ID {
		t.Fatalf("sub %s", idt.Subject)
	}
	if _, err := verifyWorkspaceToken(t, ctx, ts.WorkspaceIssuer(), w.wsB, ec.Status.Token); err == nil {
		t.Fatal("kubectl token for alpha accepted by beta")
	}
	refreshed, err := cli.LoadCredentials()
	if err != nil || refreshed.RefreshToken == creds.RefreshToken {
		t.Fatalf("platform session was not refreshed: %v", err)
	}

	// Cached: the second call answers the same token without the API, and
	// the cache file is private.
	files, _ := filepath.Glob(filepath.Join(cfgDir, "kube-tokens", "*.json"))
	if len(files) != 1 {
		t.Fatalf("token cache files: %v", files)
	}
	if fi, err := os.Stat(files[0]); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("token cache mode: %v %v", fi, err)
	}
	out2, err := runCLI(t, "kubectl-token", "--org", "acme", "--workspace", "alpha")
	if err != nil || out2 != out {
		t.Fatalf("second call not served from the cache: %v", err)
	}
	// A cache entry near expiry is replaced.
	if err := os.WriteFile(files[0], []byte(`{"token":"stale","expires_at":"`+time.Now().Add(time.Minute).UTC().Format(time.RFC3339)+`"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	out3, err := runCLI(t, "kubectl-token", "--org", "acme", "--workspace", "alpha")
	if err != nil || strings.Contains(out3, "stale") {
		t.Fatalf("stale cache used: %v %s", err, out3)
	}

	// Refusals: a workspace the user cannot see, missing flags.
	if _, err := runCLI(t, "kubectl-token", "--org", w.org, "--workspace", w.wsB); err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("invisible workspace: %v", err)
	}
	if _, err := runCLI(t, "kubectl-token", "--workspace", "alpha"); err == nil || !strings.Contains(err.Error(), "--org") {
		t.Fatalf("missing --org: %v", err)
	}

	// kubeconfig: this server runs no control-plane provider, so there is
	// no API server to point at; the CLI says so and writes nothing. (The
	// kubeconfig itself is tested in internal/tenancy and, against real
	// clusters, in test/e2e TestWorkspaceClusterAcceptance.)
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	if _, err := runCLI(t, "kubeconfig", "--org", "acme", "--workspace", "alpha", "--output-file", kc); err == nil || !strings.Contains(err.Error(), "503") {
		t.Fatalf("kubeconfig without a provider: %v", err)
	}
	if _, err := os.Stat(kc); !os.IsNotExist(err) {
		t.Fatalf("a kubeconfig was written: %v", err)
	}
	_ = refreshed
}

// TestAdminRotateKeysWhileRunning: `hks admin rotate-keys` against the data
// of a running server: the server switches to the new key within the reload
// interval, keeps serving the retired key, and tokens signed before verify.
func TestAdminRotateKeysWhileRunning(t *testing.T) {
	ts := startServer(t, "")
	w := newIssuerWorld(t, ts)
	ctx := context.Background()
	old := ts.workspaceToken(t, w, w.ownerTok, w.wsA)
	kid, retired, err := RotateSigningKeys(ctx, AdminOptions{DataDir: ts.cfg.DataDir})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(retired, []string{kidOf(t, old.Token)}) || kid == retired[0] {
		t.Fatalf("rotate-keys: new %s, retired %v", kid, retired)
	}
	ts.offset.Add(int64(11 * time.Second)) // past the key reload interval
	fresh := ts.workspaceToken(t, w, w.ownerTok, w.wsA)
	if kidOf(t, fresh.Token) != kid {
		t.Fatalf("running server did not switch to the new key")
	}
	var jwks api.JSONWebKeySet
	ts.do("GET", "/.well-known/jwks.json", "", nil).json(t, &jwks)
	if len(jwks.Keys) != 2 {
		t.Fatalf("jwks: %+v", jwks)
	}
	for _, tok := range []string{old.Token, fresh.Token} {
		if _, err := verifyWorkspaceToken(t, ctx, ts.WorkspaceIssuer(), w.wsA, tok); err != nil {
			t.Fatal(err)
		}
	}
	// Once every token of the retired key has expired (access TTL, reload
	// interval and leeway after retirement), JWKS drops it.
	ts.offset.Add(int64(16 * time.Minute))
	jwks = api.JSONWebKeySet{}
	ts.do("GET", "/.well-known/jwks.json", "", nil).json(t, &jwks)
	if len(jwks.Keys) != 1 || jwks.Keys[0].Kid != kid {
		t.Fatalf("jwks after the retired key's tokens expired: %+v", jwks)
	}
}
