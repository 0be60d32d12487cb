package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"regexp"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hexabase/hexabase-ai/internal/required"
)

// Authenticator verifies a bearer token. Any error means "not
// authenticated"; its text is logged, never sent.
type Authenticator interface {
	Authenticate(ctx context.Context, token string) (Principal, error)
}

// Config carries the API's dependencies.
type Config struct {
	Logger   *slog.Logger
	Registry prometheus.Registerer
	Auth     Authenticator
	// RequestTimeout bounds every request's context (default 30s).
	RequestTimeout time.Duration
	// MaxBodyBytes limits request bodies (default MaxBodyBytes).
	MaxBodyBytes int64
	// TrustedProxies are the reverse proxies whose X-Forwarded-For the
	// real-IP middleware believes (see ClientIPOf); none: the peer's
	// address is the client's.
	TrustedProxies []netip.Prefix
	// RouteMiddleware wraps each route's handler inside authentication,
	// so the principal is known (audit, per-user limits). The first
	// wraps outermost.
	RouteMiddleware []RouteMiddleware
	// Outer wraps the whole handler inside request ids and panic recovery
	// but before routing (security headers, CORS, per-IP limits). The
	// first wraps outermost.
	Outer []func(http.Handler) http.Handler
	// AccessCookie, if set, names the cookie that authenticates browser
	// requests without an Authorization header (see CSRF in security.go).
	AccessCookie string
	// Fallback, if set, serves the GET and HEAD requests that match no
	// route and whose path is under none of ReservedPrefixes nor a
	// MountSubtree prefix: the web console, whose own router decides
	// what such a path shows. Every other unknown path is a problem+json
	// 404 (or 405).
	Fallback http.Handler
}

// ReservedPrefixes are the paths the API keeps for itself: an unknown
// path under one of them (or equal to one without its slash, such as
// /metrics, which is served on the telemetry listener only) is the API's
// 404, never the Fallback's page.
var ReservedPrefixes = []string{"/api/", "/auth/", "/.well-known/", "/metrics/"}

// RouteMiddleware wraps the handler of one route.
type RouteMiddleware func(rt Route, next http.Handler) http.Handler

// API is the router: it serves the route table with the shared middleware.
type API struct {
	cfg      Config
	mux      *http.ServeMux
	routes   []Route
	subtrees []string
	fallback http.Handler
	duration *prometheus.HistogramVec
	inflight prometheus.Gauge
	// streams ends every Stream route's request when canceled (EndStreams).
	streams    context.Context
	endStreams context.CancelFunc
}

// New builds an API.
func New(cfg Config) (*API, error) {
	if err := required.Fields("httpapi", cfg, "Logger", "Registry", "Auth"); err != nil {
		return nil, err
	}
	if cfg.RequestTimeout == 0 {
		cfg.RequestTimeout = 30 * time.Second
	}
	if cfg.MaxBodyBytes == 0 {
		cfg.MaxBodyBytes = MaxBodyBytes
	}
	a := &API{cfg: cfg, mux: http.NewServeMux()}
	if cfg.Fallback != nil {
		a.fallback = a.instrument("GET /*", cfg.Fallback)
	}
	a.streams, a.endStreams = context.WithCancel(context.Background())
	a.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "hks_http_request_duration_seconds",
		Help:    "Latency of HTTP requests by route, method and status code.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
	}, []string{"method", "route", "code"})
	a.inflight = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "hks_http_requests_in_flight", Help: "HTTP requests being served.",
	})
	if err := cfg.Registry.Register(a.duration); err != nil {
		return nil, fmt.Errorf("register metrics: %w", err)
	}
	if err := cfg.Registry.Register(a.inflight); err != nil {
		return nil, fmt.Errorf("register metrics: %w", err)
	}
	return a, nil
}

var pathParam = regexp.MustCompile(`\{([a-z_]+)\}`)

// Mount adds routes to the table and the router.
func (a *API) Mount(routes ...Route) {
	for _, rt := range routes {
		if (rt.Handle == nil) == (rt.Raw == nil) || rt.Method == "" || !strings.HasPrefix(rt.Path, "/") {
			panic(fmt.Sprintf("httpapi: incomplete route %s %s", rt.Method, rt.Path))
		}
		a.routes = append(a.routes, rt)
		a.mux.Handle(rt.Method+" "+rt.Path, a.wrap(rt))
	}
}

// MountSubtree serves every request whose path is under prefix (which
// ends in "/"), whatever its method, with h: a proxy such as the
// workspace API gateway, which is not a route of the table (nor of the
// OpenAPI document). h gets the Outer middleware, request ids, the real
// IP, panic recovery, the access log and latency metrics like any route,
// but neither authentication (h authenticates itself), nor the body
// limit, nor the request timeout: like a Stream route, its requests may
// last as long as the client keeps them (watches, upgraded connections),
// the server's read and write deadlines are lifted for them, and
// EndStreams ends them.
func (a *API) MountSubtree(prefix string, h http.Handler) {
	if !strings.HasPrefix(prefix, "/") || !strings.HasSuffix(prefix, "/") || h == nil {
		panic("httpapi: MountSubtree needs a handler and a prefix that starts and ends with /")
	}
	a.subtrees = append(a.subtrees, prefix)
	a.mux.Handle(prefix, a.instrument(prefix+"*", a.stream(h)))
}

// MountEndpoint serves path itself (not what is under it), whatever the
// method, with h, the way MountSubtree serves a subtree: an endpoint
// that speaks its own protocol (the MCP server at /mcp).
func (a *API) MountEndpoint(path string, h http.Handler) {
	if !strings.HasPrefix(path, "/") || strings.HasSuffix(path, "/") || h == nil {
		panic("httpapi: MountEndpoint needs a handler and a path that starts but does not end with /")
	}
	a.subtrees = append(a.subtrees, path+"/")
	a.mux.Handle(path, a.instrument(path, a.stream(h)))
}

// fallbackFor reports whether r goes to the Fallback handler.
func (a *API) fallbackFor(r *http.Request) bool {
	if a.fallback == nil || r.Method != http.MethodGet && r.Method != http.MethodHead {
		return false
	}
	for _, p := range slices.Concat(ReservedPrefixes, a.subtrees) {
		if strings.HasPrefix(r.URL.Path, p) || r.URL.Path+"/" == p {
			return false
		}
	}
	return true
}

// EndStreams ends the requests of every Stream route, now and from now
// on. http.Server.Shutdown waits for requests to finish and never cancels
// them: register this with RegisterOnShutdown so that open event streams
// do not hold a shutdown until its timeout.
func (a *API) EndStreams() { a.endStreams() }

// Routes returns the route table.
func (a *API) Routes() []Route { return append([]Route(nil), a.routes...) }

func (a *API) wrap(rt Route) http.Handler {
	var h http.Handler = http.HandlerFunc(rt.serve)
	if rt.Raw != nil {
		h = rt.Raw
	}
	for i := len(a.cfg.RouteMiddleware) - 1; i >= 0; i-- {
		h = a.cfg.RouteMiddleware[i](rt, h)
	}
	h = pathValues(rt, h)
	if !rt.Public {
		h = a.authenticate(h)
	}
	h = a.limits(rt, h)
	return a.instrument(rt.Method+" "+rt.Path, h)
}

// pathValues answers 404 for a path whose parameters are not valid UTF-8
// or hold a control character: no id, name or slug has them, and the
// store must not see them (PostgreSQL refuses such text with an error,
// not an empty result).
func pathValues(rt Route, next http.Handler) http.Handler {
	var names []string
	for _, m := range pathParam.FindAllStringSubmatch(rt.Path, -1) {
		names = append(names, m[1])
	}
	if len(names) == 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, n := range names {
			if v := r.PathValue(n); !utf8.ValidString(v) || strings.ContainsFunc(v, unicode.IsControl) {
				WriteError(w, r, NotFound(n))
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// instrument records per-route latency and adds org/workspace to the log.
func (a *API) instrument(route string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		log := Logger(r.Context())
		for _, k := range []string{"org", "workspace", "project"} {
			if v := r.PathValue(k); v != "" {
				log = log.With(slog.String(k, v))
			}
		}
		r = r.WithContext(context.WithValue(r.Context(), keyLogger, log))
		sw := &CaptureWriter{ResponseWriter: w}
		a.inflight.Inc()
		defer a.inflight.Dec()
		next.ServeHTTP(sw, r)
		d := time.Since(start)
		a.duration.WithLabelValues(r.Method, route, strconv.Itoa(sw.Code())).Observe(d.Seconds())
		log.Info("request", slog.String("method", r.Method), slog.String("path", r.URL.Path),
			slog.String("route", route), slog.Int("status", sw.Code()), slog.Int64("bytes", sw.Bytes()),
			slog.Duration("duration", d))
	})
}

func (a *API) limits(rt Route, next http.Handler) http.Handler {
	stream := a.stream(next)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil {
			r.Body = http.MaxBytesReader(w, r.Body, max(a.cfg.MaxBodyBytes, rt.MaxBodyBytes))
		}
		if rt.Stream {
			stream.ServeHTTP(w, r)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), a.cfg.RequestTimeout)
		defer cancel()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// stream serves a request without a deadline until the client leaves or
// EndStreams is called.
func (a *API) stream(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a.streams.Err() != nil {
			WriteError(w, r, &Error{Status: http.StatusServiceUnavailable, Type: "shutting-down", Title: "Service unavailable",
				Detail: "the server is shutting down; reconnect in a moment", Header: http.Header{"Retry-After": {"5"}}})
			return
		}
		// The server's ReadTimeout would otherwise end the request's
		// context and its WriteTimeout the connection. Writers that
		// cannot (a test recorder) are fine as they are.
		rc := http.NewResponseController(w)
		_ = rc.SetReadDeadline(time.Time{})
		_ = rc.SetWriteDeadline(time.Time{})
		ctx, cancel := context.WithCancel(r.Context())
		defer cancel()
		stop := context.AfterFunc(a.streams, cancel)
		defer stop()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

func (a *API) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := r.Header.Get("Authorization")
		scheme, token, ok := strings.Cut(h, " ")
		byCookie := false
		if h == "" && a.cfg.AccessCookie != "" {
			if c, err := r.Cookie(a.cfg.AccessCookie); err == nil && c.Value != "" {
				h, scheme, token, ok, byCookie = "cookie", "Bearer", c.Value, true, true
			}
		}
		if h == "" {
			WriteError(w, r, Unauthorized("authentication required: send an access token as \"Authorization: Bearer <token>\""))
			return
		}
		if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
			WriteError(w, r, Unauthorized("the Authorization header must be \"Bearer <token>\""))
			return
		}
		p, err := a.cfg.Auth.Authenticate(r.Context(), strings.TrimSpace(token))
		if err != nil {
			e := Unauthorized("the access token is invalid, expired or revoked")
			e.Header = http.Header{"WWW-Authenticate": {`Bearer realm="hks", error="invalid_token"`}}
			e.Cause = err
			WriteError(w, r, e)
			return
		}
		p.ByCookie = byCookie
		ctx := context.WithValue(r.Context(), keyPrincipal, p)
		ctx = context.WithValue(ctx, keyLogger, Logger(ctx).With(slog.String("user", p.UserID)))
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// Handler returns the complete HTTP handler: request id, real IP, panic
// recovery and problem+json for unknown routes around the router.
func (a *API) Handler() http.Handler {
	var inner http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pattern := a.mux.Handler(r); pattern == "" {
			if a.fallbackFor(r) {
				a.fallback.ServeHTTP(w, r)
				return
			}
			a.noRoute(w, r)
			return
		}
		a.mux.ServeHTTP(w, r)
	})
	for i := len(a.cfg.Outer) - 1; i >= 0; i-- {
		inner = a.cfg.Outer[i](inner)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rid := r.Header.Get("X-Request-Id")
		if !validRequestID(rid) {
			rid = newRequestID()
		}
		w.Header().Set("X-Request-Id", rid)
		ip := ClientIPOf(r, a.cfg.TrustedProxies)
		log := a.cfg.Logger.With(slog.String("request_id", rid), slog.String("ip", ip))
		ctx := context.WithValue(r.Context(), keyRequestID, rid)
		ctx = context.WithValue(ctx, keyClientIP, ip)
		ctx = context.WithValue(ctx, keyLogger, log)
		r = r.WithContext(ctx)
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				log.Error("panic serving request", slog.Any("panic", v), slog.String("stack", string(debug.Stack())))
				WriteError(w, r, fmt.Errorf("panic: %v", v))
			}
		}()
		inner.ServeHTTP(w, r)
	})
}

func (a *API) noRoute(w http.ResponseWriter, r *http.Request) {
	var allowed []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		if m == r.Method {
			continue
		}
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, p := a.mux.Handler(probe); p != "" {
			allowed = append(allowed, m)
		}
	}
	if len(allowed) > 0 {
		w.Header().Set("Allow", strings.Join(allowed, ", "))
		WriteError(w, r, &Error{Status: http.StatusMethodNotAllowed, Type: "method-not-allowed", Title: "Method not allowed",
			Detail: r.Method + " is not allowed here; allowed: " + strings.Join(allowed, ", ")})
		return
	}
	WriteError(w, r, &Error{Status: http.StatusNotFound, Type: "not-found", Title: "Not found", Detail: "no such route"})
}

func validRequestID(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

func newRequestID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// ParseTrustedProxies parses CIDRs (192.0.2.0/24, 2001:db8::/32) or
// addresses (one host) of trusted reverse proxies.
func ParseTrustedProxies(list []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range list {
		s = strings.TrimSpace(s)
		p, err := netip.ParsePrefix(s)
		if err != nil {
			a, aerr := netip.ParseAddr(s)
			if aerr != nil || a.Zone() != "" {
				return nil, fmt.Errorf("%q is not a CIDR such as 10.0.0.0/8 or an IP address", s)
			}
			p = netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())
		}
		if p.Addr().Is4In6() {
			return nil, fmt.Errorf("%q: write IPv4 ranges as IPv4", s)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// maxForwardedHops bounds how many X-Forwarded-For entries are looked at.
const maxForwardedHops = 32

// ClientIPOf is the client address of r: the peer's, unless the peer is
// one of the trusted proxies; then X-Forwarded-For (every such header, in
// order) is walked from the right, skipping trusted proxies, and the
// first entry that is not one is the client. The header's left part is
// the client's to write, so nothing left of that entry is believed. A
// malformed entry stops the walk: the client is then the last trusted
// hop (the peer, or the last proxy read).
func ClientIPOf(r *http.Request, trusted []netip.Prefix) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	peer, err := netip.ParseAddr(host)
	if err != nil || !isTrusted(peer.Unmap(), trusted) {
		return host
	}
	hop := peer.Unmap()
	var entries []string
	for _, v := range r.Header.Values("X-Forwarded-For") {
		entries = append(entries, strings.Split(v, ",")...)
	}
	for i, n := len(entries)-1, 0; i >= 0 && n < maxForwardedHops; i, n = i-1, n+1 {
		a, err := netip.ParseAddr(strings.TrimSpace(entries[i]))
		if err != nil || a.Zone() != "" {
			break
		}
		a = a.Unmap()
		if !isTrusted(a, trusted) {
			return a.String()
		}
		hop = a
	}
	return hop.String()
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// AuxServer is the http.Server of a listener beside the API that serves a
// few small documents (the workspace issuer endpoint, the telemetry
// listener): short timeouts and headers, errors logged at warn.
func AuxServer(h http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}
