package server

import (
	"context"

	"k8s.io/client-go/rest"

	"github.com/hexabase/hexabase-ai/internal/controlplane"
	"github.com/hexabase/hexabase-ai/internal/cronjobs"
	"github.com/hexabase/hexabase-ai/internal/workloads"
)

// wireWorkloads mounts the applications, usage and CronJob API (with the
// CronJob history recorder), which acts in the
// workspace clusters as the caller (through the control-plane service's
// impersonating clients). Without a provider every such call answers that
// the workspace's cluster is not running.
func wireWorkloads(_ context.Context, d *deps) error {
	if d.docsOnly {
		d.routes = append(d.routes, (&workloads.Service{}).Routes()...)
		d.routes = append(d.routes, (&cronjobs.Service{}).Routes()...)
		return nil
	}
	clusters := d.clusters
	if clusters == nil {
		clusters = noClusters{}
	}
	wl, err := workloads.New(workloads.Config{Scopes: d.tenancy, Clusters: clusters, Logger: d.log.With("component", "workloads"), Now: d.now,
		UserStreams: d.userStreams})
	if err != nil {
		return err
	}
	d.routes = append(d.routes, wl.Routes()...)
	cj, err := cronjobs.New(cronjobs.Config{Store: d.store, Scopes: d.tenancy, Clusters: clusters, Admin: d.adminClusters,
		Logger: d.log.With("component", "cronjobs"), Now: d.now})
	if err != nil {
		return err
	}
	d.routes = append(d.routes, cj.Routes()...)
	d.background = append(d.background, cj.Run)
	return nil
}

// noClusters is the Clusters of a server without a control-plane provider.
type noClusters struct{}

func (noClusters) ConfigAs(context.Context, string, string, []string) (*rest.Config, error) {
	return nil, controlplane.ErrNotFound
}
