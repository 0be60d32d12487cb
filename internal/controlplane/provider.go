// Package controlplane turns workspaces into Kubernetes clusters: the
// Provider interface (one implementation per way of running control
// planes; internal/controlplane/local is the embedded default), the
// provisioning and deletion task handlers, and the reconciler that mirrors
// a workspace's projects, groups and role bindings into its cluster.
package controlplane

import (
	"context"
	"errors"
	"time"

	"k8s.io/client-go/rest"
)

// ErrNotFound: the provider has no control plane for the workspace.
var ErrNotFound = errors.New("no control plane for this workspace")

// ErrBinaryMissing wraps a failure to find a Kubernetes binary; its text
// says where it looked and how to get it.
var ErrBinaryMissing = errors.New("kubernetes binary missing")

// Plans (store.PlanShared, store.PlanDedicated) as the provider sees them.
const (
	PlanShared    = "shared"
	PlanDedicated = "dedicated"
)

// Prefixes the workspace API servers put before the claims of a workspace
// token: user "oidc:alice@example.com", groups "oidc:hks:developer:web".
const (
	UsernamePrefix = "oidc:"
	GroupsPrefix   = "oidc:"
)

// IssuerTrust is the OIDC issuer a workspace API server trusts.
type IssuerTrust struct {
	// URL is the issuer (https), the iss of workspace tokens.
	URL string
	// CAPEM verifies the issuer's certificate; empty: the system roots.
	CAPEM []byte
}

// Spec is what a provider needs to run one workspace's control plane.
type Spec struct {
	WorkspaceID string
	OrgID       string
	// Plan is PlanShared or PlanDedicated.
	Plan   string
	Issuer IssuerTrust
}

// Endpoint is where users reach a workspace's API server.
type Endpoint struct {
	// Server is the https URL of the API server.
	Server string
	// CAPEM is the CA its serving certificate chains to.
	CAPEM []byte
}

// ComponentHealth is the state of one process or service of a control
// plane.
type ComponentHealth struct {
	Name     string `json:"name"`
	Healthy  bool   `json:"healthy"`
	Message  string `json:"message,omitempty"`
	Restarts int    `json:"restarts"`
}

// Health is the state of a workspace's control plane.
type Health struct {
	// Ready: the API server answers /readyz and every component is
	// healthy.
	Ready bool `json:"ready"`
	// Version is the Kubernetes version the API server reports.
	Version    string            `json:"version,omitempty"`
	Components []ComponentHealth `json:"components"`
	CheckedAt  time.Time         `json:"checked_at"`
}

// Reserver is a Provider that keeps control planes started for workspaces
// yet to be created (the local provider's warm pool). Reserve returns the
// ID the next workspace of plan should be created with, so that its Create
// finds a control plane that is already up; ok false: create it with an ID
// of its own. An ID that is not used must be handed back with Release.
// SparesReady is how many could be reserved now.
type Reserver interface {
	Reserve(plan string) (id string, ok bool)
	Release(id string)
	SparesReady() int
}

// Provider runs workspace control planes. Every method is idempotent and
// safe for concurrent use on different workspaces.
type Provider interface {
	// Name is the provider's configuration name ("local").
	Name() string
	// Create makes sure the workspace's control plane exists and runs,
	// creating or restarting what is missing, and returns once its API
	// server is ready or ctx ends.
	Create(ctx context.Context, spec Spec) error
	// Configure applies a changed spec (e.g. a new issuer CA) to a
	// running control plane.
	Configure(ctx context.Context, spec Spec) error
	// Stop ends every process of the workspace's control plane and keeps
	// its data (a sleeping workspace); Create starts it again. A workspace
	// with nothing running is not an error, and processes an earlier hks
	// left behind are ended too.
	Stop(ctx context.Context, workspaceID string) error
	// Delete stops the control plane and removes all of its data; a
	// workspace without one is not an error.
	Delete(ctx context.Context, workspaceID string) error
	// Health reports the control plane's state; ErrNotFound if none runs.
	Health(ctx context.Context, workspaceID string) (Health, error)
	// AdminConfig is the platform's own cluster-admin access (never handed
	// to users).
	AdminConfig(ctx context.Context, workspaceID string) (*rest.Config, error)
	// Endpoint is where users reach the API server.
	Endpoint(ctx context.Context, workspaceID string) (Endpoint, error)
	// List returns the ids of the workspaces the provider holds a control
	// plane or data for (running or not), so that the platform can adopt
	// them after a restart and remove those of deleted workspaces.
	List(ctx context.Context) ([]string, error)
	// Close stops every control plane process this provider started (data
	// is kept; Create brings them back).
	Close() error
}
