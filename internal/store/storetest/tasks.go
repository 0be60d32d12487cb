package storetest

import (
	"testing"

	"github.com/hexabase/hexabase-ai/internal/store"
)

func testTasks(t *testing.T, f *fixture) {
	_, o := f.acme()
	a := f.task(o.ID, store.TaskQueued)
	b := f.task("", store.TaskRunning) // platform task
	c := f.task(o.ID, store.TaskQueued)
	d := f.task(o.ID, store.TaskSucceeded)
	empty := store.Task{ID: store.NewID(), Kind: "noop", Status: store.TaskFailed, CreatedAt: f.tick()}
	empty.UpdatedAt = empty.CreatedAt
	ok(t, f.s.CreateTask(f.ctx, empty))

	stored(t, f, f.s.GetTask, a.ID, a)
	stored(t, f, f.s.GetTask, empty.ID, empty)
	wantErr(t, f.s.CreateTask(f.ctx, a), store.ErrConflict)
	_, err := f.s.GetTask(f.ctx, store.NewID())
	wantErr(t, err, store.ErrNotFound)

	for _, tc := range []struct {
		name     string
		statuses []string
		limit    int
		want     []store.Task
	}{
		{"queued", []string{store.TaskQueued}, 10, []store.Task{a, c}},
		{"queued or running", []string{store.TaskQueued, store.TaskRunning}, 10, []store.Task{a, b, c}},
		{"limited", []string{store.TaskQueued, store.TaskRunning}, 2, []store.Task{a, b}},
		{"default limit", []string{store.TaskSucceeded}, 0, []store.Task{d}},
		{"no statuses", nil, 10, []store.Task{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := f.s.ListTasksByStatus(f.ctx, tc.statuses, tc.limit)
			ok(t, err)
			if len(got) == 0 && len(tc.want) == 0 {
				return
			}
			equal(t, got, tc.want)
		})
	}

	// UpdateTask writes status, attempts, reason, updated_at, finished_at.
	upd := a
	upd.Kind, upd.Payload = "ignored", []byte("ignored")
	upd.Status, upd.Attempts, upd.Reason, upd.UpdatedAt, upd.FinishedAt = store.TaskFailed, 3, "boom", f.tick(), ptr(f.tick())
	ok(t, f.s.UpdateTask(f.ctx, upd))
	got, err := f.s.GetTask(f.ctx, a.ID)
	ok(t, err)
	upd.Kind, upd.Payload = a.Kind, a.Payload
	equal(t, got, upd)
	missing := a
	missing.ID = store.NewID()
	wantErr(t, f.s.UpdateTask(f.ctx, missing), store.ErrNotFound)

	wantAll(t, f.ctx, f.s.ListOrgTasks, o.ID, []store.Task{upd, c, d})
}
