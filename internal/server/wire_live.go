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
// them at shutdown.
func wireLive(_ context.Context, d *deps) error {
	if d.docsOnly {
		d.routes = append(d.routes, (&live.Service{}).Routes()...)
		return nil
	}
	clusters := d.clusters
	if clusters == nil {
		clusters = noClusters{}
	}
	s, err := live.New(live.Config{Sessions: d.identity, Tenancy: d.tenancy, Events: d.events, Clusters: clusters,
		Logger: d.log.With("component", "live"), ExternalURL: d.cfg.ExternalURL, AllowedOrigins: d.cfg.CORSAllowedOrigins,
		Limits: live.Limits{ConnectionsPerUser: d.cfg.LiveConnectionsPerUser, SubscriptionsPerConnection: d.cfg.LiveSubscriptionsPerConnection}})
	if err != nil {
		return err
	}
	d.routes = append(d.routes, s.Routes()...)
	return nil
}
