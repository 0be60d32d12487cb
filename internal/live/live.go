package live

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/hexabase/hexabase-ai/internal/api"
	"github.com/hexabase/hexabase-ai/internal/events"
	"github.com/hexabase/hexabase-ai/internal/httpapi"
	"github.com/hexabase/hexabase-ai/internal/identity"
	"github.com/hexabase/hexabase-ai/internal/kube"
	"github.com/hexabase/hexabase-ai/internal/ratelimit"
	"github.com/hexabase/hexabase-ai/internal/tenancy"
)

// Path is the endpoint's path.
const Path = "/api/v1/ws"

// Close codes the server ends a connection with besides the standard ones
// (1001 going away at shutdown, 1009 a message over the size limit, 1011
// an internal error).
const (
	// CloseSessionEnded: the caller's session ended (signed out, revoked,
	// expired): sign in again before reconnecting.
	CloseSessionEnded websocket.StatusCode = 4401
	// CloseTooManyConnections: the user holds Limits.ConnectionsPerUser
	// connections in this process already.
	CloseTooManyConnections websocket.StatusCode = 4429
	// CloseTooSlow: the client did not read its messages fast enough
	// (the outbound queue stayed full for Limits.SlowClientTimeout);
	// reconnect and resume.
	CloseTooSlow websocket.StatusCode = 4008
)

// Defaults of Limits and Config.
const (
	DefaultSubscriptionsPerConnection = 32
	DefaultConnectionsPerUser         = 8
	DefaultMaxMessageBytes            = 4 << 10
	DefaultOutboundBytes              = 4 << 20
	DefaultSlowClientTimeout          = 10 * time.Second
	DefaultWriteTimeout               = 10 * time.Second
	DefaultSubscribeRate              = 10
	DefaultSubscribeBurst             = 64
	DefaultRecheck                    = 2 * time.Second
	DefaultPing                       = 20 * time.Second
)

// Limits bound what one connection and one user may hold.
type Limits struct {
	// SubscriptionsPerConnection open at once; beyond, a subscribe is
	// refused with a 429 problem.
	SubscriptionsPerConnection int
	// ConnectionsPerUser open at once in this process; beyond, the
	// connection is closed with CloseTooManyConnections.
	ConnectionsPerUser int
	// MaxMessageBytes is the largest message a client may send; a larger
	// one closes the connection with 1009 (message too big).
	MaxMessageBytes int64
	// OutboundBytes is how many bytes of messages wait for a slow
	// client; when the next message does not fit for SlowClientTimeout,
	// or a write takes longer than WriteTimeout, the connection is closed
	// with CloseTooSlow (never a message dropped: that would be a gap).
	OutboundBytes     int
	SlowClientTimeout time.Duration
	WriteTimeout      time.Duration
	// SubscribeRate (a second) and SubscribeBurst bound the subscribe
	// messages of a connection; beyond, a subscribe is refused with a
	// 429 problem.
	SubscribeRate  float64
	SubscribeBurst int
}

// Sessions checks that a session is alive (*identity.Service).
type Sessions interface {
	CheckSession(ctx context.Context, sessionID, userID string) error
	RequireOrgMFAOf(ctx context.Context, userID, orgID string) error
}

// Tenancy answers who may follow what (*tenancy.Service).
type Tenancy interface {
	OrgView(ctx context.Context, p httpapi.Principal, org string) (*tenancy.OrgView, error)
	ResolveProjectRefs(ctx context.Context, p httpapi.Principal, org, workspace, project string) (tenancy.ProjectScope, error)
}

// Events lets followers subscribe to the platform's events
// (*events.Publisher).
type Events interface {
	Subscribe(ctx context.Context, f events.Filter) (*events.Subscription, error)
	LastSeq(ctx context.Context) (uint64, error)
	CheckResume(ctx context.Context, seq uint64) error
	Replay(ctx context.Context, f events.Filter, upTo uint64, fn func(events.Event) error) error
}

var (
	_ Sessions = (*identity.Service)(nil)
	_ Tenancy  = (*tenancy.Service)(nil)
	_ Events   = (*events.Publisher)(nil)
)

// Config carries the service's dependencies.
type Config struct {
	Sessions Sessions
	Tenancy  Tenancy
	Events   Events
	// Clusters reach the workspace clusters as the caller.
	Clusters kube.Clusters
	Logger   *slog.Logger
	// ExternalURL's origin and AllowedOrigins (the CORS allowed origins)
	// are the origins a browser may connect from; any other Origin is
	// refused with 403 before the upgrade.
	ExternalURL    string
	AllowedOrigins []string
	Limits         Limits
	// Recheck is how often the session and every subscription's access
	// are checked again (default 2s); Ping how often the server pings
	// (default 20s), a client that does not answer within Ping being
	// disconnected.
	Recheck time.Duration
	Ping    time.Duration
	// UserStreams and WorkspaceStreams cap the long-lived requests open
	// at once per user and per workspace (keys: user id, workspace id):
	// each watch counts as one, against the caps the gateway's watches,
	// logs -f and exec and the followed application logs count against
	// (shared), so that the socket does not bypass them. Beyond, a watch
	// is refused with a 429 problem. nil: DefaultStreamsPerUser and
	// DefaultStreamsPerWorkspace, counted here alone.
	UserStreams      *ratelimit.Concurrency
	WorkspaceStreams *ratelimit.Concurrency
}

// The caps of Config.UserStreams and WorkspaceStreams when nil (the
// gateway's defaults).
const (
	DefaultStreamsPerUser      = 64
	DefaultStreamsPerWorkspace = 96
)

// Service serves the WebSocket.
type Service struct {
	cfg     Config
	origins map[string]bool
	conns   *ratelimit.Concurrency
	replays *ratelimit.Concurrency // resumes replaying at once, per user
	hub     *hub

	tooSlow   atomic.Int64 // connections closed with CloseTooSlow
	maxQueued atomic.Int64 // the most bytes one connection's queue held
}

// TooSlow is how many connections were closed as too slow
// (CloseTooSlow); MaxQueued the most bytes one connection's outbound
// queue held. For tests and metrics.
func (s *Service) TooSlow() int64   { return s.tooSlow.Load() }
func (s *Service) MaxQueued() int64 { return s.maxQueued.Load() }

func (s *Service) noteQueued(n int) {
	for {
		m := s.maxQueued.Load()
		if int64(n) <= m || s.maxQueued.CompareAndSwap(m, int64(n)) {
			return
		}
	}
}

// Run follows the platform's events for every subscription of this
// process (one JetStream consumer, see hub) until ctx ends; subscriptions
// wait for it to start.
func (s *Service) Run(ctx context.Context) error { return s.hub.run(ctx) }

// New returns a Service.
func New(cfg Config) (*Service, error) {
	if cfg.Sessions == nil || cfg.Tenancy == nil || cfg.Events == nil || cfg.Clusters == nil || cfg.Logger == nil || cfg.ExternalURL == "" {
		return nil, errors.New("live: Sessions, Tenancy, Events, Clusters, Logger and ExternalURL are required")
	}
	var err error
	l := &cfg.Limits
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&l.SubscriptionsPerConnection, DefaultSubscriptionsPerConnection)
	def(&l.ConnectionsPerUser, DefaultConnectionsPerUser)
	def(&l.OutboundBytes, DefaultOutboundBytes)
	def(&l.SubscribeBurst, DefaultSubscribeBurst)
	if l.SubscribeRate == 0 {
		l.SubscribeRate = DefaultSubscribeRate
	}
	if l.WriteTimeout == 0 {
		l.WriteTimeout = DefaultWriteTimeout
	}
	if l.MaxMessageBytes == 0 {
		l.MaxMessageBytes = DefaultMaxMessageBytes
	}
	if l.SlowClientTimeout == 0 {
		l.SlowClientTimeout = DefaultSlowClientTimeout
	}
	if cfg.Recheck == 0 {
		cfg.Recheck = DefaultRecheck
	}
	if cfg.Ping == 0 {
		cfg.Ping = DefaultPing
	}
	if l.SubscriptionsPerConnection < 1 || l.OutboundBytes < 1 || l.MaxMessageBytes < 256 || l.SlowClientTimeout < 0 || l.WriteTimeout < 0 ||
		l.SubscribeRate < 0 || l.SubscribeBurst < 1 || cfg.Recheck < 0 || cfg.Ping < 0 {
		return nil, errors.New("live: limits must be positive (MaxMessageBytes at least 256)")
	}
	if cfg.UserStreams == nil {
		if cfg.UserStreams, err = ratelimit.NewConcurrency(DefaultStreamsPerUser); err != nil {
			return nil, err
		}
	}
	if cfg.WorkspaceStreams == nil {
		if cfg.WorkspaceStreams, err = ratelimit.NewConcurrency(DefaultStreamsPerWorkspace); err != nil {
			return nil, err
		}
	}
	conns, err := ratelimit.NewConcurrency(l.ConnectionsPerUser)
	if err != nil {
		return nil, fmt.Errorf("live: %w", err)
	}
	origins := map[string]bool{}
	if o, ok := originOf(cfg.ExternalURL); ok {
		origins[o] = true
	}
	for _, a := range cfg.AllowedOrigins {
		if o, ok := originOf(a); ok {
			origins[o] = true
		}
	}
	replays, err := ratelimit.NewConcurrency(maxReplaysPerUser)
	if err != nil {
		return nil, fmt.Errorf("live: %w", err)
	}
	return &Service{cfg: cfg, origins: origins, conns: conns, replays: replays, hub: newHub(cfg.Events, cfg.Logger)}, nil
}

// requestOrigin is the origin the request was sent to: a page served by
// this listener under the name the browser used (http://localhost:8080
// as well as the external URL's http://127.0.0.1:8080) connects from it.
// A page of another site cannot claim it: its browser sends that site's
// origin (and not this site's cookies).
func requestOrigin(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	o, _ := originOf(scheme + "://" + r.Host)
	return o
}

// originOf is the origin of u (scheme://host[:port], lower case, default
// ports dropped) as browsers write it in the Origin header.
func originOf(u string) (string, bool) {
	p, err := url.Parse(strings.TrimSpace(u))
	if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
		return "", false
	}
	host := strings.ToLower(p.Hostname())
	port := p.Port()
	if (p.Scheme == "http" && port == "80") || (p.Scheme == "https" && port == "443") {
		port = ""
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port != "" {
		host += ":" + port
	}
	return strings.ToLower(p.Scheme) + "://" + host, true
}

// Routes returns the WebSocket's route.
func (s *Service) Routes() []httpapi.Route {
	return []httpapi.Route{{Method: "GET", Path: Path, Tag: "live",
		Summary: "The live-update WebSocket (docs/websocket.md): upgrade, then send LiveClientMessage frames (subscribe to an organization's events or to a watch of a project's deployments, pods, jobs, cronjobs or events; unsubscribe; ping) and receive LiveServerMessage frames. " +
			"Browsers authenticate with the session cookie and must connect from the platform's own origin or an allowed CORS origin (else 403). Close codes: 4401 session ended, 4429 too many connections for the user, 4008 client too slow, 1009 message too big, 1001 server shutting down",
		Request: api.LiveClientMessage{}, Response: api.LiveServerMessage{}, Status: http.StatusSwitchingProtocols,
		Errors: []int{http.StatusForbidden, http.StatusUpgradeRequired}, Stream: true, Raw: s}}
}

// ServeHTTP checks the origin, upgrades and serves the connection until
// the client leaves, the session ends or the server shuts down.
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p, err := httpapi.MustPrincipal(r)
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	if origin := r.Header.Get("Origin"); origin != "" {
		o, ok := originOf(origin)
		if !ok || !s.origins[o] && o != requestOrigin(r) {
			httpapi.WriteError(w, r, httpapi.Forbidden("origin "+strconv.Quote(truncate(origin, 200))+
				" may not open the live-update WebSocket: connect from the platform's own origin or an allowed CORS origin"))
			return
		}
	}
	if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		httpapi.WriteError(w, r, &httpapi.Error{Status: http.StatusUpgradeRequired, Type: "upgrade-required", Title: "Upgrade required",
			Detail: "this is a WebSocket endpoint: connect with a WebSocket client (Upgrade: websocket)",
			Header: http.Header{"Upgrade": {"websocket"}, "Connection": {"Upgrade"}}})
		return
	}
	// Counted before the upgrade, so that a client whose handshake
	// succeeded holds its place.
	release, ok := s.conns.Acquire(p.UserID)
	defer release()
	// The origin is checked above, against the configured origins rather
	// than the Host header.
	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		httpapi.Logger(r.Context()).Info("websocket upgrade failed", "error", err)
		return
	}
	if !ok {
		// Closed after the upgrade rather than refused with a 429: a
		// browser shows scripts the close code and reason, never the
		// status of a failed handshake.
		_ = ws.Close(CloseTooManyConnections, fmt.Sprintf("you have %d live connections open already; close one (another tab?) first", s.conns.Max()))
		return
	}
	defer release()
	c := newConn(s, r, p, ws)
	c.serve()
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "")
}
