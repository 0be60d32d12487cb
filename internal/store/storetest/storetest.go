// Package storetest is the conformance suite every store.Store backend must
// pass. Backends call RunTests from their own tests:
//
//	func TestConformance(t *testing.T) {
//		storetest.RunTests(t, func(t *testing.T) store.Store { return openFresh(t) })
//	}
//
// newStore must return an empty store that is private to t and closed when t
// ends; every subtest calls it once. Subtests run in parallel, so newStore
// must be safe to call concurrently.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hexabase/hexabase-ai/internal/store"
)

// RunTests runs the conformance suite against the backend newStore opens.
func RunTests(t *testing.T, newStore func(t *testing.T) store.Store) {
	t.Helper()
	for _, tc := range []struct {
		name string
		run  func(t *testing.T, f *fixture)
	}{
		{"Users", testUsers},
		{"Timestamps", testTimestamps},
		{"Sessions", testSessions},
		{"RefreshTokens", testRefreshTokens},
		{"RotateRefreshTokenRace", testRotateRefreshTokenRace},
		{"SigningKeys", testSigningKeys},
		{"Settings", testSettings},
		{"DeleteSettingIfRace", testDeleteSettingIfRace},
		{"Organizations", testOrganizations},
		{"OrgMembers", testOrgMembers},
		{"RemoveOrgMemberCascade", testRemoveOrgMemberCascade},
		{"Invitations", testInvitations},
		{"AcceptInvitation", testAcceptInvitation},
		{"AcceptInvitationRace", testAcceptInvitationRace},
		{"Workspaces", testWorkspaces},
		{"ListWorkspacesByStatus", testListWorkspacesByStatus},
		{"SetWorkspaceStatus", testSetWorkspaceStatus},
		{"SetWorkspaceStatusRace", testSetWorkspaceStatusRace},
		{"WorkspaceMembers", testWorkspaceMembers},
		{"Projects", testProjects},
		{"Groups", testGroups},
		{"GroupCycles", testGroupCycles},
		{"GroupMembers", testGroupMembers},
		{"RoleBindings", testRoleBindings},
		{"Tasks", testTasks},
		{"DeleteWorkspaceCascade", testDeleteWorkspaceCascade},
		{"DeleteOrganizationCascade", testDeleteOrganizationCascade},
		{"Pagination", testPagination},
		{"PaginationLimits", testPaginationLimits},
		{"InvalidCursor", testInvalidCursor},
		{"NotFound", testNotFound},
		{"Injection", testInjection},
		{"Ping", testPing},
		{"LastOwner", testLastOwner},
		{"ReinviteAfterExpiry", testReinviteAfterExpiry},
		{"Audit", testAudit},
		{"MFA", testMFA},
		{"Federation", testFederation},
		{"OAuth", testOAuth},
		{"Limits", testLimits},
		{"CronJobRuns", testCronJobRuns},
		{"ByName", testByName},
		{"UpdateCompareAndSwap", testUpdateCompareAndSwap},
		{"UpdateRace", testUpdateRace},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newStore(t)
			tc.run(t, newFixture(t, s))
		})
	}
}

// fixture builds records with valid references and fresh ids.
type fixture struct {
	t   *testing.T
	s   store.Store
	ctx context.Context
	now time.Time
	seq int
}

func newFixture(t *testing.T, s store.Store) *fixture {
	return &fixture{
		t:   t,
		s:   s,
		ctx: t.Context(),
		// Microsecond precision, as callers write it; the sub-second part
		// checks that nothing is rounded to milliseconds or seconds.
		now: time.Date(2025, 3, 14, 15, 9, 26, 535897000, time.UTC),
	}
}

// tick returns a strictly later time on each call.
func (f *fixture) tick() time.Time {
	f.seq++
	return f.now.Add(time.Duration(f.seq) * time.Second)
}

func (f *fixture) user(email string) store.User {
	f.t.Helper()
	u := store.User{ID: store.NewID(), Email: email, PasswordHash: "$argon2id$v=19$m=65536,t=1,p=4$c2FsdA$aGFzaA", CreatedAt: f.tick()}
	u.UpdatedAt = u.CreatedAt
	ok(f.t, f.s.CreateUser(f.ctx, u))
	return u
}

func (f *fixture) org(owner store.User, slug string) store.Organization {
	f.t.Helper()
	o := store.Organization{ID: store.NewID(), Name: "Org " + slug, Slug: slug, BillingEmail: "billing@" + slug + ".example", CreatedAt: f.tick(), Version: 1}
	o.UpdatedAt = o.CreatedAt
	ok(f.t, f.s.CreateOrganization(f.ctx, o, store.OrgMember{OrgID: o.ID, UserID: owner.ID, Role: store.RoleOwner, CreatedAt: o.CreatedAt}))
	return o
}

func (f *fixture) member(o store.Organization, u store.User, role string) store.OrgMember {
	f.t.Helper()
	m := store.OrgMember{OrgID: o.ID, UserID: u.ID, Role: role, CreatedAt: f.tick()}
	ok(f.t, f.s.AddOrgMember(f.ctx, m))
	m.Email = u.Email
	return m
}

func (f *fixture) workspace(o store.Organization, name string) store.Workspace {
	f.t.Helper()
	w := store.Workspace{ID: store.NewID(), OrgID: o.ID, Name: name, Plan: store.PlanShared, Status: store.WorkspacePending, CreatedBy: "someone", CreatedAt: f.tick(), Version: 1}
	w.UpdatedAt = w.CreatedAt
	ok(f.t, f.s.CreateWorkspace(f.ctx, w))
	return w
}

func (f *fixture) wsMember(w store.Workspace, u store.User) store.WorkspaceMember {
	f.t.Helper()
	m := store.WorkspaceMember{WorkspaceID: w.ID, UserID: u.ID, CreatedAt: f.tick()}
	ok(f.t, f.s.AddWorkspaceMember(f.ctx, m))
	m.Email = u.Email
	return m
}

func (f *fixture) project(w store.Workspace, name, parent string) store.Project {
	f.t.Helper()
	p := store.Project{ID: store.NewID(), WorkspaceID: w.ID, Name: name, ParentID: parent,
		Quota: store.Quota{CPU: "500m", Memory: "2Gi", Storage: "10Gi", Pods: 20}, CreatedAt: f.tick(), Version: 1}
	p.UpdatedAt = p.CreatedAt
	ok(f.t, f.s.CreateProject(f.ctx, p))
	return p
}

func (f *fixture) group(w store.Workspace, name, parent string) store.Group {
	f.t.Helper()
	g := store.Group{ID: store.NewID(), WorkspaceID: w.ID, Name: name, ParentID: parent, CreatedAt: f.tick(), Version: 1}
	g.UpdatedAt = g.CreatedAt
	ok(f.t, f.s.CreateGroup(f.ctx, g))
	return g
}

// put is an update function that writes v whatever was there.
func put[T any](v T) func(T) (T, error) { return func(T) (T, error) { return v, nil } }

func (f *fixture) groupMember(g store.Group, u store.User) store.GroupMember {
	f.t.Helper()
	m := store.GroupMember{GroupID: g.ID, UserID: u.ID, CreatedAt: f.tick()}
	ok(f.t, f.s.AddGroupMember(f.ctx, m))
	m.Email = u.Email
	return m
}

func (f *fixture) binding(g store.Group, role, project string) store.RoleBinding {
	f.t.Helper()
	b := store.RoleBinding{ID: store.NewID(), WorkspaceID: g.WorkspaceID, GroupID: g.ID, Role: role, ProjectID: project, CreatedAt: f.tick()}
	ok(f.t, f.s.CreateRoleBinding(f.ctx, b))
	return b
}

func (f *fixture) session(u store.User) store.Session {
	f.t.Helper()
	x := store.Session{ID: store.NewID(), UserID: u.ID, UserAgent: "curl/8", IP: "192.0.2.1", Fingerprint: "fp", CreatedAt: f.tick()}
	x.ExpiresAt = x.CreatedAt.Add(7 * 24 * time.Hour)
	ok(f.t, f.s.CreateSession(f.ctx, x))
	return x
}

func (f *fixture) refresh(x store.Session, hash string) store.RefreshToken {
	f.t.Helper()
	r := store.RefreshToken{TokenHash: hash, SessionID: x.ID, UserID: x.UserID, CreatedAt: f.tick()}
	r.ExpiresAt = r.CreatedAt.Add(7 * 24 * time.Hour)
	ok(f.t, f.s.CreateRefreshToken(f.ctx, r))
	return r
}

func (f *fixture) task(orgID, status string) store.Task {
	f.t.Helper()
	tk := store.Task{ID: store.NewID(), Kind: "workspace.provision", OrgID: orgID, Payload: []byte(`{"n":1}`), Status: status, CreatedAt: f.tick()}
	tk.UpdatedAt = tk.CreatedAt
	ok(f.t, f.s.CreateTask(f.ctx, tk))
	return tk
}

// Assertions.

func ok(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
}

func wantErr(t *testing.T, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("error = %v, want %v", err, target)
	}
}

func equal[T any](t *testing.T, got, want T) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("mismatch:\n got: %+v\nwant: %+v", got, want)
	}
}

func ptr[T any](v T) *T { return &v }

// Tests.

func testUsers(t *testing.T, f *fixture) {
	u := f.user("Alice@Example.COM")
	got, err := f.s.GetUser(f.ctx, u.ID)
	ok(t, err)
	equal(t, got, u)

	for _, email := range []string{"alice@example.com", "ALICE@EXAMPLE.COM", "Alice@Example.COM"} {
		got, err := f.s.GetUserByEmail(f.ctx, email)
		ok(t, err)
		equal(t, got, u)
	}
	_, err = f.s.GetUserByEmail(f.ctx, "bob@example.com")
	wantErr(t, err, store.ErrNotFound)

	for _, tc := range []struct {
		name string
		u    store.User
	}{
		{"same email other case", store.User{ID: store.NewID(), Email: "alice@EXAMPLE.com", CreatedAt: f.now, UpdatedAt: f.now}},
		{"same id", store.User{ID: u.ID, Email: "other@example.com", CreatedAt: f.now, UpdatedAt: f.now}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantErr(t, f.s.CreateUser(f.ctx, tc.u), store.ErrConflict)
		})
	}

	admin := store.User{ID: store.NewID(), Email: "root@example.com", PlatformAdmin: true, CreatedAt: f.now, UpdatedAt: f.now}
	ok(t, f.s.CreateUser(f.ctx, admin))
	got, err = f.s.GetUser(f.ctx, admin.ID)
	ok(t, err)
	equal(t, got, admin)

	later := f.tick()
	ok(t, f.s.UpdateUserPassword(f.ctx, u.ID, "new-hash", later))
	got, err = f.s.GetUser(f.ctx, u.ID)
	ok(t, err)
	u.PasswordHash, u.UpdatedAt = "new-hash", later
	equal(t, got, u)
	wantErr(t, f.s.UpdateUserPassword(f.ctx, store.NewID(), "x", later), store.ErrNotFound)

	n, err := f.s.CountUsers(f.ctx)
	ok(t, err)
	equal(t, n, 2)
}

func testTimestamps(t *testing.T, f *fixture) {
	// Written in another zone, returned in UTC with microseconds intact.
	zone := time.FixedZone("UTC+9", 9*3600)
	at := time.Date(2031, 12, 31, 23, 59, 59, 999999000, time.UTC)
	u := store.User{ID: store.NewID(), Email: "tz@example.com", CreatedAt: at.In(zone), UpdatedAt: at.Add(time.Microsecond).In(zone)}
	ok(t, f.s.CreateUser(f.ctx, u))
	got, err := f.s.GetUser(f.ctx, u.ID)
	ok(t, err)
	if got.CreatedAt.Location() != time.UTC {
		t.Fatalf("CreatedAt location = %v, want UTC", got.CreatedAt.Location())
	}
	equal(t, got.CreatedAt, at)
	equal(t, got.UpdatedAt, at.Add(time.Microsecond))

	now := time.Now().UTC().Truncate(time.Microsecond)
	x := store.Session{ID: store.NewID(), UserID: u.ID, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	ok(t, f.s.CreateSession(f.ctx, x))
	gx, err := f.s.GetSession(f.ctx, x.ID)
	ok(t, err)
	equal(t, gx, x)
}

func testSessions(t *testing.T, f *fixture) {
	u := f.user("s@example.com")
	other := f.user("o@example.com")
	a, b := f.session(u), f.session(u)
	f.session(other)

	got, err := f.s.GetSession(f.ctx, a.ID)
	ok(t, err)
	equal(t, got, a)

	list, err := f.s.ListUserSessions(f.ctx, u.ID)
	ok(t, err)
	equal(t, list, []store.Session{a, b})

	none, err := f.s.ListUserSessions(f.ctx, store.NewID())
	ok(t, err)
	equal(t, len(none), 0)

	first := f.tick()
	ok(t, f.s.RevokeSession(f.ctx, a.ID, first))
	ok(t, f.s.RevokeSession(f.ctx, a.ID, f.tick())) // twice: no error, first time kept
	got, err = f.s.GetSession(f.ctx, a.ID)
	ok(t, err)
	a.RevokedAt = ptr(first)
	equal(t, got, a)
	wantErr(t, f.s.RevokeSession(f.ctx, store.NewID(), first), store.ErrNotFound)

	wantErr(t, f.s.CreateSession(f.ctx, a), store.ErrConflict)
	orphan := store.Session{ID: store.NewID(), UserID: store.NewID(), CreatedAt: f.now, ExpiresAt: f.now}
	wantErr(t, f.s.CreateSession(f.ctx, orphan), store.ErrConflict)
}

func testRefreshTokens(t *testing.T, f *fixture) {
	u := f.user("r@example.com")
	x := f.session(u)
	r1 := f.refresh(x, "hash-1")

	got, err := f.s.GetRefreshToken(f.ctx, "hash-1")
	ok(t, err)
	equal(t, got, r1)
	_, err = f.s.GetRefreshToken(f.ctx, "nope")
	wantErr(t, err, store.ErrNotFound)
	wantErr(t, f.s.CreateRefreshToken(f.ctx, r1), store.ErrConflict)

	used := f.tick()
	r2 := store.RefreshToken{TokenHash: "hash-2", SessionID: x.ID, UserID: u.ID, CreatedAt: used, ExpiresAt: used.Add(time.Hour)}
	ok(t, f.s.RotateRefreshToken(f.ctx, "hash-1", r2, used))
	got, err = f.s.GetRefreshToken(f.ctx, "hash-1")
	ok(t, err)
	r1.UsedAt = ptr(used)
	equal(t, got, r1)
	got, err = f.s.GetRefreshToken(f.ctx, "hash-2")
	ok(t, err)
	equal(t, got, r2)

	// Reusing a spent token loses.
	r3 := store.RefreshToken{TokenHash: "hash-3", SessionID: x.ID, UserID: u.ID, CreatedAt: used, ExpiresAt: used}
	wantErr(t, f.s.RotateRefreshToken(f.ctx, "hash-1", r3, f.tick()), store.ErrConflict)
	_, err = f.s.GetRefreshToken(f.ctx, "hash-3")
	wantErr(t, err, store.ErrNotFound)

	// Unknown old token.
	wantErr(t, f.s.RotateRefreshToken(f.ctx, "missing", r3, f.tick()), store.ErrNotFound)

	// Atomic: if next cannot be inserted, old stays unused.
	dup := r2
	dup.CreatedAt = f.tick()
	wantErr(t, f.s.RotateRefreshToken(f.ctx, "hash-2", dup, f.tick()), store.ErrConflict)
	got, err = f.s.GetRefreshToken(f.ctx, "hash-2")
	ok(t, err)
	if got.UsedAt != nil {
		t.Fatalf("failed rotation marked the old token used at %v", got.UsedAt)
	}

	// Deleting the session's user cascades is not part of the interface;
	// but a token for an unknown session is refused.
	orphan := store.RefreshToken{TokenHash: "orphan", SessionID: store.NewID(), UserID: u.ID, CreatedAt: f.now, ExpiresAt: f.now}
	wantErr(t, f.s.CreateRefreshToken(f.ctx, orphan), store.ErrConflict)
}

// race runs fn from n goroutines released together and returns their errors.
func race(n int, fn func(i int) error) []error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = fn(i)
		})
	}
	close(start)
	wg.Wait()
	return errs
}

// exactlyOneWins checks one nil error and ErrConflict (or loser) for the rest.
func exactlyOneWins(t *testing.T, errs []error, loser error) int {
	t.Helper()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil:
			if winner >= 0 {
				t.Fatalf("goroutines %d and %d both won", winner, i)
			}
			winner = i
		case !errors.Is(err, loser):
			t.Fatalf("goroutine %d: error = %v, want %v", i, err, loser)
		}
	}
	if winner < 0 {
		t.Fatalf("nobody won: %v", errs)
	}
	return winner
}

func testRotateRefreshTokenRace(t *testing.T, f *fixture) {
	u := f.user("race@example.com")
	x := f.session(u)
	f.refresh(x, "old")
	const n = 8
	at := f.tick()
	errs := race(n, func(i int) error {
		next := store.RefreshToken{TokenHash: fmt.Sprintf("next-%d", i), SessionID: x.ID, UserID: u.ID, CreatedAt: at, ExpiresAt: at.Add(time.Hour)}
		return f.s.RotateRefreshToken(f.ctx, "old", next, at)
	})
	w := exactlyOneWins(t, errs, store.ErrConflict)
	for i := range n {
		_, err := f.s.GetRefreshToken(f.ctx, fmt.Sprintf("next-%d", i))
		if i == w {
			ok(t, err)
		} else {
			wantErr(t, err, store.ErrNotFound)
		}
	}
}

func testSigningKeys(t *testing.T, f *fixture) {
	keys, err := f.s.ListSigningKeys(f.ctx)
	ok(t, err)
	equal(t, len(keys), 0)

	old := store.SigningKey{ID: "kid-1", Algorithm: "RS256", PrivateKey: []byte{0, 1, 2, 0xff, 0}, PublicKey: []byte("pub-1"), CreatedAt: f.tick(), RetiredAt: ptr(f.now.Add(time.Hour))}
	newer := store.SigningKey{ID: "kid-2", Algorithm: "RS256", PrivateKey: []byte("sealed"), PublicKey: []byte{0x30, 0x82}, CreatedAt: f.tick()}
	ok(t, f.s.CreateSigningKey(f.ctx, old))
	ok(t, f.s.CreateSigningKey(f.ctx, newer))
	wantErr(t, f.s.CreateSigningKey(f.ctx, old), store.ErrConflict)

	keys, err = f.s.ListSigningKeys(f.ctx)
	ok(t, err)
	equal(t, keys, []store.SigningKey{newer, old})
}

func testSettings(t *testing.T, f *fixture) {
	_, err := f.s.GetSetting(f.ctx, "setup_token")
	wantErr(t, err, store.ErrNotFound)

	ok(t, f.s.PutSetting(f.ctx, "setup_token", "a"))
	ok(t, f.s.PutSetting(f.ctx, "other", ""))
	v, err := f.s.GetSetting(f.ctx, "setup_token")
	ok(t, err)
	equal(t, v, "a")
	ok(t, f.s.PutSetting(f.ctx, "setup_token", "b")) // upsert
	v, err = f.s.GetSetting(f.ctx, "setup_token")
	ok(t, err)
	equal(t, v, "b")
	v, err = f.s.GetSetting(f.ctx, "other")
	ok(t, err)
	equal(t, v, "")

	for _, tc := range []struct {
		name, key, value string
		want             error
	}{
		{"wrong value", "setup_token", "a", store.ErrNotFound},
		{"absent key", "missing", "b", store.ErrNotFound},
		{"right value", "setup_token", "b", nil},
		{"already deleted", "setup_token", "b", store.ErrNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := f.s.DeleteSettingIf(f.ctx, tc.key, tc.value)
			if tc.want == nil {
				ok(t, err)
			} else {
				wantErr(t, err, tc.want)
			}
		})
	}
	_, err = f.s.GetSetting(f.ctx, "setup_token")
	wantErr(t, err, store.ErrNotFound)
}

func testDeleteSettingIfRace(t *testing.T, f *fixture) {
	ok(t, f.s.PutSetting(f.ctx, "setup_token", "h"))
	errs := race(8, func(int) error { return f.s.DeleteSettingIf(f.ctx, "setup_token", "h") })
	exactlyOneWins(t, errs, store.ErrNotFound)
}

func testOrganizations(t *testing.T, f *fixture) {
	owner := f.user("owner@example.com")
	o := f.org(owner, "acme")

	got, err := f.s.GetOrganization(f.ctx, o.ID)
	ok(t, err)
	equal(t, got, o)

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
	got, err = f.s.GetOrganization(f.ctx, o.ID)
	ok(t, err)
	equal(t, got, o)

	taken := other
	taken.Slug = "acme-corp"
	_, err = f.s.UpdateOrganization(f.ctx, taken.ID, put(taken))
	wantErr(t, err, store.ErrConflict)
	_, err = f.s.UpdateOrganization(f.ctx, store.NewID(), put(o))
	wantErr(t, err, store.ErrNotFound)

	orgs, next, err := f.s.ListUserOrganizations(f.ctx, owner.ID, store.Page{})
	ok(t, err)
	equal(t, orgs, []store.Organization{o, other})
	equal(t, next, "")

	stranger := f.user("stranger@example.com")
	orgs, _, err = f.s.ListUserOrganizations(f.ctx, stranger.ID, store.Page{})
	ok(t, err)
	equal(t, len(orgs), 0)

	ok(t, f.s.DeleteOrganization(f.ctx, other.ID))
	_, err = f.s.GetOrganization(f.ctx, other.ID)
	wantErr(t, err, store.ErrNotFound)
	wantErr(t, f.s.DeleteOrganization(f.ctx, other.ID), store.ErrNotFound)
}

func testOrgMembers(t *testing.T, f *fixture) {
	owner := f.user("owner@example.com")
	o := f.org(owner, "acme")
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
	list, next, err := f.s.ListOrgMembers(f.ctx, o.ID, store.Page{})
	ok(t, err)
	equal(t, list, want)
	equal(t, next, "")

	ok(t, f.s.RemoveOrgMember(f.ctx, o.ID, bob.ID))
	_, err = f.s.GetOrgMember(f.ctx, o.ID, bob.ID)
	wantErr(t, err, store.ErrNotFound)
	wantErr(t, f.s.RemoveOrgMember(f.ctx, o.ID, bob.ID), store.ErrNotFound)
	// The user is still there.
	_, err = f.s.GetUser(f.ctx, bob.ID)
	ok(t, err)
}

func testRemoveOrgMemberCascade(t *testing.T, f *fixture) {
	owner := f.user("owner@example.com")
	bob := f.user("bob@example.com")
	acme, globex := f.org(owner, "acme"), f.org(owner, "globex")
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
	gm, _, err := f.s.ListGroupMembers(f.ctx, ga.ID, store.Page{})
	ok(t, err)
	equal(t, gm, []store.GroupMember{ownerInGroup})
	_, err = f.s.GetWorkspaceMember(f.ctx, wg.ID, bob.ID)
	ok(t, err)
	gm, _, err = f.s.ListGroupMembers(f.ctx, gg.ID, store.Page{})
	ok(t, err)
	equal(t, gm, []store.GroupMember{bobInGlobex})
	_, err = f.s.GetOrgMember(f.ctx, globex.ID, bob.ID)
	ok(t, err)
}

func testInvitations(t *testing.T, f *fixture) {
	owner := f.user("owner@example.com")
	o := f.org(owner, "acme")
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

	got, err := f.s.GetInvitation(f.ctx, a.ID)
	ok(t, err)
	equal(t, got, a)
	got, err = f.s.GetInvitationByTokenHash(f.ctx, "tok-b")
	ok(t, err)
	equal(t, got, b)
	_, err = f.s.GetInvitation(f.ctx, store.NewID())
	wantErr(t, err, store.ErrNotFound)
	_, err = f.s.GetInvitationByTokenHash(f.ctx, "nope")
	wantErr(t, err, store.ErrNotFound)

	list, next, err := f.s.ListInvitations(f.ctx, o.ID, store.Page{})
	ok(t, err)
	equal(t, list, []store.Invitation{a, b})
	equal(t, next, "")

	ok(t, f.s.DeleteInvitation(f.ctx, b.ID))
	wantErr(t, f.s.DeleteInvitation(f.ctx, b.ID), store.ErrNotFound)
	list, _, err = f.s.ListInvitations(f.ctx, o.ID, store.Page{})
	ok(t, err)
	equal(t, list, []store.Invitation{a})
}

func testAcceptInvitation(t *testing.T, f *fixture) {
	owner := f.user("owner@example.com")
	o := f.org(owner, "acme")
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
	owner := f.user("owner@example.com")
	o := f.org(owner, "acme")
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

func testWorkspaces(t *testing.T, f *fixture) {
	owner := f.user("owner@example.com")
	o, o2 := f.org(owner, "acme"), f.org(owner, "globex")
	w := f.workspace(o, "prod")
	w2 := f.workspace(o, "dev")
	f.workspace(o2, "prod") // same name in another org: fine

	got, err := f.s.GetWorkspace(f.ctx, w.ID)
	ok(t, err)
	equal(t, got, w)

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

	list, next, err := f.s.ListWorkspaces(f.ctx, o.ID, store.Page{})
	ok(t, err)
	equal(t, list, []store.Workspace{w, w2})
	equal(t, next, "")

	// UpdateWorkspace writes name and updated_at only.
	upd := w
	upd.Name, upd.UpdatedAt = "production", f.tick()
	upd.Status, upd.Plan = store.WorkspaceRunning, store.PlanDedicated
	stored, err := f.s.UpdateWorkspace(f.ctx, w.ID, put(upd))
	ok(t, err)
	got, err = f.s.GetWorkspace(f.ctx, w.ID)
	ok(t, err)
	w.Name, w.UpdatedAt, w.Version = upd.Name, upd.UpdatedAt, 2
	equal(t, got, w)
	equal(t, stored, w)
	clash := w2
	clash.Name = "production"
	_, err = f.s.UpdateWorkspace(f.ctx, clash.ID, put(clash))
	wantErr(t, err, store.ErrConflict)
	_, err = f.s.UpdateWorkspace(f.ctx, store.NewID(), put(w))
	wantErr(t, err, store.ErrNotFound)

	ok(t, f.s.DeleteWorkspace(f.ctx, w2.ID))
	_, err = f.s.GetWorkspace(f.ctx, w2.ID)
	wantErr(t, err, store.ErrNotFound)
	wantErr(t, f.s.DeleteWorkspace(f.ctx, w2.ID), store.ErrNotFound)
}

func testSetWorkspaceStatus(t *testing.T, f *fixture) {
	owner := f.user("owner@example.com")
	w := f.workspace(f.org(owner, "acme"), "prod")

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
	owner := f.user("owner@example.com")
	w := f.workspace(f.org(owner, "acme"), "prod")
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
	owner := f.user("owner@example.com")
	o, o2 := f.org(owner, "acme"), f.org(owner, "globex")
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
	list, next, err := f.s.ListWorkspaceMembers(f.ctx, w.ID, store.Page{})
	ok(t, err)
	equal(t, list, want)
	equal(t, next, "")

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

func testProjects(t *testing.T, f *fixture) {
	owner := f.user("owner@example.com")
	o := f.org(owner, "acme")
	w, w2 := f.workspace(o, "prod"), f.workspace(o, "dev")
	root := f.project(w, "web", "")
	child := f.project(w, "web-api", root.ID)
	unlimited := store.Project{ID: store.NewID(), WorkspaceID: w.ID, Name: "free", CreatedAt: f.tick(), Version: 1}
	unlimited.UpdatedAt = unlimited.CreatedAt
	ok(t, f.s.CreateProject(f.ctx, unlimited))
	other := f.project(w2, "web", "") // same name in another workspace: fine

	got, err := f.s.GetProject(f.ctx, child.ID)
	ok(t, err)
	equal(t, got, child)
	got, err = f.s.GetProject(f.ctx, unlimited.ID)
	ok(t, err)
	equal(t, got, unlimited)

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

	list, next, err := f.s.ListProjects(f.ctx, w.ID, store.Page{})
	ok(t, err)
	equal(t, list, []store.Project{root, child, unlimited})
	equal(t, next, "")

	// UpdateProject writes quota, parent and updated_at.
	upd := unlimited
	upd.Name = "ignored"
	upd.ParentID, upd.Quota, upd.UpdatedAt = root.ID, store.Quota{CPU: "1", Pods: 3}, f.tick()
	stored, err := f.s.UpdateProject(f.ctx, upd.ID, put(upd))
	ok(t, err)
	got, err = f.s.GetProject(f.ctx, unlimited.ID)
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
	ok(t, f.s.DeleteProject(f.ctx, root.ID))
	_, err = f.s.GetProject(f.ctx, root.ID)
	wantErr(t, err, store.ErrNotFound)
	wantErr(t, f.s.DeleteProject(f.ctx, root.ID), store.ErrNotFound)
}

func testGroups(t *testing.T, f *fixture) {
	owner := f.user("owner@example.com")
	o := f.org(owner, "acme")
	w, w2 := f.workspace(o, "prod"), f.workspace(o, "dev")
	root := f.group(w, "eng", "")
	child := f.group(w, "eng-web", root.ID)
	other := f.group(w2, "eng", "")

	got, err := f.s.GetGroup(f.ctx, child.ID)
	ok(t, err)
	equal(t, got, child)
	_, err = f.s.GetGroup(f.ctx, store.NewID())
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

	list, next, err := f.s.ListGroups(f.ctx, w.ID, store.Page{})
	ok(t, err)
	equal(t, list, []store.Group{root, child})
	equal(t, next, "")
	all, err := f.s.AllGroups(f.ctx, w.ID)
	ok(t, err)
	equal(t, all, []store.Group{root, child})

	// Rename and move to root.
	child.Name, child.ParentID, child.UpdatedAt = "web", "", f.tick()
	child, err = f.s.UpdateGroup(f.ctx, child.ID, put(child))
	ok(t, err)
	got, err = f.s.GetGroup(f.ctx, child.ID)
	ok(t, err)
	equal(t, got, child)
	clash := child
	clash.Name = "eng"
	_, err = f.s.UpdateGroup(f.ctx, clash.ID, put(clash))
	wantErr(t, err, store.ErrConflict)
	_, err = f.s.UpdateGroup(f.ctx, store.NewID(), put(child))
	wantErr(t, err, store.ErrNotFound)

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
	owner := f.user("owner@example.com")
	w := f.workspace(f.org(owner, "acme"), "prod")
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
	list, next, err := f.s.ListGroupMembers(f.ctx, g.ID, store.Page{})
	ok(t, err)
	equal(t, list, want)
	equal(t, next, "")

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
	owner := f.user("owner@example.com")
	o := f.org(owner, "acme")
	w, w2 := f.workspace(o, "prod"), f.workspace(o, "dev")
	g := f.group(w, "devs", "")
	g2 := f.group(w2, "devs", "")
	p, p2 := f.project(w, "web", ""), f.project(w, "db", "")
	pOther := f.project(w2, "web", "")

	wide := f.binding(g, store.RoleViewer, "")
	onP := f.binding(g, store.RoleDeveloper, p.ID)
	onP2 := f.binding(g, store.RoleDeveloper, p2.ID) // same role, other project: fine
	f.binding(g2, store.RoleViewer, "")

	got, err := f.s.GetRoleBinding(f.ctx, onP.ID)
	ok(t, err)
	equal(t, got, onP)
	got, err = f.s.GetRoleBinding(f.ctx, wide.ID)
	ok(t, err)
	equal(t, got, wide)

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
	list, next, err := f.s.ListRoleBindings(f.ctx, w.ID, store.Page{})
	ok(t, err)
	equal(t, list, want)
	equal(t, next, "")
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

func testTasks(t *testing.T, f *fixture) {
	owner := f.user("owner@example.com")
	o := f.org(owner, "acme")
	a := f.task(o.ID, store.TaskQueued)
	b := f.task("", store.TaskRunning) // platform task
	c := f.task(o.ID, store.TaskQueued)
	d := f.task(o.ID, store.TaskSucceeded)
	empty := store.Task{ID: store.NewID(), Kind: "noop", Status: store.TaskFailed, CreatedAt: f.tick()}
	empty.UpdatedAt = empty.CreatedAt
	ok(t, f.s.CreateTask(f.ctx, empty))

	got, err := f.s.GetTask(f.ctx, a.ID)
	ok(t, err)
	equal(t, got, a)
	got, err = f.s.GetTask(f.ctx, empty.ID)
	ok(t, err)
	equal(t, got, empty)
	wantErr(t, f.s.CreateTask(f.ctx, a), store.ErrConflict)
	_, err = f.s.GetTask(f.ctx, store.NewID())
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
	got, err = f.s.GetTask(f.ctx, a.ID)
	ok(t, err)
	upd.Kind, upd.Payload = a.Kind, a.Payload
	equal(t, got, upd)
	missing := a
	missing.ID = store.NewID()
	wantErr(t, f.s.UpdateTask(f.ctx, missing), store.ErrNotFound)

	list, next, err := f.s.ListOrgTasks(f.ctx, o.ID, store.Page{})
	ok(t, err)
	equal(t, list, []store.Task{upd, c, d})
	equal(t, next, "")
}

func testDeleteWorkspaceCascade(t *testing.T, f *fixture) {
	owner := f.user("owner@example.com")
	o := f.org(owner, "acme")
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
	owner := f.user("owner@example.com")
	bob := f.user("bob@example.com")
	o, keep := f.org(owner, "acme"), f.org(owner, "globex")
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
	orgs, _, err := f.s.ListUserOrganizations(f.ctx, owner.ID, store.Page{})
	ok(t, err)
	equal(t, orgs, []store.Organization{keep})

	// Users, other organizations and the task record survive.
	_, err = f.s.GetUser(f.ctx, bob.ID)
	ok(t, err)
	_, err = f.s.GetWorkspace(f.ctx, kw.ID)
	ok(t, err)
	_, err = f.s.GetTask(f.ctx, tk.ID)
	ok(t, err)
}

// lister lists one page and returns the keys of its items.
type lister func(p store.Page) ([]string, string, error)

func keys[T any](items []T, next string, err error, key func(T) string) ([]string, string, error) {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = key(it)
	}
	return out, next, err
}

// listCases builds n records for every paginated list and returns a lister
// and the expected keys in order for each.
func listCases(f *fixture, n int) map[string]struct {
	list lister
	want []string
} {
	t := f.t
	owner := f.user("owner@example.com")
	o := f.org(owner, "acme")
	w := f.workspace(o, "ws-0")
	g := f.group(w, "g-0", "")
	cases := map[string]struct {
		list lister
		want []string
	}{}
	var orgIDs, memberIDs, wsIDs, wsMemberIDs, projectIDs, groupIDs, groupMemberIDs, bindingIDs, invIDs, taskIDs []string
	orgIDs = append(orgIDs, o.ID)
	memberIDs = append(memberIDs, owner.ID)
	wsIDs = append(wsIDs, w.ID)
	groupIDs = append(groupIDs, g.ID)
	for i := range n {
		u := f.user(fmt.Sprintf("user-%d@example.com", i))
		memberIDs = append(memberIDs, u.ID)
		f.member(o, u, store.RoleMember)
		f.wsMember(w, u)
		wsMemberIDs = append(wsMemberIDs, u.ID)
		f.groupMember(g, u)
		groupMemberIDs = append(groupMemberIDs, u.ID)
		if i > 0 {
			orgIDs = append(orgIDs, f.org(owner, fmt.Sprintf("org-%d", i)).ID)
			wsIDs = append(wsIDs, f.workspace(o, fmt.Sprintf("ws-%d", i)).ID)
			groupIDs = append(groupIDs, f.group(w, fmt.Sprintf("g-%d", i), "").ID)
		}
		projectIDs = append(projectIDs, f.project(w, fmt.Sprintf("p-%d", i), "").ID)
		bindingIDs = append(bindingIDs, f.binding(g, store.RoleDeveloper, projectIDs[i]).ID)
		at := f.tick()
		inv := store.Invitation{ID: store.NewID(), OrgID: o.ID, Email: fmt.Sprintf("inv-%d@example.com", i), Role: store.RoleMember,
			TokenHash: fmt.Sprint("tok-", i), CreatedAt: at, ExpiresAt: at}
		ok(t, f.s.CreateInvitation(f.ctx, inv))
		invIDs = append(invIDs, inv.ID)
		taskIDs = append(taskIDs, f.task(o.ID, store.TaskQueued).ID)
	}
	sorted := func(ids []string) []string { ids = slices.Clone(ids); slices.Sort(ids); return ids }
	ctx, s := f.ctx, f.s
	cases["ListUserOrganizations"] = struct {
		list lister
		want []string
	}{func(p store.Page) ([]string, string, error) {
		v, c, err := s.ListUserOrganizations(ctx, owner.ID, p)
		return keys(v, c, err, func(x store.Organization) string { return x.ID })
	}, sorted(orgIDs)}
	cases["ListOrgMembers"] = struct {
		list lister
		want []string
	}{func(p store.Page) ([]string, string, error) {
		v, c, err := s.ListOrgMembers(ctx, o.ID, p)
		return keys(v, c, err, func(x store.OrgMember) string { return x.UserID })
	}, sorted(memberIDs)}
	cases["ListInvitations"] = struct {
		list lister
		want []string
	}{func(p store.Page) ([]string, string, error) {
		v, c, err := s.ListInvitations(ctx, o.ID, p)
		return keys(v, c, err, func(x store.Invitation) string { return x.ID })
	}, sorted(invIDs)}
	cases["ListWorkspaces"] = struct {
		list lister
		want []string
	}{func(p store.Page) ([]string, string, error) {
		v, c, err := s.ListWorkspaces(ctx, o.ID, p)
		return keys(v, c, err, func(x store.Workspace) string { return x.ID })
	}, sorted(wsIDs)}
	cases["ListWorkspaceMembers"] = struct {
		list lister
		want []string
	}{func(p store.Page) ([]string, string, error) {
		v, c, err := s.ListWorkspaceMembers(ctx, w.ID, p)
		return keys(v, c, err, func(x store.WorkspaceMember) string { return x.UserID })
	}, sorted(wsMemberIDs)}
	cases["ListProjects"] = struct {
		list lister
		want []string
	}{func(p store.Page) ([]string, string, error) {
		v, c, err := s.ListProjects(ctx, w.ID, p)
		return keys(v, c, err, func(x store.Project) string { return x.ID })
	}, sorted(projectIDs)}
	cases["ListGroups"] = struct {
		list lister
		want []string
	}{func(p store.Page) ([]string, string, error) {
		v, c, err := s.ListGroups(ctx, w.ID, p)
		return keys(v, c, err, func(x store.Group) string { return x.ID })
	}, sorted(groupIDs)}
	cases["ListGroupMembers"] = struct {
		list lister
		want []string
	}{func(p store.Page) ([]string, string, error) {
		v, c, err := s.ListGroupMembers(ctx, g.ID, p)
		return keys(v, c, err, func(x store.GroupMember) string { return x.UserID })
	}, sorted(groupMemberIDs)}
	cases["ListRoleBindings"] = struct {
		list lister
		want []string
	}{func(p store.Page) ([]string, string, error) {
		v, c, err := s.ListRoleBindings(ctx, w.ID, p)
		return keys(v, c, err, func(x store.RoleBinding) string { return x.ID })
	}, sorted(bindingIDs)}
	cases["ListOrgTasks"] = struct {
		list lister
		want []string
	}{func(p store.Page) ([]string, string, error) {
		v, c, err := s.ListOrgTasks(ctx, o.ID, p)
		return keys(v, c, err, func(x store.Task) string { return x.ID })
	}, sorted(taskIDs)}
	return cases
}

func testPagination(t *testing.T, f *fixture) {
	cases := listCases(f, 7)
	for _, name := range slices.Sorted(mapKeys(cases)) {
		tc := cases[name]
		t.Run(name, func(t *testing.T) {
			for _, limit := range []int{1, 3, len(tc.want), len(tc.want) + 1} {
				var got []string
				var pages int
				cursor := ""
				for {
					page, next, err := tc.list(store.Page{After: cursor, Limit: limit})
					ok(t, err)
					pages++
					if len(page) > limit {
						t.Fatalf("limit %d: page has %d items", limit, len(page))
					}
					got = append(got, page...)
					if next == "" {
						break
					}
					if len(page) != limit {
						t.Fatalf("limit %d: short page of %d with a next cursor", limit, len(page))
					}
					if pages > len(tc.want)+1 {
						t.Fatalf("limit %d: pagination does not end", limit)
					}
					cursor = next
				}
				equal(t, got, tc.want)
				wantPages := (len(tc.want) + limit - 1) / limit
				if pages != wantPages {
					t.Fatalf("limit %d: %d pages, want %d", limit, pages, wantPages)
				}
			}
			// No limit: default page holds them all.
			all, next, err := tc.list(store.Page{})
			ok(t, err)
			equal(t, all, tc.want)
			equal(t, next, "")
		})
	}
}

func mapKeys[K comparable, V any](m map[K]V) func(func(K) bool) {
	return func(yield func(K) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func testPaginationLimits(t *testing.T, f *fixture) {
	owner := f.user("owner@example.com")
	o := f.org(owner, "acme")
	total := store.MaxLimit + 1
	for range total {
		f.task(o.ID, store.TaskQueued)
	}
	for _, tc := range []struct {
		name     string
		limit    int
		want     int
		wantNext bool
	}{
		{"zero means default", 0, store.DefaultLimit, true},
		{"negative means default", -5, store.DefaultLimit, true},
		{"capped at max", store.MaxLimit * 10, store.MaxLimit, true},
		{"exactly max", store.MaxLimit, store.MaxLimit, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			page, next, err := f.s.ListOrgTasks(f.ctx, o.ID, store.Page{Limit: tc.limit})
			ok(t, err)
			equal(t, len(page), tc.want)
			equal(t, next != "", tc.wantNext)
		})
	}
	page, next, err := f.s.ListOrgTasks(f.ctx, o.ID, store.Page{Limit: store.MaxLimit})
	ok(t, err)
	rest, next2, err := f.s.ListOrgTasks(f.ctx, o.ID, store.Page{After: next, Limit: store.MaxLimit})
	ok(t, err)
	equal(t, len(page)+len(rest), total)
	equal(t, next2, "")
}

func testInvalidCursor(t *testing.T, f *fixture) {
	owner := f.user("owner@example.com")
	o := f.org(owner, "acme")
	w := f.workspace(o, "prod")
	g := f.group(w, "g", "")
	for _, cursor := range []string{
		"garbage!",
		"%%%",
		"' OR 1=1 --",
		"YWJj",  // base64 of "abc": decodes, but not a cursor
		"YWJj=", // padded
		store.EncodeCursor("x") + "!",
	} {
		p := store.Page{After: cursor}
		for name, call := range map[string]func() error{
			"ListUserOrganizations": func() error { _, _, err := f.s.ListUserOrganizations(f.ctx, owner.ID, p); return err },
			"ListOrgMembers":        func() error { _, _, err := f.s.ListOrgMembers(f.ctx, o.ID, p); return err },
			"ListInvitations":       func() error { _, _, err := f.s.ListInvitations(f.ctx, o.ID, p); return err },
			"ListWorkspaces":        func() error { _, _, err := f.s.ListWorkspaces(f.ctx, o.ID, p); return err },
			"ListWorkspaceMembers":  func() error { _, _, err := f.s.ListWorkspaceMembers(f.ctx, w.ID, p); return err },
			"ListProjects":          func() error { _, _, err := f.s.ListProjects(f.ctx, w.ID, p); return err },
			"ListGroups":            func() error { _, _, err := f.s.ListGroups(f.ctx, w.ID, p); return err },
			"ListGroupMembers":      func() error { _, _, err := f.s.ListGroupMembers(f.ctx, g.ID, p); return err },
			"ListRoleBindings":      func() error { _, _, err := f.s.ListRoleBindings(f.ctx, w.ID, p); return err },
			"ListOrgTasks":          func() error { _, _, err := f.s.ListOrgTasks(f.ctx, o.ID, p); return err },
		} {
			if err := call(); !errors.Is(err, store.ErrInvalidCursor) {
				t.Errorf("%s(After: %q): error = %v, want ErrInvalidCursor", name, cursor, err)
			}
		}
	}
}

// testNotFound checks every Get/Update/Delete of a missing id.
func testNotFound(t *testing.T, f *fixture) {
	id := store.NewID()
	ctx, s, now := f.ctx, f.s, f.now
	for name, call := range map[string]func() error{
		"GetUser":            func() error { _, err := s.GetUser(ctx, id); return err },
		"GetUserByEmail":     func() error { _, err := s.GetUserByEmail(ctx, "nobody@example.com"); return err },
		"UpdateUserPassword": func() error { return s.UpdateUserPassword(ctx, id, "h", now) },
		"GetSession":         func() error { _, err := s.GetSession(ctx, id); return err },
		"RevokeSession":      func() error { return s.RevokeSession(ctx, id, now) },
		"GetRefreshToken":    func() error { _, err := s.GetRefreshToken(ctx, id); return err },
		"RotateRefreshToken": func() error { return s.RotateRefreshToken(ctx, id, store.RefreshToken{TokenHash: "n"}, now) },
		"GetSetting":         func() error { _, err := s.GetSetting(ctx, id); return err },
		"DeleteSettingIf":    func() error { return s.DeleteSettingIf(ctx, id, "v") },
		"GetOrganization":    func() error { _, err := s.GetOrganization(ctx, id); return err },
		"UpdateOrganization": func() error {
			_, err := s.UpdateOrganization(ctx, id, put(store.Organization{ID: id, Slug: id}))
			return err
		},
		"DeleteOrganization":       func() error { return s.DeleteOrganization(ctx, id) },
		"GetOrgMember":             func() error { _, err := s.GetOrgMember(ctx, id, id); return err },
		"UpdateOrgMemberRole":      func() error { return s.UpdateOrgMemberRole(ctx, id, id, store.RoleAdmin) },
		"RemoveOrgMember":          func() error { return s.RemoveOrgMember(ctx, id, id) },
		"GetInvitation":            func() error { _, err := s.GetInvitation(ctx, id); return err },
		"GetInvitationByTokenHash": func() error { _, err := s.GetInvitationByTokenHash(ctx, id); return err },
		"DeleteInvitation":         func() error { return s.DeleteInvitation(ctx, id) },
		"AcceptInvitation":         func() error { return s.AcceptInvitation(ctx, id, store.OrgMember{}, now) },
		"GetWorkspace":             func() error { _, err := s.GetWorkspace(ctx, id); return err },
		"UpdateWorkspace":          func() error { _, err := s.UpdateWorkspace(ctx, id, put(store.Workspace{ID: id})); return err },
		"SetWorkspaceStatus":       func() error { return s.SetWorkspaceStatus(ctx, id, nil, "running", "", now) },
		"DeleteWorkspace":          func() error { return s.DeleteWorkspace(ctx, id) },
		"GetWorkspaceMember":       func() error { _, err := s.GetWorkspaceMember(ctx, id, id); return err },
		"RemoveWorkspaceMember":    func() error { return s.RemoveWorkspaceMember(ctx, id, id) },
		"GetProject":               func() error { _, err := s.GetProject(ctx, id); return err },
		"UpdateProject":            func() error { _, err := s.UpdateProject(ctx, id, put(store.Project{ID: id})); return err },
		"DeleteProject":            func() error { return s.DeleteProject(ctx, id) },
		"GetGroup":                 func() error { _, err := s.GetGroup(ctx, id); return err },
		"UpdateGroup":              func() error { _, err := s.UpdateGroup(ctx, id, put(store.Group{ID: id})); return err },
		"DeleteGroup":              func() error { return s.DeleteGroup(ctx, id) },
		"RemoveGroupMember":        func() error { return s.RemoveGroupMember(ctx, id, id) },
		"GetRoleBinding":           func() error { _, err := s.GetRoleBinding(ctx, id); return err },
		"DeleteRoleBinding":        func() error { return s.DeleteRoleBinding(ctx, id) },
		"GetTask":                  func() error { _, err := s.GetTask(ctx, id); return err },
		"UpdateTask":               func() error { return s.UpdateTask(ctx, store.Task{ID: id}) },
	} {
		t.Run(name, func(t *testing.T) {
			wantErr(t, call(), store.ErrNotFound)
		})
	}
}

// nasty are strings that break naively built SQL or LIKE patterns.
var nasty = []string{
	`O'Brien`,
	`"quoted"`,
	`a; DROP TABLE users; --`,
	`' OR '1'='1`,
	`-- comment`,
	`100%`,
	`under_score`,
	`back\slash`,
	`?$1:name@p1`,
	`日本語 ünïcödé 🚀`,
	"tab\tnew\nline",
}

func testInjection(t *testing.T, f *fixture) {
	owner := f.user("owner@example.com")
	o := f.org(owner, "acme")
	w := f.workspace(o, "prod")
	for i, v := range nasty {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			u := f.user(v + "@example.com")
			got, err := f.s.GetUserByEmail(f.ctx, v+"@example.com")
			ok(t, err)
			equal(t, got, u)

			org := store.Organization{ID: store.NewID(), Name: v, Slug: fmt.Sprint(v, "-", i), BillingEmail: v, CreatedAt: f.now, UpdatedAt: f.now, Version: 1}
			ok(t, f.s.CreateOrganization(f.ctx, org, store.OrgMember{UserID: u.ID, CreatedAt: f.now}))
			gotOrg, err := f.s.GetOrganization(f.ctx, org.ID)
			ok(t, err)
			equal(t, gotOrg, org)

			ws := f.workspace(o, v)
			gotWs, err := f.s.GetWorkspace(f.ctx, ws.ID)
			ok(t, err)
			equal(t, gotWs.Name, v)

			g := f.group(w, v, "")
			gotG, err := f.s.GetGroup(f.ctx, g.ID)
			ok(t, err)
			equal(t, gotG, g)

			p := store.Project{ID: store.NewID(), WorkspaceID: w.ID, Name: v, Quota: store.Quota{CPU: v, Memory: v, Storage: v}, CreatedAt: f.now, UpdatedAt: f.now, Version: 1}
			ok(t, f.s.CreateProject(f.ctx, p))
			gotP, err := f.s.GetProject(f.ctx, p.ID)
			ok(t, err)
			equal(t, gotP, p)

			ok(t, f.s.PutSetting(f.ctx, v, v))
			val, err := f.s.GetSetting(f.ctx, v)
			ok(t, err)
			equal(t, val, v)

			// Injected text used as an id or a key matches nothing.
			_, err = f.s.GetUser(f.ctx, v)
			wantErr(t, err, store.ErrNotFound)
			wantErr(t, f.s.DeleteOrganization(f.ctx, v), store.ErrNotFound)
			wantErr(t, f.s.DeleteSettingIf(f.ctx, v, "other"), store.ErrNotFound)
		})
	}
	// Wildcards match literally only.
	_, err := f.s.GetUserByEmail(f.ctx, "%@example.com")
	wantErr(t, err, store.ErrNotFound)
	_, err = f.s.GetUserByEmail(f.ctx, "under-score@example.com")
	wantErr(t, err, store.ErrNotFound)
	_, err = f.s.GetSetting(f.ctx, "%")
	wantErr(t, err, store.ErrNotFound)

	// Everything is still there and intact.
	n, err := f.s.CountUsers(f.ctx)
	ok(t, err)
	equal(t, n, len(nasty)+1)
	ws, _, err := f.s.ListWorkspaces(f.ctx, o.ID, store.Page{})
	ok(t, err)
	equal(t, len(ws), len(nasty)+1)
}

func testPing(t *testing.T, f *fixture) {
	ok(t, f.s.Ping(f.ctx))
}
