package server

import (
	"context"

	"github.com/hexabase/hexabase-ai/internal/live"
)

// wireLive mounts the live-update WebSocket (GET /api/v1/ws): the
// organization's events and watches of a project's objects, made as the
// caller through the control plane's impersonating clients (without a
// provider a watch answers that the workspace's cluster is not running).
// Its connections are Stream requests, so the API's EndStreams closes
// them at shutdown. Its one follower of the events (the hub) runs in the
// background; its watches count against the per-user and per-workspace
// stream caps of the gateway.
func wireLive(_ context.Context, d *deps) error {
	if d.docsOnly {
		d.routes = append(d.routes, (&live.Service{}).Routes()...)
		return nil
	}
	clusters := d.clusters
	if clusters == nil {
		clusters = noClusters{}
	}
	limits := live.Limits{ConnectionsPerUser: d.cfg.LiveConnectionsPerUser, SubscriptionsPerConnection: d.cfg.LiveSubscriptionsPerConnection}
	if d.liveLimits != nil {
		d.liveLimits(&limits)
	}
	s, err := live.New(live.Config{Sessions: d.identity, Tenancy: d.tenancy, Events: d.events, Clusters: clusters,
		Logger: d.log.With("component", "live"), ExternalURL: d.cfg.ExternalURL, AllowedOrigins: d.cfg.CORSAllowedOrigins,
		Limits: limits, UserStreams: d.userStreams, WorkspaceStreams: d.workspaceStreams})
	if err != nil {
		return err
	}
	d.routes = append(d.routes, s.Routes()...)
	d.background = append(d.background, s.Run)
	d.live = s
	return nil
}
