package store

import (
	"context"
	"time"
)

// Kinds of a function trigger.
const (
	FunctionTriggerCron  = "cron"
	FunctionTriggerEvent = "event"
)

// FunctionTrigger runs a function on a schedule (kind cron) or on the
// events of a project's topic (kind event).
type FunctionTrigger struct {
	ID           string
	FunctionID   string
	FunctionName string
	OrgID        string
	WorkspaceID  string
	ProjectID    string
	Name         string // unique per function
	Kind         string // FunctionTriggerCron or FunctionTriggerEvent
	Schedule     string // cron
	TimeZone     string // cron; "" is UTC
	Topic        string // event
	Alias        string // "" is latest
	CreatedAt    time.Time
	// NextFireAt is the next scheduled time of a cron trigger not fired
	// yet; nil for an event trigger or a schedule without a next run.
	NextFireAt *time.Time
}

// FunctionCronFire is one scheduled time of a cron trigger that was fired.
type FunctionCronFire struct {
	TriggerID   string
	ScheduledAt time.Time
	// TaskID is the task that runs the fire; "" until one claims it.
	TaskID    string
	CreatedAt time.Time
}

// FunctionDeadLetter is an event a function failed to handle after its
// last attempt.
type FunctionDeadLetter struct {
	ID          string
	FunctionID  string
	TriggerName string
	Topic       string
	EventID     string
	Attempts    int
	LastError   string
	Payload     string
	CreatedAt   time.Time
}

// FunctionTriggerStore keeps function triggers, cron fires and dead
// letters. A function's triggers, fires and dead letters go with it.
type FunctionTriggerStore interface {
	// CreateFunctionTrigger inserts t. ErrConflict when the function has a
	// trigger of that name, or does not exist.
	CreateFunctionTrigger(ctx context.Context, t FunctionTrigger) error
	// GetFunctionTrigger finds a function's trigger by name.
	GetFunctionTrigger(ctx context.Context, functionID, name string) (FunctionTrigger, error)
	// GetFunctionTriggerByID finds a trigger by id.
	GetFunctionTriggerByID(ctx context.Context, id string) (FunctionTrigger, error)
	// ListFunctionTriggers lists a function's triggers by name.
	ListFunctionTriggers(ctx context.Context, functionID string) ([]FunctionTrigger, error)
	// ListFunctionTriggersByKind lists the triggers of every function
	// that are of kind, by id (not paged: it serves the reconciler).
	ListFunctionTriggersByKind(ctx context.Context, kind string) ([]FunctionTrigger, error)
	// ListDueCronTriggers lists up to limit cron triggers whose NextFireAt
	// is at or before now, earliest first.
	ListDueCronTriggers(ctx context.Context, now time.Time, limit int) ([]FunctionTrigger, error)
	// CountEventTriggers counts the event triggers of a project's topic.
	CountEventTriggers(ctx context.Context, projectID, topic string) (int, error)
	// AdvanceCronTrigger sets a cron trigger's NextFireAt to next (nil:
	// none) if it is still from: ErrConflict when another scheduler moved
	// it first, ErrNotFound when the trigger is gone.
	AdvanceCronTrigger(ctx context.Context, id string, from time.Time, next *time.Time) error
	// DeleteFunctionTrigger deletes a trigger and its fires; ErrNotFound
	// if absent.
	DeleteFunctionTrigger(ctx context.Context, id string) error

	// RecordCronFire inserts a fire: ErrConflict when that scheduled time
	// of the trigger was recorded already (it fired) or the trigger is
	// gone.
	RecordCronFire(ctx context.Context, f FunctionCronFire) error
	// ClaimCronFire makes taskID the fire's task unless another task
	// claimed it first, and returns the fire's task: taskID when the claim
	// held (or was made before by the same task). ErrNotFound when no such
	// fire is recorded.
	ClaimCronFire(ctx context.Context, triggerID string, scheduledAt time.Time, taskID string) (string, error)
	// ListUnclaimedCronFires lists up to limit fires no task has claimed
	// that were recorded at or before before, oldest first.
	ListUnclaimedCronFires(ctx context.Context, before time.Time, limit int) ([]FunctionCronFire, error)
	// DeleteCronFiresBefore forgets fires scheduled before t.
	DeleteCronFiresBefore(ctx context.Context, t time.Time) error

	// CreateFunctionDeadLetter records d unless the function already has
	// a dead letter of that trigger name and event id (then it does
	// nothing). ErrConflict when the function does not exist.
	CreateFunctionDeadLetter(ctx context.Context, d FunctionDeadLetter) error
	// ListFunctionDeadLetters lists a function's dead letters, newest
	// first (by ID, descending).
	ListFunctionDeadLetters(ctx context.Context, functionID string, p Page) ([]FunctionDeadLetter, string, error)
}
