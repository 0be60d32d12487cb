package server

import (
	"bytes"
	"context"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/hexabase/hexabase-ai/internal/api"
	"github.com/hexabase/hexabase-ai/internal/cli"
	"github.com/hexabase/hexabase-ai/internal/config"
	"github.com/hexabase/hexabase-ai/internal/httpapi"
	"github.com/hexabase/hexabase-ai/internal/identity"
	"github.com/hexabase/hexabase-ai/internal/issuer"
	"github.com/hexabase/hexabase-ai/internal/seal"
	"github.com/hexabase/hexabase-ai/internal/testutil"
	"github.com/hexabase/hexabase-ai/internal/tlsutil"
)

// secReq is a request with explicit headers and cookies.
type secReq struct {
	method, path string
	body         any
	header       map[string]string
	cookies      map[string]string
}

func (ts *testServer) sendReq(r secReq) answer {
	ts.t.Helper()
	req := &http.Request{Header: http.Header{}}
	for k, v := range r.header {
		req.Header.Set(k, v)
	}
	for k, v := range r.cookies {
		req.AddCookie(&http.Cookie{Name: k, Value: v})
	}
	return ts.doWith(r.method, r.path, "", r.body, req.Header)
}

// clientFrom is an HTTP client whose connections come from the loopback
// address ip (all of 127.0.0.0/8 is loopback), the client IP the server
// sees.
func clientFrom(ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 10 * time.Second}
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DialContext: d.DialContext}}
}

// doFrom is do, without a token, from the loopback address ip.
func (ts *testServer) doFrom(ip, method, path string, body any) answer {
	ts.t.Helper()
	saved := ts.client
	ts.client = clientFrom(ip)
	defer func() {
		ts.client.CloseIdleConnections()
		ts.client = saved
	}()
	return ts.do(method, path, "", body)
}

// guessAt sends n wrong passwords for email from the loopback address ip:
// each is refused as wrong (401) or, once the source is locked, unchecked
// (429).
func (ts *testServer) guessAt(t *testing.T, ip, email string, n int) {
	t.Helper()
	wrong := 0
	for i := range n {
		a := ts.doFrom(ip, "POST", "/auth/login", map[string]string{"email": email, "password": "guess-" + strconv.Itoa(i)})
		switch a.status {
		case 401:
			wrong++
		case 429:
		default:
			t.Fatalf("guess %d: %d %s", i, a.status, a.body)
		}
	}
	if wrong != 5 {
		t.Fatalf("%d of %d guesses from one source were checked, want the threshold 5", wrong, n)
	}
}

// secOtherIssuerToken signs in through a second identity service that shares
// the platform's store and signing keys but names another issuer or
// audience: a token signed by the real key with the wrong iss or aud.
func secOtherIssuerToken(t *testing.T, ts *testServer, issuer, audience, email string) string {
	t.Helper()
	key, err := seal.LoadOrCreateKey(ts.cfg.DataDir, "")
	if err != nil {
		t.Fatal(err)
	}
	sealer, err := seal.New(key)
	if err != nil {
		t.Fatal(err)
	}
	other, err := identity.New(identity.Config{Store: ts.st, Sealer: sealer, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Now: time.Now, Issuer: issuer, Audience: audience, Argon2: identity.Argon2Params{Memory: 1024, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ts.identity.CreateUser(context.Background(), email, "password-"+email, false); err != nil {
		t.Fatal(err)
	}
	tp, err := other.Login(context.Background(), email, "password-"+email, identity.ClientMeta{IP: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	return tp.AccessToken
}

// secPublicKeyPEM fetches the signing key from the JWKS, as an attacker can.
func secPublicKeyPEM(t *testing.T, ts *testServer) (kid string, pemBytes []byte) {
	t.Helper()
	var set struct {
		Keys []struct{ Kid, N, E string } `json:"keys"`
	}
	ts.do("GET", "/.well-known/jwks.json", "", nil).json(t, &set)
	if len(set.Keys) == 0 {
		t.Fatal("no keys in the JWKS")
	}
	k := set.Keys[0]
	n, err1 := base64.RawURLEncoding.DecodeString(k.N)
	e, err2 := base64.RawURLEncoding.DecodeString(k.E)
	if err1 != nil || err2 != nil {
		t.Fatal("bad JWKS encoding")
	}
	pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return k.Kid, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

func secClaimsOf(t *testing.T, token string) (map[string]any, jwt.MapClaims) {
	t.Helper()
	parts := strings.Split(token, ".")
	var hdr map[string]any
	var c jwt.MapClaims
	decodeSeg(t, parts[0], &hdr)
	decodeSeg(t, parts[1], &c)
	return hdr, c
}

// TestSecurityTable is the acceptance table of the platform's protections: every forged,
// stale or misdirected credential and every abuse is refused with its
// status, against a real server.
func TestSecurityTable(t *testing.T) {
	ts := startServerWith(t, func(c *config.Config) {
		c.UserRateLimit, c.UserRateBurst = 0.2, 5 // per user: a burst of 5, then one per 5s
	})
	ctx := context.Background()

	_, good := ts.user("good@example.com")
	_, csrfUser := ts.user("cookie@example.com")
	_, limited := ts.user("limited@example.com")
	_, revoked := ts.user("revoked@example.com")
	ts.user("victim@example.com")
	ts.user("natted@example.com")
	if a := ts.do("POST", "/auth/logout", revoked, nil); a.status != 204 {
		t.Fatalf("logout: %d %s", a.status, a.body)
	}

	// Tampered: the signature's last bytes changed.
	parts := strings.Split(good, ".")
	sig := []byte(parts[2])
	sig[len(sig)/2] ^= 0x01
	if sig[len(sig)/2] == parts[2][len(sig)/2] {
		t.Fatal("tamper did nothing")
	}
	tampered := parts[0] + "." + parts[1] + "." + string(sig)
	// Claims tampered, signature kept.
	hdr, claims := secClaimsOf(t, good)
	claims["email"] = "admin@example.com"
	cb, _ := json.Marshal(claims)
	claimTampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString(cb) + "." + parts[2]

	// alg: none with the real kid.
	none := jwt.NewWithClaims(jwt.SigningMethodNone, claims)
	none.Header["kid"] = hdr["kid"]
	algNone, err := none.SignedString(jwt.UnsafeAllowNoneSignatureType)
	if err != nil {
		t.Fatal(err)
	}
	// HS256 keyed with the RSA public key (the classic confusion attack).
	kid, pubPEM := secPublicKeyPEM(t, ts)
	_, fresh := secClaimsOf(t, good)
	hs := jwt.NewWithClaims(jwt.SigningMethodHS256, fresh)
	hs.Header["kid"] = kid
	hsPublic, err := hs.SignedString(pubPEM)
	if err != nil {
		t.Fatal(err)
	}

	// Expired: issued 20 minutes ago (15 minute lifetime).
	ts.offset.Store(int64(-20 * time.Minute))
	_, expired := ts.user("expired@example.com")
	// Not yet valid: issued (nbf) 10 minutes from now, beyond the leeway.
	ts.offset.Store(int64(10 * time.Minute))
	_, future := ts.user("future@example.com")
	ts.offset.Store(0)

	wrongIss := secOtherIssuerToken(t, ts, "https://evil.example.com", Audience, "iss@example.com")
	wrongAud := secOtherIssuerToken(t, ts, ts.cfg.ExternalURL, "some-workspace", "aud@example.com")
	// The same way with the right issuer and audience: accepted, so the
	// two refusals above are about iss and aud alone.
	rightIssAud := secOtherIssuerToken(t, ts, ts.cfg.ExternalURL, Audience, "issaud@example.com")

	// A sign-in locked after five failures.
	if _, err := ts.identity.CreateUser(ctx, "locked@example.com", "right-password", false); err != nil {
		t.Fatal(err)
	}

	// A project for the rows of the smaller points, by its own user (the
	// setup and the rows fit in the per-user burst of 5).
	_, small := ts.user("small@example.com")
	smallOrg := ts.do("POST", "/api/v1/organizations", small, map[string]string{"name": "Small"}).id(t, 201)
	smallWs := "/api/v1/organizations/" + smallOrg + "/workspaces/" +
		ts.do("POST", "/api/v1/organizations/"+smallOrg+"/workspaces", small, map[string]string{"name": "web"}).id(t, 202)
	ts.do("POST", smallWs+"/projects", small, map[string]string{"name": "jobs"}).id(t, 201)
	// naming checks that a refusal names field.
	naming := func(field string, call func() answer) func(*testing.T) answer {
		return func(t *testing.T) answer {
			a := call()
			var p api.Problem
			if a.json(t, &p); len(p.Errors) != 1 || p.Errors[0].Field != field {
				t.Fatalf("want the field %q named: %s", field, a.body)
			}
			return a
		}
	}

	// A member who sees the project frontend only.
	cast, castTok := ts.people()
	hid := ts.fixture(cast, true, cast.outsider.Email)
	ts.hiddenProject(hid, cast)
	appsOf := func(project string) func(*testing.T) answer {
		return func(*testing.T) answer {
			return ts.do("GET", "/api/v1/organizations/"+hid.org+"/workspaces/"+hid.ws+"/projects/"+project+"/applications", castTok["member"], nil)
		}
	}

	// What the caller may do in a project (the console's access check).
	accessOf := func(project, who string) func(*testing.T) answer {
		return func(*testing.T) answer {
			return ts.do("GET", "/api/v1/organizations/"+hid.org+"/workspaces/"+hid.ws+"/projects/"+project+"/access", castTok[who], nil)
		}
	}

	// The consent form of a signed-in browser, changed or posted twice.
	_, consentTok := ts.user("consent@example.com")
	consentCB := newCallback(t)
	consentPost := func(change func(f url.Values), times int) func(*testing.T) answer {
		return func(t *testing.T) answer {
			b := consentBrowser(t, ts, consentTok)
			_, challenge := pkcePair()
			f := b.consentForm(consentCB, "st", challenge)
			change(f)
			var p page
			for range times {
				p = b.post("/auth/authorize", f)
			}
			return p.answer()
		}
	}

	// The workspace API gateway: a user with two workspaces (three calls
	// of the per-user burst; tokens come from the public token endpoint).
	_, gwUser := ts.user("gateway@example.com")
	gwOrg := ts.do("POST", "/api/v1/organizations", gwUser, map[string]string{"name": "Gateway"}).id(t, 201)
	gwWs := ts.do("POST", "/api/v1/organizations/"+gwOrg+"/workspaces", gwUser, map[string]string{"name": "one"}).id(t, 202)
	gwOther := ts.do("POST", "/api/v1/organizations/"+gwOrg+"/workspaces", gwUser, map[string]string{"name": "two"}).id(t, 202)
	gwToken := func(ws string) string {
		var x api.ExchangeResponse
		ts.form("/auth/token", url.Values{"grant_type": {issuer.GrantTokenExchange}, "subject_token": {gwUser},
			"subject_token_type": {issuer.TokenTypeAccessToken}, "audience": {ws}}).decode(t, 200, &x)
		return x.AccessToken
	}
	gwOwnTok, gwOtherTok := gwToken(gwWs), gwToken(gwOther)
	// Sleep settings: a user and workspace of their own (the gateway
	// user's per-user burst is spent above).
	_, sleeper := ts.user("sleeper@example.com")
	sleepOrg := ts.do("POST", "/api/v1/organizations", sleeper, map[string]string{"name": "Sleepers"}).id(t, 201)
	sleepWs := "/api/v1/organizations/" + sleepOrg + "/workspaces/" + ts.do("POST", "/api/v1/organizations/"+sleepOrg+"/workspaces", sleeper, map[string]string{"name": "one"}).id(t, 202)
	viaGateway := func(ws, token string) func(*testing.T) answer {
		return func(*testing.T) answer { return ts.do("GET", "/k8s/"+ws+"/api/v1/pods", token, nil) }
	}

	// The live-update WebSocket, at the HTTP level of its handshake (its
	// own rows are in live_test.go).
	_, wsUser := ts.user("websocket@example.com")
	wsHandshake := func(origin string, cookies map[string]string, upgrade bool) func(*testing.T) answer {
		return func(*testing.T) answer {
			h := map[string]string{"Origin": origin}
			if upgrade {
				h["Upgrade"], h["Connection"], h["Sec-WebSocket-Version"], h["Sec-WebSocket-Key"] = "websocket", "Upgrade", "13", "dGhlIHNhbXBsZSBub25jZQ=="
			}
			return ts.sendReq(secReq{method: "GET", path: "/api/v1/ws", header: h, cookies: cookies})
		}
	}

	me := func(token string) func(*testing.T) answer {
		return func(*testing.T) answer { return ts.do("GET", "/auth/me", token, nil) }
	}
	orgs := 0
	createOrg := func(hdr map[string]string, cookies map[string]string) func(*testing.T) answer {
		return func(*testing.T) answer {
			orgs++
			return ts.sendReq(secReq{method: "POST", path: "/api/v1/organizations", body: map[string]string{"name": "Via cookie " + strconv.Itoa(orgs)}, header: hdr, cookies: cookies})
		}
	}
	tests := []struct {
		name    string
		call    func(t *testing.T) answer
		status  int
		problem string // problem type slug
	}{
		{"good token (control)", me(good), 200, ""},
		// Inside a workspace: a project's Pod Security level is baseline
		// or restricted; privileged (host access for a tenant's pods) is
		// not offered, and the refusal names the field.
		{"project pod_security privileged", func(t *testing.T) answer {
			_, tok := ts.user("podsec@example.com")
			org := ts.do("POST", "/api/v1/organizations", tok, map[string]string{"name": "Podsec"}).id(t, 201)
			ws := ts.do("POST", "/api/v1/organizations/"+org+"/workspaces", tok, map[string]string{"name": "web"}).id(t, 202)
			a := ts.do("POST", "/api/v1/organizations/"+org+"/workspaces/"+ws+"/projects", tok, map[string]string{"name": "p", "pod_security": "privileged"})
			if !strings.Contains(string(a.body), `"field":"pod_security"`) {
				t.Errorf("the refusal does not name pod_security: %s", a.body)
			}
			return a
		}, 422, "validation"},
		{"tampered signature", me(tampered), 401, "unauthorized"},
		{"tampered claims", me(claimTampered), 401, "unauthorized"},
		{"alg none", me(algNone), 401, "unauthorized"},
		{"HS256 with the public key as secret", me(hsPublic), 401, "unauthorized"},
		{"expired", me(expired), 401, "unauthorized"},
		{"not yet valid (nbf)", me(future), 401, "unauthorized"},
		{"second issuer service, right iss and aud (control)", me(rightIssAud), 200, ""},
		{"wrong audience", me(wrongAud), 401, "unauthorized"},
		{"wrong issuer", me(wrongIss), 401, "unauthorized"},
		{"revoked session", me(revoked), 401, "unauthorized"},
		{"cookie auth, read (control)", func(*testing.T) answer {
			return ts.sendReq(secReq{method: "GET", path: "/auth/me", cookies: map[string]string{identity.AccessCookie: csrfUser}})
		}, 200, ""},
		{"CSRF token missing on a cookie request", createOrg(nil, map[string]string{identity.AccessCookie: csrfUser, identity.CSRFCookie: "t0ken"}), 403, "csrf"},
		{"CSRF cookie missing on a cookie request", createOrg(map[string]string{identity.CSRFHeader: "t0ken"}, map[string]string{identity.AccessCookie: csrfUser}), 403, "csrf"},
		{"CSRF token mismatched", createOrg(map[string]string{identity.CSRFHeader: "t0ken"}, map[string]string{identity.AccessCookie: csrfUser, identity.CSRFCookie: "other"}), 403, "csrf"},
		{"CSRF token matching (control)", createOrg(map[string]string{identity.CSRFHeader: "t0ken"}, map[string]string{identity.AccessCookie: csrfUser, identity.CSRFCookie: "t0ken"}), 201, ""},
		{"bearer request exempt from CSRF (control)", createOrg(map[string]string{"Authorization": "Bearer " + csrfUser}, map[string]string{identity.AccessCookie: "junk"}), 201, ""},
		{"a project the caller cannot see answers as an unknown one", appsOf("backend"), 404, "not-found"},
		{"an unknown project (control)", appsOf("no-such-project"), 404, "not-found"},
		{"the project the caller sees reaches its cluster (control: there is none)", appsOf("frontend"), 409, "conflict"},
		{"a project's access, for a project the caller cannot see, answers as an unknown one", accessOf("backend", "member"), 404, "not-found"},
		{"a project's access, for someone outside the organization", accessOf("frontend", "outsider"), 404, "not-found"},
		{"a project's access reaches the cluster of a project the caller sees (control: there is none)", accessOf("frontend", "member"), 409, "conflict"},
		{"consent form with a changed redirect_uri", consentPost(func(f url.Values) { f.Set("redirect_uri", "http://127.0.0.1:9/cb") }, 1), 400, ""},
		{"consent form with a changed code_challenge", consentPost(func(f url.Values) { f.Set("code_challenge", strings.Repeat("A", 43)) }, 1), 400, ""},
		{"consent form (control)", consentPost(func(url.Values) {}, 1), 302, ""},
		{"consent form posted twice", consentPost(func(url.Values) {}, 2), 409, ""},
		{"rate limit exceeded", func(t *testing.T) answer {
			for i := range 5 {
				if a := ts.do("GET", "/auth/me", limited, nil); a.status != 200 {
					t.Fatalf("request %d within the burst: %d %s", i, a.status, a.body)
				}
			}
			return ts.do("GET", "/auth/me", limited, nil)
		}, 429, "rate-limited"},
		{"locked-out login", func(t *testing.T) answer {
			// Five wrong passwords lock the account from this source (the
			// test client's 127.0.0.1).
			for i := range 5 {
				if a := ts.do("POST", "/auth/login", "", map[string]string{"email": "locked@example.com", "password": "wrong-" + strconv.Itoa(i)}); a.status != 401 {
					t.Fatalf("failure %d: %d %s", i, a.status, a.body)
				}
			}
			return ts.do("POST", "/auth/login", "", map[string]string{"email": "locked@example.com", "password": "right-password"})
		}, 429, "rate-limited"},
		{"login of an account a stranger guessed at, from another source", func(t *testing.T) answer {
			ts.guessAt(t, "127.0.0.2", "victim@example.com", 100)
			return ts.doFrom("127.0.0.3", "POST", "/auth/login", map[string]string{"email": "victim@example.com", "password": "password-victim@example.com"})
		}, 200, ""},
		{"the stranger's source stays locked", func(t *testing.T) answer {
			return ts.doFrom("127.0.0.2", "POST", "/auth/login", map[string]string{"email": "victim@example.com", "password": "password-victim@example.com"})
		}, 429, "rate-limited"},
		{"X-Forwarded-For from a peer that is not a trusted proxy does not evade the lockout", func(t *testing.T) answer {
			for i := range 5 {
				h := http.Header{"X-Forwarded-For": {"203.0.113." + strconv.Itoa(i)}}
				if a := ts.doWith("POST", "/auth/login", "", map[string]string{"email": "spoof@example.com", "password": "guess"}, h); a.status != 401 {
					t.Fatalf("guess %d: %d %s", i, a.status, a.body)
				}
			}
			return ts.doWith("POST", "/auth/login", "", map[string]string{"email": "spoof@example.com", "password": "guess"}, http.Header{"X-Forwarded-For": {"203.0.113.99"}})
		}, 429, "rate-limited"},
		{"device-token holder behind a source a stranger locked", func(t *testing.T) answer {
			a := ts.doFrom("127.0.0.4", "POST", "/auth/login", map[string]string{"email": "natted@example.com", "password": "password-natted@example.com"})
			var lr api.LoginResponse
			if a.status != 200 || json.Unmarshal(a.body, &lr) != nil || lr.DeviceToken == "" {
				t.Fatalf("first sign-in: %d %s", a.status, a.body)
			}
			for i := range 50 { // a stranger behind the same address, made-up emails
				if a := ts.doFrom("127.0.0.4", "POST", "/auth/login", map[string]string{"email": "nobody" + strconv.Itoa(i) + "@example.com", "password": "guess"}); a.status != 401 {
					t.Fatalf("stranger's guess %d: %d %s", i, a.status, a.body)
				}
			}
			if a := ts.doFrom("127.0.0.4", "POST", "/auth/login", map[string]string{"email": "natted@example.com", "password": "password-natted@example.com"}); a.status != 429 {
				t.Fatalf("the locked source without a device token: %d, want 429", a.status)
			}
			return ts.doFrom("127.0.0.4", "POST", "/auth/login", map[string]string{"email": "natted@example.com", "password": "password-natted@example.com", "device_token": lr.DeviceToken})
		}, 200, ""},
		{"gateway: no token", viaGateway(gwWs, ""), 401, "unauthorized"},
		{"gateway: a platform access token", viaGateway(gwWs, gwUser), 401, "unauthorized"},
		{"gateway: another workspace's token", viaGateway(gwWs, gwOtherTok), 401, "unauthorized"},
		{"gateway: an unknown workspace", viaGateway(uuid.NewString(), gwOwnTok), 404, "not-found"},
		{"gateway: the workspace's token (control: accepted; no control plane in this test)", viaGateway(gwWs, gwOwnTok), 503, "workspace-unavailable"},
		{"sleep_after negative", naming("sleep_after", func() answer {
			return ts.do("PATCH", sleepWs, sleeper, map[string]any{"sleep_after": "-5m"})
		}), 422, "validation"},
		{"sleep_after absurd", naming("sleep_after", func() answer {
			return ts.do("PATCH", sleepWs, sleeper, map[string]any{"sleep_after": "99999999h"})
		}), 422, "validation"},
		{"hibernation schedule with a bad minute", naming("hibernation[0].start", func() answer {
			return ts.do("PATCH", sleepWs, sleeper, map[string]any{"hibernation": []map[string]string{{"start": "61 19 * * *"}}})
		}), 422, "validation"},
		{"live WebSocket: no session", wsHandshake(ts.URL(), nil, true), 401, "unauthorized"},
		{"live WebSocket: a cross-site Origin riding on the session cookie", wsHandshake("https://evil.example.com", map[string]string{identity.AccessCookie: wsUser}, true), 403, "forbidden"},
		{"live WebSocket: its own origin (control: passes the origin check; not an upgrade)", wsHandshake(ts.URL(), map[string]string{identity.AccessCookie: wsUser}, false), 426, "upgrade-required"},
		{"metrics not on the API listener", func(*testing.T) answer { return ts.do("GET", "/metrics", "", nil) }, 404, "not-found"},
		{"CronJob preview whose runs fall past year 9999", naming("after", func() answer {
			return ts.do("GET", smallWs+"/projects/jobs/cronjobs/preview?schedule=%40hourly&after=9999-12-31T23:59:00Z", small, nil)
		}), 422, "validation"},
		{"project quota cpu 1e309", naming("quota.cpu", func() answer {
			return ts.do("POST", smallWs+"/projects", small, map[string]any{"name": "huge", "quota": map[string]string{"cpu": "1e309"}})
		}), 422, "validation"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ts.t = t
			a := tc.call(t)
			if a.status != tc.status {
				t.Fatalf("status %d, want %d: %s", a.status, tc.status, a.body)
			}
			if tc.problem == "" {
				return
			}
			p := a.problem(t)
			if p["type"] != httpapi.ProblemTypeBase+tc.problem {
				t.Fatalf("problem type %v, want %s", p["type"], tc.problem)
			}
			if tc.status == 429 {
				s, err := strconv.Atoi(a.header.Get("Retry-After"))
				if err != nil || s < 1 {
					t.Fatalf("Retry-After %q, want a positive number of seconds", a.header.Get("Retry-After"))
				}
				// A lockout tells the person how long, not only the client.
				if d, _ := p["detail"].(string); strings.Contains(d, "locked") && !strings.Contains(d, "try again in "+strconv.Itoa(s)+" s") {
					t.Fatalf("lockout detail %q does not say to try again in %d s", d, s)
				}
			}
			if b := strings.ToLower(string(a.body)); strings.Contains(b, "crypto") || strings.Contains(b, "signature") || strings.Contains(b, "jwt") || strings.Contains(b, "kid") {
				t.Fatalf("internal error text leaked: %s", a.body)
			}
		})
	}
	ts.t = t
	// The lock holds the right password off for the base lockout (1m).
	a := ts.do("POST", "/auth/login", "", map[string]string{"email": "locked@example.com", "password": "right-password"})
	if ra, err := strconv.Atoi(a.header.Get("Retry-After")); a.status != 429 || err != nil || ra < 1 || ra > 60 {
		t.Fatalf("locked login: %d Retry-After %q", a.status, a.header.Get("Retry-After"))
	}
	// An unknown email locks the same way (nothing tells whether it exists).
	for i := range 5 {
		if a := ts.do("POST", "/auth/login", "", map[string]string{"email": "nobody@example.com", "password": "x" + strconv.Itoa(i)}); a.status != 401 {
			t.Fatalf("unknown email failure %d: %d", i, a.status)
		}
	}
	if a := ts.do("POST", "/auth/login", "", map[string]string{"email": "nobody@example.com", "password": "x"}); a.status != 429 {
		t.Fatalf("unknown email after 5 failures: %d, want 429 like a real account", a.status)
	}
	// After the lock, the right password works and resets the counter.
	ts.offset.Store(int64(61 * time.Second))
	defer ts.offset.Store(0)
	if a := ts.do("POST", "/auth/login", "", map[string]string{"email": "locked@example.com", "password": "right-password"}); a.status != 200 {
		t.Fatalf("login after the lock: %d %s", a.status, a.body)
	}
}

// TestBrowserSessionCookies: refresh and logout by cookie, with CSRF.
func TestBrowserSessionCookies(t *testing.T) {
	ts := startServer(t, "")
	ctx := context.Background()
	if _, err := ts.identity.CreateUser(ctx, "web@example.com", "password-web", false); err != nil {
		t.Fatal(err)
	}
	tp, err := ts.identity.Login(ctx, "web@example.com", "password-web", identity.ClientMeta{IP: "127.0.0.1", UserAgent: "Go-http-client/1.1"})
	if err != nil {
		t.Fatal(err)
	}
	jar := map[string]string{identity.RefreshCookie: tp.RefreshToken, identity.CSRFCookie: "c1"}
	if a := ts.sendReq(secReq{method: "POST", path: "/auth/refresh", cookies: jar}); a.status != 403 || a.problem(t)["type"] != httpapi.ProblemTypeBase+"csrf" {
		t.Fatalf("refresh by cookie without the CSRF header: %d %s", a.status, a.body)
	}
	a := ts.sendReq(secReq{method: "POST", path: "/auth/refresh", cookies: jar, header: map[string]string{identity.CSRFHeader: "c1"}})
	if a.status != 200 {
		t.Fatalf("refresh by cookie: %d %s", a.status, a.body)
	}
	var body api.TokenPair
	a.json(t, &body)
	if body.AccessToken != "" || body.RefreshToken != "" {
		t.Fatalf("a cookie refresh put tokens in the body: %s", a.body)
	}
	got := map[string]*http.Cookie{}
	for _, c := range (&http.Response{Header: a.header}).Cookies() {
		got[c.Name] = c
	}
	acc, ref, csrf := got[identity.AccessCookie], got[identity.RefreshCookie], got[identity.CSRFCookie]
	if acc == nil || ref == nil || csrf == nil || !acc.HttpOnly || !ref.HttpOnly || csrf.HttpOnly || ref.Value == tp.RefreshToken || csrf.Value == "c1" || len(csrf.Value) < 32 {
		t.Fatalf("cookies not set and rotated: %v", a.header["Set-Cookie"])
	}
	// The old refresh token is spent.
	if a := ts.sendReq(secReq{method: "POST", path: "/auth/refresh", cookies: map[string]string{identity.RefreshCookie: tp.RefreshToken, identity.CSRFCookie: "c1"},
		header: map[string]string{identity.CSRFHeader: "c1"}}); a.status != 401 {
		t.Fatalf("spent refresh cookie: %d", a.status)
	}
	// That reuse revoked the session; sign in again and log out by cookie.
	tp, err = ts.identity.Login(ctx, "web@example.com", "password-web", identity.ClientMeta{IP: "127.0.0.1", UserAgent: "Go-http-client/1.1"})
	if err != nil {
		t.Fatal(err)
	}
	cookies := map[string]string{identity.AccessCookie: tp.AccessToken, identity.CSRFCookie: "c2"}
	if a := ts.sendReq(secReq{method: "POST", path: "/auth/logout", cookies: cookies}); a.status != 403 {
		t.Fatalf("logout by cookie without CSRF: %d", a.status)
	}
	a = ts.sendReq(secReq{method: "POST", path: "/auth/logout", cookies: cookies, header: map[string]string{identity.CSRFHeader: "c2"}})
	if a.status != 204 || !strings.Contains(strings.Join(a.header["Set-Cookie"], "\n"), identity.AccessCookie+"=; Path=/; Max-Age=0") {
		t.Fatalf("logout by cookie: %d %v", a.status, a.header["Set-Cookie"])
	}
	if a := ts.sendReq(secReq{method: "GET", path: "/auth/me", cookies: cookies}); a.status != 401 {
		t.Fatalf("access cookie after logout: %d", a.status)
	}
}

func TestSecurityHeaders(t *testing.T) {
	ts := startServer(t, "")
	for _, path := range []string{"/healthz", "/api/v1/no-such-route", "/auth/me"} {
		t.Run(testutil.CaseName(path), func(t *testing.T) {
			a := ts.do("GET", path, "", nil)
			for k, want := range map[string]string{
				"Content-Security-Policy":    httpapi.APIContentSecurityPolicy,
				"X-Content-Type-Options":     "nosniff",
				"X-Frame-Options":            "DENY",
				"Referrer-Policy":            "no-referrer",
				"Cross-Origin-Opener-Policy": "same-origin",
			} {
				if got := a.header.Get(k); got != want {
					t.Errorf("%s: %s = %q, want %q", path, k, got, want)
				}
			}
			if !strings.Contains(a.header.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
				t.Errorf("%s: CSP lacks frame-ancestors", path)
			}
			if h := a.header.Get("Strict-Transport-Security"); h != "" {
				t.Errorf("%s: HSTS over plain HTTP: %q", path, h)
			}
		})
	}
}

func TestCORS(t *testing.T) {
	const allowed = "https://app.example.com"
	ts := startServerWith(t, func(c *config.Config) { c.CORSAllowedOrigins = []string{allowed} })
	_, tok := ts.user("cors@example.com")
	tests := []struct {
		name            string
		r               secReq
		status          int
		acao, acac      string
		allowMethodsSet bool
	}{
		{"allowed origin", secReq{method: "GET", path: "/auth/me", header: map[string]string{"Origin": allowed, "Authorization": "Bearer " + tok}}, 200, allowed, "true", false},
		{"refused origin", secReq{method: "GET", path: "/auth/me", header: map[string]string{"Origin": "https://evil.example.com", "Authorization": "Bearer " + tok}}, 200, "", "", false},
		{"origin prefix is not a match", secReq{method: "GET", path: "/healthz", header: map[string]string{"Origin": allowed + ".evil.example"}}, 200, "", "", false},
		{"null origin", secReq{method: "GET", path: "/healthz", header: map[string]string{"Origin": "null"}}, 200, "", "", false},
		{"preflight allowed", secReq{method: "OPTIONS", path: "/api/v1/organizations", header: map[string]string{"Origin": allowed,
			"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type, x-csrf-token"}}, 204, allowed, "true", true},
		{"preflight of a conditional PATCH", secReq{method: "OPTIONS", path: "/api/v1/organizations/acme", header: map[string]string{"Origin": allowed,
			"Access-Control-Request-Method": "PATCH", "Access-Control-Request-Headers": "content-type, if-match, x-csrf-token"}}, 204, allowed, "true", true},
		{"preflight refused origin", secReq{method: "OPTIONS", path: "/api/v1/organizations", header: map[string]string{"Origin": "https://evil.example.com",
			"Access-Control-Request-Method": "POST"}}, 403, "", "", false},
		{"preflight refused method", secReq{method: "OPTIONS", path: "/api/v1/organizations", header: map[string]string{"Origin": allowed,
			"Access-Control-Request-Method": "TRACE"}}, 403, "", "", false},
		{"preflight refused header", secReq{method: "OPTIONS", path: "/api/v1/organizations", header: map[string]string{"Origin": allowed,
			"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "x-evil"}}, 403, "", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ts.t = t
			a := ts.sendReq(tc.r)
			if a.status != tc.status {
				t.Fatalf("status %d, want %d: %s", a.status, tc.status, a.body)
			}
			if got := a.header.Get("Access-Control-Allow-Origin"); got != tc.acao {
				t.Fatalf("Allow-Origin %q, want %q", got, tc.acao)
			}
			if got := a.header.Get("Access-Control-Allow-Credentials"); got != tc.acac {
				t.Fatalf("Allow-Credentials %q, want %q", got, tc.acac)
			}
			if got := a.header.Get("Access-Control-Allow-Methods"); (got != "") != tc.allowMethodsSet {
				t.Fatalf("Allow-Methods %q", got)
			}
			if a.status == 403 {
				a.problem(t)
			}
			if tc.r.header["Origin"] != "" && !strings.Contains(strings.Join(a.header.Values("Vary"), ","), "Origin") {
				t.Fatal("no Vary: Origin")
			}
		})
	}
}

func TestRateLimitPerIP(t *testing.T) {
	ts := startServerWith(t, func(c *config.Config) { c.IPRateLimit, c.IPRateBurst = 0.5, 4 })
	for i := range 4 {
		if a := ts.do("GET", "/healthz", "", nil); a.status != 200 {
			t.Fatalf("request %d: %d", i, a.status)
		}
	}
	a := ts.do("GET", "/healthz", "", nil)
	if a.status != 429 || a.problem(t)["type"] != httpapi.ProblemTypeBase+"rate-limited" {
		t.Fatalf("over the per-IP limit: %d %s", a.status, a.body)
	}
	if s, err := strconv.Atoi(a.header.Get("Retry-After")); err != nil || s < 1 || s > 2 {
		t.Fatalf("Retry-After %q, want 1 or 2 seconds at 0.5 rps", a.header.Get("Retry-After"))
	}
	if a.header.Get("X-Content-Type-Options") != "nosniff" {
		t.Fatal("a refusal lacks the security headers")
	}
	// Refills with time.
	ts.offset.Store(int64(3 * time.Second))
	if a := ts.do("GET", "/healthz", "", nil); a.status != 200 {
		t.Fatalf("after refill: %d", a.status)
	}
}

func TestTLSAuto(t *testing.T) {
	ts := startServerWith(t, func(c *config.Config) { c.TLS = "auto" })
	if !strings.HasPrefix(ts.URL(), "https://") || !strings.HasPrefix(ts.cfg.ExternalURL, "https://") || ts.identity.Issuer() != ts.cfg.ExternalURL {
		t.Fatalf("URL %s, external URL %s, issuer %s: want https", ts.URL(), ts.cfg.ExternalURL, ts.identity.Issuer())
	}
	// A client trusting the generated CA gets through, with HSTS.
	a := ts.do("GET", "/ca.crt", "", nil)
	if a.status != 200 || a.header.Get("Content-Type") != "application/x-pem-file" || !bytes.Equal(a.body, ts.tls.CAPEM) {
		t.Fatalf("/ca.crt: %d %q", a.status, a.header.Get("Content-Type"))
	}
	if a.header.Get("Strict-Transport-Security") != httpapi.HSTSValue {
		t.Fatalf("HSTS over TLS: %q", a.header.Get("Strict-Transport-Security"))
	}
	// The CA is kept in the data dir with a private key only the owner reads.
	_, u := ts.user("tls@example.com")
	if a := ts.do("GET", "/auth/me", u, nil); a.status != 200 {
		t.Fatalf("me over https: %d", a.status)
	}
	// A client trusting another CA, or only the system roots, is refused.
	other, err := tlsutil.Auto(tlsutil.AutoConfig{Dir: t.TempDir(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: time.Now})
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(other.CAPEM)
	for name, c := range map[string]*http.Client{
		"other CA":     {Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}},
		"system roots": {Timeout: 10 * time.Second},
	} {
		t.Run(name, func(t *testing.T) {
			resp, err := c.Get(ts.URL() + "/healthz")
			if err == nil {
				resp.Body.Close()
				t.Fatalf("%s: connected", name)
			}
			if !strings.Contains(err.Error(), "certificate") {
				t.Fatalf("%s: %v", name, err)
			}
		})
	}
	// The CLI: `hks login --ca-file` trusts the CA and remembers it, so
	// later commands reach the server; without it the login fails.
	caFile := filepath.Join(t.TempDir(), "ca.crt")
	if err := os.WriteFile(caFile, a.body, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("HKS_CONFIG_DIR", t.TempDir())
	login := func(extra ...string) error {
		root := &cobra.Command{Use: "hks", SilenceUsage: true, SilenceErrors: true}
		cli.AddCommands(root)
		root.SetArgs(append([]string{"login", "--server", ts.URL(), "--email", "tls@example.com", "--password-stdin"}, extra...))
		root.SetIn(strings.NewReader("password-tls@example.com\n"))
		root.SetOut(io.Discard)
		return root.ExecuteContext(context.Background())
	}
	if err := login(); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("login without --ca-file: %v, want a certificate error", err)
	}
	if err := login("--ca-file", caFile); err != nil {
		t.Fatalf("login --ca-file: %v", err)
	}
	c, err := cli.NewClient("")
	if err != nil {
		t.Fatal(err)
	}
	if c.Creds.CA != string(ts.tls.CAPEM) {
		t.Fatal("the CA was not stored with the credentials")
	}
	var me api.Me
	if err := c.Do(context.Background(), "GET", "/auth/me", nil, &me); err != nil || me.Email != "tls@example.com" {
		t.Fatalf("CLI call with the stored CA: %v %+v", err, me)
	}

	// Plain HTTP to the TLS port gets no API answer.
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Get("http://" + ts.Addr() + "/healthz")
	if err == nil {
		defer resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Fatal("plain HTTP served on the TLS port")
		}
	}
}

func TestCANotServedWithoutAutoTLS(t *testing.T) {
	ts := startServer(t, "")
	if a := ts.do("GET", "/ca.crt", "", nil); a.status != 404 {
		t.Fatalf("/ca.crt without --tls=auto: %d", a.status)
	}
}

func TestTLSFiles(t *testing.T) {
	dir := t.TempDir()
	m, err := tlsutil.Auto(tlsutil.AutoConfig{Dir: dir, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: time.Now})
	if err != nil {
		t.Fatal(err)
	}
	ts := startServerWith(t, func(c *config.Config) {
		c.TLS, c.TLSCert, c.TLSKey = "files", filepath.Join(dir, tlsutil.CertFile), filepath.Join(dir, tlsutil.KeyFile)
	})
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(m.CAPEM)
	ts.client.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	a := ts.do("GET", "/healthz", "", nil)
	if a.status != 200 || a.header.Get("Strict-Transport-Security") == "" || !strings.HasPrefix(ts.identity.Issuer(), "https://") {
		t.Fatalf("https with the operator's files: %d HSTS %q issuer %s", a.status, a.header.Get("Strict-Transport-Security"), ts.identity.Issuer())
	}
	if a := ts.do("GET", "/ca.crt", "", nil); a.status != 404 {
		t.Fatalf("/ca.crt with --tls=files: %d, want 404 (the server has no CA of its own)", a.status)
	}
}

// TestLoginLockoutConcurrent: concurrent wrong passwords for one email are
// reserved before the password is checked, so no more than the threshold
// (5) are checked (401); the others are refused (429).
func TestLoginLockoutConcurrent(t *testing.T) {
	ts := startServer(t, "")
	ts.user("conc@example.com")
	const n = 50
	statuses := make([]int, n)
	done := make(chan struct{})
	for i := range n {
		go func() {
			defer func() { done <- struct{}{} }()
			body := strings.NewReader(`{"email":"conc@example.com","password":"wrong-` + strconv.Itoa(i) + `"}`)
			req, err := http.NewRequest("POST", ts.URL()+"/auth/login", body)
			if err != nil {
				return
			}
			req.Header.Set("Content-Type", "application/json")
			resp, err := ts.client.Do(req)
			if err != nil {
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			statuses[i] = resp.StatusCode
		}()
	}
	for range n {
		<-done
	}
	count := map[int]int{}
	for _, s := range statuses {
		count[s]++
	}
	if count[401] > 5 || count[401]+count[429] != n {
		t.Fatalf("%d concurrent wrong passwords, threshold 5: answers %v, want at most 5 checked (401), the rest 429", n, count)
	}
}

// TestSecondFactorLockoutHTTP: wrong second factors count per user across
// mfa_tokens (each new one costs only the password, and its mfa_required
// answer no longer resets the email's failures), and a locked second
// factor is refused with 429 at every endpoint that checks one.
func TestSecondFactorLockoutHTTP(t *testing.T) {
	ts := startServer(t, "")
	const email, ua = "guess@example.com", "hks-test/1"
	_, tok := ts.user(email)
	secret, backup := ts.enrol(tok)
	ts.nextStep()
	for range 2 {
		la := ts.passwordLogin(email, ua)
		if !la.MFARequired {
			t.Fatalf("login answered %+v, want mfa_required", la)
		}
		for range identity.MaxMFAAttempts {
			a := ts.doUA("POST", "/auth/login/mfa", "", ua, map[string]string{"mfa_token": la.MFAToken, "code": "aaaaa-aaaaa"})
			wantProblem(t, a, 401, "invalid-mfa-code", "code")
		}
	}
	locked := func(a answer) {
		t.Helper()
		wantProblem(t, a, 429, "rate-limited", "")
		if ra, err := strconv.Atoi(a.header.Get("Retry-After")); err != nil || ra < 890 || ra > 900 {
			t.Fatalf("Retry-After %q, want 900 (15 minutes)", a.header.Get("Retry-After"))
		}
	}
	la := ts.passwordLogin(email, ua)
	locked(ts.doUA("POST", "/auth/login/mfa", "", ua, map[string]string{"mfa_token": la.MFAToken, "code": ts.code(secret, 0)}))
	locked(ts.do("POST", "/auth/2fa/backup-codes", tok, map[string]string{"code": backup[0]}))
	locked(ts.do("POST", "/auth/2fa/disable", tok, map[string]string{"code": backup[1]}))
	// After the lock, a right code signs in.
	ts.offset.Add(int64(15*time.Minute + time.Second))
	la = ts.passwordLogin(email, ua)
	a := ts.doUA("POST", "/auth/login/mfa", "", ua, map[string]string{"mfa_token": la.MFAToken, "code": backup[0]})
	if a.status != 200 {
		t.Fatalf("right code after the lock: %d %s", a.status, a.body)
	}
	var fresh loginAnswer
	a.json(t, &fresh)
	tok = fresh.AccessToken

	// mfa_required does not reset the email's failed passwords.
	for range 4 {
		if a := ts.do("POST", "/auth/login", "", map[string]string{"email": email, "password": "wrong"}); a.status != 401 {
			t.Fatalf("wrong password: %d", a.status)
		}
		ts.passwordLogin(email, ua)
	}
	if a := ts.do("POST", "/auth/login", "", map[string]string{"email": email, "password": "wrong"}); a.status != 401 {
		t.Fatalf("fifth wrong password: %d", a.status)
	}
	if a := ts.doUA("POST", "/auth/login", "", ua, map[string]string{"email": email, "password": "password-" + email}); a.status != 429 {
		t.Fatalf("right password after 5 wrong ones with mfa_required between: %d %s, want 429", a.status, a.body)
	}
	// The password at /auth/2fa/disable is under the same lockout.
	locked2 := ts.do("POST", "/auth/2fa/disable", tok, map[string]string{"password": "password-" + email})
	wantProblem(t, locked2, 429, "rate-limited", "")
}

// TestAuthorizeSecondFactorLockout: the sign-in page's second-factor form
// shares the per-user lockout of wrong codes (429 with Retry-After).
func TestAuthorizeSecondFactorLockout(t *testing.T) {
	ts := startServer(t, "")
	const email = "pagelock@example.com"
	_, tok := ts.user(email)
	secret, _ := ts.enrol(tok)
	ts.nextStep()
	cb := newCallback(t)
	b := newBrowser(t, ts)
	_, challenge := pkcePair()
	mfaForm := func() url.Values {
		t.Helper()
		f := b.get(authorizeURL(cb.uri(), "st", challenge)).form(t)
		f.Set("email", email)
		f.Set("password", "password-"+email)
		p := b.post("/auth/authorize", f)
		f = p.form(t)
		if p.status != 200 || f.Get("mfa_token") == "" {
			t.Fatalf("second factor form: %d %s", p.status, p.body)
		}
		return f
	}
	for range 2 {
		f := mfaForm()
		for range identity.MaxMFAAttempts {
			f.Set("code", "aaaaa-aaaaa")
			if p := b.post("/auth/authorize", f); p.status != 200 || !strings.Contains(p.body, "Wrong or used code") {
				t.Fatalf("wrong code: %d %s", p.status, p.body)
			}
		}
	}
	f := mfaForm()
	f.Set("code", ts.code(secret, 0))
	p := b.post("/auth/authorize", f)
	if ra, err := strconv.Atoi(p.header.Get("Retry-After")); p.status != 429 || err != nil || ra < 890 || ra > 900 || !strings.Contains(p.body, "Too many wrong codes") {
		t.Fatalf("right code after 10 wrong ones: %d Retry-After %q %s", p.status, p.header.Get("Retry-After"), p.body)
	}
}

// TestCLIDeviceTokenOutlastsStrangersThrottle: the CLI keeps the
// device_token of its sign-in and, sending it at the next one, signs in
// while strangers' guesses from many sources throttle the account; a new
// client is not refused either (it only waits the throttle's delay, which
// internal/identity's tests measure).
func TestCLIDeviceTokenOutlastsStrangersThrottle(t *testing.T) {
	ts := startServerWith(t, func(c *config.Config) { c.AccountLoginThrottleThreshold = 5 })
	ctx := context.Background()
	const email = "cli-device@example.com"
	ts.user(email)
	hc := &http.Client{Timeout: 10 * time.Second}
	creds, err := cli.Login(ctx, hc, ts.URL(), email, "password-"+email)
	if err != nil || creds.DeviceToken == "" {
		t.Fatalf("first sign-in: device token %q, %v", creds.DeviceToken, err)
	}
	for i := range 5 {
		if a := ts.doFrom("127.0.0."+strconv.Itoa(10+i), "POST", "/auth/login", map[string]string{"email": email, "password": "guess"}); a.status != 401 {
			t.Fatalf("stranger %d: %d %s", i, a.status, a.body)
		}
	}
	if _, err := cli.Login(ctx, hc, ts.URL(), email, "password-"+email); err != nil {
		t.Fatalf("a new client while the account is throttled: %v, want a sign-in after a delay", err)
	}
	again, err := cli.LoginWithOTP(ctx, hc, ts.URL(), email, "password-"+email, creds.DeviceToken, nil)
	if err != nil || again.DeviceToken == "" {
		t.Fatalf("sign-in with the stored device token: %v (device token %q)", err, again.DeviceToken)
	}
}

// TestAuthorizePageDeviceCookieAfterSecondFactor: on the sign-in page, the
// device cookie of an account with 2FA is set by the completed second
// factor, not by the password step.
func TestAuthorizePageDeviceCookieAfterSecondFactor(t *testing.T) {
	ts := startServer(t, "")
	const email = "pagedevice@example.com"
	_, tok := ts.user(email)
	secret, _ := ts.enrol(tok)
	ts.nextStep()
	cb := newCallback(t)
	b := newBrowser(t, ts)
	_, challenge := pkcePair()
	setsDevice := func(p page) bool {
		return strings.Contains(strings.Join(p.header.Values("Set-Cookie"), "\n"), identity.DeviceCookie+"=")
	}
	f := b.get(authorizeURL(cb.uri(), "st", challenge)).form(t)
	f.Set("email", email)
	f.Set("password", "password-"+email)
	p := b.post("/auth/authorize", f)
	f = p.form(t)
	if p.status != 200 || f.Get("mfa_token") == "" {
		t.Fatalf("second factor form: %d %s", p.status, p.body)
	}
	if setsDevice(p) {
		t.Fatalf("the password step set a device cookie: %q", p.header.Values("Set-Cookie"))
	}
	f.Set("code", ts.code(secret, 0))
	p = b.post("/auth/authorize", f)
	if p.status >= 400 || !setsDevice(p) {
		t.Fatalf("completed second factor: %d, Set-Cookie %q, want the device cookie", p.status, p.header.Values("Set-Cookie"))
	}
}

// TestTrustedProxyForwardedClient: behind a trusted proxy
// (trustedProxies), the client X-Forwarded-For names is the one the
// lockout counts: five wrong passwords lock that client, not every client
// of the proxy; a left part the client wrote is not believed.
func TestTrustedProxyForwardedClient(t *testing.T) {
	ts := startServerWith(t, func(c *config.Config) { c.TrustedProxies = []string{"127.0.0.1/32"} })
	const email = "proxied@example.com"
	ts.user(email)
	login := func(xff, pw string) answer {
		return ts.doWith("POST", "/auth/login", "", map[string]string{"email": email, "password": pw}, http.Header{"X-Forwarded-For": {xff}})
	}
	for i := range 5 {
		if a := login("203.0.113.1", "guess"); a.status != 401 {
			t.Fatalf("guess %d: %d %s", i, a.status, a.body)
		}
	}
	if a := login("203.0.113.1", "password-"+email); a.status != 429 {
		t.Fatalf("the guessing client behind the proxy: %d, want 429", a.status)
	}
	if a := login("198.51.100.1, 203.0.113.1", "password-"+email); a.status != 429 {
		t.Fatalf("the guessing client with a left part it wrote: %d, want 429", a.status)
	}
	if a := login("203.0.113.2", "password-"+email); a.status != 200 {
		t.Fatalf("another client behind the same proxy: %d %s, want 200", a.status, a.body)
	}
}
