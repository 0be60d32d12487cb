package issuer

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hexabase/hexabase-ai/internal/authz"
)

func endpointConfig(dir string) EndpointConfig {
	return EndpointConfig{ExternalURL: "http://127.0.0.1:8080", DataDir: dir, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: time.Now}
}

// TestWorkspaceEndpoint: with a plain http external URL the endpoint
// listens on loopback with a certificate of its own CA, serves the
// workspace discovery document and the JWKS and nothing else, and keeps
// its address for the next start.
func TestWorkspaceEndpoint(t *testing.T) {
	e := newEnv(t, 0)
	az, _ := authz.New(e.st)
	dir := t.TempDir()
	w, err := ListenWorkspaceEndpoint(endpointConfig(dir))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	s, err := New(Config{Identity: e.id, Access: az, Store: e.st, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: time.Now, WorkspaceIssuer: w.URL()})
	if err != nil {
		t.Fatal(err)
	}
	w.Handle(s, e.id)
	go func() { _ = w.Serve() }()
	defer func() { _ = w.Shutdown(t.Context()) }()

	if w.Addr() == nil || w.URL() != "https://"+w.Addr().String() {
		t.Fatalf("URL %q, listener %v", w.URL(), w.Addr())
	}
	if b, err := os.ReadFile(filepath.Join(dir, WorkspaceIssuerAddrFile)); err != nil || strings.TrimSpace(string(b)) != w.Addr().String() {
		t.Fatalf("kept address %q (%v), want %s", b, err, w.Addr())
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(w.CAPEM()) {
		t.Fatal("CAPEM is not PEM")
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	for _, tc := range []struct {
		name, method, path string
		status             int
	}{
		{"discovery", "GET", DiscoveryPath, 200},
		{"jwks", "GET", JWKSPath, 200},
		{"token endpoint", "POST", TokenPath, 404},
		{"other path", "GET", "/api/v1/organizations", 404},
		{"other method", "POST", DiscoveryPath, 405},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, w.URL()+tc.path, nil)
			res, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			if res.StatusCode != tc.status {
				t.Fatalf("%d, want %d", res.StatusCode, tc.status)
			}
			if tc.path == DiscoveryPath && tc.status == 200 {
				var d struct {
					Issuer  string `json:"issuer"`
					JWKSURI string `json:"jwks_uri"`
				}
				if err := json.NewDecoder(res.Body).Decode(&d); err != nil || d.Issuer != w.URL() || !strings.HasPrefix(d.JWKSURI, w.URL()) {
					t.Fatalf("discovery %+v (%v), want issuer %s", d, err, w.URL())
				}
			}
		})
	}

	// The next start reuses the address and the CA.
	addr := w.Addr().String()
	w.Close()
	_ = w.Shutdown(t.Context())
	again, err := ListenWorkspaceEndpoint(endpointConfig(dir))
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	if again.Addr().String() != addr || string(again.CAPEM()) != string(w.CAPEM()) {
		t.Fatalf("restart on %s (same CA: %t), want %s", again.Addr(), string(again.CAPEM()) == string(w.CAPEM()), addr)
	}
}

func TestWorkspaceEndpointErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		kept string
		want []string
	}{
		{"kept address not loopback", "0.0.0.0:1234\n", []string{WorkspaceIssuerAddrFile, `"0.0.0.0:1234"`, "not a loopback IP and port", "--workspace-issuer-listen"}},
		{"kept address without a port", "127.0.0.1\n", []string{"not a loopback IP and port"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, WorkspaceIssuerAddrFile), []byte(tc.kept), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := ListenWorkspaceEndpoint(endpointConfig(dir))
			for _, want := range tc.want {
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Fatalf("error %v, want it to name %q", err, want)
				}
			}
		})
	}
	t.Run("kept port taken", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, WorkspaceIssuerAddrFile), []byte(ln.Addr().String()), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err = ListenWorkspaceEndpoint(endpointConfig(dir))
		if err == nil || !strings.Contains(err.Error(), "address already in use") || !strings.Contains(err.Error(), "--workspace-issuer-listen") {
			t.Fatalf("error %v", err)
		}
	})
	t.Run("https external URL: no listener", func(t *testing.T) {
		cfg := endpointConfig(t.TempDir())
		cfg.ExternalURL, cfg.PlatformCAPEM = "https://hks.example.com", []byte("ca")
		w, err := ListenWorkspaceEndpoint(cfg)
		if err != nil || w.Addr() != nil || w.URL() != "https://hks.example.com" || string(w.CAPEM()) != "ca" {
			t.Fatalf("%+v %v", w, err)
		}
		if _, err := os.Stat(filepath.Join(cfg.DataDir, WorkspaceIssuerAddrFile)); !os.IsNotExist(err) {
			t.Fatalf("address kept without a listener: %v", err)
		}
	})
}
