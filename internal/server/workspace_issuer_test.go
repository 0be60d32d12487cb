package server

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/hexabase/hexabase-ai/internal/api"
	"github.com/hexabase/hexabase-ai/internal/config"
	"github.com/hexabase/hexabase-ai/internal/controlplane"
	"github.com/hexabase/hexabase-ai/internal/identity"
	"github.com/hexabase/hexabase-ai/internal/issuer"
	"github.com/hexabase/hexabase-ai/internal/testutil"
	"github.com/hexabase/hexabase-ai/internal/tlsutil"
)

// issOf is the iss of a token, unverified.
func issOf(t *testing.T, tok string) string {
	t.Helper()
	c := jwt.MapClaims{}
	if _, _, err := jwt.NewParser().ParseUnverified(tok, c); err != nil {
		t.Fatal(err)
	}
	iss, _ := c["iss"].(string)
	return iss
}

// issuerClient trusts only caPEM.
func issuerClient(t *testing.T, caPEM []byte) *http.Client {
	t.Helper()
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		t.Fatalf("CA is not PEM: %q", caPEM)
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

// TestWorkspaceIssuerEndpoint: with a plain http external URL, workspace
// tokens (both paths) name an https loopback issuer whose certificate
// chains to the CA in the data dir; go-oidc verifies them through its
// discovery document; it serves the platform's keys and nothing else.
func TestWorkspaceIssuerEndpoint(t *testing.T) {
	ts := startServer(t, "")
	w := newIssuerWorld(t, ts)
	ctx := context.Background()
	trust := ts.WorkspaceIssuer()

	// Loopback https, a CA kept in the data dir, the address kept beside.
	u, err := url.Parse(trust.URL)
	if err != nil || u.Scheme != "https" || net.ParseIP(u.Hostname()) == nil || !net.ParseIP(u.Hostname()).IsLoopback() || u.Port() == "" || u.Path != "" {
		t.Fatalf("workspace issuer URL %q", trust.URL)
	}
	if ip := ts.wsIssuer.Addr().(*net.TCPAddr).IP; !ip.IsLoopback() || ts.wsIssuer.Addr().String() != u.Host {
		t.Fatalf("listener %s for %s", ts.wsIssuer.Addr(), trust.URL)
	}
	caPEM, err := os.ReadFile(filepath.Join(ts.cfg.DataDir, issuer.WorkspaceIssuerTLSDir, tlsutil.CACertFile))
	if err != nil || !bytes.Equal(caPEM, trust.CAPEM) {
		t.Fatalf("CA in the data dir: %v (differs from the trust: %t)", err, !bytes.Equal(caPEM, trust.CAPEM))
	}
	if b, err := os.ReadFile(filepath.Join(ts.cfg.DataDir, issuer.WorkspaceIssuerAddrFile)); err != nil || strings.TrimSpace(string(b)) != u.Host {
		t.Fatalf("kept address %q: %v", b, err)
	}
	if _, err := os.Stat(filepath.Join(ts.cfg.DataDir, "tls")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("--tls=auto's directory was created: %v", err)
	}

	// Both paths to a workspace token name the https issuer, and go-oidc
	// verifies through its discovery with the CA read from the data dir; a
	// token for A is refused for B.
	fromAPI := ts.workspaceToken(t, w, w.ownerTok, w.wsA).Token
	a := ts.form("/auth/token", url.Values{"grant_type": {issuer.GrantTokenExchange}, "subject_token": {w.ownerTok},
		"subject_token_type": {issuer.TokenTypeAccessToken}, "audience": {w.wsA}})
	var er api.ExchangeResponse
	a.json(t, &er)
	fromDisk := controlplane.IssuerTrust{URL: trust.URL, CAPEM: caPEM}
	for name, tok := range map[string]string{"workspace token route": fromAPI, "token exchange": er.AccessToken} {
		t.Run(name, func(t *testing.T) {
			if iss := issOf(t, tok); iss != trust.URL {
				t.Fatalf("%s: iss %q, want %q", name, iss, trust.URL)
			}
			if _, err := verifyWorkspaceToken(t, ctx, fromDisk, w.wsA, tok); err != nil {
				t.Fatalf("%s: go-oidc refused it: %v", name, err)
			}
			if _, err := verifyWorkspaceToken(t, ctx, fromDisk, w.wsB, tok); err == nil || !strings.Contains(err.Error(), "audience") {
				t.Fatalf("%s: token for workspace A accepted for B: %v", name, err)
			}
		})
	}

	// The discovery document: issuer and keys here, the endpoints of the
	// platform at its own URL. The keys are the platform's.
	c := issuerClient(t, caPEM)
	get := func(path string) (int, http.Header, []byte) {
		t.Helper()
		resp, err := c.Get(trust.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header, b
	}
	st, h, b := get(issuer.DiscoveryPath)
	var d api.Discovery
	if st != 200 || h.Get("Content-Type") != "application/json" || json.Unmarshal(b, &d) != nil {
		t.Fatalf("discovery: %d %v %s", st, h, b)
	}
	if d.Issuer != trust.URL || d.JWKSURI != trust.URL+issuer.JWKSPath || d.TokenEndpoint != ts.URL()+issuer.TokenPath ||
		d.AuthorizationEndpoint != ts.URL()+issuer.AuthorizationPath {
		t.Fatalf("workspace discovery document: %s", b)
	}
	var main api.Discovery
	ts.do("GET", issuer.DiscoveryPath, "", nil).json(t, &main)
	if main.Issuer != ts.URL() || main.JWKSURI != ts.URL()+issuer.JWKSPath {
		t.Fatalf("platform discovery document changed: %+v", main)
	}
	var here, there api.JSONWebKeySet
	st, _, b = get(issuer.JWKSPath)
	if st != 200 || json.Unmarshal(b, &here) != nil {
		t.Fatalf("jwks: %d %s", st, b)
	}
	ts.do("GET", issuer.JWKSPath, "", nil).json(t, &there)
	if len(here.Keys) == 0 || len(here.Keys) != len(there.Keys) || here.Keys[0].Kid != there.Keys[0].Kid || here.Keys[0].N != there.Keys[0].N {
		t.Fatalf("jwks %+v, platform's %+v", here, there)
	}

	// Nothing else is served.
	for _, p := range []string{"/api/v1/openapi.json", "/api/v1/organizations", "/healthz", "/auth/me", "/", "/.well-known/jwks.json/x"} {
		t.Run(testutil.CaseName(p), func(t *testing.T) {
			if st, _, b := get(p); st != http.StatusNotFound {
				t.Errorf("GET %s: %d %s, want 404", p, st, b)
			}
		})
	}
	for _, p := range []string{issuer.TokenPath, issuer.DiscoveryPath} {
		t.Run(testutil.CaseName(p), func(t *testing.T) {
			resp, err := c.Post(trust.URL+p, "application/x-www-form-urlencoded", strings.NewReader("grant_type=x"))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusNotFound && resp.StatusCode != http.StatusMethodNotAllowed {
				t.Errorf("POST %s: %d", p, resp.StatusCode)
			}
		})
	}
	// Only https, and only to clients that trust its CA.
	if resp, err := http.Get("http://" + u.Host + issuer.DiscoveryPath); err == nil {
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Error("the endpoint answers plain http")
		}
	}
	if _, err := (&http.Client{Timeout: 10 * time.Second}).Get(trust.URL + issuer.DiscoveryPath); err == nil {
		t.Error("the endpoint's certificate verifies with the system roots")
	}
}

// newServerErr builds a server that must fail to start and returns why.
func newServerErr(t *testing.T, cfg config.Config) error {
	t.Helper()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	s, err := New(context.Background(), Options{Config: cfg, Stdout: io.Discard, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		argon2: identity.Argon2Params{Memory: 1024, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}})
	if err == nil {
		s.close(context.Background())
		t.Fatal("server started")
	}
	return err
}

// TestWorkspaceIssuerAddressKept: the endpoint's address is kept in the
// data dir and reused on restart (with the same CA); a kept port that is
// taken, or a kept address that is not loopback, stops the start with an
// error naming the file and the flag; the flag overrides and is kept.
func TestWorkspaceIssuerAddressKept(t *testing.T) {
	dir := t.TempDir()
	inDir := func(c *config.Config) { c.DataDir = dir }
	var first controlplane.IssuerTrust
	t.Run("first start", func(t *testing.T) { first = startServerWith(t, inDir).WorkspaceIssuer() })
	var again controlplane.IssuerTrust
	t.Run("restart", func(t *testing.T) { again = startServerWith(t, inDir).WorkspaceIssuer() })
	if again.URL != first.URL || !bytes.Equal(again.CAPEM, first.CAPEM) {
		t.Fatalf("after restart %s, want %s (same CA: %t)", again.URL, first.URL, bytes.Equal(again.CAPEM, first.CAPEM))
	}
	addrFile := filepath.Join(dir, issuer.WorkspaceIssuerAddrFile)
	kept := strings.TrimPrefix(first.URL, "https://")

	// The kept port is taken.
	ln, err := net.Listen("tcp", kept)
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.DataDir, cfg.Listen, cfg.TelemetryListen = dir, "127.0.0.1:0", "127.0.0.1:0"
	err = newServerErr(t, cfg)
	ln.Close()
	for _, want := range []string{kept, addrFile, "--workspace-issuer-listen", "address already in use"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("taken port: %q lacks %q", err, want)
		}
	}

	// A kept address that is not loopback.
	if err := os.WriteFile(addrFile, []byte("0.0.0.0:1234\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	err = newServerErr(t, cfg)
	for _, want := range []string{addrFile, `"0.0.0.0:1234"`, "not a loopback IP and port", "--workspace-issuer-listen"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("bad kept address: %q lacks %q", err, want)
		}
	}

	// The flag overrides and its address is kept from then on.
	free, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	chosen := free.Addr().String()
	free.Close()
	t.Run("flag", func(t *testing.T) {
		got := startServerWith(t, func(c *config.Config) { c.DataDir, c.WorkspaceIssuerListen = dir, chosen }).WorkspaceIssuer()
		if got.URL != "https://"+chosen || !bytes.Equal(got.CAPEM, first.CAPEM) {
			t.Fatalf("with the flag: %s, want https://%s (same CA: %t)", got.URL, chosen, bytes.Equal(got.CAPEM, first.CAPEM))
		}
	})
	if b, err := os.ReadFile(addrFile); err != nil || strings.TrimSpace(string(b)) != chosen {
		t.Fatalf("kept after the flag: %q %v", b, err)
	}
}

// TestWorkspaceIssuerHTTPSExternalURL: when the external URL is https the
// platform is the workspace issuer: no extra listener, iss = the external
// URL, and the CA handed to workspaces is --tls=auto's (none behind a
// proxy: the system roots).
func TestWorkspaceIssuerHTTPSExternalURL(t *testing.T) {
	t.Run("tls auto", func(t *testing.T) {
		ts := startServerWith(t, func(c *config.Config) { c.TLS = "auto" })
		trust := ts.WorkspaceIssuer()
		if trust.URL != ts.cfg.ExternalURL || trust.URL != ts.identity.Issuer() || !bytes.Equal(trust.CAPEM, ts.tls.CAPEM) || len(trust.CAPEM) == 0 {
			t.Fatalf("workspace issuer %s (CA %t), external URL %s", trust.URL, bytes.Equal(trust.CAPEM, ts.tls.CAPEM), ts.cfg.ExternalURL)
		}
		if ts.wsIssuer.Addr() != nil {
			t.Fatalf("extra listener on %s", ts.wsIssuer.Addr())
		}
		for _, f := range []string{issuer.WorkspaceIssuerAddrFile, issuer.WorkspaceIssuerTLSDir} {
			if _, err := os.Stat(filepath.Join(ts.cfg.DataDir, f)); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("%s exists: %v", f, err)
			}
		}
		w := newIssuerWorld(t, ts)
		tok := ts.workspaceToken(t, w, w.ownerTok, w.wsA).Token
		if iss := issOf(t, tok); iss != ts.cfg.ExternalURL {
			t.Fatalf("iss %q, want %q", iss, ts.cfg.ExternalURL)
		}
		if _, err := verifyWorkspaceToken(t, context.Background(), trust, w.wsA, tok); err != nil {
			t.Fatalf("go-oidc through the platform's own discovery: %v", err)
		}
	})
	t.Run("https behind a proxy", func(t *testing.T) {
		ts := startServerWith(t, func(c *config.Config) { c.ExternalURL = "https://hks.example.com" })
		if trust := ts.WorkspaceIssuer(); trust.URL != "https://hks.example.com" || trust.CAPEM != nil || ts.wsIssuer.Addr() != nil {
			t.Fatalf("workspace issuer %+v, listener %v", trust, ts.wsIssuer.Addr())
		}
		w := newIssuerWorld(t, ts)
		if iss := issOf(t, ts.workspaceToken(t, w, w.ownerTok, w.wsA).Token); iss != "https://hks.example.com" {
			t.Fatalf("iss %q", iss)
		}
	})
}
