package storetest

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/hexabase/hexabase-ai/internal/store"
)

func testWorkspaces(t *testing.T, f *fixture) {
	_, o, o2 := f.twoOrgs()
	w := f.workspace(o, "prod")
	w2 := f.workspace(o, "dev")
	f.workspace(o2, "prod") // same name in another org: fine

	stored(t, f, f.s.GetWorkspace, w.ID, w)

	for _, tc := range []struct {
		name string
		w    store.Workspace
	}{
		{"same name in org", store.Workspace{ID: store.NewID(), OrgID: o.ID, Name: "prod", Plan: store.PlanShared, Status: store.WorkspacePending, CreatedAt: f.now, UpdatedAt: f.now}},
		{"same id", store.Workspace{ID: w.ID, OrgID: o.ID, Name: "other", Plan: store.PlanShared, Status: store.WorkspacePending, CreatedAt: f.now, UpdatedAt: f.now}},
		{"unknown org", store.Workspace{ID: store.NewID(), OrgID: store.NewID(), Name: "x", Plan: store.PlanShared, Status: store.WorkspacePending, CreatedAt: f.now, UpdatedAt: f.now}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantErr(t, f.s.CreateWorkspace(f.ctx, tc.w), store.ErrConflict)
		})
	}

	wantAll(t, f.ctx, f.s.ListWorkspaces, o.ID, []store.Workspace{w, w2})

	// UpdateWorkspace writes name, the sleep settings and updated_at only.
	upd := w
	upd.Name, upd.UpdatedAt = "production", f.tick()
	upd.SleepAfter, upd.Hibernation = 1200, `[{"start":"0 19 * * *"}]`
	upd.Status, upd.Plan = store.WorkspaceRunning, store.PlanDedicated
	later := f.tick()
	upd.SleptAt, upd.WakeAt = &later, &later
	stored, err := f.s.UpdateWorkspace(f.ctx, w.ID, put(upd))
	ok(t, err)
	got, err := f.s.GetWorkspace(f.ctx, w.ID)
	ok(t, err)
	w.Name, w.UpdatedAt, w.Version = upd.Name, upd.UpdatedAt, 2
	w.SleepAfter, w.Hibernation = upd.SleepAfter, upd.Hibernation
	equal(t, got, w)
	equal(t, stored, w)
	clash := w2
	clash.Name = "production"
	updateRefused(t, f.ctx, f.s.UpdateWorkspace, clash.ID, clash)

	deleteOnce(t, f.ctx, f.s.DeleteWorkspace, f.s.GetWorkspace, w2.ID)
}

// testSetWorkspaceSleep: slept_at and wake_at are written by
// SetWorkspaceSleep alone, a nil wake_at clears it, and a nil slept_at
// clears both (the workspace woke).
func testSetWorkspaceSleep(t *testing.T, f *fixture) {
	_, o := f.acme()
	w := f.workspace(o, "prod")
	slept, wake := f.tick(), f.tick()
	ok(t, f.s.SetWorkspaceSleep(f.ctx, w.ID, &slept, &wake))
	got, err := f.s.GetWorkspace(f.ctx, w.ID)
	ok(t, err)
	w.SleptAt, w.WakeAt = &slept, &wake
	equal(t, got, w)
	slept2 := f.tick()
	ok(t, f.s.SetWorkspaceSleep(f.ctx, w.ID, &slept2, nil))
	got, err = f.s.GetWorkspace(f.ctx, w.ID)
	ok(t, err)
	w.SleptAt, w.WakeAt = &slept2, nil
	equal(t, got, w)
	ok(t, f.s.SetWorkspaceSleep(f.ctx, w.ID, nil, nil))
	got, err = f.s.GetWorkspace(f.ctx, w.ID)
	ok(t, err)
	w.SleptAt = nil
	equal(t, got, w)
	wantErr(t, f.s.SetWorkspaceSleep(f.ctx, store.NewID(), &slept, nil), store.ErrNotFound)
}

func testSetWorkspaceStatus(t *testing.T, f *fixture) {
	_, o := f.acme()
	w := f.workspace(o, "prod")

	steps := []struct {
		name   string
		from   []string
		to     string
		reason string
		want   error
	}{
		{"pending to provisioning", []string{store.WorkspacePending}, store.WorkspaceProvisioning, "", nil},
		{"stale from", []string{store.WorkspacePending}, store.WorkspaceRunning, "", store.ErrConflict},
		{"one of several", []string{store.WorkspacePending, store.WorkspaceProvisioning}, store.WorkspaceFailed, "apiserver did not start", nil},
		{"none of several", []string{store.WorkspacePending, store.WorkspaceRunning}, store.WorkspaceDeleting, "", store.ErrConflict},
		{"any", nil, store.WorkspaceRunning, "", nil},
	}
	cur := w
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			at := f.tick()
			err := f.s.SetWorkspaceStatus(f.ctx, w.ID, st.from, st.to, st.reason, at)
			if st.want != nil {
				wantErr(t, err, st.want)
			} else {
				ok(t, err)
				cur.Status, cur.StatusReason, cur.UpdatedAt = st.to, st.reason, at
			}
			got, err := f.s.GetWorkspace(f.ctx, w.ID)
			ok(t, err)
			equal(t, got, cur)
		})
	}
	wantErr(t, f.s.SetWorkspaceStatus(f.ctx, store.NewID(), nil, store.WorkspaceRunning, "", f.now), store.ErrNotFound)
	wantErr(t, f.s.SetWorkspaceStatus(f.ctx, store.NewID(), []string{store.WorkspacePending}, store.WorkspaceRunning, "", f.now), store.ErrNotFound)
}

func testSetWorkspaceStatusRace(t *testing.T, f *fixture) {
	_, o := f.acme()
	w := f.workspace(o, "prod")
	errs := race(8, func(i int) error {
		return f.s.SetWorkspaceStatus(f.ctx, w.ID, []string{store.WorkspacePending}, store.WorkspaceProvisioning, fmt.Sprint("worker ", i), f.now)
	})
	win := exactlyOneWins(t, errs, store.ErrConflict)
	got, err := f.s.GetWorkspace(f.ctx, w.ID)
	ok(t, err)
	equal(t, got.StatusReason, fmt.Sprint("worker ", win))
}

// testListWorkspacesByStatus: the running workspaces of every
// organization, ordered by id, and nothing else.
func testListWorkspacesByStatus(t *testing.T, f *fixture) {
	_, o, o2 := f.twoOrgs()
	a, b := f.workspace(o, "a"), f.workspace(o2, "b")
	f.workspace(o, "pending")
	got, err := f.s.ListWorkspacesByStatus(f.ctx, store.WorkspaceRunning)
	ok(t, err)
	equal(t, len(got), 0)
	var want []store.Workspace
	for _, w := range []store.Workspace{a, b} {
		ok(t, f.s.SetWorkspaceStatus(f.ctx, w.ID, nil, store.WorkspaceRunning, "", f.tick()))
		w, err := f.s.GetWorkspace(f.ctx, w.ID)
		ok(t, err)
		want = append(want, w)
	}
	slices.SortFunc(want, func(x, y store.Workspace) int { return strings.Compare(x.ID, y.ID) })
	got, err = f.s.ListWorkspacesByStatus(f.ctx, store.WorkspaceRunning)
	ok(t, err)
	equal(t, got, want)
}

func testWorkspaceMembers(t *testing.T, f *fixture) {
	owner := f.user("owner@example.com")
	bob := f.user("bob@example.com")
	o := f.org(owner, "acme")
	f.member(o, bob, store.RoleMember)
	w, w2 := f.workspace(o, "prod"), f.workspace(o, "dev")

	mb := f.wsMember(w, bob)
	mo := f.wsMember(w, owner)
	f.wsMember(w2, bob)
	got, err := f.s.GetWorkspaceMember(f.ctx, w.ID, bob.ID)
	ok(t, err)
	equal(t, got, mb)
	_, err = f.s.GetWorkspaceMember(f.ctx, w.ID, store.NewID())
	wantErr(t, err, store.ErrNotFound)
	wantErr(t, f.s.AddWorkspaceMember(f.ctx, store.WorkspaceMember{WorkspaceID: w.ID, UserID: bob.ID, CreatedAt: f.now}), store.ErrConflict)
	wantErr(t, f.s.AddWorkspaceMember(f.ctx, store.WorkspaceMember{WorkspaceID: store.NewID(), UserID: bob.ID, CreatedAt: f.now}), store.ErrConflict)

	want := []store.WorkspaceMember{mb, mo}
	slices.SortFunc(want, func(a, b store.WorkspaceMember) int { return strings.Compare(a.UserID, b.UserID) })
	wantAll(t, f.ctx, f.s.ListWorkspaceMembers, w.ID, want)

	g, g2 := f.group(w, "devs", ""), f.group(w2, "devs", "")
	f.groupMember(g, bob)
	f.groupMember(g2, bob)
	ok(t, f.s.RemoveWorkspaceMember(f.ctx, w.ID, bob.ID))
	_, err = f.s.GetWorkspaceMember(f.ctx, w.ID, bob.ID)
	wantErr(t, err, store.ErrNotFound)
	ids, err := f.s.UserGroupIDs(f.ctx, w.ID, bob.ID)
	ok(t, err)
	equal(t, len(ids), 0)
	ids, err = f.s.UserGroupIDs(f.ctx, w2.ID, bob.ID) // other workspace untouched
	ok(t, err)
	equal(t, ids, []string{g2.ID})
	wantErr(t, f.s.RemoveWorkspaceMember(f.ctx, w.ID, bob.ID), store.ErrNotFound)
}
