package tenancy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strings"

	"github.com/hexabase/hexabase-ai/internal/api"
	"github.com/hexabase/hexabase-ai/internal/gateway"
	"github.com/hexabase/hexabase-ai/internal/httpapi"
	"github.com/hexabase/hexabase-ai/internal/kubeconfig"
	"github.com/hexabase/hexabase-ai/internal/store"
)

// ErrNoControlPlane is ControlPlane.Endpoint's answer for a workspace
// that has no control plane running.
var ErrNoControlPlane = errors.New("the workspace has no control plane running")

// ControlPlane is what tenancy asks of the workspaces' control planes
// (implemented by internal/controlplane's service; nil when the server
// runs no provider).
type ControlPlane interface {
	// Status of the workspace's control plane; ok false when none is
	// known yet.
	Status(ctx context.Context, workspaceID string) (st api.ControlPlaneStatus, ok bool)
	// Endpoint is the API server URL and the PEM of the CA its
	// certificate chains to; ErrNoControlPlane when the workspace has
	// none running.
	Endpoint(ctx context.Context, workspaceID string) (server string, caPEM []byte, err error)
}

// IDReserver is a ControlPlane that keeps control planes started for
// workspaces yet to be created: a workspace created with the ID it
// reserves is running sooner. An ID that is not used goes back with
// ReleaseWorkspaceID.
type IDReserver interface {
	ReserveWorkspaceID(plan string) (id string, ok bool)
	ReleaseWorkspaceID(id string)
}

// newWorkspaceID is the ID of a workspace about to be created, and the
// function to call if it is not created after all.
func (s *Service) newWorkspaceID(plan string) (id string, release func()) {
	if r, ok := s.controlPlane().(IDReserver); ok {
		if id, ok := r.ReserveWorkspaceID(plan); ok {
			return id, func() { r.ReleaseWorkspaceID(id) }
		}
	}
	return store.NewID(), func() {}
}

func (s *Service) controlPlane() ControlPlane { return s.cp }

// controlPlaneStatus is the workspace's control-plane health, nil when
// unknown.
func (s *Service) controlPlaneStatus(ctx context.Context, workspaceID string) *api.ControlPlaneStatus {
	cp := s.controlPlane()
	if cp == nil {
		return nil
	}
	st, ok := cp.Status(ctx, workspaceID)
	if !ok {
		return nil
	}
	if st.Components == nil {
		st.Components = []api.ComponentStatus{}
	}
	return &st
}

func errNoProvider() *httpapi.Error {
	return &httpapi.Error{Status: http.StatusServiceUnavailable, Type: "control-plane-unavailable", Title: "Service unavailable",
		Detail: "this server runs no control-plane provider, so workspaces are not clusters here"}
}

func errNotRunning(status string) *httpapi.Error {
	return &httpapi.Error{Status: http.StatusConflict, Type: "workspace-not-running", Title: "Workspace not running",
		Detail: fmt.Sprintf("the workspace is not running (status: %s)", status)}
}

// kubeconfigFormat picks JSON or YAML: ?format= wins, then an Accept
// header that names JSON and not YAML.
func kubeconfigFormat(r *http.Request) (string, error) {
	switch f := r.URL.Query().Get("format"); f {
	case "json", "yaml":
		return f, nil
	case "":
	default:
		return "", httpapi.Invalid(httpapi.Field("format", "must be yaml or json"))
	}
	wantJSON, wantYAML := false, false
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		mt, _, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		switch mt {
		case "application/json":
			wantJSON = true
		case "application/yaml", "application/x-yaml", "text/yaml":
			wantYAML = true
		}
	}
	if wantJSON && !wantYAML {
		return "json", nil
	}
	return "yaml", nil
}

// workspaceKubeconfig serves GET …/workspaces/{workspace}/kubeconfig: a
// kubeconfig for the caller, whose user runs `hks kubectl-token` for a
// token of the caller's own identity. It never holds a credential.
func (s *Service) workspaceKubeconfig(w http.ResponseWriter, r *http.Request) {
	b, ct, err := s.kubeconfigFor(r)
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}

func (s *Service) kubeconfigFor(r *http.Request) ([]byte, string, error) {
	wc, err := s.wsFor(r)
	if err != nil {
		return nil, "", err
	}
	format, err := kubeconfigFormat(r)
	if err != nil {
		return nil, "", err
	}
	cp := s.controlPlane()
	if cp == nil {
		return nil, "", errNoProvider()
	}
	switch wc.ws.Status {
	case store.WorkspaceRunning, store.WorkspaceSleeping, store.WorkspaceWaking:
		// A sleeping workspace wakes at kubectl's first request.
	default:
		return nil, "", errNotRunning(wc.ws.Status)
	}
	// The API server's own address only tells whether it runs: kubectl
	// reaches the workspace through the gateway (Config.GatewayURL). A
	// sleeping one has none running, and its first request wakes it.
	if wc.ws.Status != store.WorkspaceRunning {
		// nothing to check
	} else if _, _, err := cp.Endpoint(r.Context(), wc.ws.ID); errors.Is(err, ErrNoControlPlane) {
		e := errNotRunning(wc.ws.Status)
		e.Detail = "the workspace is not running (status: " + wc.ws.Status + "; its control plane is not up)"
		e.Cause = err
		return nil, "", e
	} else if err != nil {
		return nil, "", fmt.Errorf("control plane endpoint: %w", err)
	}
	server, ca := gateway.URL(s.gatewayURL, wc.ws.ID), s.gatewayCA
	kc := kubeconfig.New(kubeconfig.Params{Platform: s.externalURL, OrgID: wc.org.ID, OrgSlug: wc.org.Slug,
		WorkspaceID: wc.ws.ID, WorkspaceName: wc.ws.Name, Server: server, CAPEM: ca})
	if format == "json" {
		b, err := json.Marshal(kc)
		if err != nil {
			return nil, "", err
		}
		return append(b, '\n'), "application/json", nil
	}
	b, err := kc.YAML()
	if err != nil {
		return nil, "", err
	}
	return b, "application/yaml", nil
}
