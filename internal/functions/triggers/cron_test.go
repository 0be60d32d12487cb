package triggers

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/hexabase/hexabase-ai/internal/api"
	"github.com/hexabase/hexabase-ai/internal/cronjobs"
	"github.com/hexabase/hexabase-ai/internal/store"
	"github.com/hexabase/hexabase-ai/internal/testutil"
)

// TestScheduleValidation: a trigger's schedule and time zone are refused
// with the CronJob API's own field errors, and the other fields name
// themselves; a valid cron trigger's first fire is computed in its zone.
func TestScheduleValidation(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 30, 0, 0, time.UTC)
	cronJobError := func(schedule, zone, field string) string {
		_, errs := cronjobs.CronJobObject(api.CronJobSpec{Schedule: schedule, TimeZone: zone, Template: api.JobTemplate{Image: "busybox"}}, "x", "")
		for _, e := range errs {
			if e.Field == field {
				return e.Message
			}
		}
		t.Fatalf("the CronJob API accepts %s %q / %q", field, schedule, zone)
		return ""
	}
	for _, tc := range []struct {
		name      string
		req       api.CreateFunctionTriggerRequest
		field     string
		message   string // "" : don't compare
		cronField bool   // message is the CronJob API's for this field
	}{
		{"minute out of range", api.CreateFunctionTriggerRequest{Name: "n", Kind: "cron", Schedule: "61 * * * *"}, "schedule", "", true},
		{"too few fields", api.CreateFunctionTriggerRequest{Name: "n", Kind: "cron", Schedule: "* * *"}, "schedule", "", true},
		{"every", api.CreateFunctionTriggerRequest{Name: "n", Kind: "cron", Schedule: "@every 5m"}, "schedule", "", true},
		{"never runs", api.CreateFunctionTriggerRequest{Name: "n", Kind: "cron", Schedule: "0 0 30 2 *"}, "schedule", "", true},
		{"missing schedule", api.CreateFunctionTriggerRequest{Name: "n", Kind: "cron"}, "schedule", "is required for a cron trigger", false},
		{"unknown zone", api.CreateFunctionTriggerRequest{Name: "n", Kind: "cron", Schedule: "* * * * *", TimeZone: "Mars/Olympus"}, "time_zone", "", true},
		{"local zone", api.CreateFunctionTriggerRequest{Name: "n", Kind: "cron", Schedule: "* * * * *", TimeZone: "Local"}, "time_zone", "", true},
		{"cron with topic", api.CreateFunctionTriggerRequest{Name: "n", Kind: "cron", Schedule: "* * * * *", Topic: "a"}, "topic", "only an event trigger has a topic", false},
		{"no kind", api.CreateFunctionTriggerRequest{Name: "n"}, "kind", "is required: cron or event", false},
		{"other kind", api.CreateFunctionTriggerRequest{Name: "n", Kind: "webhook"}, "kind", "must be cron or event", false},
		{"event with schedule", api.CreateFunctionTriggerRequest{Name: "n", Kind: "event", Topic: "a", Schedule: "* * * * *"}, "schedule", "only a cron trigger has a schedule", false},
		{"event with zone", api.CreateFunctionTriggerRequest{Name: "n", Kind: "event", Topic: "a", TimeZone: "UTC"}, "time_zone", "only a cron trigger has a time zone", false},
		{"event without topic", api.CreateFunctionTriggerRequest{Name: "n", Kind: "event"}, "topic", "is required for an event trigger", false},
		{"uppercase topic", api.CreateFunctionTriggerRequest{Name: "n", Kind: "event", Topic: "Orders"}, "topic", topicRule, false},
		{"wildcard topic", api.CreateFunctionTriggerRequest{Name: "n", Kind: "event", Topic: "orders.*"}, "topic", topicRule, false},
		{"empty label", api.CreateFunctionTriggerRequest{Name: "n", Kind: "event", Topic: "orders..created"}, "topic", topicRule, false},
		{"no name", api.CreateFunctionTriggerRequest{Kind: "event", Topic: "a"}, "name", "is required", false},
		{"bad name", api.CreateFunctionTriggerRequest{Name: "Nightly", Kind: "event", Topic: "a"}, "name", "", false},
		{"bad alias", api.CreateFunctionTriggerRequest{Name: "n", Kind: "event", Topic: "a", Alias: "a b"}, "alias", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, errs := checkTrigger(tc.req, now)
			if len(errs) != 1 || errs[0].Field != tc.field {
				t.Fatalf("errors = %+v, want one of field %s", errs, tc.field)
			}
			want := tc.message
			if tc.cronField {
				want = cronJobError(tc.req.Schedule, tc.req.TimeZone, tc.field)
			}
			if want != "" && errs[0].Message != want {
				t.Fatalf("message = %q, want %q", errs[0].Message, want)
			}
		})
	}
	for _, tc := range []struct {
		name     string
		req      api.CreateFunctionTriggerRequest
		nextFire time.Time
	}{
		{"every minute", api.CreateFunctionTriggerRequest{Name: "n", Kind: "cron", Schedule: "* * * * *"}, now.Add(time.Minute)},
		{"9:00 in Tokyo", api.CreateFunctionTriggerRequest{Name: "n", Kind: "cron", Schedule: "0 9 * * *", TimeZone: "Asia/Tokyo"}, time.Date(2030, 1, 2, 0, 0, 0, 0, time.UTC)},
		{"9:00 in New York", api.CreateFunctionTriggerRequest{Name: "n", Kind: "cron", Schedule: "0 9 * * *", TimeZone: "America/New_York"}, time.Date(2030, 1, 1, 14, 0, 0, 0, time.UTC)},
	} {
		t.Run("valid "+tc.name, func(t *testing.T) {
			tr, errs := checkTrigger(tc.req, now)
			if len(errs) > 0 {
				t.Fatalf("errors = %+v", errs)
			}
			if tr.NextFireAt == nil || !tr.NextFireAt.Equal(tc.nextFire) {
				t.Fatalf("next fire = %v, want %v", tr.NextFireAt, tc.nextFire)
			}
		})
	}
	if _, errs := checkTrigger(api.CreateFunctionTriggerRequest{Name: "n", Kind: "event", Topic: "orders.created-v2"}, now); len(errs) > 0 {
		t.Fatalf("event trigger: %+v", errs)
	}
}

// base is a minute and 30 seconds: triggers made then fire first at the
// next minute.
var base = time.Date(2030, 1, 1, 12, 0, 30, 0, time.UTC)

func minute(h, m int) time.Time { return time.Date(2030, 1, 1, h, m, 0, 0, time.UTC) }

// waitTasksDone waits until no task is queued or running.
func (e *env) waitTasksDone() {
	e.t.Helper()
	testutil.WaitFor(e.t, waitFor, "tasks finished", func() bool {
		ts, err := e.st.ListTasksByStatus(e.t.Context(), []string{store.TaskQueued, store.TaskRunning}, 10)
		return err == nil && len(ts) == 0
	})
}

func (e *env) cronTasks() []store.Task {
	e.t.Helper()
	ts, err := e.st.ListTasksByStatus(e.t.Context(), []string{store.TaskQueued, store.TaskRunning, store.TaskSucceeded, store.TaskFailed}, 100)
	must(e.t, err)
	return slices.DeleteFunc(ts, func(t store.Task) bool { return t.Kind != TaskKindCron })
}

func (e *env) fireIDs() []string {
	var ids []string
	for _, c := range e.fns.ran() {
		ids = append(ids, c.InvocationID)
	}
	return ids
}

// TestCronFiresOnce: a scheduled time fires once however many schedulers
// (processes) tick for it, a stale view of the trigger included, and a
// redelivered task does not run it again.
func TestCronFiresOnce(t *testing.T) {
	e := newEnv(t, nil)
	ctx := t.Context()
	tr := e.trigger(api.CreateFunctionTriggerRequest{Name: "every-minute", Kind: "cron", Schedule: "* * * * *", Alias: "stable"}, base)
	if !tr.NextFireAt.Equal(minute(12, 1)) {
		t.Fatalf("next fire = %v", tr.NextFireAt)
	}
	_, other := e.service(nil) // a second process
	e.runQueue()

	must(t, e.svc.tick(ctx, minute(12, 1).Add(10*time.Second)))
	// The other process loaded the trigger before the first moved it on.
	must(t, other.fireDue(ctx, tr, minute(12, 1).Add(20*time.Second)))
	must(t, other.tick(ctx, minute(12, 1).Add(20*time.Second)))
	// A restart within the minute.
	_, restarted := e.service(nil)
	must(t, restarted.tick(ctx, minute(12, 1).Add(50*time.Second)))

	e.waitTasksDone()
	runs := e.waitRuns(1)
	want := FireID(tr.ID, minute(12, 1))
	if len(runs) != 1 || runs[0].InvocationID != want || runs[0].Trigger != TriggerCron || runs[0].Alias != "stable" || runs[0].Ref != e.ref {
		t.Fatalf("runs = %+v, want one of %s", runs, want)
	}
	if got := runs[0].Req.Headers["X-Hks-Scheduled-At"]; len(got) != 1 || got[0] != "2030-01-01T12:01:00Z" {
		t.Fatalf("X-Hks-Scheduled-At = %v", got)
	}
	tasks := e.cronTasks()
	if len(tasks) != 1 {
		t.Fatalf("cron tasks = %d, want 1", len(tasks))
	}
	// A redelivered task: the handler runs again and runs nothing.
	must(t, e.svc.runFire(ctx, tasks[0], cronFire{TriggerID: tr.ID, ScheduledAt: minute(12, 1)}))
	if got := e.fireIDs(); len(got) != 1 {
		t.Fatalf("runs after redelivery = %v", got)
	}
	got, err := e.st.GetFunctionTriggerByID(ctx, tr.ID)
	must(t, err)
	if !got.NextFireAt.Equal(minute(12, 2)) {
		t.Fatalf("next fire = %v, want 12:02", got.NextFireAt)
	}

	// The next minute fires in turn.
	must(t, other.tick(ctx, minute(12, 2).Add(time.Second)))
	e.waitRuns(2)
	if got, want := e.fireIDs(), []string{FireID(tr.ID, minute(12, 1)), FireID(tr.ID, minute(12, 2))}; !slices.Equal(got, want) {
		t.Fatalf("runs = %v, want %v", got, want)
	}
}

// TestCronCrashBetweenRecordAndEnqueue: a process killed after recording a
// fire and before enqueueing its task does not lose the fire: the
// recovery sweep enqueues it (once) when it is RecoverAfter old.
func TestCronCrashBetweenRecordAndEnqueue(t *testing.T) {
	e := newEnv(t, nil)
	ctx := t.Context()
	tr := e.trigger(api.CreateFunctionTriggerRequest{Name: "every-minute", Kind: "cron", Schedule: "* * * * *"}, base)
	crash := errors.New("killed")
	_, dying := e.service(nil)
	dying.afterRecord = func() error { return crash }
	if err := dying.tick(ctx, minute(12, 1).Add(5*time.Second)); !errors.Is(err, crash) {
		t.Fatalf("tick = %v, want the crash", err)
	}
	if n := len(e.cronTasks()); n != 0 {
		t.Fatalf("tasks after the crash = %d", n)
	}
	e.runQueue()
	// The restarted process: the fire is recorded, so it is not fired
	// again, and it is too young to recover yet.
	must(t, e.svc.tick(ctx, minute(12, 1).Add(20*time.Second)))
	if n := len(e.cronTasks()); n != 0 {
		t.Fatalf("tasks before RecoverAfter = %d", n)
	}
	// Two processes sweep once it is old enough.
	_, other := e.service(nil)
	must(t, e.svc.tick(ctx, minute(12, 1).Add(40*time.Second)))
	must(t, other.tick(ctx, minute(12, 1).Add(45*time.Second)))
	e.waitTasksDone()
	runs := e.waitRuns(1)
	if len(runs) != 1 || runs[0].InvocationID != FireID(tr.ID, minute(12, 1)) {
		t.Fatalf("runs = %+v", runs)
	}
}

// TestCronCrashBetweenEnqueueAndClaim: a fire whose task was enqueued but
// not yet claimed is enqueued again by the sweep; of the two tasks only
// the one that claims the fire runs it.
func TestCronCrashBetweenEnqueueAndClaim(t *testing.T) {
	e := newEnv(t, nil)
	ctx := t.Context()
	tr := e.trigger(api.CreateFunctionTriggerRequest{Name: "every-minute", Kind: "cron", Schedule: "* * * * *"}, base)
	at := minute(12, 1)
	must(t, e.st.RecordCronFire(ctx, store.FunctionCronFire{TriggerID: tr.ID, ScheduledAt: at, CreatedAt: at}))
	if _, err := e.q.Enqueue(ctx, TaskKindCron, tr.OrgID, cronFire{TriggerID: tr.ID, ScheduledAt: at}); err != nil {
		t.Fatal(err)
	}
	must(t, e.svc.recoverFires(ctx, at.Add(time.Minute)))
	if n := len(e.cronTasks()); n != 2 {
		t.Fatalf("cron tasks = %d, want 2", n)
	}
	e.runQueue()
	e.waitTasksDone()
	if got := e.fireIDs(); !slices.Equal(got, []string{FireID(tr.ID, at)}) {
		t.Fatalf("runs = %v", got)
	}
	// The task that lost the claim did not even call the function (two
	// calls at once could both run it: InvokeAs only knows finished ids).
	if n := e.fns.callCount(); n != 1 {
		t.Fatalf("InvokeAs calls = %d, want 1", n)
	}
}

// TestCronMissedFires: after downtime only the most recent missed time
// within the starting deadline runs; older ones are skipped, and a
// schedule whose last time is older than the deadline runs nothing until
// its next time.
func TestCronMissedFires(t *testing.T) {
	e := newEnv(t, nil)
	ctx := t.Context()
	everyMinute := e.trigger(api.CreateFunctionTriggerRequest{Name: "every-minute", Kind: "cron", Schedule: "* * * * *"}, base)
	hourly := e.trigger(api.CreateFunctionTriggerRequest{Name: "hourly", Kind: "cron", Schedule: "0 * * * *"}, base)
	e.runQueue()

	// Down from 12:00:30 to 13:10: every-minute missed 70 times, hourly
	// missed 13:00, ten minutes ago.
	must(t, e.svc.tick(ctx, minute(13, 10).Add(10*time.Second)))
	e.waitTasksDone()
	if got, want := e.fireIDs(), []string{FireID(everyMinute.ID, minute(13, 10))}; !slices.Equal(got, want) {
		t.Fatalf("runs = %v, want %v", got, want)
	}
	for _, tc := range []struct {
		tr   store.FunctionTrigger
		next time.Time
	}{{everyMinute, minute(13, 11)}, {hourly, minute(14, 0)}} {
		got, err := e.st.GetFunctionTriggerByID(ctx, tc.tr.ID)
		must(t, err)
		if !got.NextFireAt.Equal(tc.next) {
			t.Fatalf("%s: next fire = %v, want %v", tc.tr.Name, got.NextFireAt, tc.next)
		}
	}
	// Nothing was recorded for the skipped times.
	for _, at := range []time.Time{minute(13, 0), minute(12, 1), minute(13, 9)} {
		must(t, e.st.RecordCronFire(ctx, store.FunctionCronFire{TriggerID: everyMinute.ID, ScheduledAt: at, CreatedAt: at}))
		if _, err := e.st.ClaimCronFire(ctx, everyMinute.ID, at, claimSkipped); err != nil {
			t.Fatal(err)
		}
	}
	must(t, e.st.RecordCronFire(ctx, store.FunctionCronFire{TriggerID: hourly.ID, ScheduledAt: minute(13, 0), CreatedAt: minute(13, 0)}))

	// A short delay (within the deadline) still runs the fire.
	must(t, e.svc.tick(ctx, minute(14, 3)))
	e.waitTasksDone()
	want := []string{FireID(everyMinute.ID, minute(13, 10)), FireID(everyMinute.ID, minute(14, 3)), FireID(hourly.ID, minute(14, 0))}
	got := e.fireIDs()
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("runs = %v, want %v", got, want)
	}
}
