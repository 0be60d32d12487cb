package store

import (
	"context"
	"time"
)

// Roles of an assistant chat message.
const (
	MessageUser      = "user"
	MessageAssistant = "assistant"
	MessageTool      = "tool"
)

// Statuses of a plan: pending until its user decides or it expires;
// confirmed is taken once (ConfirmPlan), then becomes done or failed.
const (
	PlanPending   = "pending"
	PlanConfirmed = "confirmed" // being executed
	PlanDone      = "done"      // executed, the cluster accepted it
	PlanFailed    = "failed"    // executed, the cluster refused it (Result says why)
	PlanRejected  = "rejected"
	PlanExpired   = "expired"
	PlanStale     = "stale" // the object changed since the plan: a fresh plan replaced it
)

// Chat is one conversation of a user with the assistant about one
// workspace (optionally one of its projects). It belongs to its user
// alone: nobody else lists, reads or deletes it.
type Chat struct {
	ID          string
	OrgID       string
	WorkspaceID string
	ProjectID   string // "" for the whole workspace
	UserID      string
	Title       string
	CreatedAt   time.Time
	UpdatedAt   time.Time // the last message
}

// ChatMessage is one message of a chat, in order (Seq from 1).
type ChatMessage struct {
	ID     string
	ChatID string
	Seq    int64
	Role   string // MessageUser, MessageAssistant or MessageTool
	// Content is the text (user, assistant) or the tool's result as the
	// model saw it (tool), size-capped by the caller.
	Content string
	// ToolCalls is the assistant's tool calls as JSON ([] of {id, name,
	// arguments}), "" when none.
	ToolCalls string
	// For a tool message: the call it answers, the tool, its arguments
	// (JSON, secrets redacted), whether it failed and the plan it made.
	ToolCallID string
	ToolName   string
	ToolArgs   string
	IsError    bool
	PlanID     string
	// Model is the model that wrote an assistant message.
	Model     string
	CreatedAt time.Time
}

// Plan is a write the assistant proposed: the exact request, its dry
// run and diff, bound to the user, the chat, the workspace, the request's
// hash and the object's resourceVersion. It is confirmed at most once, by
// its user, before ExpiresAt.
type Plan struct {
	ID          string
	OrgID       string
	WorkspaceID string
	ProjectID   string // "" when the object is not in a project
	UserID      string
	ChatID      string // "" for a plan made over MCP
	Tool        string
	Args        string // JSON, secrets redacted
	Summary     string // one line: "scale deployment web in shop from 2 to 5 replicas"
	// The request to the workspace's API server, as made on confirm.
	Method string
	Path   string // absolute API path with query, e.g. /apis/apps/v1/namespaces/p-x/deployments/web
	Body   string // JSON, "" for none
	Hash   string // hex SHA-256 of method, path and body
	// Guard is the object whose resourceVersion the plan was made
	// against (its API path, "" when none): it must be unchanged on confirm.
	GuardPath            string
	GuardResourceVersion string
	Before               string // the object before (YAML), "" when it does not exist yet
	After                string // the dry run's answer (YAML), "" for a delete
	Diff                 string // unified diff of Before and After
	Status               string // Plan* constants
	// Result is the outcome of the execution or why it was refused,
	// as shown to the user (JSON or text, size-capped).
	Result    string
	CreatedAt time.Time
	ExpiresAt time.Time
	DecidedAt time.Time // zero while pending
}

// AISettings are an organization's assistant settings.
type AISettings struct {
	OrgID   string
	Enabled bool
	// MonthlyTokenBudget caps the tokens (prompt + completion) the
	// organization's chats use per calendar month (UTC); 0 = no cap.
	MonthlyTokenBudget int64
	UpdatedAt          time.Time
	Version            int64 // counts the updates; 0 = never set (the defaults)
}

// Meters of the usage ledger.
const (
	MeterAIPromptTokens     = "ai.prompt_tokens"
	MeterAICompletionTokens = "ai.completion_tokens"
	// MeterFnInvocations counts function invocations (1 each).
	MeterFnInvocations = "fn.invocations"
	// MeterFnMemoryMiBMs is an invocation's instance memory (MiB) times
	// its duration (ms); GiB-seconds = quantity / 1,048,576,000.
	MeterFnMemoryMiBMs = "fn.memory_mib_ms"
)

// UsageRecord is one entry of the usage ledger: what an organization
// consumed, recorded once (ID is the idempotency key: the same ID twice
// is one record).
type UsageRecord struct {
	ID          string
	OrgID       string
	WorkspaceID string // "" when not about a workspace
	UserID      string // "" when not caused by a user
	Meter       string // Meter* constants; later issues add theirs
	// Subject qualifies the meter: the model for AI tokens.
	Subject    string
	Quantity   int64
	RecordedAt time.Time
}

// UsageFilter selects ledger entries: zero fields match everything.
type UsageFilter struct {
	OrgID       string
	WorkspaceID string
	UserID      string
	Meters      []string
	Since       time.Time // inclusive
	Until       time.Time // exclusive; zero = no end
}

// UsageTotal is the sum of a meter for one (workspace, user, subject).
type UsageTotal struct {
	Meter       string
	WorkspaceID string
	UserID      string
	Subject     string
	Quantity    int64
}

// AIStore keeps the assistant's chats, messages, plans and settings,
// and the usage ledger.
type AIStore interface {
	// CreateChat: ErrConflict if its ID exists or its org, workspace,
	// project or user does not.
	CreateChat(ctx context.Context, c Chat) error
	GetChat(ctx context.Context, id string) (Chat, error)
	// ListChats lists a user's chats in a workspace, newest first (by
	// ID descending).
	ListChats(ctx context.Context, userID, workspaceID string, p Page) ([]Chat, string, error)
	// SetChatTitle names a chat; ErrNotFound if it does not exist.
	SetChatTitle(ctx context.Context, id, title string) error
	// DeleteChat removes a chat, its messages and its plans.
	DeleteChat(ctx context.Context, id string) error
	// AppendMessages adds messages to a chat in one transaction, giving
	// them the next Seq numbers (the ones in the arguments are ignored and
	// the stored values returned), and sets the chat's UpdatedAt to now.
	// ErrNotFound if the chat does not exist.
	AppendMessages(ctx context.Context, chatID string, now time.Time, ms ...ChatMessage) ([]ChatMessage, error)
	// ListMessages lists a chat's messages in Seq order.
	ListMessages(ctx context.Context, chatID string) ([]ChatMessage, error)

	CreatePlan(ctx context.Context, p Plan) error
	GetPlan(ctx context.Context, id string) (Plan, error)
	// ListPlans lists a chat's plans, oldest first.
	ListPlans(ctx context.Context, chatID string) ([]Plan, error)
	// DecidePlan moves a plan from status `from` to `to` with DecidedAt =
	// now, only if it is in `from` (compare-and-swap: ErrConflict if it
	// is not, ErrNotFound if there is no such plan). It is how a plan is
	// confirmed once.
	DecidePlan(ctx context.Context, id, from, to string, now time.Time) error
	// SetPlanResult replaces a plan's Result (the note on a stale plan of
	// the plan that replaced it); ErrNotFound if there is no such plan.
	SetPlanResult(ctx context.Context, id, result string) error
	// FinishPlan records a confirmed plan's outcome (PlanDone, PlanFailed
	// or PlanStale) and Result; ErrConflict unless it is PlanConfirmed.
	FinishPlan(ctx context.Context, id, status, result string) error

	// GetAISettings answers an organization's settings; an organization
	// that never set them gets the defaults (Enabled, no budget, Version 0).
	GetAISettings(ctx context.Context, orgID string) (AISettings, error)
	// PutAISettings stores them if the stored Version is s.Version
	// (compare-and-swap; 0 = never set), incrementing it; ErrConflict
	// otherwise or if the organization does not exist.
	PutAISettings(ctx context.Context, s AISettings) (AISettings, error)

	// RecordUsage appends ledger entries in one transaction; an entry
	// whose ID exists is skipped (idempotent retries). Like the audit log,
	// entries reference no other table: they outlive the workspaces,
	// users and organizations they name (billing reads them later).
	RecordUsage(ctx context.Context, rs ...UsageRecord) error
	// SumUsage totals the entries matching f by meter, workspace, user
	// and subject, sorted by those.
	SumUsage(ctx context.Context, f UsageFilter) ([]UsageTotal, error)
}
