package store

import (
	"context"
	"time"
)

// Statuses of a CronJob run.
const (
	RunRunning   = "running"
	RunSucceeded = "succeeded"
	RunFailed    = "failed"
)

// Triggers of a CronJob run.
const (
	TriggerSchedule = "schedule"
	TriggerManual   = "manual"
)

// CronJobRun is one Job of a CronJob in a workspace cluster, as the
// platform recorded it: the record outlives the cluster's history limits.
type CronJobRun struct {
	// ID is assigned by the platform when the run is first seen (NewID:
	// time-ordered).
	ID          string
	WorkspaceID string
	Namespace   string
	CronJob     string
	// Job is the Job's name and JobUID its uid (a Job deleted and made
	// again under the same name is another run).
	Job         string
	JobUID      string
	Trigger     string // TriggerSchedule or TriggerManual
	Status      string // RunRunning, RunSucceeded or RunFailed
	Message     string // why a run failed
	StartedAt   time.Time
	CompletedAt time.Time // zero while running
	UpdatedAt   time.Time
}

// CronJobStore keeps CronJob execution history.
type CronJobStore interface {
	// UpsertCronJobRun records a run, keyed by workspace and JobUID: a new
	// one is inserted with r.ID, a known one gets r's status, message,
	// times and updated_at (its ID, names and trigger stay). ErrConflict
	// if the workspace does not exist.
	UpsertCronJobRun(ctx context.Context, r CronJobRun) error
	// ListCronJobRuns lists the runs of one CronJob, newest first (by ID,
	// descending); the cursor continues with older runs.
	ListCronJobRuns(ctx context.Context, workspaceID, namespace, cronJob string, p Page) ([]CronJobRun, string, error)
	// DeleteCronJobRuns forgets the runs of one CronJob.
	DeleteCronJobRuns(ctx context.Context, workspaceID, namespace, cronJob string) error
}
