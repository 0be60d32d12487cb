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
	"reflect"
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
		{"SetWorkspaceSleep", testSetWorkspaceSleep},
		{"SetWorkspaceStatusRace", testSetWorkspaceStatusRace},
		{"WorkspaceMembers", testWorkspaceMembers},
		{"Projects", testProjects},
		{"ProjectsUnder", testProjectsUnder},
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
		{"AIChats", testAIChats},
		{"AIMessagesConcurrentAppend", testAIMessagesConcurrentAppend},
		{"AIPlans", testAIPlans},
		{"AIPlanConfirmOnceRace", testAIPlanConfirmOnceRace},
		{"AISettings", testAISettings},
		{"UsageLedger", testUsageLedger},
		{"AIDeleteWorkspaceCascade", testAIDeleteWorkspaceCascade},
		{"AIDeleteProjectCascade", testAIDeleteProjectCascade},
		{"AIDeleteOrganizationCascade", testAIDeleteOrganizationCascade},
		{"AIDeleteUserCascade", testAIDeleteUserCascade},
		{"Functions", testFunctions},
		{"FunctionVersionRace", testFunctionVersionRace},
		{"FunctionInvocations", testFunctionInvocations},
		{"FunctionCascade", testFunctionCascade},
		{"FunctionTriggers", testFunctionTriggers},
		{"FunctionCronFires", testFunctionCronFires},
		{"FunctionCronFireRace", testFunctionCronFireRace},
		{"FunctionDeadLetters", testFunctionDeadLetters},
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

// acme is the usual start of a test: owner@example.com and the
// organization acme they own.
func (f *fixture) acme() (store.User, store.Organization) {
	f.t.Helper()
	owner := f.user("owner@example.com")
	return owner, f.org(owner, "acme")
}

// twoOrgs is owner@example.com and the organizations acme and globex
// they own, for tests of what stays within one organization.
func (f *fixture) twoOrgs() (owner store.User, acme, globex store.Organization) {
	f.t.Helper()
	owner = f.user("owner@example.com")
	return owner, f.org(owner, "acme"), f.org(owner, "globex")
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
	w := store.Workspace{ID: store.NewID(), OrgID: o.ID, Name: name, Plan: store.PlanShared, Status: store.WorkspacePending, CreatedBy: "someone", CreatedAt: f.tick(), Version: 1, SleepAfter: store.SleepAfterDefault}
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
		Quota: store.Quota{CPU: "500m", Memory: "2Gi", Storage: "10Gi", Pods: 20}, PodSecurity: store.PodSecurityBaseline, CreatedAt: f.tick(), Version: 1}
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

// wantAll lists everything under parent, which fits in one page, and
// compares it with want.
func wantAll[T any](t *testing.T, ctx context.Context, list func(context.Context, string, store.Page) ([]T, string, error), parent string, want []T) {
	t.Helper()
	got, next, err := list(ctx, parent, store.Page{})
	ok(t, err)
	equal(t, got, want)
	equal(t, next, "")
}

// updateRefused checks that update refuses clash, which takes a name or
// slug another row has, with ErrConflict, and an update of a missing row
// with ErrNotFound.
func updateRefused[T any](t *testing.T, ctx context.Context, update func(context.Context, string, func(T) (T, error)) (T, error), id string, clash T) {
	t.Helper()
	_, err := update(ctx, id, put(clash))
	wantErr(t, err, store.ErrConflict)
	_, err = update(ctx, store.NewID(), put(clash))
	wantErr(t, err, store.ErrNotFound)
}

// deleteOnce deletes id, after which get and a second delete answer
// ErrNotFound.
func deleteOnce[T any](t *testing.T, ctx context.Context, del func(context.Context, string) error, get func(context.Context, string) (T, error), id string) {
	t.Helper()
	ok(t, del(ctx, id))
	_, err := get(ctx, id)
	wantErr(t, err, store.ErrNotFound)
	wantErr(t, del(ctx, id), store.ErrNotFound)
}

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

// stored reads id back with get and checks it is want.
func stored[T any](t *testing.T, f *fixture, get func(context.Context, string) (T, error), id string, want T) {
	t.Helper()
	got, err := get(f.ctx, id)
	ok(t, err)
	equal(t, got, want)
}

func ptr[T any](v T) *T { return &v }
