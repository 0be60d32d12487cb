package authz

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/hexabase/hexabase-ai/internal/store"
	"github.com/hexabase/hexabase-ai/internal/store/sqlstore"
)

type world struct {
	st       store.Store
	az       *Authorizer
	ws       store.Workspace
	groups   map[string]store.Group
	projects map[string]store.Project
	users    map[string]store.User
}

// newWorld builds one workspace with a group tree
//
//	eng ─┬─ web ── web-juniors
//	     └─ ops
//	auditors
//
// and projects frontend, frontend-admin (child of frontend) and backend.
func newWorld(tb testing.TB) *world {
	tb.Helper()
	ctx := context.Background()
	st, err := sqlstore.Open(ctx, filepath.Join(tb.TempDir(), "hks.db"), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	az, err := New(st)
	if err != nil {
		tb.Fatal(err)
	}
	w := &world{st: st, az: az, groups: map[string]store.Group{}, projects: map[string]store.Project{}, users: map[string]store.User{}}
	now := time.Now().UTC().Truncate(time.Microsecond)
	must := func(err error) {
		tb.Helper()
		if err != nil {
			tb.Fatal(err)
		}
	}
	for _, n := range []string{"owner", "alice", "bob", "carol", "dave", "erin"} {
		u := store.User{ID: store.NewID(), Email: n + "@example.com", CreatedAt: now, UpdatedAt: now}
		must(st.CreateUser(ctx, u))
		w.users[n] = u
	}
	org := store.Organization{ID: store.NewID(), Name: "Org", Slug: "org", CreatedAt: now, UpdatedAt: now}
	must(st.CreateOrganization(ctx, org, store.OrgMember{OrgID: org.ID, UserID: w.users["owner"].ID, Role: store.RoleOwner, CreatedAt: now}))
	for _, n := range []string{"alice", "bob", "carol", "dave", "erin"} {
		must(st.AddOrgMember(ctx, store.OrgMember{OrgID: org.ID, UserID: w.users[n].ID, Role: store.RoleMember, CreatedAt: now}))
	}
	w.ws = store.Workspace{ID: store.NewID(), OrgID: org.ID, Name: "ws", Plan: store.PlanShared, Status: store.WorkspaceRunning, CreatedAt: now, UpdatedAt: now}
	must(st.CreateWorkspace(ctx, w.ws))
	for _, g := range [][2]string{{"eng", ""}, {"web", "eng"}, {"web-juniors", "web"}, {"ops", "eng"}, {"auditors", ""}} {
		grp := store.Group{ID: store.NewID(), WorkspaceID: w.ws.ID, Name: g[0], CreatedAt: now, UpdatedAt: now}
		if g[1] != "" {
			grp.ParentID = w.groups[g[1]].ID
		}
		must(st.CreateGroup(ctx, grp))
		w.groups[g[0]] = grp
	}
	for _, p := range [][2]string{{"frontend", ""}, {"frontend-admin", "frontend"}, {"backend", ""}} {
		pr := store.Project{ID: store.NewID(), WorkspaceID: w.ws.ID, Name: p[0], CreatedAt: now, UpdatedAt: now}
		if p[1] != "" {
			pr.ParentID = w.projects[p[1]].ID
		}
		must(st.CreateProject(ctx, pr))
		w.projects[p[0]] = pr
	}
	bind := func(group, role, project string) {
		b := store.RoleBinding{ID: store.NewID(), WorkspaceID: w.ws.ID, GroupID: w.groups[group].ID, Role: role, CreatedAt: now}
		if project != "" {
			b.ProjectID = w.projects[project].ID
		}
		must(st.CreateRoleBinding(ctx, b))
	}
	bind("eng", store.RoleViewer, "")
	bind("web", store.RoleDeveloper, "frontend")
	bind("ops", store.RoleWorkspaceAdmin, "")
	bind("auditors", store.RoleViewer, "backend")
	member := func(user, group string) {
		must(st.AddWorkspaceMember(ctx, store.WorkspaceMember{WorkspaceID: w.ws.ID, UserID: w.users[user].ID, CreatedAt: now}))
		must(st.AddGroupMember(ctx, store.GroupMember{GroupID: w.groups[group].ID, UserID: w.users[user].ID, CreatedAt: now}))
	}
	member("alice", "web-juniors") // inherits web (developer on frontend) and eng (viewer)
	member("bob", "ops")           // workspace-admin, and viewer via eng
	member("carol", "auditors")    // viewer on backend only
	return w
}

func TestWorkspaceAccess(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	fe, fea, be := w.projects["frontend"].ID, w.projects["frontend-admin"].ID, w.projects["backend"].ID
	tests := []struct {
		user, orgRole   string
		visible         bool
		workspace       Level
		frontend, child Level // child = frontend-admin, inherits from frontend
		backend         Level
		groups          []string
	}{
		{"owner", store.RoleOwner, true, Admin, Admin, Admin, Admin, nil},
		{"alice", store.RoleMember, true, View, Develop, Develop, View, []string{"eng", "web", "web-juniors"}},
		{"bob", store.RoleMember, true, Admin, Admin, Admin, Admin, []string{"eng", "ops"}},
		{"carol", store.RoleMember, true, None, None, None, View, []string{"auditors"}},
		{"dave", store.RoleMember, false, None, None, None, None, nil},
		{"erin", store.RoleAdmin, true, Admin, Admin, Admin, Admin, nil},
	}
	for _, tt := range tests {
		t.Run(tt.user, func(t *testing.T) {
			acc, err := w.az.Workspace(ctx, w.users[tt.user].ID, tt.orgRole, w.ws)
			if err != nil {
				t.Fatal(err)
			}
			got := []Level{acc.Workspace, acc.ProjectLevel(fe), acc.ProjectLevel(fea, fe), acc.ProjectLevel(be)}
			want := []Level{tt.workspace, tt.frontend, tt.child, tt.backend}
			if fmt.Sprint(got) != fmt.Sprint(want) || acc.Visible() != tt.visible {
				t.Fatalf("levels %v visible %v, want %v visible %v", got, acc.Visible(), want, tt.visible)
			}
			if fmt.Sprint(acc.Groups) != fmt.Sprint(tt.groups) {
				t.Fatalf("groups %v, want %v", acc.Groups, tt.groups)
			}
		})
	}
}

// TestWorkspaceCreatorIsAdmin: the creator of a workspace is its admin
// even as a plain org member, but not once they have left the org.
func TestWorkspaceCreatorIsAdmin(t *testing.T) {
	w := newWorld(t)
	ws := w.ws
	ws.CreatedBy = w.users["dave"].ID
	for _, tt := range []struct {
		name, user, orgRole string
		want                Level
	}{
		{"creator member", "dave", store.RoleMember, Admin},
		{"creator not member", "dave", "", None},
		{"other member", "carol", store.RoleMember, None},
	} {
		t.Run(tt.name, func(t *testing.T) {
			acc, err := w.az.Workspace(t.Context(), w.users[tt.user].ID, tt.orgRole, ws)
			if err != nil {
				t.Fatal(err)
			}
			if acc.Workspace != tt.want {
				t.Errorf("%s (org role %q): workspace level %v, want %v", tt.user, tt.orgRole, acc.Workspace, tt.want)
			}
		})
	}
}

func TestOrgRole(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	if r, err := w.az.OrgRole(ctx, w.users["owner"].ID, w.ws.OrgID); err != nil || r != store.RoleOwner {
		t.Fatalf("owner: %q %v", r, err)
	}
	if _, err := w.az.OrgRole(ctx, store.NewID(), w.ws.OrgID); err != ErrNotMember {
		t.Fatalf("stranger: %v", err)
	}
}

func TestEffectiveGroupsSurvivesBadLinks(t *testing.T) {
	a, b := store.Group{ID: "a", ParentID: "b"}, store.Group{ID: "b", ParentID: "a"} // a cycle the store refuses, but never loop on one
	orphan := store.Group{ID: "c", ParentID: "missing"}
	got := EffectiveGroups([]store.Group{a, b, orphan}, []string{"a", "c", "unknown"})
	if len(got) != 3 || !got["a"] || !got["b"] || !got["c"] {
		t.Fatalf("got %v", got)
	}
}

// BenchmarkWorkspaceAccess measures the authorization check every workspace
// request makes: org role plus the user's effective workspace roles, on SQLite.
func BenchmarkWorkspaceAccess(b *testing.B) {
	w := newWorld(b)
	ctx := context.Background()
	alice := w.users["alice"].ID
	b.ResetTimer()
	for b.Loop() {
		role, err := w.az.OrgRole(ctx, alice, w.ws.OrgID)
		if err != nil {
			b.Fatal(err)
		}
		acc, err := w.az.Workspace(ctx, alice, role, w.ws)
		if err != nil || acc.ProjectLevel(w.projects["frontend"].ID) != Develop {
			b.Fatal(err)
		}
	}
}

// BenchmarkEffectiveGroups measures the in-memory group tree walk for a
// workspace of 1000 groups ten levels deep.
func BenchmarkEffectiveGroups(b *testing.B) {
	var gs []store.Group
	for i := range 1000 {
		g := store.Group{ID: fmt.Sprint(i)}
		if i%10 != 0 {
			g.ParentID = fmt.Sprint(i - 1)
		}
		gs = append(gs, g)
	}
	direct := []string{"9", "19", "999"}
	for b.Loop() {
		if len(EffectiveGroups(gs, direct)) != 30 {
			b.Fatal("wrong walk")
		}
	}
}
