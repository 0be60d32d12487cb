package server

import (
	"context"
	"errors"
	"net/http"

	"github.com/hexabase/hexabase-ai/internal/gateway"
	"github.com/hexabase/hexabase-ai/internal/httpapi"
	"github.com/hexabase/hexabase-ai/internal/ratelimit"
)

// wireGateway builds the workspace API gateway that server.New mounts at
// gateway.Prefix of the API listener: workspace tokens checked by the
// issuer, the workspaces' API servers found by the control plane, and the
// per-user rate limit of the API applied to the token's user; the cap on
// long-lived requests per user is the one the followed application logs
// and the live WebSocket's watches count against too, and the cap per
// workspace the one those watches count against.
func wireGateway(_ context.Context, d *deps) error {
	if d.docsOnly {
		return nil
	}
	var ups gateway.Upstreams = noProvider{}
	if d.controlPlane != nil {
		ups = d.controlPlane
	}
	cfg := gateway.Config{Verifier: d.issuer, Workspaces: d.store, Upstreams: ups, Registry: d.registry,
		Logger: d.log.With("component", "gateway"), Now: d.now, Waker: d.waker, UserStreams: d.userStreams}
	cfg.WorkspaceStreams = d.workspaceStreams
	if d.userLimit != nil {
		perUser := ratelimit.PerUser(d.userLimit)
		cfg.Authenticated = func(h http.Handler) http.Handler {
			return perUser(httpapi.Route{Method: "*", Path: gateway.Prefix}, h)
		}
	}
	g, err := gateway.New(cfg)
	if err != nil {
		return err
	}
	d.gateway = g
	// A deleted workspace's metric series and upstream go with it.
	d.workspaceDeleted = append(d.workspaceDeleted, g.Forget)
	return nil
}

// noProvider is the gateway's upstream on a server that runs no
// control-plane provider: no workspace is reachable here.
type noProvider struct{}

func (noProvider) Endpoint(context.Context, string) (string, []byte, error) {
	return "", nil, errors.New("this server runs no control-plane provider")
}
