package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/hexabase/hexabase-ai/internal/config"
	"github.com/hexabase/hexabase-ai/internal/controlplane"
	"github.com/hexabase/hexabase-ai/internal/fsutil"
	"github.com/hexabase/hexabase-ai/internal/httpapi"
	"github.com/hexabase/hexabase-ai/internal/identity"
	"github.com/hexabase/hexabase-ai/internal/issuer"
	"github.com/hexabase/hexabase-ai/internal/tlsutil"
)

// Files of the workspace issuer endpoint in the data dir.
const (
	// WorkspaceIssuerAddrFile keeps the endpoint's address, so that it
	// stays what the workspace API servers trust across restarts.
	WorkspaceIssuerAddrFile = "workspace-issuer.addr"
	// WorkspaceIssuerTLSDir holds the endpoint's own CA and serving
	// certificate (tlsutil.Auto's files). It is not --tls=auto's "tls"
	// directory: Auto rewrites the serving certificate whenever the hosts
	// it must name change, and the two listeners name different hosts.
	WorkspaceIssuerTLSDir = "workspace-issuer"
)

// workspaceIssuer is the OIDC issuer that workspace API servers trust.
// With an https external URL it is the platform itself and has no listener
// of its own. With a plain http one (Kubernetes accepts only https
// issuers) it is an https listener on loopback, the workspace issuer
// endpoint, that serves the workspace discovery document and the JWKS and
// nothing else.
type workspaceIssuer struct {
	trust controlplane.IssuerTrust
	ln    net.Listener // nil: no endpoint of its own
	srv   *http.Server
}

// listenWorkspaceIssuer binds the workspace issuer endpoint if the external
// URL is plain http. m is the platform's serving material (nil with
// --tls=off); its CA, if any, is what workspaces trust the platform with.
func listenWorkspaceIssuer(cfg config.Config, m *tlsutil.Material, log *slog.Logger, now func() time.Time) (*workspaceIssuer, error) {
	if httpapi.IsHTTPSURL(cfg.ExternalURL) {
		w := &workspaceIssuer{trust: controlplane.IssuerTrust{URL: cfg.ExternalURL}}
		if m != nil {
			w.trust.CAPEM = m.CAPEM
		}
		return w, nil
	}
	log = log.With("component", "workspace-issuer")
	ln, err := listenWorkspaceIssuerAddr(cfg)
	if err != nil {
		return nil, err
	}
	host, _, _ := net.SplitHostPort(ln.Addr().String())
	mat, err := tlsutil.Auto(tlsutil.AutoConfig{Dir: filepath.Join(cfg.DataDir, WorkspaceIssuerTLSDir), Hosts: []string{host}, Logger: log, Now: now})
	if err != nil {
		_ = ln.Close()
		return nil, fmt.Errorf("workspace issuer: %w", err)
	}
	w := &workspaceIssuer{
		trust: controlplane.IssuerTrust{URL: "https://" + ln.Addr().String(), CAPEM: mat.CAPEM},
		ln:    ln,
		srv: &http.Server{
			Handler:           http.NotFoundHandler(), // until handle
			TLSConfig:         mat.TLSConfig(),
			ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout:       30 * time.Second,
			WriteTimeout:      30 * time.Second,
			IdleTimeout:       120 * time.Second,
			MaxHeaderBytes:    16 << 10,
			ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		},
	}
	log.Info("workspace issuer endpoint", "url", w.trust.URL, "ca", filepath.Join(cfg.DataDir, WorkspaceIssuerTLSDir, tlsutil.CACertFile))
	return w, nil
}

// listenWorkspaceIssuerAddr listens on --workspace-issuer-listen, else on
// the address kept in the data dir, else on a free loopback port. The
// address in use is kept (port 0 of the flag excepted), so that it stays
// the same when the flag is later dropped.
func listenWorkspaceIssuerAddr(cfg config.Config) (net.Listener, error) {
	path := filepath.Join(cfg.DataDir, WorkspaceIssuerAddrFile)
	kept, err := readWorkspaceIssuerAddr(path)
	if err != nil && cfg.WorkspaceIssuerListen == "" {
		return nil, err
	}
	var ln net.Listener
	switch {
	case cfg.WorkspaceIssuerListen != "":
		if ln, err = net.Listen("tcp", cfg.WorkspaceIssuerListen); err != nil {
			return nil, fmt.Errorf("workspace issuer: listen on %s (--workspace-issuer-listen): %w", cfg.WorkspaceIssuerListen, err)
		}
		if _, port, _ := net.SplitHostPort(cfg.WorkspaceIssuerListen); port == "0" {
			return ln, nil
		}
	case kept != "":
		if ln, err = net.Listen("tcp", kept); err != nil {
			return nil, fmt.Errorf("workspace issuer: listen on %s, the address kept in %s that workspace API servers trust as their issuer: %w; "+
				"free the port, or choose another address with --workspace-issuer-listen (workspace control planes must then be reconfigured to trust it)",
				kept, path, err)
		}
	default:
		if ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			return nil, fmt.Errorf("workspace issuer: listen on a free loopback port: %w", err)
		}
	}
	if addr := ln.Addr().String(); addr != kept {
		if err := writeWorkspaceIssuerAddr(path, addr); err != nil {
			_ = ln.Close()
			return nil, err
		}
	}
	return ln, nil
}

// readWorkspaceIssuerAddr returns the kept address, "" if none is kept.
func readWorkspaceIssuerAddr(path string) (string, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("workspace issuer: read %s: %w", path, err)
	}
	addr := strings.TrimSpace(string(b))
	host, port, err := net.SplitHostPort(addr)
	ip := net.ParseIP(host)
	n, perr := strconv.Atoi(port)
	if err != nil || perr != nil || n < 1 || n > 65535 || ip == nil || !ip.IsLoopback() {
		return "", fmt.Errorf("workspace issuer: %s holds %q, not a loopback IP and port: correct it, or set --workspace-issuer-listen", path, addr)
	}
	return addr, nil
}

// writeWorkspaceIssuerAddr replaces the kept address atomically.
func writeWorkspaceIssuerAddr(path, addr string) error {
	if err := fsutil.WriteFileAtomic(path, []byte(addr+"\n"), 0o600); err != nil {
		return fmt.Errorf("workspace issuer: keep address: %w", err)
	}
	return nil
}

// handle installs the endpoint's two routes: the workspace discovery
// document and the JWKS (the same keys as the platform's). Every other
// path is 404, every other method 405.
func (w *workspaceIssuer) handle(is *issuer.Service, id *identity.Service, log *slog.Logger) {
	if w == nil || w.ln == nil {
		return
	}
	log = log.With("component", "workspace-issuer")
	write := func(rw http.ResponseWriter, b []byte) {
		rw.Header().Set("Content-Type", "application/json")
		rw.Header().Set("Cache-Control", "public, max-age=300")
		rw.Header().Set("X-Content-Type-Options", "nosniff")
		_, _ = rw.Write(b)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+issuer.DiscoveryPath, func(rw http.ResponseWriter, r *http.Request) {
		b, err := json.Marshal(is.WorkspaceDiscovery())
		if err != nil {
			log.ErrorContext(r.Context(), "discovery document", "error", err)
			http.Error(rw, "internal error", http.StatusInternalServerError)
			return
		}
		write(rw, b)
	})
	mux.HandleFunc("GET "+issuer.JWKSPath, func(rw http.ResponseWriter, r *http.Request) {
		b, err := id.JWKS(r.Context())
		if err != nil {
			log.ErrorContext(r.Context(), "jwks", "error", err)
			http.Error(rw, "internal error", http.StatusInternalServerError)
			return
		}
		write(rw, b)
	})
	w.srv.Handler = mux
}

// serve serves the endpoint until shutdown; without one it returns at once.
func (w *workspaceIssuer) serve() error {
	if w == nil || w.ln == nil {
		return nil
	}
	if err := w.srv.ServeTLS(w.ln, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve workspace issuer: %w", err)
	}
	return nil
}

// shutdown stops serving gracefully.
func (w *workspaceIssuer) shutdown(ctx context.Context) error {
	if w == nil || w.ln == nil {
		return nil
	}
	return w.srv.Shutdown(ctx)
}

// close releases the listener (after shutdown, or when New fails).
func (w *workspaceIssuer) close() {
	if w != nil && w.ln != nil {
		_ = w.ln.Close()
	}
}

// WorkspaceIssuer is the issuer that workspace API servers trust: its URL
// (the iss of workspace tokens) and the CA of its certificate (empty: the
// system roots).
func (s *Server) WorkspaceIssuer() controlplane.IssuerTrust {
	if s.wsIssuer == nil {
		return controlplane.IssuerTrust{}
	}
	return s.wsIssuer.trust
}
