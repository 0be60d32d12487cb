package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"golang.org/x/sync/errgroup"

	"github.com/hexabase/hexabase-ai/internal/aiops/mcp"
	"github.com/hexabase/hexabase-ai/internal/authz"
	"github.com/hexabase/hexabase-ai/internal/config"
	"github.com/hexabase/hexabase-ai/internal/console"
	"github.com/hexabase/hexabase-ai/internal/controlplane"
	"github.com/hexabase/hexabase-ai/internal/events"
	"github.com/hexabase/hexabase-ai/internal/functions"
	"github.com/hexabase/hexabase-ai/internal/gateway"
	"github.com/hexabase/hexabase-ai/internal/httpapi"
	"github.com/hexabase/hexabase-ai/internal/identity"
	"github.com/hexabase/hexabase-ai/internal/issuer"
	"github.com/hexabase/hexabase-ai/internal/live"
	"github.com/hexabase/hexabase-ai/internal/messaging"
	"github.com/hexabase/hexabase-ai/internal/ratelimit"
	"github.com/hexabase/hexabase-ai/internal/seal"
	"github.com/hexabase/hexabase-ai/internal/store"
	"github.com/hexabase/hexabase-ai/internal/store/sqlstore"
	"github.com/hexabase/hexabase-ai/internal/tasks"
	"github.com/hexabase/hexabase-ai/internal/tlsutil"
)

// Audience is the aud of the platform's own access tokens.
const Audience = "hks"

// Options are what New needs besides the configuration.
type Options struct {
	Config  config.Config
	Version string
	// MasterKey is HKS_MASTER_KEY (base64 of 32 bytes); empty: the key
	// file in the data dir.
	MasterKey string
	// Stdout receives the one-time setup token; Stderr the logs.
	Stdout, Stderr io.Writer
	// Logger overrides the logger built from the config (tests).
	Logger *slog.Logger
	// Now overrides the clock (tests).
	Now func() time.Time

	// argon2 overrides password hashing cost (tests only).
	argon2 identity.Argon2Params
	// liveLimits edits the live WebSocket's limits (tests only).
	liveLimits func(*live.Limits)
	// functionsConfig edits the functions service's Config (tests only).
	functionsConfig func(*functions.Config)
}

// Server is the assembled platform.
type Server struct {
	cfg      config.Config
	log      *slog.Logger
	st       store.Store
	nats     *messaging.Conn
	queue    *tasks.Queue
	identity *identity.Service
	api      *httpapi.API
	http     *http.Server
	ln       net.Listener
	// telemetry serves /metrics on its own listener; nil when off.
	telemetry *telemetry
	tls       *tlsutil.Material // nil: plain HTTP
	// wsIssuer is the issuer workspace API servers trust, with its own
	// https listener when the external URL is http.
	wsIssuer *issuer.WorkspaceEndpoint
	// background runs in Run's group (schedulers, sweepers of wired parts).
	background []func(context.Context) error
	// functions is the functions service (nil when off), kept for tests.
	functions *functions.Service
	// live and userStreams are kept for tests.
	live        *live.Service
	userStreams *ratelimit.Concurrency
	// closers release what wired parts started (control planes), in
	// reverse order, when the server stops.
	closers []func()
	// SetupToken is the one-time setup token printed at start, if any.
	SetupToken string
	// setupPending: no user exists and the setup token was made by an
	// earlier start (it is not printed again).
	setupPending bool
}

// dbPath is where the SQLite database lives in the data dir.
func dbPath(dataDir string) string { return filepath.Join(dataDir, "hks.db") }

// openStore opens the configured database.
func openStore(ctx context.Context, dataDir, databaseURL string, log *slog.Logger) (store.Store, error) {
	dsn := databaseURL
	if dsn == "" {
		if err := os.MkdirAll(dataDir, 0o700); err != nil {
			return nil, fmt.Errorf("create data dir: %w", err)
		}
		dsn = dbPath(dataDir)
	}
	st, err := sqlstore.Open(ctx, dsn, log)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	return st, nil
}

// newIdentity builds the identity service of cfg with the Sealer of the
// data dir's master key.
func newIdentity(dataDir, masterKey string, cfg identity.Config) (*identity.Service, error) {
	key, err := seal.LoadOrCreateKey(dataDir, masterKey)
	if err != nil {
		return nil, fmt.Errorf("master key: %w", err)
	}
	sealer, err := seal.New(key)
	if err != nil {
		return nil, fmt.Errorf("master key: %w", err)
	}
	cfg.Sealer = sealer
	return identity.New(cfg)
}

// New builds the platform and binds its listener; Run serves.
func New(ctx context.Context, o Options) (_ *Server, err error) {
	cfg := o.Config
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if o.Stdout == nil {
		o.Stdout = os.Stdout
	}
	if o.Stderr == nil {
		o.Stderr = os.Stderr
	}
	now := o.Now
	if now == nil {
		now = time.Now
	}
	log := o.Logger
	if log == nil {
		log = newLogger(o.Stderr, cfg.LogLevel, cfg.LogFormat)
	}
	s := &Server{cfg: cfg, log: log}
	defer func() {
		if err != nil {
			s.close(context.Background())
		}
	}()
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	s.ln, err = net.Listen("tcp", cfg.Listen)
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return nil, fmt.Errorf("listen: %s is taken (another hks server?): choose another --listen (HKS_LISTEN, listen): %w", cfg.Listen, err)
		}
		return nil, fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if cfg.TelemetryListen != config.TelemetryOff {
		if s.telemetry, err = listenTelemetry(cfg.TelemetryListen, reg, log); err != nil {
			return nil, err
		}
	}
	if strings.HasSuffix(cfg.ExternalURL, ":0") { // derived from a listen port 0
		cfg.ExternalURL = s.scheme() + s.ln.Addr().String()
		s.cfg.ExternalURL = cfg.ExternalURL
	}
	if s.tls, err = serverTLS(cfg, log, now); err != nil {
		return nil, err
	}
	var platformCA []byte
	if s.tls != nil {
		platformCA = s.tls.CAPEM
	}
	if s.wsIssuer, err = issuer.ListenWorkspaceEndpoint(issuer.EndpointConfig{ExternalURL: cfg.ExternalURL, PlatformCAPEM: platformCA,
		DataDir: cfg.DataDir, Listen: cfg.WorkspaceIssuerListen, Logger: log, Now: now}); err != nil {
		return nil, err
	}
	if s.st, err = openStore(ctx, cfg.DataDir, cfg.DatabaseURL, log.With("component", "store")); err != nil {
		return nil, err
	}
	lockout := func(threshold int) store.LockoutPolicy {
		return store.LockoutPolicy{Threshold: threshold, Base: cfg.LoginLockoutBase.Duration, Max: cfg.LoginLockoutMax.Duration,
			Window: max(24*time.Hour, cfg.LoginLockoutMax.Duration)}
	}
	if s.identity, err = newIdentity(cfg.DataDir, o.MasterKey, identity.Config{Store: s.st, Logger: log.With("component", "identity"), Now: now,
		Issuer: cfg.ExternalURL, Audience: Audience, AccessTTL: cfg.AccessTokenTTL.Duration, RefreshTTL: cfg.RefreshTokenTTL.Duration, Argon2: o.argon2,
		SourceLockout: lockout(cfg.LoginLockoutThreshold), IPLockout: lockout(cfg.IPLoginLockoutThreshold),
		AccountThrottle: store.LockoutPolicy{Threshold: cfg.AccountLoginThrottleThreshold, Base: time.Second, Max: cfg.AccountLoginThrottleMax.Duration, Window: 24 * time.Hour, DelayOnly: true},
		DeviceTokenTTL:  cfg.DeviceTokenTTL.Duration, RequestTimeout: cfg.RequestTimeout.Duration}); err != nil {
		return nil, err
	}
	key, err := seal.LoadOrCreateKey(cfg.DataDir, o.MasterKey)
	if err != nil {
		return nil, fmt.Errorf("master key: %w", err)
	}
	sealer, err := seal.New(key)
	if err != nil {
		return nil, fmt.Errorf("master key: %w", err)
	}
	if err := s.identity.EnsureSigningKey(ctx); err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}

	if cfg.NATSURL != "" {
		s.nats, err = messaging.Connect(ctx, messaging.ConnectConfig{URL: cfg.NATSURL, Name: "hks-server", Logger: log.With("component", "nats")})
	} else {
		s.nats, err = messaging.StartEmbedded(messaging.EmbeddedConfig{StoreDir: filepath.Join(cfg.DataDir, "nats"), Logger: log.With("component", "nats")})
	}
	if err != nil {
		return nil, fmt.Errorf("nats: %w", err)
	}
	pub, err := events.New(ctx, events.Config{JS: s.nats.JetStream(), Logger: log.With("component", "events"), Now: now})
	if err != nil {
		return nil, err
	}
	if s.queue, err = tasks.New(ctx, tasks.Config{JS: s.nats.JetStream(), Store: s.st, Events: pub, Logger: log, Now: now}); err != nil {
		return nil, err
	}
	az, err := authz.New(s.st)
	if err != nil {
		return nil, err
	}
	d := &deps{cfg: cfg, version: o.Version, log: log, now: now, store: s.st, identity: s.identity, sealer: sealer, nats: s.nats, events: pub, queue: s.queue,
		authz: az, registry: reg, tls: s.tls, workspaceIssuer: s.WorkspaceIssuer(), liveLimits: o.liveLimits,
		functionsConfig: o.functionsConfig}
	if err := wire(ctx, d); err != nil {
		return nil, err
	}
	tn := d.tenancy
	s.wsIssuer.Handle(d.issuer, s.identity)
	s.background = d.background
	s.live, s.userStreams, s.functions = d.live, d.userStreams, d.functions
	s.closers = d.closers
	proxies, err := httpapi.ParseTrustedProxies(cfg.TrustedProxies)
	if err != nil {
		return nil, fmt.Errorf("trusted proxies: %w", err)
	}
	if s.api, err = httpapi.New(httpapi.Config{Logger: log, Registry: reg, Auth: s.identity, RequestTimeout: cfg.RequestTimeout.Duration, TrustedProxies: proxies,
		RouteMiddleware: slices.Concat([]httpapi.RouteMiddleware{tn.ResolvePath}, d.routeMiddleware, []httpapi.RouteMiddleware{tn.ProjectVisible}), Outer: d.outer, AccessCookie: identity.AccessCookie,
		Fallback: console.New()}); err != nil {
		return nil, err
	}
	doc := &openAPIDoc{}
	s.api.Mount(routeTable(tn, s.identity, s.platformRoutes(doc), d.routes)...)
	s.api.MountSubtree(gateway.Prefix, d.gateway)
	if d.mcp != nil {
		s.api.MountEndpoint(mcp.Path, d.mcp)
	}
	if d.functions != nil {
		s.api.MountSubtree(functions.TriggerPrefix, d.functions.Trigger())
	}
	// With a plain-http platform kubectl cannot use the gateway on the API
	// listener (client-go sends an exec plugin's token to https servers
	// only): the workspace issuer endpoint's loopback https listener
	// serves it too, through the same handler (token checks, limits,
	// access log, lifted deadlines). With an https platform this does
	// nothing.
	s.wsIssuer.Mount(gateway.Prefix, s.api.Handler())
	if d.platform != nil {
		d.platform.set(s.api.Handler())
	}
	if doc.b, err = httpapi.OpenAPI(openAPIInfo(o.Version), s.api.Routes()); err != nil {
		return nil, fmt.Errorf("openapi: %w", err)
	}

	if tok, created, err := s.identity.EnsureSetupToken(ctx); err != nil {
		return nil, fmt.Errorf("setup token: %w", err)
	} else if created {
		s.SetupToken = tok
	} else if n, err := s.st.CountUsers(ctx); err == nil && n == 0 {
		s.setupPending = true
	}

	s.http = &http.Server{
		Handler:           s.api.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      cfg.RequestTimeout.Duration + 30*time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	// Shutdown does not cancel requests: end event streams so that a
	// graceful stop does not wait for their clients.
	s.http.RegisterOnShutdown(s.api.EndStreams)
	switch {
	case s.SetupToken != "":
		fmt.Fprintf(o.Stdout, "\nNo users yet. Create the first administrator in the console at %s/setup with the one-time setup token\n\n"+
			"  %s\n\n"+
			"or with curl:\n\n"+
			"  curl -sS -X POST %s/auth/setup -H 'Content-Type: application/json' \\\n"+
			"    -d '{\"token\":\"%s\",\"email\":\"admin@example.com\",\"password\":\"choose-a-password\"}'\n\n"+
			"(or: hks admin create-user --data-dir %s --email admin@example.com --password-stdin)\n"+
			"The token stays valid until the first administrator exists; it is printed only now.\n\n",
			cfg.ExternalURL, s.SetupToken, cfg.ExternalURL, s.SetupToken, cfg.DataDir)
	case s.setupPending:
		fmt.Fprintf(o.Stdout, "\nNo users yet. The setup token printed at the first start is still valid (%s/setup).\n"+
			"Lost it? hks admin setup-token --data-dir %s prints a new one (the old one then stops working).\n\n",
			cfg.ExternalURL, cfg.DataDir)
	}
	return s, nil
}

// Addr is the address the server listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// URL is the base URL of the listener.
func (s *Server) URL() string { return s.scheme() + s.Addr() }

func (s *Server) scheme() string {
	if s.cfg.TLS == "auto" || s.cfg.TLS == "files" {
		return "https://"
	}
	return "http://"
}

// TelemetryURL is the base URL of the telemetry listener (its /metrics);
// "" when telemetry is off.
func (s *Server) TelemetryURL() string {
	if s.telemetry == nil {
		return ""
	}
	return "http://" + s.telemetry.addr()
}

// Run serves until ctx ends, then shuts down gracefully.
func (s *Server) Run(ctx context.Context) error {
	telemetry := s.telemetry.addr()
	if telemetry == "" {
		telemetry = config.TelemetryOff
	}
	s.log.Info("hks server started", "listen", s.Addr(), "telemetry", telemetry, "url", s.cfg.ExternalURL, "data_dir", s.cfg.DataDir,
		"database", map[bool]string{true: "postgres", false: "sqlite"}[s.cfg.DatabaseURL != ""],
		"nats", map[bool]string{true: "external", false: "embedded"}[s.cfg.NATSURL != ""])
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		ln := s.ln
		if s.tls != nil {
			ln = tls.NewListener(ln, s.tls.TLSConfig())
		}
		if err := s.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("serve http: %w", err)
		}
		return nil
	})
	g.Go(s.wsIssuer.Serve)
	g.Go(s.telemetry.serve)
	g.Go(func() error { return s.queue.Run(gctx) })
	for _, run := range s.background {
		g.Go(func() error { return run(gctx) })
	}
	g.Go(func() error {
		<-gctx.Done()
		s.log.Info("shutting down")
		sctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout.Duration)
		defer cancel()
		if err := s.http.Shutdown(sctx); err != nil {
			s.log.Warn("http shutdown", "error", err)
		}
		if err := s.wsIssuer.Shutdown(sctx); err != nil {
			s.log.Warn("workspace issuer shutdown", "error", err)
		}
		if err := s.telemetry.shutdown(sctx); err != nil {
			s.log.Warn("telemetry shutdown", "error", err)
		}
		return nil
	})
	err := g.Wait()
	s.close(context.Background())
	s.log.Info("stopped")
	return err
}

// close releases everything New opened, in reverse order.
func (s *Server) close(ctx context.Context) {
	if s.ln != nil {
		_ = s.ln.Close()
	}
	s.telemetry.close()
	for i := len(s.closers) - 1; i >= 0; i-- {
		s.closers[i]()
	}
	s.closers = nil
	s.wsIssuer.Close()
	if s.nats != nil {
		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		if err := s.nats.Shutdown(sctx); err != nil {
			s.log.Warn("nats shutdown", "error", err)
		}
		cancel()
	}
	if s.st != nil {
		if err := s.st.Close(); err != nil {
			s.log.Warn("close store", "error", err)
		}
	}
}

func newLogger(w io.Writer, level, format string) *slog.Logger {
	var lv slog.Level
	_ = lv.UnmarshalText([]byte(level))
	opts := &slog.HandlerOptions{Level: lv}
	if format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// WorkspaceIssuer is the issuer that workspace API servers trust: its URL
// (the iss of workspace tokens) and the CA of its certificate (empty: the
// system roots).
func (s *Server) WorkspaceIssuer() controlplane.IssuerTrust {
	if s.wsIssuer == nil {
		return controlplane.IssuerTrust{}
	}
	return controlplane.IssuerTrust{URL: s.wsIssuer.URL(), CAPEM: s.wsIssuer.CAPEM()}
}
