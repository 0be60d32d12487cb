package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"syscall"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/hexabase/hexabase-ai/internal/httpapi"
)

// telemetry is the listener that serves /metrics apart from the API (like
// Dex's telemetry port): the metrics name every tenant's workspaces, so
// only whoever can reach this address (loopback by default) reads them.
type telemetry struct {
	ln   net.Listener
	http *http.Server
}

// listenTelemetry binds addr and serves reg's metrics there once serve runs.
func listenTelemetry(addr string, reg *prometheus.Registry, log *slog.Logger) (*telemetry, error) {
	ln, err := net.Listen("tcp", addr)
	if errors.Is(err, syscall.EADDRINUSE) {
		return nil, fmt.Errorf("telemetry listener: %s is taken: choose another --telemetry-listen (HKS_TELEMETRY_LISTEN, telemetryListen), or off: %w", addr, err)
	} else if err != nil {
		return nil, fmt.Errorf("telemetry listener: listen on %s: %w", addr, err)
	}
	if !loopbackAddr(ln.Addr()) {
		log.Warn("the telemetry listener is reachable from other machines: /metrics names every tenant's workspaces and needs no credential; keep it on loopback or firewall it",
			"telemetry", ln.Addr().String())
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	return &telemetry{ln: ln, http: httpapi.AuxServer(ipHostOnly(mux), log)}, nil
}

// addr is the bound address; "" when t is nil (telemetry off).
func (t *telemetry) addr() string {
	if t == nil {
		return ""
	}
	return t.ln.Addr().String()
}

func (t *telemetry) serve() error {
	if t == nil {
		return nil
	}
	if err := t.http.Serve(t.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve telemetry: %w", err)
	}
	return nil
}

func (t *telemetry) shutdown(ctx context.Context) error {
	if t == nil {
		return nil
	}
	return t.http.Shutdown(ctx)
}

func (t *telemetry) close() {
	if t != nil {
		_ = t.ln.Close()
	}
}

// loopbackAddr reports whether a is a TCP address on a loopback IP; an
// unspecified address (0.0.0.0, ::) listens on every interface and is not.
func loopbackAddr(a net.Addr) bool {
	t, ok := a.(*net.TCPAddr)
	return ok && t.IP.IsLoopback()
}

// ipHostOnly refuses (403) a request whose Host is a name other than
// localhost: a scraper names the listener by its address, while a web
// page that rebinds its own name to 127.0.0.1 (DNS rebinding) sends that
// name, and must not read /metrics through a browser on this machine.
func ipHostOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := r.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		if host != "localhost" && net.ParseIP(strings.Trim(host, "[]")) == nil {
			http.Error(w, "the telemetry listener answers requests for an IP address or localhost only", http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}
