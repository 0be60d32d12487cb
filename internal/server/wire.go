package server

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hexabase/hexabase-ai/internal/aiops"
	"github.com/hexabase/hexabase-ai/internal/audit"
	"github.com/hexabase/hexabase-ai/internal/authz"
	"github.com/hexabase/hexabase-ai/internal/config"
	"github.com/hexabase/hexabase-ai/internal/controlplane"
	"github.com/hexabase/hexabase-ai/internal/events"
	"github.com/hexabase/hexabase-ai/internal/functions"
	"github.com/hexabase/hexabase-ai/internal/gateway"
	"github.com/hexabase/hexabase-ai/internal/httpapi"
	"github.com/hexabase/hexabase-ai/internal/identity"
	"github.com/hexabase/hexabase-ai/internal/issuer"
	"github.com/hexabase/hexabase-ai/internal/kube"
	"github.com/hexabase/hexabase-ai/internal/live"
	"github.com/hexabase/hexabase-ai/internal/messaging"
	"github.com/hexabase/hexabase-ai/internal/ratelimit"
	"github.com/hexabase/hexabase-ai/internal/seal"
	"github.com/hexabase/hexabase-ai/internal/store"
	"github.com/hexabase/hexabase-ai/internal/tasks"
	"github.com/hexabase/hexabase-ai/internal/tenancy"
	"github.com/hexabase/hexabase-ai/internal/tlsutil"
)

// deps are the assembled core components that the wire* functions build
// their parts on, and what those parts contribute back.
type deps struct {
	// docsOnly: build nothing, only contribute routes (from zero-value
	// services) for the OpenAPI document.
	docsOnly bool

	cfg      config.Config
	version  string
	log      *slog.Logger
	now      func() time.Time
	store    store.Store
	identity *identity.Service
	// sealer seals with the master key.
	sealer *seal.Sealer
	nats   *messaging.Conn
	events *events.Publisher
	queue  *tasks.Queue
	authz  *authz.Authorizer
	// tenancy is built by wireTenancy, after the control plane it asks
	// about workspaces' clusters.
	tenancy  *tenancy.Service
	registry *prometheus.Registry
	// issuer is set by wireIssuer; later wire functions register their
	// grants on its token endpoint.
	issuer *issuer.Service
	// tls is the serving certificate and, with --tls=auto, its CA (nil
	// with --tls=off).
	tls *tlsutil.Material
	// workspaceIssuer is the issuer workspace API servers trust (the iss
	// of workspace tokens): the external URL when it is https, else the
	// https workspace issuer endpoint (workspace_issuer.go).
	workspaceIssuer controlplane.IssuerTrust
	// controlPlane answers tenancy's questions about workspaces' clusters
	// (set by wireControlPlane; nil without a provider).
	controlPlane tenancy.ControlPlane
	// clusters reach the workspace clusters as a user (set by
	// wireControlPlane; nil without a provider).
	clusters kube.Clusters
	// adminClusters give the platform's own client of a workspace
	// cluster, for bookkeeping (nil without a provider).
	adminClusters kube.AdminClusters

	// userLimit is the per-user rate limiter (nil when off), which the
	// gateway applies too.
	userLimit *ratelimit.Limiter
	// userStreams caps the long-lived requests open at once per user
	// (streamsPerUser): the gateway's and the followed application and
	// function logs count against one cap (set by wireProtections).
	userStreams *ratelimit.Concurrency
	// workspaceStreams caps them per workspace (streamsPerWorkspace):
	// the gateway's and the live WebSocket's watches (wireProtections).
	workspaceStreams *ratelimit.Concurrency
	// liveLimits edits the live WebSocket's limits (tests only).
	liveLimits func(*live.Limits)
	// functionsConfig edits the functions service's Config (tests only).
	functionsConfig func(*functions.Config)
	// live is the live-update service (set by wireLive).
	live *live.Service

	// Contributions.
	routes          []httpapi.Route
	routeMiddleware []httpapi.RouteMiddleware
	outer           []func(http.Handler) http.Handler
	// audit is the audit log (set by wireAudit).
	audit *audit.Log
	// assistant is the AI assistant and mcp its MCP endpoint (set by
	// wireAI).
	assistant *aiops.Service
	mcp       http.Handler
	// platform is the API's handler as the assistant's functions tools
	// call it in process (set by wireAI, filled in by New).
	platform *lateHandler
	// functions is the functions service (set by wireFunctions; nil when
	// functions are off); server.New mounts its HTTP trigger.
	functions *functions.Service
	// gateway serves gateway.Prefix (set by wireGateway).
	gateway http.Handler
	// waker wakes sleeping workspaces for the gateway (wireControlPlane).
	waker gateway.Waker
	// workspaceDeleted are told each workspace whose records the
	// workspace.delete task removed (wireGateway adds the gateway's
	// Forget; wireControlPlane's task handlers call them).
	workspaceDeleted []func(workspaceID string)
	background       []func(context.Context) error
	// closers run when the server stops (after the HTTP server and the
	// background parts), in reverse order.
	closers []func()
}

// wire builds the optional parts in order. Each wire* function lives in its
// own file.
func wire(ctx context.Context, d *deps) error {
	for _, w := range []func(context.Context, *deps) error{
		wireProtections, // outermost: headers, CORS, limits
		wireAudit,
		wireMFA,
		wireFederation,
		wireIssuer,
		wireAuthorize,    // needs d.issuer
		wireControlPlane, // needs d.workspaceIssuer
		wireTenancy,      // needs d.controlPlane
		wireWorkloads,    // needs d.clusters, d.tenancy, d.userStreams
		wireLive,         // needs d.clusters, d.tenancy, d.userStreams, d.workspaceStreams
		wireGateway,      // needs d.issuer, d.controlPlane, d.userLimit, d.userStreams, d.workspaceStreams
		wireAI,           // needs d.gateway, d.issuer, d.tenancy, d.audit
		wireFunctions,    // needs d.tenancy, d.audit, d.sealer, d.userStreams
	} {
		if err := w(ctx, d); err != nil {
			return err
		}
	}
	return nil
}

// deleted tells d.workspaceDeleted that workspace id is gone.
func (d *deps) deleted(id string) {
	for _, f := range d.workspaceDeleted {
		f(id)
	}
}

// wireTenancy builds the tenancy service with the control plane that
// wireControlPlane built (none without a provider).
func wireTenancy(_ context.Context, d *deps) error {
	if d.docsOnly {
		d.tenancy = &tenancy.Service{}
		return nil
	}
	tn, err := tenancy.New(tenancy.Config{Store: d.store, Authz: d.authz, Tasks: d.queue, Events: d.events, Stream: d.events,
		ControlPlane: d.controlPlane, ExternalURL: d.cfg.ExternalURL,
		// The platform when it is https, else the workspace issuer
		// endpoint, which serves the gateway too (server.New).
		GatewayURL: d.workspaceIssuer.URL, GatewayCAPEM: d.workspaceIssuer.CAPEM, SleepAfterDefault: d.cfg.SleepAfter.Duration,
		Logger: d.log.With("component", "tenancy"), Now: d.now})
	if err != nil {
		return err
	}
	d.tenancy = tn
	return nil
}
