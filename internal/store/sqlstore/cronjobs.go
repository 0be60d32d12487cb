package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/hexabase/hexabase-ai/internal/store"
)

// CronJob runs.

const cronJobRunCols = "id, workspace_id, namespace, cronjob, job, job_uid, run_trigger, status, message, started_at, completed_at, updated_at"

func scanCronJobRun(r rowScanner) (store.CronJobRun, error) {
	var (
		c    store.CronJobRun
		done *time.Time
	)
	err := r.Scan(&c.ID, &c.WorkspaceID, &c.Namespace, &c.CronJob, &c.Job, &c.JobUID, &c.Trigger, &c.Status, &c.Message,
		timeScan{&c.StartedAt}, nullTimeScan{&done}, timeScan{&c.UpdatedAt})
	if done != nil {
		c.CompletedAt = *done
	}
	return c, err
}

func (s *Store) UpsertCronJobRun(ctx context.Context, r store.CronJobRun) error {
	var done *time.Time
	if !r.CompletedAt.IsZero() {
		t := r.CompletedAt.UTC().Truncate(time.Microsecond)
		done = &t
	}
	return s.write(ctx, "upsert cronjob run", `INSERT INTO cronjob_runs (`+cronJobRunCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (workspace_id, job_uid) DO UPDATE SET status = excluded.status, message = excluded.message,
  started_at = excluded.started_at, completed_at = excluded.completed_at, updated_at = excluded.updated_at`,
		r.ID, r.WorkspaceID, r.Namespace, r.CronJob, r.Job, r.JobUID, r.Trigger, r.Status, r.Message, r.StartedAt, done, r.UpdatedAt)
}

func (s *Store) ListCronJobRuns(ctx context.Context, workspaceID, namespace, cronJob string, p store.Page) ([]store.CronJobRun, string, error) {
	before, err := store.DecodeCursor(p.After)
	if err != nil {
		return nil, "", fmt.Errorf("list cronjob runs: %w", err)
	}
	q := "SELECT " + cronJobRunCols + " FROM cronjob_runs WHERE workspace_id = ? AND namespace = ? AND cronjob = ?"
	args := []any{workspaceID, namespace, cronJob}
	if before != "" {
		q += " AND id < ?"
		args = append(args, before)
	}
	return newestFirst(ctx, s, "list cronjob runs", p.EffectiveLimit(), scanCronJobRun, func(r store.CronJobRun) string { return r.ID }, q, args...)
}

func (s *Store) DeleteCronJobRuns(ctx context.Context, workspaceID, namespace, cronJob string) error {
	return s.write(ctx, "delete cronjob runs", "DELETE FROM cronjob_runs WHERE workspace_id = ? AND namespace = ? AND cronjob = ?", workspaceID, namespace, cronJob)
}
