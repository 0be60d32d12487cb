package tenancy

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/hexabase/hexabase-ai/internal/api"
	"github.com/hexabase/hexabase-ai/internal/authz"
	"github.com/hexabase/hexabase-ai/internal/events"
	"github.com/hexabase/hexabase-ai/internal/httpapi"
	"github.com/hexabase/hexabase-ai/internal/required"
	"github.com/hexabase/hexabase-ai/internal/store"
)

// Task kinds started by this package.
const (
	TaskWorkspaceProvision = "workspace.provision"
	TaskWorkspaceDelete    = "workspace.delete"
)

// WorkspaceTask is the payload of the workspace tasks.
type WorkspaceTask struct {
	WorkspaceID string `json:"workspace_id"`
}

// Enqueuer starts durable tasks (package tasks implements it).
type Enqueuer interface {
	Enqueue(ctx context.Context, kind, orgID string, payload any) (store.Task, error)
}

// Notifier publishes state-change events (package events implements it).
type Notifier interface {
	Notify(ctx context.Context, orgID, eventType, resourceID string, data any)
}

// EventStream lets followers subscribe to events (package events
// implements it).
type EventStream interface {
	Subscribe(ctx context.Context, f events.Filter) (*events.Subscription, error)
}

// Config carries the service's dependencies.
type Config struct {
	Store  store.Store
	Authz  *authz.Authorizer
	Tasks  Enqueuer
	Events Notifier
	// Stream serves GET …/workspaces/{workspace}/events; nil answers 503 there.
	Stream EventStream
	// ControlPlane answers for the workspaces' clusters; nil when the
	// server runs no control-plane provider. The server builds the
	// control plane first and passes it in here.
	ControlPlane ControlPlane
	// ExternalURL is the URL clients reach the platform at; kubeconfigs
	// name it as the server of `hks kubectl-token`.
	ExternalURL string
	// GatewayURL is where kubectl reaches the workspace API gateway:
	// kubeconfigs name its gateway path (gateway.URL) as the cluster's
	// server. The external URL when that is https; with a plain http
	// one, the workspace issuer endpoint's loopback https URL, which
	// serves the gateway too (client-go sends an exec plugin's token to
	// https servers only). Empty: ExternalURL.
	GatewayURL string
	// GatewayCAPEM is the CA of GatewayURL's certificate, which
	// kubeconfigs carry (--tls=auto's CA, or the workspace issuer
	// endpoint's); empty: the system roots verify it (--tls=files, or TLS
	// ended at a proxy).
	GatewayCAPEM []byte
	// SleepAfterDefault is the operator's sleep_after for workspaces that
	// set none (0: never).
	SleepAfterDefault time.Duration
	Logger            *slog.Logger
	Now               func() time.Time
}

// Service implements the tenancy API.
type Service struct {
	st          store.Store
	az          *authz.Authorizer
	tasks       Enqueuer
	events      Notifier
	stream      EventStream
	externalURL string
	gatewayURL  string
	gatewayCA   []byte
	log         *slog.Logger
	now         func() time.Time
	// heartbeat is the interval of SSE comments on idle event streams.
	heartbeat time.Duration
	cp        ControlPlane
	// sleepAfterDefault is Config.SleepAfterDefault.
	sleepAfterDefault time.Duration
}

// New returns a Service.
func New(cfg Config) (*Service, error) {
	if err := required.Fields("tenancy", cfg, "Store", "Authz", "Tasks", "Events", "Logger", "Now", "ExternalURL"); err != nil {
		return nil, err
	}
	gw := cfg.GatewayURL
	if gw == "" {
		gw = cfg.ExternalURL
	}
	return &Service{st: cfg.Store, az: cfg.Authz, tasks: cfg.Tasks, events: cfg.Events, stream: cfg.Stream,
		externalURL: strings.TrimSuffix(cfg.ExternalURL, "/"), gatewayURL: gw, gatewayCA: cfg.GatewayCAPEM, log: cfg.Logger, now: cfg.Now,
		heartbeat: defaultHeartbeat, cp: cfg.ControlPlane, sleepAfterDefault: cfg.SleepAfterDefault}, nil
}

func (s *Service) clock() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

// orgCtx is a resolved organization with the caller's role in it.
type orgCtx struct {
	p    httpapi.Principal
	org  store.Organization
	role string
}

// orgFor resolves {org}: 404 unless the caller is a member.
func (s *Service) orgFor(r *http.Request) (orgCtx, error) {
	p, err := httpapi.MustPrincipal(r)
	if err != nil {
		return orgCtx{}, err
	}
	id := r.PathValue("org")
	role, err := s.az.OrgRole(r.Context(), p.UserID, id)
	if errors.Is(err, authz.ErrNotMember) {
		return orgCtx{}, httpapi.NotFound("organization")
	}
	if err != nil {
		return orgCtx{}, err
	}
	o, err := cached(r.Context(), resolvedFrom(r.Context()).org, id, s.st.GetOrganization)
	if errors.Is(err, store.ErrNotFound) {
		return orgCtx{}, httpapi.NotFound("organization")
	}
	if err != nil {
		return orgCtx{}, fmt.Errorf("get organization: %w", err)
	}
	return orgCtx{p: p, org: o, role: role}, nil
}

func (oc orgCtx) require(minRole string) error {
	if authz.OrgLevel(oc.role) < authz.OrgLevel(minRole) {
		return httpapi.Forbidden(fmt.Sprintf("this needs the organization role %s or higher; you are %s", minRole, oc.role))
	}
	return nil
}

// wsCtx is a resolved workspace with the caller's access to it.
type wsCtx struct {
	orgCtx
	ws  store.Workspace
	acc authz.WorkspaceAccess
}

// wsFor resolves {org} and {workspace}: 404 unless the workspace is in the
// organization and visible to the caller.
func (s *Service) wsFor(r *http.Request) (wsCtx, error) {
	if wc := resolvedFrom(r.Context()).wc; wc != nil {
		return *wc, nil
	}
	oc, err := s.orgFor(r)
	if err != nil {
		return wsCtx{}, err
	}
	ws, err := cached(r.Context(), resolvedFrom(r.Context()).ws, r.PathValue("workspace"), s.st.GetWorkspace)
	if errors.Is(err, store.ErrNotFound) || (err == nil && ws.OrgID != oc.org.ID) {
		return wsCtx{}, httpapi.NotFound("workspace")
	}
	if err != nil {
		return wsCtx{}, fmt.Errorf("get workspace: %w", err)
	}
	acc, err := s.az.Workspace(r.Context(), oc.p.UserID, oc.role, ws)
	if err != nil {
		return wsCtx{}, err
	}
	if !acc.Visible() {
		return wsCtx{}, httpapi.NotFound("workspace")
	}
	return wsCtx{orgCtx: oc, ws: ws, acc: acc}, nil
}

func (wc wsCtx) require(min authz.Level) error {
	if wc.acc.Workspace < min {
		return httpapi.Forbidden(fmt.Sprintf("this needs the workspace role %s; you have %s", min, wc.acc.Workspace))
	}
	return nil
}

// projectChain returns the ids of p and its ancestors.
func (s *Service) projectChain(ctx context.Context, p store.Project) ([]string, error) {
	return authz.ProjectChain(p, func(id string) (store.Project, error) { return s.st.GetProject(ctx, id) })
}

// projectFor resolves {project} in the workspace and the caller's level
// in it: a project the caller does not see is a 404, the answer of an
// unknown project (the rule ProjectVisible applies to every route under
// {project}).
func (s *Service) projectFor(r *http.Request, wc wsCtx) (store.Project, authz.Level, error) {
	get := func(ctx context.Context, ref string) (store.Project, error) {
		return cached(ctx, resolvedFrom(ctx).project, ref, s.st.GetProject)
	}
	p, err := ownedBy(r.Context(), get, r.PathValue("project"), wc.ws.ID, projectWorkspace, httpapi.NotFound("project"))
	if err != nil {
		return p, authz.None, err
	}
	chain, err := s.projectChain(r.Context(), p)
	if err != nil {
		return p, authz.None, err
	}
	lvl := wc.acc.ProjectLevel(chain...)
	if lvl == authz.None {
		return p, lvl, httpapi.NotFound("project")
	}
	return p, lvl, nil
}

// conflictField turns store.ErrConflict into a 409 naming field.
func conflictField(err error, field, detail string) error {
	if errors.Is(err, store.ErrConflict) {
		e := httpapi.Conflict(field, detail)
		e.Cause = err
		return e
	}
	return err
}

func newSecret() (token, hash string) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err))
	}
	token = base64.RawURLEncoding.EncodeToString(b[:])
	return token, hashSecret(token)
}

func hashSecret(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// decodeUserRef decodes an AddUserRequest and finds the org member it
// names by user id or email.
func (s *Service) decodeUserRef(r *http.Request, orgID string) (store.User, error) {
	var req api.AddUserRequest
	if err := httpapi.DecodeJSON(r, &req); err != nil {
		return store.User{}, err
	}
	ctx := r.Context()
	if (req.UserID == "") == (req.Email == "") {
		return store.User{}, httpapi.Invalid(httpapi.Field("user_id", "give exactly one of user_id and email"))
	}
	var (
		u   store.User
		err error
	)
	field := "user_id"
	if req.UserID != "" {
		u, err = s.st.GetUser(ctx, req.UserID)
	} else {
		field = "email"
		u, err = s.st.GetUserByEmail(ctx, req.Email)
	}
	if errors.Is(err, store.ErrNotFound) {
		return u, httpapi.Invalid(httpapi.Field(field, "no member of this organization has it"))
	}
	if err != nil {
		return u, fmt.Errorf("get user: %w", err)
	}
	if _, err := s.st.GetOrgMember(ctx, orgID, u.ID); errors.Is(err, store.ErrNotFound) {
		return u, httpapi.Invalid(httpapi.Field(field, "no member of this organization has it"))
	} else if err != nil {
		return u, fmt.Errorf("get org member: %w", err)
	}
	return u, nil
}
