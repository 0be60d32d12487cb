package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/hexabase/hexabase-ai/internal/store"
)

func testCronJobRuns(t *testing.T, f *fixture) {
	t.Helper()
	o := f.org(f.user("owner@example.com"), "acme")
	w, w2 := f.workspace(o, "prod"), f.workspace(o, "dev")
	run := func(ws store.Workspace, ns, cj string, i int) store.CronJobRun {
		at := f.tick()
		return store.CronJobRun{ID: store.NewID(), WorkspaceID: ws.ID, Namespace: ns, CronJob: cj, Job: fmt.Sprintf("%s-%d", cj, i),
			JobUID: fmt.Sprintf("uid-%s-%s-%s-%d", ws.Name, ns, cj, i), Trigger: store.TriggerSchedule, Status: store.RunRunning, StartedAt: at, UpdatedAt: at}
	}
	var runs []store.CronJobRun
	for i := range 5 {
		r := run(w, "web", "backup", i)
		ok(t, f.s.UpsertCronJobRun(f.ctx, r))
		runs = append(runs, r)
	}
	// Same names elsewhere do not mix in.
	ok(t, f.s.UpsertCronJobRun(f.ctx, run(w, "api", "backup", 0)))
	ok(t, f.s.UpsertCronJobRun(f.ctx, run(w, "web", "report", 0)))
	ok(t, f.s.UpsertCronJobRun(f.ctx, run(w2, "web", "backup", 0)))

	// Newest first, in pages.
	page, next, err := f.s.ListCronJobRuns(f.ctx, w.ID, "web", "backup", store.Page{Limit: 2})
	ok(t, err)
	equal(t, page, []store.CronJobRun{runs[4], runs[3]})
	page, next, err = f.s.ListCronJobRuns(f.ctx, w.ID, "web", "backup", store.Page{Limit: 2, After: next})
	ok(t, err)
	equal(t, page, []store.CronJobRun{runs[2], runs[1]})
	page, next, err = f.s.ListCronJobRuns(f.ctx, w.ID, "web", "backup", store.Page{Limit: 2, After: next})
	ok(t, err)
	equal(t, page, []store.CronJobRun{runs[0]})
	equal(t, next, "")
	_, _, err = f.s.ListCronJobRuns(f.ctx, w.ID, "web", "backup", store.Page{After: "garbage"})
	wantErr(t, err, store.ErrInvalidCursor)

	// An update keeps id, names and trigger and takes status and times.
	upd := runs[1]
	upd.ID = store.NewID()
	upd.Job = "renamed"
	upd.Trigger = store.TriggerManual
	upd.Status = store.RunFailed
	upd.Message = "BackoffLimitExceeded: Job has reached the specified backoff limit"
	upd.CompletedAt = upd.StartedAt.Add(90*time.Second + 123456*time.Microsecond)
	upd.UpdatedAt = f.tick()
	ok(t, f.s.UpsertCronJobRun(f.ctx, upd))
	want := runs[1]
	want.Status, want.Message, want.CompletedAt, want.UpdatedAt = upd.Status, upd.Message, upd.CompletedAt, upd.UpdatedAt
	page, _, err = f.s.ListCronJobRuns(f.ctx, w.ID, "web", "backup", store.Page{})
	ok(t, err)
	equal(t, len(page), 5)
	equal(t, page[3], want)

	// An unknown workspace is a conflict.
	bad := run(w, "web", "backup", 9)
	bad.WorkspaceID = store.NewID()
	wantErr(t, f.s.UpsertCronJobRun(f.ctx, bad), store.ErrConflict)

	ok(t, f.s.DeleteCronJobRuns(f.ctx, w.ID, "web", "backup"))
	page, _, err = f.s.ListCronJobRuns(f.ctx, w.ID, "web", "backup", store.Page{})
	ok(t, err)
	equal(t, len(page), 0)
	page, _, err = f.s.ListCronJobRuns(f.ctx, w.ID, "web", "report", store.Page{})
	ok(t, err)
	equal(t, len(page), 1)

	// Deleting the workspace removes its history.
	ok(t, f.s.DeleteWorkspace(f.ctx, w2.ID))
	page, _, err = f.s.ListCronJobRuns(f.ctx, w2.ID, "web", "backup", store.Page{})
	ok(t, err)
	equal(t, len(page), 0)
}
