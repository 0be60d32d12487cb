package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/hexabase/hexabase-ai/internal/store"
)

// Function triggers, cron fires and dead letters.

const functionTriggerCols = "id, function_id, function_name, org_id, workspace_id, project_id, name, kind, schedule, time_zone, topic, alias, created_at, next_fire_at"

func scanFunctionTrigger(r rowScanner) (store.FunctionTrigger, error) {
	var t store.FunctionTrigger
	err := r.Scan(&t.ID, &t.FunctionID, &t.FunctionName, &t.OrgID, &t.WorkspaceID, &t.ProjectID, &t.Name, &t.Kind, &t.Schedule, &t.TimeZone,
		&t.Topic, &t.Alias, timeScan{&t.CreatedAt}, nullTimeScan{&t.NextFireAt})
	return t, err
}

func (s *Store) CreateFunctionTrigger(ctx context.Context, t store.FunctionTrigger) error {
	return s.write(ctx, "create function trigger", `INSERT INTO function_triggers (`+functionTriggerCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		t.ID, t.FunctionID, t.FunctionName, t.OrgID, t.WorkspaceID, t.ProjectID, t.Name, t.Kind, t.Schedule, t.TimeZone, t.Topic, t.Alias, t.CreatedAt, t.NextFireAt)
}

func (s *Store) GetFunctionTrigger(ctx context.Context, functionID, name string) (store.FunctionTrigger, error) {
	return get(ctx, s, "get function trigger", scanFunctionTrigger, "SELECT "+functionTriggerCols+" FROM function_triggers WHERE function_id = ? AND name = ?", functionID, name)
}

func (s *Store) GetFunctionTriggerByID(ctx context.Context, id string) (store.FunctionTrigger, error) {
	return get(ctx, s, "get function trigger", scanFunctionTrigger, "SELECT "+functionTriggerCols+" FROM function_triggers WHERE id = ?", id)
}

func (s *Store) ListFunctionTriggers(ctx context.Context, functionID string) ([]store.FunctionTrigger, error) {
	return all(ctx, s, "list function triggers", scanFunctionTrigger, "SELECT "+functionTriggerCols+" FROM function_triggers WHERE function_id = ? ORDER BY name", functionID)
}

func (s *Store) ListFunctionTriggersByKind(ctx context.Context, kind string) ([]store.FunctionTrigger, error) {
	return all(ctx, s, "list function triggers", scanFunctionTrigger, "SELECT "+functionTriggerCols+" FROM function_triggers WHERE kind = ? ORDER BY id", kind)
}

func (s *Store) ListDueCronTriggers(ctx context.Context, now time.Time, limit int) ([]store.FunctionTrigger, error) {
	return all(ctx, s, "list due cron triggers", scanFunctionTrigger, "SELECT "+functionTriggerCols+
		" FROM function_triggers WHERE kind = ? AND next_fire_at IS NOT NULL AND next_fire_at <= ? ORDER BY next_fire_at, id LIMIT ?",
		store.FunctionTriggerCron, now, limit)
}

func (s *Store) CountEventTriggers(ctx context.Context, projectID, topic string) (int, error) {
	return s.count(ctx, "count event triggers", "SELECT COUNT(*) FROM function_triggers WHERE project_id = ? AND topic = ? AND kind = ?",
		projectID, topic, store.FunctionTriggerEvent)
}

func (s *Store) AdvanceCronTrigger(ctx context.Context, id string, from time.Time, next *time.Time) error {
	return s.inTxAs(ctx, "advance cron trigger", func(tx *sql.Tx) error {
		res, err := s.exec(ctx, tx, "UPDATE function_triggers SET next_fire_at = ? WHERE id = ? AND next_fire_at = ?", next, id, from)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 1 {
			return err
		}
		ok, err := s.exists(ctx, tx, "SELECT 1 FROM function_triggers WHERE id = ?", id)
		if err != nil {
			return err
		}
		if !ok {
			return store.ErrNotFound
		}
		return store.ErrConflict
	})
}

func (s *Store) DeleteFunctionTrigger(ctx context.Context, id string) error {
	return s.writeOne(ctx, "delete function trigger", "DELETE FROM function_triggers WHERE id = ?", id)
}

const cronFireCols = "trigger_id, scheduled_at, task_id, created_at"

func scanCronFire(r rowScanner) (store.FunctionCronFire, error) {
	var f store.FunctionCronFire
	err := r.Scan(&f.TriggerID, timeScan{&f.ScheduledAt}, &f.TaskID, timeScan{&f.CreatedAt})
	return f, err
}

func (s *Store) RecordCronFire(ctx context.Context, f store.FunctionCronFire) error {
	return s.write(ctx, "record cron fire", "INSERT INTO function_cron_fires ("+cronFireCols+") VALUES (?, ?, ?, ?)",
		f.TriggerID, f.ScheduledAt, f.TaskID, f.CreatedAt)
}

func (s *Store) ClaimCronFire(ctx context.Context, triggerID string, scheduledAt time.Time, taskID string) (string, error) {
	var owner string
	err := s.inTxAs(ctx, "claim cron fire", func(tx *sql.Tx) error {
		if _, err := s.exec(ctx, tx, "UPDATE function_cron_fires SET task_id = ? WHERE trigger_id = ? AND scheduled_at = ? AND task_id = ''",
			taskID, triggerID, scheduledAt); err != nil {
			return err
		}
		f, err := getOne(ctx, s, tx, scanCronFire, "SELECT "+cronFireCols+" FROM function_cron_fires WHERE trigger_id = ? AND scheduled_at = ?", triggerID, scheduledAt)
		owner = f.TaskID
		return err
	})
	return owner, err
}

func (s *Store) ListUnclaimedCronFires(ctx context.Context, before time.Time, limit int) ([]store.FunctionCronFire, error) {
	return all(ctx, s, "list unclaimed cron fires", scanCronFire, "SELECT "+cronFireCols+
		" FROM function_cron_fires WHERE task_id = '' AND created_at <= ? ORDER BY created_at, trigger_id LIMIT ?", before, limit)
}

func (s *Store) DeleteCronFiresBefore(ctx context.Context, t time.Time) error {
	return s.write(ctx, "delete cron fires", "DELETE FROM function_cron_fires WHERE scheduled_at < ?", t)
}

const deadLetterCols = "id, function_id, trigger_name, topic, event_id, attempts, last_error, payload, created_at"

func scanDeadLetter(r rowScanner) (store.FunctionDeadLetter, error) {
	var d store.FunctionDeadLetter
	err := r.Scan(&d.ID, &d.FunctionID, &d.TriggerName, &d.Topic, &d.EventID, &d.Attempts, &d.LastError, &d.Payload, timeScan{&d.CreatedAt})
	return d, err
}

func (s *Store) CreateFunctionDeadLetter(ctx context.Context, d store.FunctionDeadLetter) error {
	return s.write(ctx, "create function dead letter", "INSERT INTO function_dead_letters ("+deadLetterCols+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"+
		" ON CONFLICT (function_id, trigger_name, event_id) DO NOTHING",
		d.ID, d.FunctionID, d.TriggerName, d.Topic, d.EventID, d.Attempts, d.LastError, d.Payload, d.CreatedAt)
}

func (s *Store) ListFunctionDeadLetters(ctx context.Context, functionID string, p store.Page) ([]store.FunctionDeadLetter, string, error) {
	before, err := store.DecodeCursor(p.After)
	if err != nil {
		return nil, "", fmt.Errorf("list function dead letters: %w", err)
	}
	q := "SELECT " + deadLetterCols + " FROM function_dead_letters WHERE function_id = ?"
	args := []any{functionID}
	if before != "" {
		q += " AND id < ?"
		args = append(args, before)
	}
	return newestFirst(ctx, s, "list function dead letters", p.EffectiveLimit(), scanDeadLetter, func(d store.FunctionDeadLetter) string { return d.ID }, q, args...)
}
