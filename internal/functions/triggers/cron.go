package triggers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/hexabase/hexabase-ai/internal/api"
	"github.com/hexabase/hexabase-ai/internal/cronexpr"
	"github.com/hexabase/hexabase-ai/internal/functions/engine"
	"github.com/hexabase/hexabase-ai/internal/store"
	"github.com/hexabase/hexabase-ai/internal/tasks"
)

// cronFire is the payload of a "function.cron" task.
type cronFire struct {
	TriggerID   string    `json:"trigger_id"`
	ScheduledAt time.Time `json:"scheduled_at"`
}

// FireID names one fire: the trigger id and the scheduled minute in UTC.
// The fire's invocation has this id.
func FireID(triggerID string, scheduledAt time.Time) string {
	return triggerID + "-" + scheduledAt.UTC().Format("200601021504")
}

// firstAfter is the first activation of the schedule strictly after t, in
// loc, in UTC; nil when the schedule has none (within cronexpr's limit).
func firstAfter(sched *cronexpr.Schedule, loc *time.Location, t time.Time) *time.Time {
	n := sched.Next(t.In(loc))
	if n.IsZero() {
		return nil
	}
	n = n.UTC()
	return &n
}

// tick fires what is due at now and recovers fires a crash left without a
// task. Safe to run in several processes at once, and again for the same
// minute: each scheduled time of a trigger is recorded once.
func (s *Service) tick(ctx context.Context, now time.Time) error {
	now = now.UTC()
	var errs []error
	due, err := s.st.ListDueCronTriggers(ctx, now, dueBatch)
	if err != nil {
		return fmt.Errorf("list due cron triggers: %w", err)
	}
	for _, t := range due {
		if err := s.fireDue(ctx, t, now); err != nil {
			errs = append(errs, err)
		}
	}
	if err := s.recoverFires(ctx, now); err != nil {
		errs = append(errs, err)
	}
	s.mu.Lock()
	prune := now.Sub(s.lastPrune) > time.Hour
	if prune {
		s.lastPrune = now
	}
	s.mu.Unlock()
	if prune {
		if err := s.st.DeleteCronFiresBefore(ctx, now.Add(-fireRetention)); err != nil {
			errs = append(errs, fmt.Errorf("prune cron fires: %w", err))
		}
	}
	return errors.Join(errs...)
}

// fireDue fires a due trigger: the most recent scheduled time not after
// now, if it is within the starting deadline (older missed times are
// skipped, and logged), then moves next_fire_at past now.
func (s *Service) fireDue(ctx context.Context, t store.FunctionTrigger, now time.Time) error {
	log := s.log.With("trigger", t.ID, "function", t.FunctionID, "name", t.Name)
	from := *t.NextFireAt
	sched, err := cronexpr.Parse(t.Schedule)
	var loc *time.Location
	if err == nil {
		loc, err = cronexpr.LoadTimeZone(t.TimeZone)
	}
	if err != nil {
		// Checked when the trigger was made; a zone database that lost the
		// zone since is all that can bring us here.
		log.Error("cron trigger cannot be scheduled; it is stopped", "err", err)
		return s.advance(ctx, t.ID, from, nil)
	}
	cutoff := now.Add(-s.cfg.StartingDeadline)
	start := from
	if start.Before(cutoff) {
		// Nothing before the deadline runs: start from its first activation.
		if n := firstAfter(sched, loc, cutoff.Add(-time.Nanosecond)); n != nil {
			start = *n
		} else {
			start = now.Add(time.Minute) // none: nothing runs
		}
	}
	var latest time.Time
	for at := start; !at.After(now); {
		latest = at
		n := firstAfter(sched, loc, at)
		if n == nil {
			break
		}
		at = *n
	}
	next := firstAfter(sched, loc, now)
	switch {
	case latest.IsZero():
		log.Warn("cron trigger missed its scheduled times beyond the starting deadline; skipped",
			"missed_from", from, "starting_deadline", s.cfg.StartingDeadline)
	case latest.After(from):
		log.Warn("cron trigger missed scheduled times; only the most recent runs",
			"missed_from", from, "runs", latest, "starting_deadline", s.cfg.StartingDeadline)
	}
	if !latest.IsZero() {
		if err := s.fire(ctx, t, latest, now); err != nil {
			// next_fire_at stays: the next tick tries again (a fire
			// recorded is not recorded twice).
			return err
		}
	}
	return s.advance(ctx, t.ID, from, next)
}

func (s *Service) advance(ctx context.Context, id string, from time.Time, next *time.Time) error {
	err := s.st.AdvanceCronTrigger(ctx, id, from, next)
	if errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrNotFound) {
		return nil // another scheduler moved it, or the trigger is gone
	}
	return err
}

// fire records one scheduled time of t and enqueues its task. A time
// recorded before (by another scheduler, or before a restart) is skipped.
func (s *Service) fire(ctx context.Context, t store.FunctionTrigger, at, now time.Time) error {
	err := s.st.RecordCronFire(ctx, store.FunctionCronFire{TriggerID: t.ID, ScheduledAt: at, CreatedAt: now})
	if errors.Is(err, store.ErrConflict) {
		s.log.Debug("cron fire already recorded", "trigger", t.ID, "scheduled_at", at)
		return nil
	}
	if err != nil {
		return fmt.Errorf("record cron fire: %w", err)
	}
	if s.afterRecord != nil {
		if err := s.afterRecord(); err != nil {
			return err
		}
	}
	return s.enqueue(ctx, store.FunctionCronFire{TriggerID: t.ID, ScheduledAt: at}, t.OrgID)
}

// enqueue makes the task of a recorded fire and claims the fire for it. If
// another task claimed the fire first (a recovery sweep elsewhere), the new
// task finds the fire not its own and does nothing.
func (s *Service) enqueue(ctx context.Context, f store.FunctionCronFire, orgID string) error {
	task, err := s.cfg.Tasks.Enqueue(ctx, TaskKindCron, orgID, cronFire{TriggerID: f.TriggerID, ScheduledAt: f.ScheduledAt})
	if err != nil {
		// The fire stays unclaimed: the recovery sweep enqueues it.
		return fmt.Errorf("enqueue cron fire: %w", err)
	}
	if _, err := s.st.ClaimCronFire(ctx, f.TriggerID, f.ScheduledAt, task.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
		// The task claims the fire itself when it runs.
		s.log.Warn("claim cron fire", "trigger", f.TriggerID, "scheduled_at", f.ScheduledAt, "task", task.ID, "err", err)
	}
	return nil
}

// claimSkipped marks a fire no task will run.
const claimSkipped = "skipped"

// recoverFires enqueues fires that were recorded but never got a task (the
// process died in between) once they are RecoverAfter old; a fire older
// than the starting deadline is skipped instead, by the missed-fire policy.
func (s *Service) recoverFires(ctx context.Context, now time.Time) error {
	fires, err := s.st.ListUnclaimedCronFires(ctx, now.Add(-s.cfg.RecoverAfter), dueBatch)
	if err != nil {
		return fmt.Errorf("list unclaimed cron fires: %w", err)
	}
	var errs []error
	for _, f := range fires {
		log := s.log.With("trigger", f.TriggerID, "scheduled_at", f.ScheduledAt)
		if f.ScheduledAt.Before(now.Add(-s.cfg.StartingDeadline)) {
			log.Warn("cron fire recorded but never run is past the starting deadline; skipped")
			if _, err := s.st.ClaimCronFire(ctx, f.TriggerID, f.ScheduledAt, claimSkipped); err != nil && !errors.Is(err, store.ErrNotFound) {
				errs = append(errs, err)
			}
			continue
		}
		t, err := s.st.GetFunctionTriggerByID(ctx, f.TriggerID)
		if errors.Is(err, store.ErrNotFound) {
			continue // deleted meanwhile: its fires go with it
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		log.Info("recovering a cron fire recorded without its task")
		if err := s.enqueue(ctx, f, t.OrgID); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// runFire is the "function.cron" task handler: it runs the fire if the
// task owns it.
func (s *Service) runFire(ctx context.Context, task store.Task, p cronFire) error {
	log := s.log.With("trigger", p.TriggerID, "scheduled_at", p.ScheduledAt, "task", task.ID)
	owner, err := s.st.ClaimCronFire(ctx, p.TriggerID, p.ScheduledAt, task.ID)
	if errors.Is(err, store.ErrNotFound) {
		log.Info("cron fire's trigger is gone; nothing to run")
		return nil
	}
	if err != nil {
		return fmt.Errorf("claim cron fire: %w", err)
	}
	if owner != task.ID {
		log.Info("cron fire belongs to another task; nothing to run", "owner", owner)
		return nil
	}
	t, err := s.st.GetFunctionTriggerByID(ctx, p.TriggerID)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("load cron trigger: %w", err)
	}
	req := engine.Request{Method: "POST", Path: "/", Headers: map[string][]string{
		"X-Hks-Trigger":      {t.Name},
		"X-Hks-Scheduled-At": {p.ScheduledAt.UTC().Format(time.RFC3339)},
	}}
	inv, err := s.fns.InvokeAs(ctx, refOf(t), t.Alias, TriggerCron, FireID(t.ID, p.ScheduledAt), req)
	if errors.Is(err, store.ErrNotFound) {
		return tasks.Permanent(fmt.Errorf("function %s is gone: %w", t.FunctionName, err))
	}
	if err != nil {
		return fmt.Errorf("invoke %s: %w", t.FunctionName, err)
	}
	logInvocation(log, inv)
	return nil
}

func logInvocation(log *slog.Logger, inv api.Invocation) {
	log.Info("trigger invoked function", "invocation", inv.ID, "status", inv.Status, "exit_reason", inv.ExitReason)
}

func refOf(t store.FunctionTrigger) Ref {
	return Ref{ID: t.FunctionID, OrgID: t.OrgID, WorkspaceID: t.WorkspaceID, ProjectID: t.ProjectID, Name: t.FunctionName}
}
