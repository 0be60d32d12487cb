package kube

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/hexabase/hexabase-ai/internal/controlplane"
	"github.com/hexabase/hexabase-ai/internal/httpapi"
	"github.com/hexabase/hexabase-ai/internal/tenancy"
)

// Clusters gives client configurations that act as a platform user in a
// workspace cluster (*controlplane.Service implements it).
type Clusters interface {
	ConfigAs(ctx context.Context, workspaceID, email string, groups []string) (*rest.Config, error)
}

// AdminClusters gives the platform's own client of a workspace cluster,
// for bookkeeping (never for a user's call).
type AdminClusters interface {
	AdminConfig(ctx context.Context, workspaceID string) (*rest.Config, error)
}

// Scopes resolves the path of a request for its caller
// (*tenancy.Service implements it).
type Scopes interface {
	ResolveWorkspace(r *http.Request) (tenancy.WorkspaceScope, error)
	ResolveProject(r *http.Request) (tenancy.ProjectScope, error)
}

var (
	_ Clusters      = (*controlplane.Service)(nil)
	_ AdminClusters = (*controlplane.Service)(nil)
	_ Scopes        = (*tenancy.Service)(nil)
)

// Client is a workspace cluster as the caller.
type Client struct {
	Kube    kubernetes.Interface
	Dynamic dynamic.Interface
	Config  *rest.Config
	// Warnings are the API server's warnings on this client's calls
	// (the client belongs to one request).
	Warnings *Warnings
}

// ClientFor connects to the scope's workspace cluster as its caller, with
// a fresh Warnings collecting the API server's warnings. A workspace
// without a running control plane is a 409 that says so.
func ClientFor(ctx context.Context, c Clusters, sc tenancy.WorkspaceScope) (*Client, error) {
	cfg, err := c.ConfigAs(ctx, sc.Workspace.ID, sc.Principal.Email, sc.Groups)
	if errors.Is(err, controlplane.ErrNotFound) {
		return nil, httpapi.Conflict("", fmt.Sprintf("the workspace is %s: its cluster is not running", sc.Workspace.Status))
	}
	if err != nil {
		return nil, fmt.Errorf("workspace client config: %w", err)
	}
	// The API server's warnings go to this request's collector, not to
	// client-go's process-wide default handler (which logs them).
	warnings := &Warnings{}
	cfg = rest.CopyConfig(cfg)
	cfg.WarningHandler, cfg.WarningHandlerWithContext = nil, warnings
	kc, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("workspace client: %w", err)
	}
	dc, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("workspace dynamic client: %w", err)
	}
	return &Client{Kube: kc, Dynamic: dc, Config: cfg, Warnings: warnings}, nil
}

// Project is a project resolved for the caller of a request, with a client
// of its workspace cluster as that caller and the project's namespace.
type Project struct {
	Scope tenancy.ProjectScope
	C     *Client
	NS    string
}

// ForProject resolves the request's {project} (already an id: the route
// middleware resolved a name) for its caller and connects to its cluster.
func ForProject(r *http.Request, s Scopes, c Clusters) (Project, error) {
	sc, err := s.ResolveProject(r)
	if err != nil {
		return Project{}, err
	}
	cl, err := ClientFor(r.Context(), c, sc.WorkspaceScope)
	if err != nil {
		return Project{}, err
	}
	return Project{Scope: sc, C: cl, NS: sc.Namespace()}, nil
}
