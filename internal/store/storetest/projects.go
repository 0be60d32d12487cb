package storetest

import (
	"slices"
	"strings"
	"testing"

	"github.com/hexabase/hexabase-ai/internal/store"
)

func testProjects(t *testing.T, f *fixture) {
	_, o := f.acme()
	w, w2 := f.workspace(o, "prod"), f.workspace(o, "dev")
	root := f.project(w, "web", "")
	child := f.project(w, "web-api", root.ID)
	unlimited := store.Project{ID: store.NewID(), WorkspaceID: w.ID, Name: "free", CreatedAt: f.tick(), Version: 1}
	unlimited.UpdatedAt = unlimited.CreatedAt
	ok(t, f.s.CreateProject(f.ctx, unlimited))
	other := f.project(w2, "web", "") // same name in another workspace: fine

	stored(t, f, f.s.GetProject, child.ID, child)
	// A project created without a pod security level is stored at baseline.
	unlimited.PodSecurity = store.PodSecurityBaseline
	stored(t, f, f.s.GetProject, unlimited.ID, unlimited)

	for _, tc := range []struct {
		name string
		p    store.Project
	}{
		{"same name in workspace", store.Project{ID: store.NewID(), WorkspaceID: w.ID, Name: "web", CreatedAt: f.now, UpdatedAt: f.now}},
		{"parent in another workspace", store.Project{ID: store.NewID(), WorkspaceID: w.ID, Name: "x", ParentID: other.ID, CreatedAt: f.now, UpdatedAt: f.now}},
		{"unknown parent", store.Project{ID: store.NewID(), WorkspaceID: w.ID, Name: "y", ParentID: store.NewID(), CreatedAt: f.now, UpdatedAt: f.now}},
		{"unknown workspace", store.Project{ID: store.NewID(), WorkspaceID: store.NewID(), Name: "z", CreatedAt: f.now, UpdatedAt: f.now}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantErr(t, f.s.CreateProject(f.ctx, tc.p), store.ErrConflict)
		})
	}

	wantAll(t, f.ctx, f.s.ListProjects, w.ID, []store.Project{root, child, unlimited})

	// UpdateProject writes quota, parent, pod security and updated_at.
	upd := unlimited
	upd.Name = "ignored"
	upd.ParentID, upd.Quota, upd.PodSecurity, upd.UpdatedAt = root.ID, store.Quota{CPU: "1", Pods: 3}, store.PodSecurityRestricted, f.tick()
	stored, err := f.s.UpdateProject(f.ctx, upd.ID, put(upd))
	ok(t, err)
	got, err := f.s.GetProject(f.ctx, unlimited.ID)
	ok(t, err)
	upd.Name, upd.Version = unlimited.Name, 2
	equal(t, got, upd)
	equal(t, stored, upd)

	for _, tc := range []struct {
		name   string
		id     string
		parent string
		want   error
	}{
		{"self parent", root.ID, root.ID, store.ErrCycle},
		{"descendant parent", root.ID, child.ID, store.ErrCycle},
		{"parent in another workspace", child.ID, other.ID, store.ErrConflict},
		{"missing project", store.NewID(), "", store.ErrNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := store.Project{ID: tc.id, WorkspaceID: w.ID, ParentID: tc.parent, UpdatedAt: f.now}
			_, err := f.s.UpdateProject(f.ctx, p.ID, put(p))
			wantErr(t, err, tc.want)
		})
	}

	wantErr(t, f.s.DeleteProject(f.ctx, root.ID), store.ErrConflict) // has children
	ok(t, f.s.DeleteProject(f.ctx, child.ID))
	ok(t, f.s.DeleteProject(f.ctx, upd.ID))
	deleteOnce(t, f.ctx, f.s.DeleteProject, f.s.GetProject, root.ID)
}

func testGroups(t *testing.T, f *fixture) {
	_, o := f.acme()
	w, w2 := f.workspace(o, "prod"), f.workspace(o, "dev")
	root := f.group(w, "eng", "")
	child := f.group(w, "eng-web", root.ID)
	other := f.group(w2, "eng", "")

	stored(t, f, f.s.GetGroup, child.ID, child)
	_, err := f.s.GetGroup(f.ctx, store.NewID())
	wantErr(t, err, store.ErrNotFound)

	for _, tc := range []struct {
		name string
		g    store.Group
	}{
		{"same name in workspace", store.Group{ID: store.NewID(), WorkspaceID: w.ID, Name: "eng", CreatedAt: f.now, UpdatedAt: f.now}},
		{"parent in another workspace", store.Group{ID: store.NewID(), WorkspaceID: w.ID, Name: "x", ParentID: other.ID, CreatedAt: f.now, UpdatedAt: f.now}},
		{"unknown workspace", store.Group{ID: store.NewID(), WorkspaceID: store.NewID(), Name: "y", CreatedAt: f.now, UpdatedAt: f.now}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantErr(t, f.s.CreateGroup(f.ctx, tc.g), store.ErrConflict)
		})
	}

	wantAll(t, f.ctx, f.s.ListGroups, w.ID, []store.Group{root, child})
	all, err := f.s.AllGroups(f.ctx, w.ID)
	ok(t, err)
	equal(t, all, []store.Group{root, child})

	// Rename and move to root.
	child.Name, child.ParentID, child.UpdatedAt = "web", "", f.tick()
	child, err = f.s.UpdateGroup(f.ctx, child.ID, put(child))
	ok(t, err)
	stored(t, f, f.s.GetGroup, child.ID, child)
	clash := child
	clash.Name = "eng"
	updateRefused(t, f.ctx, f.s.UpdateGroup, clash.ID, clash)

	// Delete: refused while children exist; removes bindings and members.
	child.ParentID, child.UpdatedAt = root.ID, f.tick()
	_, err = f.s.UpdateGroup(f.ctx, child.ID, put(child))
	ok(t, err)
	wantErr(t, f.s.DeleteGroup(f.ctx, root.ID), store.ErrConflict)
	bob := f.user("bob@example.com")
	f.groupMember(child, bob)
	b := f.binding(child, store.RoleDeveloper, "")
	ok(t, f.s.DeleteGroup(f.ctx, child.ID))
	_, err = f.s.GetRoleBinding(f.ctx, b.ID)
	wantErr(t, err, store.ErrNotFound)
	ids, err := f.s.UserGroupIDs(f.ctx, w.ID, bob.ID)
	ok(t, err)
	equal(t, len(ids), 0)
	ok(t, f.s.DeleteGroup(f.ctx, root.ID))
	wantErr(t, f.s.DeleteGroup(f.ctx, root.ID), store.ErrNotFound)
}

func testGroupCycles(t *testing.T, f *fixture) {
	_, o := f.acme()
	w := f.workspace(o, "prod")
	a := f.group(w, "a", "")
	b := f.group(w, "b", a.ID)
	c := f.group(w, "c", b.ID)
	d := f.group(w, "d", "")

	for _, tc := range []struct {
		name   string
		g      store.Group
		parent string
		want   error
	}{
		{"self", a, a.ID, store.ErrCycle},
		{"child", a, b.ID, store.ErrCycle},
		{"grandchild", a, c.ID, store.ErrCycle},
		{"middle under its child", b, c.ID, store.ErrCycle},
		{"unknown parent", d, store.NewID(), store.ErrConflict},
		{"unrelated", a, d.ID, nil},
		{"back to root", a, "", nil},
		{"sibling subtree", d, c.ID, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := tc.g
			g.ParentID, g.UpdatedAt = tc.parent, f.tick()
			_, err := f.s.UpdateGroup(f.ctx, g.ID, put(g))
			if tc.want != nil {
				wantErr(t, err, tc.want)
				got, gerr := f.s.GetGroup(f.ctx, g.ID)
				ok(t, gerr)
				equal(t, got.ParentID, tc.g.ParentID)
				return
			}
			ok(t, err)
			got, err := f.s.GetGroup(f.ctx, g.ID)
			ok(t, err)
			equal(t, got.ParentID, tc.parent)
		})
	}
}

func testGroupMembers(t *testing.T, f *fixture) {
	owner := f.user("owner@example.com")
	bob := f.user("bob@example.com")
	w := f.workspace(f.org(owner, "acme"), "prod")
	g, g2 := f.group(w, "a", ""), f.group(w, "b", "")
	mb, mo := f.groupMember(g, bob), f.groupMember(g, owner)
	f.groupMember(g2, bob)

	wantErr(t, f.s.AddGroupMember(f.ctx, store.GroupMember{GroupID: g.ID, UserID: bob.ID, CreatedAt: f.now}), store.ErrConflict)
	wantErr(t, f.s.AddGroupMember(f.ctx, store.GroupMember{GroupID: store.NewID(), UserID: bob.ID, CreatedAt: f.now}), store.ErrConflict)
	wantErr(t, f.s.AddGroupMember(f.ctx, store.GroupMember{GroupID: g.ID, UserID: store.NewID(), CreatedAt: f.now}), store.ErrConflict)

	want := []store.GroupMember{mb, mo}
	slices.SortFunc(want, func(a, b store.GroupMember) int { return strings.Compare(a.UserID, b.UserID) })
	wantAll(t, f.ctx, f.s.ListGroupMembers, g.ID, want)

	ids, err := f.s.UserGroupIDs(f.ctx, w.ID, bob.ID)
	ok(t, err)
	equal(t, ids, []string{g.ID, g2.ID})
	ids, err = f.s.UserGroupIDs(f.ctx, store.NewID(), bob.ID)
	ok(t, err)
	equal(t, len(ids), 0)

	ok(t, f.s.RemoveGroupMember(f.ctx, g.ID, bob.ID))
	wantErr(t, f.s.RemoveGroupMember(f.ctx, g.ID, bob.ID), store.ErrNotFound)
	ids, err = f.s.UserGroupIDs(f.ctx, w.ID, bob.ID)
	ok(t, err)
	equal(t, ids, []string{g2.ID})
}

func testRoleBindings(t *testing.T, f *fixture) {
	_, o := f.acme()
	w, w2 := f.workspace(o, "prod"), f.workspace(o, "dev")
	g := f.group(w, "devs", "")
	g2 := f.group(w2, "devs", "")
	p, p2 := f.project(w, "web", ""), f.project(w, "db", "")
	pOther := f.project(w2, "web", "")

	wide := f.binding(g, store.RoleViewer, "")
	onP := f.binding(g, store.RoleDeveloper, p.ID)
	onP2 := f.binding(g, store.RoleDeveloper, p2.ID) // same role, other project: fine
	f.binding(g2, store.RoleViewer, "")

	stored(t, f, f.s.GetRoleBinding, onP.ID, onP)
	stored(t, f, f.s.GetRoleBinding, wide.ID, wide)

	for _, tc := range []struct {
		name string
		b    store.RoleBinding
	}{
		{"same workspace-wide", store.RoleBinding{ID: store.NewID(), WorkspaceID: w.ID, GroupID: g.ID, Role: store.RoleViewer, CreatedAt: f.now}},
		{"same project", store.RoleBinding{ID: store.NewID(), WorkspaceID: w.ID, GroupID: g.ID, Role: store.RoleDeveloper, ProjectID: p.ID, CreatedAt: f.now}},
		{"same id", store.RoleBinding{ID: wide.ID, WorkspaceID: w.ID, GroupID: g.ID, Role: store.RoleWorkspaceAdmin, CreatedAt: f.now}},
		{"group of another workspace", store.RoleBinding{ID: store.NewID(), WorkspaceID: w.ID, GroupID: g2.ID, Role: store.RoleDeveloper, CreatedAt: f.now}},
		{"project of another workspace", store.RoleBinding{ID: store.NewID(), WorkspaceID: w.ID, GroupID: g.ID, Role: store.RoleWorkspaceAdmin, ProjectID: pOther.ID, CreatedAt: f.now}},
		{"unknown group", store.RoleBinding{ID: store.NewID(), WorkspaceID: w.ID, GroupID: store.NewID(), Role: store.RoleViewer, CreatedAt: f.now}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantErr(t, f.s.CreateRoleBinding(f.ctx, tc.b), store.ErrConflict)
		})
	}

	want := []store.RoleBinding{wide, onP, onP2}
	wantAll(t, f.ctx, f.s.ListRoleBindings, w.ID, want)
	all, err := f.s.AllRoleBindings(f.ctx, w.ID)
	ok(t, err)
	equal(t, all, want)

	// Deleting a project removes its bindings.
	ok(t, f.s.DeleteProject(f.ctx, p2.ID))
	_, err = f.s.GetRoleBinding(f.ctx, onP2.ID)
	wantErr(t, err, store.ErrNotFound)

	ok(t, f.s.DeleteRoleBinding(f.ctx, onP.ID))
	wantErr(t, f.s.DeleteRoleBinding(f.ctx, onP.ID), store.ErrNotFound)
	all, err = f.s.AllRoleBindings(f.ctx, w.ID)
	ok(t, err)
	equal(t, all, []store.RoleBinding{wide})
}

// testProjectsUnder: the projects at or below the roots, in id order, each
// once, paged with a cursor; nothing of another workspace.
func testProjectsUnder(t *testing.T, f *fixture) {
	_, o := f.acme()
	w, w2 := f.workspace(o, "prod"), f.workspace(o, "dev")
	a := f.project(w, "a", "")
	b := f.project(w, "b", a.ID)
	c := f.project(w, "c", b.ID)
	d := f.project(w, "d", "")
	e := f.project(w, "e", d.ID)
	other := f.project(w2, "a", "")
	byID := func(ps ...store.Project) []string {
		ids := []string{}
		for _, p := range ps {
			ids = append(ids, p.ID)
		}
		slices.Sort(ids)
		return ids
	}
	all := func(t *testing.T, roots []string, limit int) []string {
		t.Helper()
		ids, page := []string{}, store.Page{Limit: limit}
		for {
			ps, next, err := f.s.ListProjectsUnder(f.ctx, w.ID, roots, page)
			ok(t, err)
			if next != "" && len(ps) != limit {
				t.Fatalf("short page: %d of %d with a next cursor", len(ps), limit)
			}
			for _, p := range ps {
				ids = append(ids, p.ID)
			}
			if next == "" {
				return ids
			}
			page.After = next
		}
	}
	for _, tc := range []struct {
		name  string
		roots []string
		want  []string
	}{
		{"no roots", nil, []string{}},
		{"a subtree", []string{b.ID}, byID(b, c)},
		{"a leaf", []string{c.ID}, byID(c)},
		{"nested roots once", []string{a.ID, c.ID, b.ID}, byID(a, b, c)},
		{"two trees", []string{a.ID, d.ID}, byID(a, b, c, d, e)},
		{"unknown root", []string{store.NewID()}, []string{}},
		{"root of another workspace", []string{other.ID}, []string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, limit := range []int{1, 2, 100} {
				equal(t, all(t, tc.roots, limit), tc.want)
			}
		})
	}
	ps, _, err := f.s.ListProjectsUnder(f.ctx, w.ID, []string{b.ID}, store.Page{})
	ok(t, err)
	want := []store.Project{b, c}
	slices.SortFunc(want, func(x, y store.Project) int { return strings.Compare(x.ID, y.ID) })
	equal(t, ps, want) // whole records, as GetProject reads them
	_, _, err = f.s.ListProjectsUnder(f.ctx, w.ID, []string{a.ID}, store.Page{After: "not-a-cursor"})
	wantErr(t, err, store.ErrInvalidCursor)
	_, _, err = f.s.ListProjectsUnder(f.ctx, w.ID, nil, store.Page{After: "not-a-cursor"})
	wantErr(t, err, store.ErrInvalidCursor)
}
