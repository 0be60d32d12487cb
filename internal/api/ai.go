package api

import (
	"encoding/json"
	"time"
)

// AIStatus is what the assistant can do on this platform for the caller's
// organization.
type AIStatus struct {
	Enabled bool `json:"enabled" doc:"the organization has the assistant on (its admins may turn it off)"`
	// Models are the models the operator configured; empty: no model is set
	// up, and only the analyzers and the deterministic commands work.
	Models []AIModel `json:"models"`
	Tools  []AITool  `json:"tools" doc:"the tools the assistant (and MCP) offers"`
}

// AIModel is one configured model (never its key).
type AIModel struct {
	Provider  string `json:"provider"`
	Model     string `json:"model"`
	Default   bool   `json:"default"`
	Anonymize bool   `json:"anonymize" doc:"names of objects are masked before they reach this provider"`
}

// AITool is one tool of the registry.
type AITool struct {
	Name        string          `json:"name"`
	Description string          `json:"description"`
	Effect      string          `json:"effect" doc:"read, or write: a write never runs without a confirmed plan"`
	Schema      json.RawMessage `json:"schema" doc:"JSON schema of the arguments"`
}

// CreateChatRequest starts a chat about a workspace, or one of its projects.
type CreateChatRequest struct {
	Project string `json:"project,omitempty" doc:"id or name of a project the chat is about (default: the whole workspace)"`
	Title   string `json:"title,omitempty" doc:"at most 200 characters (default: from the first message)"`
}

// AIChat is a chat of its user with the assistant.
type AIChat struct {
	ID          string    `json:"id"`
	OrgID       string    `json:"org_id"`
	WorkspaceID string    `json:"workspace_id"`
	ProjectID   string    `json:"project_id,omitempty"`
	Project     string    `json:"project,omitempty" doc:"the project's name"`
	Title       string    `json:"title"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// AIChatDetail is a chat with its messages and plans.
type AIChatDetail struct {
	AIChat
	Messages []AIMessage `json:"messages"`
	Plans    []AIPlan    `json:"plans"`
}

// AIToolCall is a tool call the model asked for.
type AIToolCall struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Arguments string `json:"arguments" doc:"JSON text, secrets redacted"`
}

// AIMessage is one message of a chat.
type AIMessage struct {
	ID         string       `json:"id"`
	Seq        int64        `json:"seq"`
	Role       string       `json:"role" doc:"user, assistant or tool"`
	Content    string       `json:"content" doc:"the text; for a tool message its result as the model saw it (size-capped, secrets redacted)"`
	ToolCalls  []AIToolCall `json:"tool_calls,omitempty"`
	ToolCallID string       `json:"tool_call_id,omitempty"`
	Tool       string       `json:"tool,omitempty"`
	ToolArgs   string       `json:"tool_args,omitempty"`
	IsError    bool         `json:"is_error,omitempty"`
	PlanID     string       `json:"plan_id,omitempty" doc:"the plan a write tool made"`
	Model      string       `json:"model,omitempty"`
	CreatedAt  time.Time    `json:"created_at"`
}

// SendMessageRequest is the user's next message in a chat.
type SendMessageRequest struct {
	Content  string `json:"content" doc:"1 to 8,000 characters"`
	Provider string `json:"provider,omitempty" doc:"the configured provider to ask (default: the first)"`
}

// AIUsage is the tokens a turn used.
type AIUsage struct {
	PromptTokens     int64 `json:"prompt_tokens"`
	CompletionTokens int64 `json:"completion_tokens"`
}

// AITurn is the answer to a message: what the turn added to the chat.
// Asked with Accept: text/event-stream, the same turn streams as
// Server-Sent Events (docs/assistant.md): delta, message, plan, done or
// error.
type AITurn struct {
	ChatID   string      `json:"chat_id"`
	Messages []AIMessage `json:"messages" doc:"the user's message and what followed it, in order"`
	Plans    []AIPlan    `json:"plans" doc:"plans the turn made, each waiting for its user's confirmation"`
	Usage    AIUsage     `json:"usage"`
	Provider string      `json:"provider,omitempty"`
	Model    string      `json:"model,omitempty"`
	Stopped  string      `json:"stopped,omitempty" doc:"why the turn ended early: tool-call cap, time cap, provider error"`
}

// AIDelta is a piece of the assistant's reply as it streams.
type AIDelta struct {
	Text string `json:"text"`
}

// AIPlan is a write the assistant proposed: the exact request, its server-side
// dry run and the diff of the object. Only its user confirms it, once,
// before it expires.
type AIPlan struct {
	ID          string     `json:"id"`
	ChatID      string     `json:"chat_id,omitempty"`
	OrgID       string     `json:"org_id"`
	WorkspaceID string     `json:"workspace_id"`
	Tool        string     `json:"tool"`
	Args        string     `json:"args" doc:"JSON, secrets redacted"`
	Summary     string     `json:"summary"`
	Target      string     `json:"target" doc:"what the request goes to: workspace (the workspace cluster's API server) or platform (the platform's own API, such as a function's deploy)"`
	Method      string     `json:"method"`
	Path        string     `json:"path" doc:"the API path the request goes to: the workspace cluster's (Kubernetes) or, for a platform plan, the platform's"`
	Body        string     `json:"body,omitempty" doc:"the request's body (JSON), secrets redacted"`
	Diff        string     `json:"diff" doc:"unified diff of the object before and after (the dry run's answer)"`
	Status      string     `json:"status" doc:"pending, confirmed, done, failed, rejected, expired or stale"`
	Result      string     `json:"result,omitempty" doc:"what the cluster answered on confirm"`
	CreatedAt   time.Time  `json:"created_at"`
	ExpiresAt   time.Time  `json:"expires_at"`
	DecidedAt   *time.Time `json:"decided_at,omitempty"`
	ConfirmURL  string     `json:"confirm_url" doc:"the console page to review and confirm it"`
}

// AISettings are an organization's assistant settings and its use this month.
type AISettings struct {
	Enabled            bool      `json:"enabled"`
	MonthlyTokenBudget int64     `json:"monthly_token_budget" doc:"tokens per calendar month (UTC) for the organization's chats; 0 = no cap"`
	UsedThisMonth      int64     `json:"used_this_month" doc:"tokens used since the month began"`
	ResetsAt           time.Time `json:"resets_at" doc:"when the month's count starts again"`
	ResourceVersion    string    `json:"resource_version"`
	UpdatedAt          time.Time `json:"updated_at,omitzero"`
}

// PatchAISettingsRequest changes an organization's assistant settings (a
// JSON merge patch; If-Match or resource_version make it conditional).
type PatchAISettingsRequest struct {
	Enabled            *bool  `json:"enabled,omitempty"`
	MonthlyTokenBudget *int64 `json:"monthly_token_budget,omitempty" doc:"0 to 1,000,000,000,000; 0 = no cap"`
	ResourceVersion    string `json:"resource_version,omitempty"`
}

// UsageTotal is a sum of one meter of the usage ledger.
type UsageTotal struct {
	Meter       string `json:"meter" doc:"such as ai.prompt_tokens, ai.completion_tokens"`
	WorkspaceID string `json:"workspace_id,omitempty"`
	UserID      string `json:"user_id,omitempty"`
	Subject     string `json:"subject,omitempty" doc:"the model, for AI tokens"`
	Quantity    int64  `json:"quantity"`
}

// UsageReport is an organization's usage over a period.
type UsageReport struct {
	Since  time.Time    `json:"since"`
	Until  time.Time    `json:"until"`
	Totals []UsageTotal `json:"totals"`
}
