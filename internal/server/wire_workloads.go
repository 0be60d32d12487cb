package server

import (
	"context"

	"k8s.io/client-go/rest"

	"github.com/hexabase/hexabase-ai/internal/controlplane"
	"github.com/hexabase/hexabase-ai/internal/workloads"
)

// wireWorkloads mounts the applications and usage API, which acts in the
// workspace clusters as the caller (through the control-plane service's
// impersonating clients). Without a provider every such call answers that
// the workspace's cluster is not running.
func wireWorkloads(_ context.Context, d *deps) error {
	if d.docsOnly {
		d.routes = append(d.routes, (&workloads.Service{}).Routes()...)
		return nil
	}
	clusters := d.clusters
	if clusters == nil {
		clusters = noClusters{}
	}
	wl, err := workloads.New(workloads.Config{Scopes: d.tenancy, Clusters: clusters, Logger: d.log.With("component", "workloads"), Now: d.now})
	if err != nil {
		return err
	}
	d.routes = append(d.routes, wl.Routes()...)
	return nil
}

// noClusters is the Clusters of a server without a control-plane provider.
type noClusters struct{}

func (noClusters) ConfigAs(context.Context, string, string, []string) (*rest.Config, error) {
	return nil, controlplane.ErrNotFound
}
