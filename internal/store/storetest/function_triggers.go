package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/hexabase/hexabase-ai/internal/store"
)

func (f *fixture) trigger(fn store.Function, name, kind string, next *time.Time) store.FunctionTrigger {
	f.t.Helper()
	t := store.FunctionTrigger{ID: store.NewID(), FunctionID: fn.ID, FunctionName: fn.Name, OrgID: fn.OrgID, WorkspaceID: fn.WorkspaceID,
		ProjectID: fn.ProjectID, Name: name, Kind: kind, Alias: "stable", CreatedAt: f.tick(), NextFireAt: next}
	switch kind {
	case store.FunctionTriggerCron:
		t.Schedule, t.TimeZone = "*/5 * * * *", "Europe/Berlin"
	case store.FunctionTriggerEvent:
		t.Topic = "orders.created"
	}
	ok(f.t, f.s.CreateFunctionTrigger(f.ctx, t))
	return t
}

func timePtr(t time.Time) *time.Time { return &t }

func testFunctionTriggers(t *testing.T, f *fixture) {
	_, o := f.acme()
	w := f.workspace(o, "prod")
	p, p2 := f.project(w, "shop", ""), f.project(w, "blog", "")
	fn, _ := f.function(w, p, "hello")
	fn2, _ := f.function(w, p2, "other")

	due := f.now.Add(time.Minute)
	cron := f.trigger(fn, "nightly", store.FunctionTriggerCron, timePtr(due))
	ev := f.trigger(fn, "on-order", store.FunctionTriggerEvent, nil)
	ev2 := f.trigger(fn2, "on-order", store.FunctionTriggerEvent, nil) // same name, other function

	got, err := f.s.GetFunctionTrigger(f.ctx, fn.ID, "nightly")
	ok(t, err)
	equal(t, got, cron)
	stored(t, f, f.s.GetFunctionTriggerByID, ev.ID, ev)
	_, err = f.s.GetFunctionTrigger(f.ctx, fn.ID, "missing")
	wantErr(t, err, store.ErrNotFound)

	// A name is unique per function; a missing function is a conflict.
	dup := cron
	dup.ID = store.NewID()
	wantErr(t, f.s.CreateFunctionTrigger(f.ctx, dup), store.ErrConflict)
	orphan := ev
	orphan.ID, orphan.FunctionID, orphan.Name = store.NewID(), store.NewID(), "orphan"
	wantErr(t, f.s.CreateFunctionTrigger(f.ctx, orphan), store.ErrConflict)

	list, err := f.s.ListFunctionTriggers(f.ctx, fn.ID)
	ok(t, err)
	equal(t, list, []store.FunctionTrigger{cron, ev}) // by name
	events, err := f.s.ListFunctionTriggersByKind(f.ctx, store.FunctionTriggerEvent)
	ok(t, err)
	equal(t, len(events), 2)
	n, err := f.s.CountEventTriggers(f.ctx, p.ID, "orders.created")
	ok(t, err)
	equal(t, n, 1)
	n, err = f.s.CountEventTriggers(f.ctx, p.ID, "orders.shipped")
	ok(t, err)
	equal(t, n, 0)

	// Due: at or before now.
	dueList, err := f.s.ListDueCronTriggers(f.ctx, due.Add(-time.Microsecond), 10)
	ok(t, err)
	equal(t, len(dueList), 0)
	dueList, err = f.s.ListDueCronTriggers(f.ctx, due, 10)
	ok(t, err)
	equal(t, dueList, []store.FunctionTrigger{cron})

	// Advance is a compare-and-swap on next_fire_at.
	next := due.Add(5 * time.Minute)
	ok(t, f.s.AdvanceCronTrigger(f.ctx, cron.ID, due, &next))
	wantErr(t, f.s.AdvanceCronTrigger(f.ctx, cron.ID, due, &next), store.ErrConflict)
	wantErr(t, f.s.AdvanceCronTrigger(f.ctx, store.NewID(), due, &next), store.ErrNotFound)
	got, err = f.s.GetFunctionTriggerByID(f.ctx, cron.ID)
	ok(t, err)
	equal(t, *got.NextFireAt, next)
	ok(t, f.s.AdvanceCronTrigger(f.ctx, cron.ID, next, nil))
	got, err = f.s.GetFunctionTriggerByID(f.ctx, cron.ID)
	ok(t, err)
	equal(t, got.NextFireAt, (*time.Time)(nil))
	dueList, err = f.s.ListDueCronTriggers(f.ctx, next.Add(time.Hour), 10)
	ok(t, err)
	equal(t, len(dueList), 0)

	ok(t, f.s.DeleteFunctionTrigger(f.ctx, ev.ID))
	wantErr(t, f.s.DeleteFunctionTrigger(f.ctx, ev.ID), store.ErrNotFound)

	// Deleting a function deletes its triggers.
	ok(t, f.s.DeleteFunction(f.ctx, fn2.ID))
	_, err = f.s.GetFunctionTriggerByID(f.ctx, ev2.ID)
	wantErr(t, err, store.ErrNotFound)
	// …and deleting the project deletes its functions' triggers.
	ok(t, f.s.DeleteProject(f.ctx, p.ID))
	_, err = f.s.GetFunctionTriggerByID(f.ctx, cron.ID)
	wantErr(t, err, store.ErrNotFound)
}

func testFunctionCronFires(t *testing.T, f *fixture) {
	_, o := f.acme()
	w := f.workspace(o, "prod")
	p := f.project(w, "shop", "")
	fn, _ := f.function(w, p, "hello")
	at := f.now.Truncate(time.Minute)
	tr := f.trigger(fn, "nightly", store.FunctionTriggerCron, timePtr(at))

	fire := store.FunctionCronFire{TriggerID: tr.ID, ScheduledAt: at, CreatedAt: f.tick()}
	ok(t, f.s.RecordCronFire(f.ctx, fire))
	// The same scheduled time fires once.
	again := fire
	again.CreatedAt = f.tick()
	wantErr(t, f.s.RecordCronFire(f.ctx, again), store.ErrConflict)
	// A fire of a missing trigger is a conflict too.
	wantErr(t, f.s.RecordCronFire(f.ctx, store.FunctionCronFire{TriggerID: store.NewID(), ScheduledAt: at, CreatedAt: f.tick()}), store.ErrConflict)
	later := store.FunctionCronFire{TriggerID: tr.ID, ScheduledAt: at.Add(5 * time.Minute), CreatedAt: f.tick()}
	ok(t, f.s.RecordCronFire(f.ctx, later))

	// Unclaimed fires, oldest first, recorded at or before the bound.
	un, err := f.s.ListUnclaimedCronFires(f.ctx, fire.CreatedAt, 10)
	ok(t, err)
	equal(t, un, []store.FunctionCronFire{fire})
	un, err = f.s.ListUnclaimedCronFires(f.ctx, later.CreatedAt, 10)
	ok(t, err)
	equal(t, un, []store.FunctionCronFire{fire, later})

	// The first claim holds; a second task gets the first's id back.
	owner, err := f.s.ClaimCronFire(f.ctx, tr.ID, at, "task-1")
	ok(t, err)
	equal(t, owner, "task-1")
	owner, err = f.s.ClaimCronFire(f.ctx, tr.ID, at, "task-2")
	ok(t, err)
	equal(t, owner, "task-1")
	owner, err = f.s.ClaimCronFire(f.ctx, tr.ID, at, "task-1")
	ok(t, err)
	equal(t, owner, "task-1")
	_, err = f.s.ClaimCronFire(f.ctx, tr.ID, at.Add(time.Hour), "task-1")
	wantErr(t, err, store.ErrNotFound)
	un, err = f.s.ListUnclaimedCronFires(f.ctx, later.CreatedAt, 10)
	ok(t, err)
	equal(t, un, []store.FunctionCronFire{later})

	// Pruning forgets fires scheduled before the bound.
	ok(t, f.s.DeleteCronFiresBefore(f.ctx, at.Add(time.Minute)))
	ok(t, f.s.RecordCronFire(f.ctx, again)) // forgotten: may be recorded again
	// Deleting the trigger deletes its fires.
	ok(t, f.s.DeleteFunctionTrigger(f.ctx, tr.ID))
	_, err = f.s.ClaimCronFire(f.ctx, tr.ID, later.ScheduledAt, "task-3")
	wantErr(t, err, store.ErrNotFound)
}

// testFunctionCronFireRace: of schedulers recording one scheduled time at
// once, exactly one succeeds; of tasks claiming one fire, one wins and all
// see it.
func testFunctionCronFireRace(t *testing.T, f *fixture) {
	_, o := f.acme()
	w := f.workspace(o, "prod")
	p := f.project(w, "shop", "")
	fn, _ := f.function(w, p, "hello")
	at := f.now.Truncate(time.Minute)
	tr := f.trigger(fn, "nightly", store.FunctionTriggerCron, timePtr(at))
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	owners := make([]string, n)
	for i := range n {
		wg.Go(func() {
			errs[i] = f.s.RecordCronFire(f.ctx, store.FunctionCronFire{TriggerID: tr.ID, ScheduledAt: at, CreatedAt: f.now})
		})
	}
	wg.Wait()
	wins := 0
	for _, err := range errs {
		if err == nil {
			wins++
		} else {
			wantErr(t, err, store.ErrConflict)
		}
	}
	equal(t, wins, 1)
	for i := range n {
		wg.Go(func() {
			owners[i], errs[i] = f.s.ClaimCronFire(f.ctx, tr.ID, at, fmt.Sprintf("task-%d", i))
		})
	}
	wg.Wait()
	for i := range n {
		ok(t, errs[i])
		equal(t, owners[i], owners[0])
	}
}

func testFunctionDeadLetters(t *testing.T, f *fixture) {
	_, o := f.acme()
	w := f.workspace(o, "prod")
	p := f.project(w, "shop", "")
	fn, _ := f.function(w, p, "hello")
	fn2, _ := f.function(w, p, "other")
	letter := func(fn store.Function, event string) store.FunctionDeadLetter {
		return store.FunctionDeadLetter{ID: store.NewID(), FunctionID: fn.ID, TriggerName: "on-order", Topic: "orders.created", EventID: event,
			Attempts: 3, LastError: "handler threw: boom", Payload: `{"order":1}`, CreatedAt: f.tick()}
	}
	var ds []store.FunctionDeadLetter
	for i := range 3 {
		d := letter(fn, fmt.Sprintf("ev-%d", i))
		ok(t, f.s.CreateFunctionDeadLetter(f.ctx, d))
		ds = append(ds, d)
	}
	ok(t, f.s.CreateFunctionDeadLetter(f.ctx, letter(fn2, "ev-0")))
	// The same event of the same trigger is dead-lettered once.
	ok(t, f.s.CreateFunctionDeadLetter(f.ctx, letter(fn, "ev-1")))
	wantErr(t, f.s.CreateFunctionDeadLetter(f.ctx, letter(store.Function{ID: store.NewID()}, "ev-9")), store.ErrConflict)

	page, next, err := f.s.ListFunctionDeadLetters(f.ctx, fn.ID, store.Page{Limit: 2})
	ok(t, err)
	equal(t, page, []store.FunctionDeadLetter{ds[2], ds[1]})
	page, next, err = f.s.ListFunctionDeadLetters(f.ctx, fn.ID, store.Page{Limit: 2, After: next})
	ok(t, err)
	equal(t, page, []store.FunctionDeadLetter{ds[0]})
	equal(t, next, "")
	_, _, err = f.s.ListFunctionDeadLetters(f.ctx, fn.ID, store.Page{After: "garbage"})
	wantErr(t, err, store.ErrInvalidCursor)

	ok(t, f.s.DeleteFunction(f.ctx, fn.ID))
	page, _, err = f.s.ListFunctionDeadLetters(f.ctx, fn.ID, store.Page{})
	ok(t, err)
	equal(t, len(page), 0)
}
