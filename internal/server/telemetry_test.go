package server

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hexabase/hexabase-ai/internal/config"
	"github.com/hexabase/hexabase-ai/internal/httpapi"
	"github.com/hexabase/hexabase-ai/internal/identity"
)

// TestMetricsOnlyOnTelemetryListener: /metrics names every tenant's
// workspaces, so the API listener answers it 404 (problem+json) and the
// telemetry listener, on loopback, serves it.
func TestMetricsOnlyOnTelemetryListener(t *testing.T) {
	ts := startServer(t, "")
	_, tok := ts.user("owner@example.com")
	for _, token := range []string{"", tok} {
		a := ts.do("GET", "/metrics", token, nil)
		if a.status != http.StatusNotFound || a.problem(t)["type"] != httpapi.ProblemTypeBase+"not-found" {
			t.Fatalf("API listener /metrics (token %t): %d %s", token != "", a.status, a.body)
		}
		if strings.Contains(string(a.body), "hks_") {
			t.Fatalf("the API listener served metrics: %s", a.body)
		}
	}
	if u, err := url.Parse(ts.TelemetryURL()); err != nil || u.Hostname() != "127.0.0.1" || u.Host == ts.Addr() {
		t.Fatalf("telemetry URL %q", ts.TelemetryURL())
	}
	if a := ts.do("GET", "/healthz", "", nil); a.status != 200 {
		t.Fatalf("healthz: %d", a.status)
	}
	m := ts.metrics()
	if m.status != 200 || !strings.Contains(string(m.body), `hks_http_request_duration_seconds_bucket{code="200",method="GET",route="GET /healthz"`) {
		t.Fatalf("telemetry /metrics lacks the API's request metrics: %d %s", m.status, grepLines(string(m.body), "hks_http"))
	}
	req, _ := http.NewRequest(http.MethodGet, ts.TelemetryURL()+"/api/v1/organizations", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := ts.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("the telemetry listener served the API: %d", resp.StatusCode)
	}
}

// TestTelemetryOff: telemetryListen off serves metrics nowhere.
func TestTelemetryOff(t *testing.T) {
	ts := startServerWith(t, func(c *config.Config) { c.TelemetryListen = config.TelemetryOff })
	if ts.TelemetryURL() != "" {
		t.Fatalf("telemetry URL %q with telemetry off", ts.TelemetryURL())
	}
	if a := ts.do("GET", "/metrics", "", nil); a.status != http.StatusNotFound {
		t.Fatalf("API listener /metrics: %d", a.status)
	}
}

// TestTelemetryPortTaken: a taken telemetry port stops the start with a
// message that names the address and the setting.
func TestTelemetryPortTaken(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	cfg := config.Default()
	cfg.DataDir, cfg.Listen, cfg.TelemetryListen = t.TempDir(), "127.0.0.1:0", busy.Addr().String()
	err = newServerErr(t, cfg)
	for _, want := range []string{"telemetry listener: " + busy.Addr().String() + " is taken", "--telemetry-listen", "HKS_TELEMETRY_LISTEN", "address already in use"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q lacks %q", err, want)
		}
	}
}

// TestTelemetryStopsWithServer: the telemetry listener is closed when the
// server stops, so its port can be bound again.
func TestTelemetryStopsWithServer(t *testing.T) {
	cfg := config.Default()
	cfg.DataDir, cfg.Listen, cfg.TelemetryListen, cfg.ControlPlaneProvider = t.TempDir(), "127.0.0.1:0", "127.0.0.1:0", "none"
	s, err := New(context.Background(), Options{Config: cfg, Stdout: io.Discard, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		argon2: identity.Argon2Params{Memory: 1024, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}})
	if err != nil {
		t.Fatal(err)
	}
	addr := strings.TrimPrefix(s.TelemetryURL(), "http://")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	hc := &http.Client{Timeout: 10 * time.Second}
	resp, err := hc.Get(s.TelemetryURL() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("telemetry /metrics: %d", resp.StatusCode)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("server did not stop")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("the telemetry port is still bound after the server stopped: %v", err)
	}
	ln.Close()
}

// TestTelemetryWarnsOffLoopback: the listener warns when it is reachable
// from other machines (an unspecified or non-loopback address), since
// /metrics names every tenant's workspaces; on loopback it is quiet.
func TestTelemetryWarnsOffLoopback(t *testing.T) {
	for _, tc := range []struct {
		addr string
		want bool
	}{
		{"127.0.0.1:8090", true}, {"127.0.0.2:8090", true}, {"[::1]:8090", true},
		{"0.0.0.0:8090", false}, {"[::]:8090", false}, {"10.0.0.5:8090", false}, {"[2001:db8::1]:8090", false},
	} {
		a, err := net.ResolveTCPAddr("tcp", tc.addr)
		if err != nil {
			t.Fatal(err)
		}
		if got := loopbackAddr(a); got != tc.want {
			t.Errorf("loopbackAddr(%s) = %v, want %v", tc.addr, got, tc.want)
		}
	}
	var logs bytes.Buffer
	tel, err := listenTelemetry("127.0.0.1:0", prometheus.NewRegistry(), slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer tel.ln.Close()
	if strings.Contains(logs.String(), "other machines") {
		t.Errorf("warned on loopback: %s", logs.String())
	}
}

// TestTelemetryRefusesHostNames: a request for a host name other than
// localhost (a page that rebound its name to 127.0.0.1) is refused, so a
// browser on this machine cannot hand /metrics to another site; a scraper
// naming the address, or localhost, reads it.
func TestTelemetryRefusesHostNames(t *testing.T) {
	ts := startServer(t, "")
	u, err := url.Parse(ts.TelemetryURL())
	if err != nil {
		t.Fatal(err)
	}
	for host, want := range map[string]int{
		u.Host:                            http.StatusOK,
		"localhost:" + u.Port():           http.StatusOK,
		"[::1]:" + u.Port():               http.StatusOK,
		"rebound.example.com:" + u.Port(): http.StatusForbidden,
		"rebound.example.com":             http.StatusForbidden,
		"127.0.0.1.nip.io":                http.StatusForbidden,
	} {
		req, _ := http.NewRequest(http.MethodGet, ts.TelemetryURL()+"/metrics", nil)
		req.Host = host
		resp, err := ts.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want || (want != http.StatusOK && strings.Contains(string(b), "hks_")) {
			t.Errorf("Host %s: %d, want %d", host, resp.StatusCode, want)
		}
	}
}
