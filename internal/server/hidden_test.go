package server

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/hexabase/hexabase-ai/internal/api"
	"github.com/hexabase/hexabase-ai/internal/store"
)

// hiddenProject adds to fixture f a project "backend" (its id is
// returned) and makes p.member a developer of the project "frontend"
// only: the member sees the workspace and frontend, not backend.
func (ts *testServer) hiddenProject(f fixture, p people) string {
	t := ts.t
	t.Helper()
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Microsecond)
	backend, group := store.NewID(), store.NewID()
	for _, err := range []error{
		ts.st.CreateProject(ctx, store.Project{ID: backend, WorkspaceID: f.ws, Name: "backend", CreatedAt: now, UpdatedAt: now}),
		ts.st.CreateGroup(ctx, store.Group{ID: group, WorkspaceID: f.ws, Name: "frontend-devs", CreatedAt: now, UpdatedAt: now}),
		ts.st.AddWorkspaceMember(ctx, store.WorkspaceMember{WorkspaceID: f.ws, UserID: p.member.ID, CreatedAt: now}),
		ts.st.AddGroupMember(ctx, store.GroupMember{GroupID: group, UserID: p.member.ID, CreatedAt: now}),
		ts.st.CreateRoleBinding(ctx, store.RoleBinding{ID: store.NewID(), WorkspaceID: f.ws, GroupID: group, Role: store.RoleDeveloper, ProjectID: f.project, CreatedAt: now}),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	return backend
}

// TestHiddenProjectIsAnUnknownProjectOnEveryRoute walks the route table:
// on every route under {project}, a member who sees only the project
// frontend gets for the existing project backend, by id and by name,
// exactly the status and body of an unknown project name, and before
// any call to the workspace's cluster: the fixture's workspace has no
// cluster, so a route that went on to ask it would answer 409 (as it does
// for frontend, which the member sees).
func TestHiddenProjectIsAnUnknownProjectOnEveryRoute(t *testing.T) {
	ts := startServer(t, "")
	p, tok := ts.people()
	endpoints := map[string]endpoint{}
	for _, e := range apiEndpoints(0) {
		path, _, _ := strings.Cut(e.path, "?")
		endpoints[e.method+" "+path] = e
	}
	n := 0
	for _, rt := range ts.api.Routes() {
		if !strings.Contains(rt.Path, "{project}") {
			continue
		}
		n++
		name := rt.Method + " " + rt.Path
		e, ok := endpoints[name]
		if !ok {
			t.Errorf("%s takes {project} and has no request in apiEndpoints", name)
			continue
		}
		t.Run(name, func(t *testing.T) {
			ts.t = t
			f := ts.fixture(p, true, p.outsider.Email)
			backend := ts.hiddenProject(f, p)
			as := func(project string) answer {
				refs := f.refs(false, "")
				refs["project"] = project
				return ts.callEndpoint(e, f, p, refs, tok["member"])
			}
			if a := as(f.project); a.status == 404 {
				t.Fatalf("the project the member sees: 404: %s", a.body)
			}
			unknown := as("no-such-project")
			if unknown.status != 404 {
				t.Fatalf("unknown project: %d, want 404: %s", unknown.status, unknown.body)
			}
			want := normalize(t, unknown.body, f, "")
			for _, ref := range []string{backend, "backend"} {
				a := as(ref)
				if got := normalize(t, a.body, f, ""); a.status != unknown.status || got != want {
					t.Errorf("hidden project %s: %d %s\nunknown project: %d %s", ref, a.status, got, unknown.status, want)
				}
			}
		})
	}
	if n < 20 {
		t.Fatalf("only %d routes take {project}", n)
	}
}

// TestHiddenParentIDIsNotShown: a member bound to a child project only
// sees the child, in the list and by itself, without the id of its parent
// (which answers 404 to them); a member who sees the parent gets it.
func TestHiddenParentIDIsNotShown(t *testing.T) {
	ts := startServer(t, "")
	p, tok := ts.people()
	f := ts.fixture(p, true, p.outsider.Email)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Microsecond)
	backend := ts.hiddenProject(f, p)
	child, grandchild, group := store.NewID(), store.NewID(), store.NewID()
	for _, err := range []error{
		ts.st.CreateProject(ctx, store.Project{ID: child, WorkspaceID: f.ws, Name: "backend-child", ParentID: backend, CreatedAt: now, UpdatedAt: now}),
		ts.st.CreateProject(ctx, store.Project{ID: grandchild, WorkspaceID: f.ws, Name: "backend-grandchild", ParentID: child, CreatedAt: now, UpdatedAt: now}),
		ts.st.CreateGroup(ctx, store.Group{ID: group, WorkspaceID: f.ws, Name: "child-devs", CreatedAt: now, UpdatedAt: now}),
		ts.st.AddGroupMember(ctx, store.GroupMember{GroupID: group, UserID: p.member.ID, CreatedAt: now}),
		ts.st.CreateRoleBinding(ctx, store.RoleBinding{ID: store.NewID(), WorkspaceID: f.ws, GroupID: group, Role: store.RoleViewer, ProjectID: child, CreatedAt: now}),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	base := "/api/v1/organizations/" + f.org + "/workspaces/" + f.ws + "/projects"
	var list struct {
		Items []api.Project `json:"items"`
	}
	ts.do("GET", base, tok["member"], nil).json(t, &list)
	parents := map[string]string{}
	for _, it := range list.Items {
		parents[it.Name] = it.ParentID
	}
	want := map[string]string{"frontend": "", "backend-child": "", "backend-grandchild": child}
	for name, parent := range want {
		if got, ok := parents[name]; !ok || got != parent {
			t.Errorf("list: %s has parent_id %q (listed %v), want %q", name, got, ok, parent)
		}
	}
	if _, ok := parents["backend"]; ok {
		t.Errorf("list shows the hidden project backend: %v", parents)
	}
	var one api.Project
	ts.do("GET", base+"/backend-child", tok["member"], nil).json(t, &one)
	if one.ParentID != "" {
		t.Errorf("GET backend-child shows the hidden parent id %q", one.ParentID)
	}
	// The owner sees backend, so the parent id stays.
	ts.do("GET", base+"/backend-child", tok["owner"], nil).json(t, &one)
	if one.ParentID != backend {
		t.Errorf("owner: parent_id %q, want %q", one.ParentID, backend)
	}
}
