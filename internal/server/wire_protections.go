package server

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"time"

	"github.com/hexabase/hexabase-ai/internal/config"
	"github.com/hexabase/hexabase-ai/internal/httpapi"
	"github.com/hexabase/hexabase-ai/internal/identity"
	"github.com/hexabase/hexabase-ai/internal/ratelimit"
	"github.com/hexabase/hexabase-ai/internal/tlsutil"
)

// Key-value buckets of the rate limiters.
const (
	ipLimitBucket   = "hks_ratelimit_ip"
	userLimitBucket = "hks_ratelimit_user"
)

// wireProtections installs the browser protections and abuse limits, in
// this order from the outside in: security headers (so that every answer,
// refusals included, carries them), the per-IP rate limit, CORS, and the
// CSRF double-submit check; then, around each route, the per-user rate
// limit (the sign-in lockout is identity's), and builds the cap on the
// long-lived requests each user holds open, which the gateway and the
// followed application logs share. It also serves the CA of --tls=auto at
// GET /ca.crt.
func wireProtections(ctx context.Context, d *deps) error {
	if d.docsOnly {
		d.routes = append(d.routes, caRoute(nil))
		return nil
	}
	log := d.log.With("component", "protections")
	// HSTS also when TLS ends at a proxy in front of the server (an https
	// external URL, plain HTTP inside).
	d.outer = append(d.outer, httpapi.SecurityHeaders(httpapi.SecurityConfig{ExternalHTTPS: httpapi.IsHTTPSURL(d.cfg.ExternalURL)}))
	limiter := func(bucket string, rate float64, burst int) (*ratelimit.Limiter, error) {
		return ratelimit.New(ctx, ratelimit.Config{JS: d.nats.JetStream(), Bucket: bucket, Rate: rate, Burst: burst, Logger: log, Now: d.now})
	}
	if d.cfg.IPRateLimit > 0 {
		l, err := limiter(ipLimitBucket, d.cfg.IPRateLimit, d.cfg.IPRateBurst)
		if err != nil {
			return err
		}
		d.outer = append(d.outer, ratelimit.PerIP(l))
	}
	d.outer = append(d.outer,
		httpapi.CORS(httpapi.CORSConfig{AllowedOrigins: d.cfg.CORSAllowedOrigins,
			AllowedHeaders: []string{"Authorization", "Content-Type", "If-Match", "X-Request-Id", identity.CSRFHeader}}),
		httpapi.CSRF(httpapi.CSRFConfig{SessionCookies: []string{identity.AccessCookie, identity.RefreshCookie},
			Cookie: identity.CSRFCookie, Header: identity.CSRFHeader, TrustedOrigins: d.cfg.CORSAllowedOrigins}),
	)
	if d.cfg.UserRateLimit > 0 {
		l, err := limiter(userLimitBucket, d.cfg.UserRateLimit, d.cfg.UserRateBurst)
		if err != nil {
			return err
		}
		d.routeMiddleware = append(d.routeMiddleware, ratelimit.PerUser(l))
		d.userLimit = l
	}
	streams, err := ratelimit.NewConcurrency(d.cfg.StreamsPerUser)
	if err != nil {
		return err
	}
	d.userStreams = streams
	if d.workspaceStreams, err = ratelimit.NewConcurrency(d.cfg.StreamsPerWorkspace); err != nil {
		return err
	}
	d.routes = append(d.routes, caRoute(d.tls))
	return nil
}

// caRoute serves the PEM of the CA that signed the serving certificate
// (--tls=auto), for clients to trust: `hks login --ca-file`, kubeconfigs.
func caRoute(m *tlsutil.Material) httpapi.Route {
	return httpapi.Route{Method: "GET", Path: "/ca.crt", Tag: "platform", Public: true, ContentType: "application/x-pem-file",
		Summary: "The certificate authority of the server's TLS certificate (PEM; only with --tls=auto)", Errors: []int{http.StatusNotFound},
		Raw: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if m == nil || len(m.CAPEM) == 0 {
				httpapi.WriteError(w, r, &httpapi.Error{Status: http.StatusNotFound, Type: "not-found", Title: "Not found",
					Detail: "this server has no CA of its own (it runs without --tls=auto)"})
				return
			}
			w.Header().Set("Content-Type", "application/x-pem-file")
			w.Header().Set("Cache-Control", "public, max-age=300")
			_, _ = w.Write(m.CAPEM)
		})}
}

// serverTLS loads or creates the serving certificate for cfg.TLS.
func serverTLS(cfg config.Config, log *slog.Logger, now func() time.Time) (*tlsutil.Material, error) {
	switch cfg.TLS {
	case "auto":
		var hosts []string
		if h, _, err := net.SplitHostPort(cfg.Listen); err == nil && h != "" {
			hosts = append(hosts, h)
		}
		if u, err := url.Parse(cfg.ExternalURL); err == nil && u.Hostname() != "" {
			hosts = append(hosts, u.Hostname())
		}
		m, err := tlsutil.Auto(tlsutil.AutoConfig{Dir: filepath.Join(cfg.DataDir, "tls"), Hosts: hosts, Logger: log.With("component", "tls"), Now: now})
		if err != nil {
			return nil, fmt.Errorf("tls: %w", err)
		}
		return m, nil
	case "files":
		return tlsutil.LoadFiles(cfg.TLSCert, cfg.TLSKey)
	}
	return nil, nil
}
