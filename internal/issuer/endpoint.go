package issuer

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

	"github.com/hexabase/hexabase-ai/internal/fsutil"
	"github.com/hexabase/hexabase-ai/internal/httpapi"
	"github.com/hexabase/hexabase-ai/internal/identity"
	"github.com/hexabase/hexabase-ai/internal/required"
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

// WorkspaceEndpoint is the OIDC issuer that workspace API servers trust.
// With an https external URL it is the platform itself and has no listener
// of its own. With a plain http one (Kubernetes accepts only https
// issuers) it is an https listener on loopback, the workspace issuer
// endpoint, that serves the workspace discovery document, the JWKS and,
// mounted by the server, the workspace API gateway (for kubectl on this
// machine: client-go sends an exec plugin's token to https servers only),
// and nothing else.
type WorkspaceEndpoint struct {
	url   string
	caPEM []byte
	ln    net.Listener // nil: no endpoint of its own
	srv   *http.Server
	mux   *http.ServeMux
	log   *slog.Logger
}

// EndpointConfig configures ListenWorkspaceEndpoint.
type EndpointConfig struct {
	// ExternalURL is the platform's URL.
	ExternalURL string
	// PlatformCAPEM is the CA of the platform's own serving certificate
	// (--tls=auto), nil otherwise: what workspaces trust an https
	// platform with.
	PlatformCAPEM []byte
	// DataDir keeps the endpoint's address and TLS material.
	DataDir string
	// Listen is the address to listen on (--workspace-issuer-listen);
	// empty: the kept address, else a free loopback port.
	Listen string
	Logger *slog.Logger
	Now    func() time.Time
}

// ListenWorkspaceEndpoint binds the workspace issuer endpoint if the
// external URL is plain http; with an https one it returns the platform
// as the issuer, without a listener.
func ListenWorkspaceEndpoint(cfg EndpointConfig) (*WorkspaceEndpoint, error) {
	if err := required.Fields("issuer", cfg, "Logger", "Now"); err != nil {
		return nil, err
	}
	if httpapi.IsHTTPSURL(cfg.ExternalURL) {
		return &WorkspaceEndpoint{url: cfg.ExternalURL, caPEM: cfg.PlatformCAPEM}, nil
	}
	log := cfg.Logger.With("component", "workspace-issuer")
	ln, err := listenWorkspaceIssuerAddr(cfg)
	if err != nil {
		return nil, err
	}
	host, _, _ := net.SplitHostPort(ln.Addr().String())
	mat, err := tlsutil.Auto(tlsutil.AutoConfig{Dir: filepath.Join(cfg.DataDir, WorkspaceIssuerTLSDir), Hosts: []string{host}, Logger: log, Now: cfg.Now})
	if err != nil {
		_ = ln.Close()
		return nil, fmt.Errorf("workspace issuer: %w", err)
	}
	w := &WorkspaceEndpoint{
		url:   "https://" + ln.Addr().String(),
		caPEM: mat.CAPEM,
		ln:    ln,
		log:   log,
		mux:   http.NewServeMux(),
	}
	// The server's deadlines are AuxServer's; a mounted handler that
	// streams lifts them per request (httpapi's MountSubtree does).
	w.srv = httpapi.AuxServer(w.mux, log)
	w.srv.TLSConfig = mat.TLSConfig()
	log.Info("workspace issuer endpoint", "url", w.url, "ca", filepath.Join(cfg.DataDir, WorkspaceIssuerTLSDir, tlsutil.CACertFile))
	return w, nil
}

// URL is the workspace issuer: the iss of workspace tokens.
func (w *WorkspaceEndpoint) URL() string { return w.url }

// CAPEM is the CA of the issuer's certificate (nil: the system roots).
func (w *WorkspaceEndpoint) CAPEM() []byte { return w.caPEM }

// Addr is the address of the endpoint's own listener, nil without one.
func (w *WorkspaceEndpoint) Addr() net.Addr {
	if w == nil || w.ln == nil {
		return nil
	}
	return w.ln.Addr()
}

// listenWorkspaceIssuerAddr listens on --workspace-issuer-listen, else on
// the address kept in the data dir, else on a free loopback port. The
// address in use is kept (port 0 of the flag excepted), so that it stays
// the same when the flag is later dropped.
func listenWorkspaceIssuerAddr(cfg EndpointConfig) (net.Listener, error) {
	path := filepath.Join(cfg.DataDir, WorkspaceIssuerAddrFile)
	kept, err := readWorkspaceIssuerAddr(path)
	if err != nil && cfg.Listen == "" {
		return nil, err
	}
	var ln net.Listener
	switch {
	case cfg.Listen != "":
		if ln, err = net.Listen("tcp", cfg.Listen); err != nil {
			return nil, fmt.Errorf("workspace issuer: listen on %s (--workspace-issuer-listen): %w", cfg.Listen, err)
		}
		if _, port, _ := net.SplitHostPort(cfg.Listen); port == "0" {
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

// KeySource serves the platform's signing keys as a JWKS;
// *identity.Service is one.
type KeySource interface {
	JWKS(ctx context.Context) ([]byte, error)
}

var _ KeySource = (*identity.Service)(nil)

// Handle installs the endpoint's two routes: the workspace discovery
// document of is and the JWKS of keys (the platform's). Every other path
// is 404 (but those under Mount's prefix), every other method 405.
func (w *WorkspaceEndpoint) Handle(is *Service, keys KeySource) {
	if w == nil || w.ln == nil {
		return
	}
	serve := func(what string, body func(ctx context.Context) ([]byte, error)) http.HandlerFunc {
		return func(rw http.ResponseWriter, r *http.Request) {
			b, err := body(r.Context())
			if err != nil {
				w.log.ErrorContext(r.Context(), what, "error", err)
				http.Error(rw, "internal error", http.StatusInternalServerError)
				return
			}
			rw.Header().Set("Content-Type", "application/json")
			rw.Header().Set("Cache-Control", "public, max-age=300")
			rw.Header().Set("X-Content-Type-Options", "nosniff")
			_, _ = rw.Write(b)
		}
	}
	w.mux.Handle("GET "+DiscoveryPath, serve("discovery document", func(context.Context) ([]byte, error) { return json.Marshal(is.WorkspaceDiscovery()) }))
	w.mux.Handle("GET "+JWKSPath, serve("jwks", keys.JWKS))
}

// Mount serves every request under prefix (which ends in "/"), whatever
// its method, with h on the endpoint's own listener: the server mounts
// the workspace API gateway here when the platform is plain http. h does
// its own authentication, logging and limits, and lifts the listener's
// read and write deadlines for requests that stream. Without a listener
// of its own (an https platform) Mount does nothing: the gateway is on the
// platform's listener.
func (w *WorkspaceEndpoint) Mount(prefix string, h http.Handler) {
	if w == nil || w.ln == nil {
		return
	}
	if !strings.HasPrefix(prefix, "/") || !strings.HasSuffix(prefix, "/") || h == nil {
		panic("issuer: Mount needs a handler and a prefix that starts and ends with /")
	}
	w.mux.Handle(prefix, h)
}

// Serve serves the endpoint until Shutdown; without one it returns at once.
func (w *WorkspaceEndpoint) Serve() error {
	if w == nil || w.ln == nil {
		return nil
	}
	if err := w.srv.ServeTLS(w.ln, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve workspace issuer: %w", err)
	}
	return nil
}

// Shutdown stops serving gracefully.
func (w *WorkspaceEndpoint) Shutdown(ctx context.Context) error {
	if w == nil || w.ln == nil {
		return nil
	}
	return w.srv.Shutdown(ctx)
}

// Close releases the listener (after Shutdown, or when start-up fails).
func (w *WorkspaceEndpoint) Close() {
	if w != nil && w.ln != nil {
		_ = w.ln.Close()
	}
}
