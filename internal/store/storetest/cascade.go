package storetest

import (
	"testing"

	"github.com/hexabase/hexabase-ai/internal/store"
)

func testDeleteWorkspaceCascade(t *testing.T, f *fixture) {
	owner, o := f.acme()
	w, keep := f.workspace(o, "prod"), f.workspace(o, "dev")
	f.wsMember(w, owner)
	root := f.project(w, "a", "")
	child := f.project(w, "b", root.ID)
	gRoot := f.group(w, "g", "")
	gChild := f.group(w, "h", gRoot.ID)
	f.groupMember(gChild, owner)
	b := f.binding(gChild, store.RoleDeveloper, child.ID)
	kp := f.project(keep, "a", "")
	kg := f.group(keep, "g", "")

	ok(t, f.s.DeleteWorkspace(f.ctx, w.ID))
	for _, id := range []string{root.ID, child.ID} {
		_, err := f.s.GetProject(f.ctx, id)
		wantErr(t, err, store.ErrNotFound)
	}
	for _, id := range []string{gRoot.ID, gChild.ID} {
		_, err := f.s.GetGroup(f.ctx, id)
		wantErr(t, err, store.ErrNotFound)
	}
	_, err := f.s.GetRoleBinding(f.ctx, b.ID)
	wantErr(t, err, store.ErrNotFound)
	_, err = f.s.GetWorkspaceMember(f.ctx, w.ID, owner.ID)
	wantErr(t, err, store.ErrNotFound)
	_, _, err = f.s.ListGroupMembers(f.ctx, gChild.ID, store.Page{})
	ok(t, err)

	_, err = f.s.GetProject(f.ctx, kp.ID)
	ok(t, err)
	_, err = f.s.GetGroup(f.ctx, kg.ID)
	ok(t, err)
}

func testDeleteOrganizationCascade(t *testing.T, f *fixture) {
	owner, o, keep := f.twoOrgs()
	bob := f.user("bob@example.com")
	f.member(o, bob, store.RoleMember)
	w := f.workspace(o, "prod")
	f.wsMember(w, bob)
	p := f.project(w, "a", "")
	g := f.group(w, "g", "")
	f.groupMember(g, bob)
	b := f.binding(g, store.RoleViewer, p.ID)
	at := f.tick()
	inv := store.Invitation{ID: store.NewID(), OrgID: o.ID, Email: "x@example.com", Role: store.RoleMember, TokenHash: "tok", CreatedAt: at, ExpiresAt: at}
	ok(t, f.s.CreateInvitation(f.ctx, inv))
	tk := f.task(o.ID, store.TaskQueued)
	kw := f.workspace(keep, "prod")

	ok(t, f.s.DeleteOrganization(f.ctx, o.ID))

	_, err := f.s.GetWorkspace(f.ctx, w.ID)
	wantErr(t, err, store.ErrNotFound)
	_, err = f.s.GetProject(f.ctx, p.ID)
	wantErr(t, err, store.ErrNotFound)
	_, err = f.s.GetGroup(f.ctx, g.ID)
	wantErr(t, err, store.ErrNotFound)
	_, err = f.s.GetRoleBinding(f.ctx, b.ID)
	wantErr(t, err, store.ErrNotFound)
	_, err = f.s.GetInvitation(f.ctx, inv.ID)
	wantErr(t, err, store.ErrNotFound)
	_, err = f.s.GetOrgMember(f.ctx, o.ID, bob.ID)
	wantErr(t, err, store.ErrNotFound)
	wantAll(t, f.ctx, f.s.ListUserOrganizations, owner.ID, []store.Organization{keep})

	// Users, other organizations and the task record survive.
	_, err = f.s.GetUser(f.ctx, bob.ID)
	ok(t, err)
	_, err = f.s.GetWorkspace(f.ctx, kw.ID)
	ok(t, err)
	_, err = f.s.GetTask(f.ctx, tk.ID)
	ok(t, err)
}
