package aiops

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/hexabase/hexabase-ai/internal/aiops/llm"
	"github.com/hexabase/hexabase-ai/internal/aiops/tools"
	"github.com/hexabase/hexabase-ai/internal/httpapi"
	"github.com/hexabase/hexabase-ai/internal/required"
	"github.com/hexabase/hexabase-ai/internal/store"
	"github.com/hexabase/hexabase-ai/internal/tenancy"
)

// Store is what the assistant needs of the platform's store.
type Store interface {
	store.AIStore
	GetOrgMember(ctx context.Context, orgID, userID string) (store.OrgMember, error)
	ListUserOrganizations(ctx context.Context, userID string, p store.Page) ([]store.Organization, string, error)
	ListWorkspaces(ctx context.Context, orgID string, p store.Page) ([]store.Workspace, string, error)
	ListCronJobRuns(ctx context.Context, workspaceID, namespace, cronJob string, p store.Page) ([]store.CronJobRun, string, error)
}

var _ Store = (store.Store)(nil)

// Scopes resolves requests' paths and references for their callers
// (*tenancy.Service implements it).
type Scopes interface {
	ResolveWorkspace(r *http.Request) (tenancy.WorkspaceScope, error)
	ResolveProject(r *http.Request) (tenancy.ProjectScope, error)
	ResolveWorkspaceRefs(ctx context.Context, p httpapi.Principal, org, workspace string) (tenancy.WorkspaceScope, error)
}

var _ Scopes = (*tenancy.Service)(nil)

// Auditor writes audit records of what is not an HTTP request of its own
// (*audit.Log implements it).
type Auditor interface {
	Append(ctx context.Context, rec store.AuditRecord)
}

// Defaults of the caps.
const (
	DefaultMaxToolCalls    = 8
	DefaultTurnTimeout     = 2 * time.Minute
	DefaultToolOutputBytes = 16 << 10
	// PlanTTL is how long a plan may be confirmed.
	PlanTTL = 5 * time.Minute
	// MaxMessageChars bounds a user's message.
	MaxMessageChars = 8000
	// historyBytes bounds the past messages a turn sends the model.
	historyBytes = 64 << 10
)

// Config carries the Service's dependencies. Store, Scopes, Tokens,
// Gateway, ExternalURL, Tools, Audit, Logger and Now are required.
type Config struct {
	Store  Store
	Scopes Scopes
	Tokens Tokens
	// Gateway is the workspace API gateway's handler, which every tool's
	// request goes through with the caller's workspace token.
	Gateway http.Handler
	// Platform, if not nil, is the platform's own API handler, which the
	// functions tools call in process as the caller (tools.Target's
	// Platform); nil: those tools answer that they are not available.
	Platform    http.Handler
	ExternalURL string
	Tools       *tools.Registry
	Audit       Auditor
	// Models are the configured providers, the first the default; none is
	// a supported mode (the analyzers and plans still work).
	Models []*llm.Client
	// Caps of one turn.
	MaxToolCalls    int
	TurnTimeout     time.Duration
	ToolOutputBytes int
	Logger          *slog.Logger
	Now             func() time.Time
}

// Service serves the assistant's routes. A zero Service only serves
// Routes for the OpenAPI document.
type Service struct {
	cfg Config
	// discovery shares each workspace cluster's discovery between the
	// turns' and calls' Targets (fetched as their callers).
	discovery *tools.DiscoveryCache

	mu    sync.Mutex
	turns map[string]bool // chats with a turn running
	// running counts the turns running per user and per organization.
	running map[string]int
	// maskKey keys the anonymizer's masks: random, this process's own.
	maskKey []byte
}

// Caps of the turns running at once: a user's, an organization's. They
// bound how far concurrent turns can go past a token budget (each checks
// it before it starts).
const (
	maxTurnsPerUser = 2
	maxTurnsPerOrg  = 8
)

// New builds a Service.
func New(cfg Config) (*Service, error) {
	if err := required.Fields("aiops", cfg, "Store", "Scopes", "Tokens", "Gateway", "ExternalURL", "Tools", "Audit", "Logger", "Now"); err != nil {
		return nil, err
	}
	if cfg.MaxToolCalls < 0 || cfg.TurnTimeout < 0 || cfg.ToolOutputBytes < 0 {
		return nil, errors.New("aiops: caps must not be negative")
	}
	if cfg.MaxToolCalls == 0 {
		cfg.MaxToolCalls = DefaultMaxToolCalls
	}
	if cfg.TurnTimeout == 0 {
		cfg.TurnTimeout = DefaultTurnTimeout
	}
	if cfg.ToolOutputBytes == 0 {
		cfg.ToolOutputBytes = DefaultToolOutputBytes
	}
	seen := map[string]bool{}
	for _, m := range cfg.Models {
		n := m.Provider().Name
		if seen[n] {
			return nil, fmt.Errorf("aiops: provider %q configured twice", n)
		}
		seen[n] = true
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("aiops: anonymizer key: %w", err)
	}
	return &Service{cfg: cfg, turns: map[string]bool{}, running: map[string]int{}, maskKey: key,
		discovery: tools.NewDiscoveryCache(0, cfg.Now)}, nil
}

// model is the provider a message asks for ("" = the default).
func (s *Service) model(name string) (*llm.Client, error) {
	if len(s.cfg.Models) == 0 {
		return nil, noModel()
	}
	if name == "" {
		return s.cfg.Models[0], nil
	}
	for _, m := range s.cfg.Models {
		if m.Provider().Name == name {
			return m, nil
		}
	}
	return nil, httpapi.Invalid(httpapi.Field("provider", fmt.Sprintf("%q is not a configured provider", name)))
}

func noModel() *httpapi.Error {
	return &httpapi.Error{Status: http.StatusConflict, Type: "no-model", Title: "No model is set up",
		Detail: "no model is set up on this platform: an operator adds one under ai.providers (docs/assistant.md). " +
			"The analyzers work without one: `hks ai diagnose` or GET …/diagnose"}
}

// begin marks a turn of chat as running: one at a time per chat, and at
// most so many per user and per organization.
func (s *Service) begin(chat store.Chat) (end func(), err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.turns[chat.ID] {
		return nil, httpapi.Conflict("", "this chat is answering a message already: wait for it to finish")
	}
	user, org := "user:"+chat.UserID, "org:"+chat.OrgID
	if s.running[user] >= maxTurnsPerUser || s.running[org] >= maxTurnsPerOrg {
		return nil, &httpapi.Error{Status: http.StatusTooManyRequests, Type: "too-many-turns", Title: "Too many answers at once",
			Detail: fmt.Sprintf("at most %d of your messages (and %d of your organization's) are answered at once: wait for one to finish", maxTurnsPerUser, maxTurnsPerOrg),
			Header: http.Header{"Retry-After": {"5"}}}
	}
	s.turns[chat.ID] = true
	s.running[user]++
	s.running[org]++
	return func() {
		s.mu.Lock()
		delete(s.turns, chat.ID)
		for _, k := range []string{user, org} {
			if s.running[k]--; s.running[k] <= 0 {
				delete(s.running, k)
			}
		}
		s.mu.Unlock()
	}, nil
}
