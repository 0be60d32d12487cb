package storetest

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hexabase/hexabase-ai/internal/store"
)

func testOrganizations(t *testing.T, f *fixture) {
	owner, o := f.acme()

	stored(t, f, f.s.GetOrganization, o.ID, o)

	m, err := f.s.GetOrgMember(f.ctx, o.ID, owner.ID)
	ok(t, err)
	equal(t, m, store.OrgMember{OrgID: o.ID, UserID: owner.ID, Email: owner.Email, Role: store.RoleOwner, CreatedAt: o.CreatedAt})

	// Duplicate slug: nothing is written, not even the owner membership.
	dup := store.Organization{ID: store.NewID(), Name: "Other", Slug: "acme", CreatedAt: f.now, UpdatedAt: f.now}
	wantErr(t, f.s.CreateOrganization(f.ctx, dup, store.OrgMember{UserID: owner.ID, Role: store.RoleOwner, CreatedAt: f.now}), store.ErrConflict)
	_, err = f.s.GetOrgMember(f.ctx, dup.ID, owner.ID)
	wantErr(t, err, store.ErrNotFound)
	// Unknown owner: the organization is not created either.
	lonely := store.Organization{ID: store.NewID(), Name: "Lonely", Slug: "lonely", CreatedAt: f.now, UpdatedAt: f.now}
	wantErr(t, f.s.CreateOrganization(f.ctx, lonely, store.OrgMember{UserID: store.NewID(), Role: store.RoleOwner, CreatedAt: f.now}), store.ErrConflict)
	_, err = f.s.GetOrganization(f.ctx, lonely.ID)
	wantErr(t, err, store.ErrNotFound)

	other := f.org(owner, "globex")
	o.Name, o.Slug, o.BillingEmail, o.UpdatedAt = "ACME Corp", "acme-corp", "pay@acme.example", f.tick()
	o, err = f.s.UpdateOrganization(f.ctx, o.ID, put(o))
	ok(t, err)
	equal(t, o.Version, int64(2))
	stored(t, f, f.s.GetOrganization, o.ID, o)

	taken := other
	taken.Slug = "acme-corp"
	updateRefused(t, f.ctx, f.s.UpdateOrganization, taken.ID, taken)

	wantAll(t, f.ctx, f.s.ListUserOrganizations, owner.ID, []store.Organization{o, other})

	stranger := f.user("stranger@example.com")
	wantAll(t, f.ctx, f.s.ListUserOrganizations, stranger.ID, []store.Organization{})

	deleteOnce(t, f.ctx, f.s.DeleteOrganization, f.s.GetOrganization, other.ID)
}

func testOrgMembers(t *testing.T, f *fixture) {
	owner, o := f.acme()
	bob := f.user("bob@example.com")
	mb := f.member(o, bob, store.RoleMember)

	got, err := f.s.GetOrgMember(f.ctx, o.ID, bob.ID)
	ok(t, err)
	equal(t, got, mb)
	wantErr(t, f.s.AddOrgMember(f.ctx, store.OrgMember{OrgID: o.ID, UserID: bob.ID, Role: store.RoleAdmin, CreatedAt: f.now}), store.ErrConflict)
	wantErr(t, f.s.AddOrgMember(f.ctx, store.OrgMember{OrgID: store.NewID(), UserID: bob.ID, Role: store.RoleAdmin, CreatedAt: f.now}), store.ErrConflict)
	wantErr(t, f.s.AddOrgMember(f.ctx, store.OrgMember{OrgID: o.ID, UserID: store.NewID(), Role: store.RoleAdmin, CreatedAt: f.now}), store.ErrConflict)

	ok(t, f.s.UpdateOrgMemberRole(f.ctx, o.ID, bob.ID, store.RoleAdmin))
	got, err = f.s.GetOrgMember(f.ctx, o.ID, bob.ID)
	ok(t, err)
	mb.Role = store.RoleAdmin
	equal(t, got, mb)
	wantErr(t, f.s.UpdateOrgMemberRole(f.ctx, o.ID, store.NewID(), store.RoleAdmin), store.ErrNotFound)

	for _, tc := range []struct {
		role string
		want int
	}{{store.RoleOwner, 1}, {store.RoleAdmin, 1}, {store.RoleMember, 0}} {
		n, err := f.s.CountOrgMembersWithRole(f.ctx, o.ID, tc.role)
		ok(t, err)
		if n != tc.want {
			t.Fatalf("CountOrgMembersWithRole(%s) = %d, want %d", tc.role, n, tc.want)
		}
	}

	mo, err := f.s.GetOrgMember(f.ctx, o.ID, owner.ID)
	ok(t, err)
	want := []store.OrgMember{mo, mb}
	slices.SortFunc(want, func(a, b store.OrgMember) int { return strings.Compare(a.UserID, b.UserID) })
	wantAll(t, f.ctx, f.s.ListOrgMembers, o.ID, want)

	ok(t, f.s.RemoveOrgMember(f.ctx, o.ID, bob.ID))
	_, err = f.s.GetOrgMember(f.ctx, o.ID, bob.ID)
	wantErr(t, err, store.ErrNotFound)
	wantErr(t, f.s.RemoveOrgMember(f.ctx, o.ID, bob.ID), store.ErrNotFound)
	// The user is still there.
	_, err = f.s.GetUser(f.ctx, bob.ID)
	ok(t, err)
}

func testRemoveOrgMemberCascade(t *testing.T, f *fixture) {
	owner, acme, globex := f.twoOrgs()
	bob := f.user("bob@example.com")
	f.member(acme, bob, store.RoleMember)
	f.member(globex, bob, store.RoleMember)
	wa, wg := f.workspace(acme, "prod"), f.workspace(globex, "prod")
	f.wsMember(wa, bob)
	f.wsMember(wa, owner)
	f.wsMember(wg, bob)
	ga, gg := f.group(wa, "devs", ""), f.group(wg, "devs", "")
	f.groupMember(ga, bob)
	ownerInGroup := f.groupMember(ga, owner)
	bobInGlobex := f.groupMember(gg, bob)

	ok(t, f.s.RemoveOrgMember(f.ctx, acme.ID, bob.ID))

	_, err := f.s.GetWorkspaceMember(f.ctx, wa.ID, bob.ID)
	wantErr(t, err, store.ErrNotFound)
	ids, err := f.s.UserGroupIDs(f.ctx, wa.ID, bob.ID)
	ok(t, err)
	equal(t, len(ids), 0)
	// Other users and other organizations are untouched.
	_, err = f.s.GetWorkspaceMember(f.ctx, wa.ID, owner.ID)
	ok(t, err)
	wantAll(t, f.ctx, f.s.ListGroupMembers, ga.ID, []store.GroupMember{ownerInGroup})
	_, err = f.s.GetWorkspaceMember(f.ctx, wg.ID, bob.ID)
	ok(t, err)
	wantAll(t, f.ctx, f.s.ListGroupMembers, gg.ID, []store.GroupMember{bobInGlobex})
	_, err = f.s.GetOrgMember(f.ctx, globex.ID, bob.ID)
	ok(t, err)
}

func testInvitations(t *testing.T, f *fixture) {
	owner, o := f.acme()
	o2 := f.org(owner, "globex")
	mk := func(org store.Organization, email, token string) store.Invitation {
		at := f.tick()
		return store.Invitation{ID: store.NewID(), OrgID: org.ID, Email: email, Role: store.RoleMember, TokenHash: token,
			InvitedBy: owner.ID, CreatedAt: at, ExpiresAt: at.Add(72 * time.Hour)}
	}
	a := mk(o, "New@Example.com", "tok-a")
	ok(t, f.s.CreateInvitation(f.ctx, a))
	b := mk(o, "other@example.com", "tok-b")
	ok(t, f.s.CreateInvitation(f.ctx, b))
	c := mk(o2, "new@example.com", "tok-c") // same email, other org: fine
	ok(t, f.s.CreateInvitation(f.ctx, c))

	for _, tc := range []struct {
		name string
		inv  store.Invitation
	}{
		{"pending for same org and email, other case", mk(o, "NEW@example.COM", "tok-x")},
		{"same token hash", mk(o, "third@example.com", "tok-a")},
		{"same id", func() store.Invitation { i := mk(o, "fourth@example.com", "tok-y"); i.ID = a.ID; return i }()},
		{"unknown org", mk(store.Organization{ID: store.NewID()}, "fifth@example.com", "tok-z")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantErr(t, f.s.CreateInvitation(f.ctx, tc.inv), store.ErrConflict)
		})
	}

	stored(t, f, f.s.GetInvitation, a.ID, a)
	stored(t, f, f.s.GetInvitationByTokenHash, "tok-b", b)
	_, err := f.s.GetInvitation(f.ctx, store.NewID())
	wantErr(t, err, store.ErrNotFound)
	_, err = f.s.GetInvitationByTokenHash(f.ctx, "nope")
	wantErr(t, err, store.ErrNotFound)

	wantAll(t, f.ctx, f.s.ListInvitations, o.ID, []store.Invitation{a, b})

	ok(t, f.s.DeleteInvitation(f.ctx, b.ID))
	wantErr(t, f.s.DeleteInvitation(f.ctx, b.ID), store.ErrNotFound)
	wantAll(t, f.ctx, f.s.ListInvitations, o.ID, []store.Invitation{a})
}

func testAcceptInvitation(t *testing.T, f *fixture) {
	owner, o := f.acme()
	invitee := f.user("invitee@example.com")
	at := f.tick()
	inv := store.Invitation{ID: store.NewID(), OrgID: o.ID, Email: invitee.Email, Role: store.RoleAdmin, TokenHash: "tok",
		InvitedBy: owner.ID, CreatedAt: at, ExpiresAt: at.Add(time.Hour)}
	ok(t, f.s.CreateInvitation(f.ctx, inv))

	accepted := f.tick()
	m := store.OrgMember{OrgID: o.ID, UserID: invitee.ID, Role: store.RoleAdmin, CreatedAt: accepted}
	ok(t, f.s.AcceptInvitation(f.ctx, inv.ID, m, accepted))
	got, err := f.s.GetInvitation(f.ctx, inv.ID)
	ok(t, err)
	inv.AcceptedAt = ptr(accepted)
	equal(t, got, inv)
	gm, err := f.s.GetOrgMember(f.ctx, o.ID, invitee.ID)
	ok(t, err)
	m.Email = invitee.Email
	equal(t, gm, m)

	// Accepting twice.
	wantErr(t, f.s.AcceptInvitation(f.ctx, inv.ID, m, f.tick()), store.ErrConflict)
	// Missing.
	wantErr(t, f.s.AcceptInvitation(f.ctx, store.NewID(), m, f.tick()), store.ErrNotFound)

	// Once accepted, the same address may be invited again.
	again := inv
	again.ID, again.TokenHash, again.AcceptedAt = store.NewID(), "tok-2", nil
	ok(t, f.s.CreateInvitation(f.ctx, again))
	// Already a member: ErrConflict, and the invitation stays pending
	// (the whole transaction rolls back).
	wantErr(t, f.s.AcceptInvitation(f.ctx, again.ID, m, f.tick()), store.ErrConflict)
	got, err = f.s.GetInvitation(f.ctx, again.ID)
	ok(t, err)
	if got.AcceptedAt != nil {
		t.Fatalf("failed acceptance marked the invitation accepted at %v", got.AcceptedAt)
	}
}

func testAcceptInvitationRace(t *testing.T, f *fixture) {
	owner, o := f.acme()
	at := f.tick()
	inv := store.Invitation{ID: store.NewID(), OrgID: o.ID, Email: "x@example.com", Role: store.RoleMember, TokenHash: "tok",
		InvitedBy: owner.ID, CreatedAt: at, ExpiresAt: at.Add(time.Hour)}
	ok(t, f.s.CreateInvitation(f.ctx, inv))
	const n = 6
	users := make([]store.User, n)
	for i := range users {
		users[i] = f.user(fmt.Sprintf("u%d@example.com", i))
	}
	errs := race(n, func(i int) error {
		return f.s.AcceptInvitation(f.ctx, inv.ID, store.OrgMember{OrgID: o.ID, UserID: users[i].ID, Role: store.RoleMember, CreatedAt: at}, at)
	})
	exactlyOneWins(t, errs, store.ErrConflict)
	n2, err := f.s.CountOrgMembersWithRole(f.ctx, o.ID, store.RoleMember)
	ok(t, err)
	equal(t, n2, 1)
}
