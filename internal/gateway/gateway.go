package gateway

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hexabase/hexabase-ai/internal/httpapi"
	"github.com/hexabase/hexabase-ai/internal/identity"
	"github.com/hexabase/hexabase-ai/internal/issuer"
	"github.com/hexabase/hexabase-ai/internal/ratelimit"
	"github.com/hexabase/hexabase-ai/internal/required"
	"github.com/hexabase/hexabase-ai/internal/store"
)

// Prefix is the path under which the gateway serves: Prefix + the
// workspace id, then the Kubernetes API path.
const Prefix = "/k8s/"

// URL is the gateway URL of workspace wsID under the platform's external
// URL: what kubeconfigs name as the cluster's server.
func URL(externalURL, wsID string) string {
	return strings.TrimSuffix(externalURL, "/") + Prefix + wsID
}

// Verifier checks workspace tokens; *issuer.Service implements it.
type Verifier interface {
	VerifyWorkspaceToken(ctx context.Context, token string) (issuer.WorkspaceClaims, error)
}

var _ Verifier = (*issuer.Service)(nil)

// Workspaces finds workspace records; store.Store implements it.
type Workspaces interface {
	GetWorkspace(ctx context.Context, id string) (store.Workspace, error)
}

// Upstreams tells where a workspace's API server is: its https URL and the
// PEM of the CA its serving certificate chains to (empty: the system
// roots). Any error means it cannot be reached now.
type Upstreams interface {
	Endpoint(ctx context.Context, workspaceID string) (server string, caPEM []byte, err error)
}

// Caller is who made a request that wakes a workspace, for the audit log.
type Caller struct {
	UserID, Email, IP, UserAgent, RequestID string
}

// Waker keeps workspaces awake for the gateway's requests
// (*controlplane.Service implements it). Begin records the start of a
// request (the workspace does not go to sleep while one is open) and
// returns the function that records its end; EnsureAwake returns once the
// workspace runs, waking it if it sleeps, or an *httpapi.Error to answer.
type Waker interface {
	Begin(workspaceID string) (end func())
	EnsureAwake(ctx context.Context, workspaceID string, c Caller) error
}

// Config carries the Gateway's dependencies. Authenticated, if set, wraps
// the forwarding of a request whose token was accepted, with the caller
// as httpapi.PrincipalFrom (per-user rate limits).
type Config struct {
	Verifier      Verifier
	Workspaces    Workspaces
	Upstreams     Upstreams
	Registry      prometheus.Registerer
	Logger        *slog.Logger
	Now           func() time.Time
	Authenticated func(http.Handler) http.Handler
	// Waker, if set, wakes sleeping workspaces for requests and learns of
	// their use (nil: every workspace is taken as awake).
	Waker Waker
	// UserStreams and WorkspaceStreams cap the long-lived requests
	// (watches, followed logs, upgrades: exec, attach, port-forward) open
	// at once per user (the token's subject; keyed by user id, so that
	// another route may share the limiter) and per workspace (keyed by
	// workspace id); beyond either cap a request is refused 429 before
	// anything wakes. Each followed log or attach holds an inotify
	// instance in the workspace's kwok for its life, and every kwok on
	// the machine draws from one fs.inotify.max_user_instances.
	// nil: DefaultStreamsPerUser, DefaultStreamsPerWorkspace.
	UserStreams, WorkspaceStreams *ratelimit.Concurrency
}

// Default caps of Config.UserStreams and Config.WorkspaceStreams: a user
// stays within half of the usual inotify budget of 128 instances, with
// room for tools that keep a few dozen watches open (k9s, Lens).
const (
	DefaultStreamsPerUser      = 64
	DefaultStreamsPerWorkspace = 96
)

// Gateway is the http.Handler of Prefix.
type Gateway struct {
	cfg      Config
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec

	mu        sync.Mutex
	upstreams map[string]*upstream // by workspace id
	forward   http.Handler

	userStreams, wsStreams *ratelimit.Concurrency
}

// upstream is the proxy to one workspace's API server.
type upstream struct {
	server string
	caSum  [32]byte
	proxy  *httputil.ReverseProxy
}

// New builds a Gateway and registers its metrics.
func New(cfg Config) (*Gateway, error) {
	if err := required.Fields("gateway", cfg, "Verifier", "Workspaces", "Upstreams", "Registry", "Logger", "Now"); err != nil {
		return nil, err
	}
	g := &Gateway{cfg: cfg, upstreams: map[string]*upstream{}, userStreams: cfg.UserStreams, wsStreams: cfg.WorkspaceStreams}
	var err error
	if g.userStreams == nil {
		if g.userStreams, err = ratelimit.NewConcurrency(DefaultStreamsPerUser); err != nil {
			return nil, err
		}
	}
	if g.wsStreams == nil {
		if g.wsStreams, err = ratelimit.NewConcurrency(DefaultStreamsPerWorkspace); err != nil {
			return nil, err
		}
	}
	// Labels stay bounded: workspace is an existing workspace's id (""
	// for refusals before one is known), verb one of a fixed few, code an
	// HTTP status; never a path.
	g.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "hks_gateway_requests_total",
		Help: "Requests to the workspace API gateway by workspace, verb and status code (refusals before a workspace is known have workspace \"\").",
	}, []string{"workspace", "verb", "code"})
	g.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "hks_gateway_request_duration_seconds",
		Help:    "Time from a request's arrival at the gateway to its answer's headers (for watches and upgrades: until the stream starts), by workspace and verb.",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
	}, []string{"workspace", "verb"})
	for _, c := range []prometheus.Collector{g.requests, g.latency} {
		if err := cfg.Registry.Register(c); err != nil {
			return nil, fmt.Errorf("gateway: register metrics: %w", err)
		}
	}
	g.forward = http.HandlerFunc(g.proxy)
	if cfg.Authenticated != nil {
		g.forward = cfg.Authenticated(g.forward)
	}
	return g, nil
}

// Forget drops what the gateway keeps for a workspace: its metric series
// (every hks_gateway_* series labelled with its id) and its upstream
// proxy, whose idle connections are closed. Call it once the workspace is
// deleted; otherwise both would stay for the life of the process. A
// request already past the workspace check when it runs can still add a
// series back.
func (g *Gateway) Forget(workspaceID string) {
	if workspaceID == "" {
		return // the refusals' series
	}
	g.requests.DeletePartialMatch(prometheus.Labels{"workspace": workspaceID})
	g.latency.DeletePartialMatch(prometheus.Labels{"workspace": workspaceID})
	g.mu.Lock()
	u := g.upstreams[workspaceID]
	delete(g.upstreams, workspaceID)
	g.mu.Unlock()
	u.closeIdle()
}

// closeIdle closes the idle connections of u's transport (u may be nil).
func (u *upstream) closeIdle() {
	if u == nil {
		return
	}
	if t, ok := u.proxy.Transport.(*http.Transport); ok {
		t.CloseIdleConnections()
	}
}

// request is what the gateway knows of one request, for its metrics.
type request struct {
	start     time.Time
	verb      string
	workspace string
	counted   bool
}

type ctxKey struct{}

func (g *Gateway) done(rq *request, code int) {
	if rq.counted {
		return
	}
	rq.counted = true
	g.requests.WithLabelValues(rq.workspace, rq.verb, strconv.Itoa(code)).Inc()
	if rq.workspace != "" {
		g.latency.WithLabelValues(rq.workspace, rq.verb).Observe(g.cfg.Now().Sub(rq.start).Seconds())
	}
}

func (g *Gateway) refuse(w http.ResponseWriter, r *http.Request, rq *request, e *httpapi.Error) {
	g.done(rq, e.Status)
	httpapi.WriteError(w, r, e)
}

// ServeHTTP checks the request and forwards it to its workspace.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rq := &request{start: g.cfg.Now(), verb: verbOf(r)}
	id, rest, ok := split(r.URL.EscapedPath())
	if !ok {
		g.refuse(w, r, rq, httpapi.NotFound("workspace"))
		return
	}
	// 1. A workspace token the platform issued, its session alive.
	claims, err := g.verify(r)
	if err != nil {
		var e *httpapi.Error
		if !errors.As(err, &e) {
			g.refuse(w, r, rq, &httpapi.Error{Status: http.StatusInternalServerError, Type: "internal", Title: "Internal server error",
				Detail: "the request could not be completed", Cause: err})
			return
		}
		g.refuse(w, r, rq, e)
		return
	}
	// 2. An existing workspace. Asked only of a valid token's holder, so
	// that anonymous callers cannot probe for workspace ids.
	ws, err := g.cfg.Workspaces.GetWorkspace(r.Context(), id)
	switch {
	case errors.Is(err, store.ErrNotFound), err == nil && ws.Status == store.WorkspaceDeleted:
		g.refuse(w, r, rq, httpapi.NotFound("workspace"))
		return
	case err != nil:
		g.refuse(w, r, rq, &httpapi.Error{Status: http.StatusInternalServerError, Type: "internal", Title: "Internal server error",
			Detail: "the request could not be completed", Cause: fmt.Errorf("gateway: get workspace: %w", err)})
		return
	}
	rq.workspace = ws.ID
	// 3. The token is for this workspace.
	if !claims.For(ws.ID) {
		e := invalidToken("the token is for another workspace: get one for this workspace with `hks kubectl-token`")
		e.Cause = fmt.Errorf("token aud %v, path workspace %s", claims.Audience, ws.ID)
		g.refuse(w, r, rq, e)
		return
	}
	// 4. Not too many long-lived requests of this user, or to this
	// workspace, open already. Before the rate limit and any wake, so
	// that a refused request costs nothing; counted until it ends: for an
	// upgrade, the proxy returns once the relayed connection is closed.
	if longLived(r) {
		release, e := g.admitStream(claims.Subject, ws.ID)
		if e != nil {
			g.refuse(w, r, rq, e)
			return
		}
		defer release()
	}
	ctx := context.WithValue(r.Context(), ctxKey{}, rq)
	ctx = httpapi.WithPrincipal(ctx, httpapi.Principal{UserID: claims.Subject, Email: claims.Email, SessionID: claims.SessionID})
	log := httpapi.Logger(ctx).With(slog.String("workspace", ws.ID), slog.String("user", claims.Subject))
	ctx = httpapi.WithLogger(ctx, log)
	out := r.WithContext(ctx)
	u := *r.URL // r's own URL stays whole (the access log names it)
	out.URL = &u
	out.URL.RawPath = rest
	out.URL.Path, _ = url.PathUnescape(rest)
	cw := &httpapi.CaptureWriter{ResponseWriter: w}
	if inProcess(r.Context()) {
		g.proxy(cw, out)
	} else {
		g.forward.ServeHTTP(cw, out)
	}
	g.done(rq, cw.Code()) // when Authenticated answered (a rate limit), not the API server
}

type inProcessKey struct{}

// InProcess marks ctx as that of requests the platform makes in process
// on behalf of a caller whose own request was admitted already, through
// the per-user rate limit (the assistant's tools, with the caller's
// workspace token, for a chat message or an MCP call): they get every
// check of the token, but not Config.Authenticated's per-user rate limit,
// which the caller's request counted once. A request from the network
// cannot carry the mark (its key is unexported).
func InProcess(ctx context.Context) context.Context {
	return context.WithValue(ctx, inProcessKey{}, true)
}

func inProcess(ctx context.Context) bool {
	v, _ := ctx.Value(inProcessKey{}).(bool)
	return v
}

// admitStream counts one more long-lived request of user to workspace
// ws, or answers why not.
func (g *Gateway) admitStream(user, ws string) (release func(), e *httpapi.Error) {
	releaseUser, ok := g.userStreams.Acquire(user)
	if !ok {
		return nil, g.userStreams.TooManyOpen(user, "long-lived requests (watches, logs -f, exec, attach, port-forward) of this user")
	}
	releaseWS, ok := g.wsStreams.Acquire(ws)
	if !ok {
		releaseUser()
		return nil, g.wsStreams.TooManyOpen(ws, "long-lived requests (watches, logs -f, exec, attach, port-forward) to this workspace")
	}
	return func() { releaseWS(); releaseUser() }, nil
}

// longLived: the request may stay open for as long as its client wants:
// an upgrade (exec, attach, port-forward over SPDY or WebSocket), a watch
// or a followed log. Flags are read as the API server reads them, so that
// nothing it takes as a watch or a follow passes for a short request.
func longLived(r *http.Request) bool {
	if r.Header.Get("Upgrade") != "" {
		return true
	}
	for _, v := range r.Header.Values("Connection") {
		for t := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), "upgrade") {
				return true
			}
		}
	}
	q := r.URL.Query()
	return isWatch(r, q) || apiBool(q, "follow")
}

func isWatch(r *http.Request, q url.Values) bool {
	return apiBool(q, "watch") || strings.Contains(r.URL.Path+"/", "/watch/")
}

// apiBool is query parameter name as the Kubernetes API server reads a
// boolean (apimachinery's Convert_Slice_string_To_bool): false when
// absent, "0" or "false" (any case), true otherwise, even when empty.
func apiBool(q url.Values, name string) bool {
	v, ok := q[name]
	return ok && len(v) > 0 && v[0] != "0" && !strings.EqualFold(v[0], "false")
}

// verify returns the claims of the request's workspace token or an
// *httpapi.Error to answer; other errors are the platform's failures.
func (g *Gateway) verify(r *http.Request) (issuer.WorkspaceClaims, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return issuer.WorkspaceClaims{}, httpapi.Unauthorized("authentication required: send a workspace token as \"Authorization: Bearer <token>\" (kubeconfigs from `hks kubeconfig` do)")
	}
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return issuer.WorkspaceClaims{}, httpapi.Unauthorized("the Authorization header must be \"Bearer <workspace token>\"")
	}
	c, err := g.cfg.Verifier.VerifyWorkspaceToken(r.Context(), strings.TrimSpace(token))
	if errors.Is(err, identity.ErrInvalidToken) {
		e := invalidToken("the token is not a valid workspace token of this platform (expired, revoked, or not a workspace token): get one with `hks kubectl-token`")
		e.Cause = err
		return issuer.WorkspaceClaims{}, e
	}
	if err != nil {
		return issuer.WorkspaceClaims{}, fmt.Errorf("gateway: verify token: %w", err)
	}
	return c, nil
}

func invalidToken(detail string) *httpapi.Error {
	e := httpapi.Unauthorized(detail)
	e.Header = http.Header{"WWW-Authenticate": {`Bearer realm="hks", error="invalid_token"`}}
	return e
}

// proxy forwards an accepted request to its workspace's API server.
func (g *Gateway) proxy(w http.ResponseWriter, r *http.Request) {
	rq := r.Context().Value(ctxKey{}).(*request)
	// Awake: a sleeping workspace is woken and the request held until it
	// runs. Only here, after every token check and the per-user rate
	// limit (Config.Authenticated), so that nobody without a valid token
	// for it can wake it, and holding requests costs what sending them
	// does.
	if g.cfg.Waker != nil {
		end := g.cfg.Waker.Begin(rq.workspace)
		defer end()
		p, _ := httpapi.PrincipalFrom(r.Context())
		c := Caller{UserID: p.UserID, Email: p.Email, IP: httpapi.ClientIP(r.Context()), UserAgent: r.UserAgent(),
			RequestID: w.Header().Get("X-Request-Id")}
		if err := g.cfg.Waker.EnsureAwake(r.Context(), rq.workspace, c); err != nil {
			var e *httpapi.Error
			if !errors.As(err, &e) {
				if r.Context().Err() != nil {
					g.done(rq, 499)
					return
				}
				e = &httpapi.Error{Status: http.StatusInternalServerError, Type: "internal", Title: "Internal server error",
					Detail: "the request could not be completed", Cause: fmt.Errorf("gateway: wake workspace: %w", err)}
			}
			g.refuse(w, r, rq, e)
			return
		}
	}
	up, err := g.upstream(r.Context(), rq.workspace)
	if err != nil {
		g.refuse(w, r, rq, &httpapi.Error{Status: http.StatusServiceUnavailable, Type: "workspace-unavailable", Title: "Service unavailable",
			Detail: "the workspace's API server is not running now; retry in a moment", Header: http.Header{"Retry-After": {"5"}}, Cause: err})
		return
	}
	up.proxy.ServeHTTP(w, r)
}

// upstream returns the proxy to the workspace's API server, made anew
// when its address or CA changed.
func (g *Gateway) upstream(ctx context.Context, wsID string) (*upstream, error) {
	server, caPEM, err := g.cfg.Upstreams.Endpoint(ctx, wsID)
	if err != nil {
		return nil, fmt.Errorf("gateway: endpoint of workspace %s: %w", wsID, err)
	}
	sum := sha256.Sum256(caPEM)
	g.mu.Lock()
	defer g.mu.Unlock()
	if u := g.upstreams[wsID]; u != nil && u.server == server && u.caSum == sum {
		return u, nil
	}
	target, err := url.Parse(server)
	if err != nil || target.Scheme != "https" || target.Host == "" {
		return nil, fmt.Errorf("gateway: workspace %s: API server URL %q is not an https URL", wsID, server)
	}
	tlsCfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if len(caPEM) > 0 {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(caPEM) {
			return nil, fmt.Errorf("gateway: workspace %s: no certificate in its CA", wsID)
		}
		tlsCfg.RootCAs = pool
	}
	// HTTP/1.1 only (a custom TLS config and no ForceAttemptHTTP2):
	// upgraded connections need it, and each watch holds its own
	// connection to the API server as it would without the gateway.
	tr := &http.Transport{
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:       tlsCfg,
		TLSHandshakeTimeout:   10 * time.Second,
		MaxIdleConnsPerHost:   32,
		IdleConnTimeout:       90 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
	g.upstreams[wsID].closeIdle()
	u := &upstream{server: server, caSum: sum, proxy: &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme, pr.Out.URL.Host = target.Scheme, target.Host
			pr.Out.Host = ""
			// The platform's session cookies are not the workspace's
			// business; the bearer token is forwarded unchanged.
			pr.Out.Header.Del("Cookie")
			if ip := httpapi.ClientIP(pr.In.Context()); ip != "" {
				pr.Out.Header.Set("X-Forwarded-For", ip)
			}
		},
		Transport:     tr,
		FlushInterval: -1, // every write at once: watches, logs -f
		ErrorLog:      slog.NewLogLogger(g.cfg.Logger.Handler(), slog.LevelWarn),
		ModifyResponse: func(resp *http.Response) error {
			if rq, ok := resp.Request.Context().Value(ctxKey{}).(*request); ok {
				g.done(rq, resp.StatusCode)
			}
			return nil
		},
		ErrorHandler: g.upstreamError,
	}}
	g.upstreams[wsID] = u
	return u, nil
}

// upstreamError answers a request the API server did not answer.
func (g *Gateway) upstreamError(w http.ResponseWriter, r *http.Request, err error) {
	rq, _ := r.Context().Value(ctxKey{}).(*request)
	if r.Context().Err() != nil { // the client left, or the server stops
		if rq != nil {
			g.done(rq, 499)
		}
		httpapi.Logger(r.Context()).Debug("gateway: request ended", "err", err)
		return
	}
	e := &httpapi.Error{Status: http.StatusBadGateway, Type: "workspace-unreachable", Title: "Bad gateway",
		Detail: "the workspace's API server did not answer; retry in a moment", Cause: err}
	if rq != nil {
		g.done(rq, e.Status)
	}
	httpapi.WriteError(w, r, e)
}

// split cuts an escaped request path into the workspace id and the rest
// (the Kubernetes API path, "/" at least). ok is false when the path does
// not name a workspace id.
func split(escaped string) (id, rest string, ok bool) {
	tail, found := strings.CutPrefix(escaped, Prefix)
	if !found {
		return "", "", false
	}
	id, rest, _ = strings.Cut(tail, "/")
	rest = "/" + rest
	if id == "" || len(id) > 64 {
		return "", "", false
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return "", "", false
		}
	}
	return id, rest, true
}

// verbOf is a bounded label for what a request does.
func verbOf(r *http.Request) string {
	if r.Header.Get("Upgrade") != "" {
		return "upgrade" // exec, attach, port-forward
	}
	if isWatch(r, r.URL.Query()) {
		return "watch"
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions:
		return strings.ToLower(r.Method)
	}
	return "other"
}
