package store

import (
	"context"
	"time"
)

// Access of a function's HTTP trigger.
const (
	FunctionPrivate = "private" // a platform token of a developer of the project
	FunctionPublic  = "public"  // anyone with the URL
)

// Statuses of an invocation.
const (
	InvocationQueued    = "queued"
	InvocationRunning   = "running"
	InvocationSucceeded = "succeeded"
	InvocationFailed    = "failed"
)

// AliasLatest is the alias every deploy moves to its new version.
const AliasLatest = "latest"

// AliasTarget is one version an alias sends a share of its calls to.
type AliasTarget struct {
	Version int `json:"version"`
	Weight  int `json:"weight"`
}

// FunctionAlias is a named pointer at one or two versions; Previous is
// what it pointed at before its last change (what a rollback returns to).
type FunctionAlias struct {
	Name     string        `json:"name"`
	Targets  []AliasTarget `json:"targets"`
	Previous []AliasTarget `json:"previous,omitempty"`
}

// FunctionLimits bound a version's instances and invocations.
type FunctionLimits struct {
	MemoryMB       int `json:"memory_mb"`
	TimeoutSeconds int `json:"timeout_seconds"`
	Concurrency    int `json:"concurrency"`
	MaxInstances   int `json:"max_instances"`
}

// Function is a function of a project: its settings, aliases and sealed
// secrets; its code is in its versions.
type Function struct {
	ID          string
	OrgID       string
	WorkspaceID string
	ProjectID   string
	Name        string // unique in the project
	Runtime     string
	Access      string // FunctionPrivate or FunctionPublic
	Description string
	// LatestVersion is the newest version's number (versions count from 1).
	LatestVersion int
	Aliases       []FunctionAlias
	// Secrets are sealed by the caller: name → sealed value.
	Secrets   map[string][]byte
	ExpiresAt time.Time // zero: never
	CreatedAt time.Time
	UpdatedAt time.Time
	Version   int64 // counts the updates (compare-and-swap)
}

// Alias returns the function's alias name and whether it has one.
func (f Function) Alias(name string) (FunctionAlias, bool) {
	for _, a := range f.Aliases {
		if a.Name == name {
			return a, true
		}
	}
	return FunctionAlias{}, false
}

// FunctionVersion is one immutable deploy of a function.
type FunctionVersion struct {
	FunctionID string
	Version    int
	Digest     string // hex sha256 of code, runtime, env and limits
	Filename   string
	// Content is the uploaded file; ListFunctionVersions leaves it nil
	// and fills Size only.
	Content     []byte
	Size        int64
	Env         map[string]string
	Limits      FunctionLimits
	CreatedBy   string // user id, "" when not a user's
	BuildMillis int64
	CreatedAt   time.Time
}

// Invocation is the record of one call of a function.
type Invocation struct {
	ID          string
	FunctionID  string
	OrgID       string
	WorkspaceID string
	Version     int
	Alias       string
	Trigger     string // http, api, async, cron, event, assistant
	Status      string // Invocation* constants
	ExitReason  string
	ColdStart   bool
	StartedAt   time.Time
	DurationMS  float64
	Logs        string
	Response    string // JSON of the response, kept for async calls; "" none
	Error       string
	FinishedAt  time.Time // zero while queued or running
}

// FunctionStore keeps functions, their versions and their invocations.
// Deleting a function, its project, workspace or organization removes
// its versions and invocations.
type FunctionStore interface {
	// CreateFunction inserts f and its first version v (v.Version and
	// f.LatestVersion are 1) in one transaction. ErrConflict when the
	// project has a function of that name, the id exists, or the
	// organization, workspace or project does not.
	CreateFunction(ctx context.Context, f Function, v FunctionVersion) error
	GetFunction(ctx context.Context, id string) (Function, error)
	// GetFunctionByName: ErrNotFound when the project has none.
	GetFunctionByName(ctx context.Context, projectID, name string) (Function, error)
	// ListFunctions lists a project's functions by name.
	ListFunctions(ctx context.Context, projectID string, p Page) ([]Function, string, error)
	// UpdateFunction is a compare-and-swap like UpdateOrganization: it
	// writes access, description, aliases, secrets, expires_at and
	// updated_at as update returns them, with Version one higher.
	UpdateFunction(ctx context.Context, id string, update func(Function) (Function, error)) (Function, error)
	// AddFunctionVersion adds version old.LatestVersion+1 (v's Version
	// is set so) and writes what update returns, as UpdateFunction, with
	// LatestVersion the new number, in one transaction.
	AddFunctionVersion(ctx context.Context, id string, v FunctionVersion, update func(Function) (Function, error)) (Function, FunctionVersion, error)
	// DeleteFunction removes it, its versions and its invocations.
	DeleteFunction(ctx context.Context, id string) error
	// ListExpiredFunctions lists the functions of every project whose
	// ExpiresAt is set and not after now.
	ListExpiredFunctions(ctx context.Context, now time.Time) ([]Function, error)

	GetFunctionVersion(ctx context.Context, functionID string, version int) (FunctionVersion, error)
	// ListFunctionVersions lists the versions newest first, without
	// their Content (Size is set).
	ListFunctionVersions(ctx context.Context, functionID string) ([]FunctionVersion, error)

	// CreateInvocation: ErrConflict if the id exists or the function
	// does not.
	CreateInvocation(ctx context.Context, inv Invocation) error
	GetInvocation(ctx context.Context, id string) (Invocation, error)
	// FinishInvocation writes status, exit reason, cold start, started
	// at, duration, logs, response, error, version, alias and finished at
	// of a recorded invocation; ErrNotFound if none, ErrConflict if it is
	// already finished (succeeded or failed).
	FinishInvocation(ctx context.Context, inv Invocation) error
	// ListInvocations lists a function's invocations newest first (by
	// StartedAt, then id).
	ListInvocations(ctx context.Context, functionID string, p Page) ([]Invocation, string, error)
	// CountUnfinishedInvocations counts a function's invocations that are
	// queued or running (asynchronous ones not finished yet).
	CountUnfinishedInvocations(ctx context.Context, functionID string) (int, error)
	// DeleteInvocationsBefore removes every invocation started before
	// t and answers how many.
	DeleteInvocationsBefore(ctx context.Context, t time.Time) (int, error)
}
