package tlsutil

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func auto(t *testing.T, dir string, now time.Time, hosts ...string) *Material {
	t.Helper()
	m, err := Auto(AutoConfig{Dir: dir, Hosts: hosts, Logger: discard(), Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestAutoCreatesKeepsAndRenews(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	m := auto(t, dir, now, "192.0.2.10", "hks.example.com")
	leaf := m.Certificate.Leaf
	if leaf.NotAfter.Sub(now) < 360*24*time.Hour || !strings.Contains(strings.Join(leaf.DNSNames, ","), "hks.example.com") {
		t.Fatalf("serving certificate: not after %s, names %v", leaf.NotAfter, leaf.DNSNames)
	}
	pub := leaf.PublicKeyAlgorithm
	if pub != x509.ECDSA {
		t.Fatalf("key algorithm %s, want ECDSA", pub)
	}
	for _, f := range []string{CAKeyFile, KeyFile} {
		fi, err := os.Stat(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s has mode %o, want 0600", f, fi.Mode().Perm())
		}
	}
	// The leaf verifies against the CA for every host.
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(m.CAPEM) {
		t.Fatal("CAPEM is not a certificate")
	}
	for _, h := range []string{"localhost", "127.0.0.1", "::1", "192.0.2.10", "hks.example.com"} {
		t.Run(h, func(t *testing.T) {
			if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, DNSName: h, CurrentTime: now}); err != nil {
				t.Errorf("host %s: %v", h, err)
			}
		})
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, DNSName: "other.example.com", CurrentTime: now}); err == nil {
		t.Error("the certificate verifies for a host it must not name")
	}

	// Kept: the same material on the next start.
	again := auto(t, dir, now.Add(time.Hour), "hks.example.com", "192.0.2.10")
	if !bytes.Equal(again.Certificate.Certificate[0], m.Certificate.Certificate[0]) || !bytes.Equal(again.CAPEM, m.CAPEM) {
		t.Fatal("a second start replaced valid certificates")
	}
	// Hosts changed: a new serving certificate from the same CA.
	moved := auto(t, dir, now.Add(time.Hour), "hks.example.com", "192.0.2.11")
	if bytes.Equal(moved.Certificate.Certificate[0], m.Certificate.Certificate[0]) || !bytes.Equal(moved.CAPEM, m.CAPEM) {
		t.Fatal("a host change must renew the serving certificate under the same CA")
	}
	// Near expiry: renewed.
	later := now.Add(ServingValidity - RenewBefore + time.Hour)
	renewed := auto(t, dir, later, "hks.example.com", "192.0.2.11")
	if !renewed.Certificate.Leaf.NotAfter.After(moved.Certificate.Leaf.NotAfter) || !bytes.Equal(renewed.CAPEM, m.CAPEM) {
		t.Fatal("a serving certificate near expiry was not renewed")
	}
	// A damaged key: replaced, not fatal.
	if err := os.WriteFile(filepath.Join(dir, KeyFile), []byte("junk"), 0o600); err != nil {
		t.Fatal(err)
	}
	if fixed := auto(t, dir, later, "hks.example.com", "192.0.2.11"); bytes.Equal(fixed.Certificate.Certificate[0], renewed.Certificate.Certificate[0]) {
		t.Fatal("an unusable key was kept")
	}
}

func TestAutoServesHTTPS(t *testing.T) {
	m := auto(t, t.TempDir(), time.Now())
	ln, err := tls.Listen("tcp", "127.0.0.1:0", m.TLSConfig())
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") })}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	url := "https://" + ln.Addr().String() + "/"

	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(m.CAPEM)
	good := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := good.Get(url)
	if err != nil {
		t.Fatalf("client trusting the CA: %v", err)
	}
	resp.Body.Close()

	other := auto(t, t.TempDir(), time.Now())
	wrong := x509.NewCertPool()
	wrong.AppendCertsFromPEM(other.CAPEM)
	bad := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: wrong}}}
	if resp, err := bad.Get(url); err == nil {
		resp.Body.Close()
		t.Fatal("a client trusting another CA connected")
	} else if !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("unexpected error: %v", err)
	}
}

func TestAutoConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  AutoConfig
		want string
	}{
		{"no dir", AutoConfig{Logger: discard(), Now: time.Now}, "Dir is required"},
		{"no logger", AutoConfig{Dir: "x", Now: time.Now}, "Logger is required"},
		{"no clock", AutoConfig{Dir: "x", Logger: discard()}, "Now is required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Auto(tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
	if _, err := LoadFiles("/nonexistent/cert", "/nonexistent/key"); err == nil {
		t.Error("LoadFiles of missing files succeeded")
	}
}
