package tenancy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sync"
	"testing"

	"github.com/hexabase/hexabase-ai/internal/api"
	"github.com/hexabase/hexabase-ai/internal/store"
)

func decodeAs[T any](t *testing.T, a answer) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(a.body, &v); err != nil {
		t.Fatalf("decode %T: %v: %s", v, err, a.body)
	}
	return v
}

// TestPatchPreconditions: every update carries a resource_version and an
// ETag; a stale If-Match or body resource_version is a 412 that changes
// nothing; the current one, W/ tags and * pass.
func TestPatchPreconditions(t *testing.T) {
	h := newHarness(t)
	owner, tok := h.user("owner@example.com")
	o := h.org("acme", owner)
	ws := h.workspace(o, "prod", store.WorkspaceRunning, owner)
	path := "/api/v1/organizations/" + o.ID

	a := h.send("PATCH", path, tok, api.UpdateOrganizationRequest{Name: ptr("Acme One")}, nil)
	if a.status != 200 {
		t.Fatalf("patch: %d %s", a.status, a.body)
	}
	first := decodeAs[api.Organization](t, a)
	if first.ResourceVersion != "2" || a.header.Get("ETag") != `"2"` {
		t.Fatalf("after one update: resource_version %q, ETag %q; want 2", first.ResourceVersion, a.header.Get("ETag"))
	}

	for _, tc := range []struct {
		name string
		hdr  map[string]string
		body map[string]any
		want int
	}{
		{"stale If-Match", map[string]string{"If-Match": `"1"`}, map[string]any{"name": "Lost"}, 412},
		{"stale weak If-Match", map[string]string{"If-Match": `W/"1"`}, map[string]any{"name": "Lost"}, 412},
		{"stale body version", nil, map[string]any{"name": "Lost", "resource_version": "1"}, 412},
		{"stale body version with current If-Match", map[string]string{"If-Match": `"2"`}, map[string]any{"name": "Lost", "resource_version": "1"}, 412},
		{"current If-Match among others", map[string]string{"If-Match": `"9", "2"`}, map[string]any{"name": "Acme Two"}, 200},
		{"wildcard If-Match", map[string]string{"If-Match": "*"}, map[string]any{"name": "Acme Three"}, 200},
		{"current body version", nil, map[string]any{"name": "Acme Four", "resource_version": "4"}, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := h.send("PATCH", path, tok, tc.body, tc.hdr)
			if a.status != tc.want {
				t.Fatalf("got %d, want %d: %s", a.status, tc.want, a.body)
			}
			if tc.want == 412 {
				if p := a.problem(t); p.Type == "" || p.Detail == "" {
					t.Fatalf("412 problem without type or detail: %s", a.body)
				}
				got := decodeAs[api.Organization](t, h.get(path, tok, nil))
				if got.Name == "Lost" {
					t.Fatal("a refused update changed the organization")
				}
			}
		})
	}

	// Each kind of resource refuses a stale version the same way.
	p := store.Project{ID: store.NewID(), WorkspaceID: ws.ID, Name: "web", CreatedAt: first.CreatedAt, UpdatedAt: first.CreatedAt}
	h.must(h.st.CreateProject(t.Context(), p))
	g := store.Group{ID: store.NewID(), WorkspaceID: ws.ID, Name: "eng", CreatedAt: first.CreatedAt, UpdatedAt: first.CreatedAt}
	h.must(h.st.CreateGroup(t.Context(), g))
	wsPath := path + "/workspaces/" + ws.ID
	for _, tc := range []struct {
		name, path string
		body       map[string]any
	}{
		{"workspace", wsPath, map[string]any{"name": "staging"}},
		{"project", wsPath + "/projects/" + p.ID, map[string]any{"quota": map[string]any{"cpu": "2"}}},
		{"group", wsPath + "/groups/" + g.ID, map[string]any{"name": "devs"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if a := h.send("PATCH", tc.path, tok, tc.body, map[string]string{"If-Match": `"7"`}); a.status != 412 {
				t.Fatalf("stale If-Match: %d %s", a.status, a.body)
			}
			a := h.send("PATCH", tc.path, tok, tc.body, map[string]string{"If-Match": `"1"`})
			if a.status != 200 || a.header.Get("ETag") != `"2"` {
				t.Fatalf("current If-Match: %d ETag %q: %s", a.status, a.header.Get("ETag"), a.body)
			}
			if a := h.send("PATCH", tc.path, tok, tc.body, map[string]string{"If-Match": `"1"`}); a.status != 412 {
				t.Fatalf("the version it just replaced: %d %s", a.status, a.body)
			}
		})
	}
}

// TestPatchMerge: a merge patch changes only the members it names, merges
// nested objects, and null removes a member.
func TestPatchMerge(t *testing.T) {
	h := newHarness(t)
	owner, tok := h.user("owner@example.com")
	o := h.org("acme", owner)
	ws := h.workspace(o, "prod", store.WorkspaceRunning, owner)
	now := o.CreatedAt
	parent := store.Project{ID: store.NewID(), WorkspaceID: ws.ID, Name: "platform", CreatedAt: now, UpdatedAt: now}
	h.must(h.st.CreateProject(t.Context(), parent))
	p := store.Project{ID: store.NewID(), WorkspaceID: ws.ID, Name: "web", ParentID: parent.ID,
		Quota: store.Quota{CPU: "1", Memory: "1Gi", Pods: 10}, CreatedAt: now, UpdatedAt: now}
	h.must(h.st.CreateProject(t.Context(), p))
	path := fmt.Sprintf("/api/v1/organizations/%s/workspaces/%s/projects/%s", o.ID, ws.ID, p.ID)

	a := h.send("PATCH", path, tok, map[string]any{"quota": map[string]any{"memory": "4Gi"}}, nil)
	if a.status != 200 {
		t.Fatalf("patch quota.memory: %d %s", a.status, a.body)
	}
	got := decodeAs[api.Project](t, a)
	if want := (api.Quota{CPU: "1", Memory: "4Gi", Pods: 10}); got.Quota != want || got.ParentID != parent.ID {
		t.Fatalf("after patching quota.memory: quota %+v parent %q; want %+v and the parent kept", got.Quota, got.ParentID, want)
	}
	a = h.send("PATCH", path, tok, map[string]any{"parent_id": nil, "quota": map[string]any{"cpu": nil}}, nil)
	if a.status != 200 {
		t.Fatalf("patch with nulls: %d %s", a.status, a.body)
	}
	got = decodeAs[api.Project](t, a)
	if want := (api.Quota{Memory: "4Gi", Pods: 10}); got.Quota != want || got.ParentID != "" {
		t.Fatalf("after nulls: quota %+v parent %q; want %+v and no parent", got.Quota, got.ParentID, want)
	}

	for _, tc := range []struct {
		name string
		body any
		want int
	}{
		{"not an object", []string{"a"}, 400},
		{"unknown member", map[string]any{"colour": "red"}, 422},
		{"wrong type", map[string]any{"quota": map[string]any{"pods": "many"}}, 422},
		{"bad quantity", map[string]any{"quota": map[string]any{"cpu": "lots"}}, 422},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := h.send("PATCH", path, tok, tc.body, nil)
			if a.status != tc.want {
				t.Fatalf("got %d, want %d: %s", a.status, tc.want, a.body)
			}
			a.problem(t)
		})
	}
}

// TestProjectPodSecurity: a project's pod security level is created,
// patched and reset (null) through the API; quota and parent are kept by
// a patch of the level alone.
func TestProjectPodSecurity(t *testing.T) {
	h := newHarness(t)
	owner, tok := h.user("owner@example.com")
	o := h.org("acme", owner)
	ws := h.workspace(o, "prod", store.WorkspaceRunning, owner)
	base := fmt.Sprintf("/api/v1/organizations/%s/workspaces/%s/projects", o.ID, ws.ID)

	a := h.send("POST", base, tok, map[string]any{"name": "web", "quota": map[string]any{"cpu": "1"}}, nil)
	if got := decodeAs[api.Project](t, a); a.status != 201 || got.PodSecurity != "baseline" {
		t.Fatalf("create without a level: %d %s", a.status, a.body)
	}
	a = h.send("POST", base, tok, map[string]any{"name": "vault", "pod_security": "restricted"}, nil)
	if got := decodeAs[api.Project](t, a); a.status != 201 || got.PodSecurity != "restricted" {
		t.Fatalf("create restricted: %d %s", a.status, a.body)
	}
	for _, tc := range []struct {
		name  string
		patch any
		want  string
	}{
		{"restricted", map[string]any{"pod_security": "restricted"}, "restricted"},
		{"null resets to baseline", map[string]any{"pod_security": nil}, "baseline"},
		{"restricted again", map[string]any{"pod_security": "restricted"}, "restricted"},
		{"empty is baseline", map[string]any{"pod_security": ""}, "baseline"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := h.send("PATCH", base+"/web", tok, tc.patch, nil)
			got := decodeAs[api.Project](t, a)
			if a.status != 200 || got.PodSecurity != tc.want || got.Quota.CPU != "1" {
				t.Fatalf("patch %v: %d %s; want %s with the quota kept", tc.patch, a.status, a.body, tc.want)
			}
			p, err := h.st.GetProjectByName(t.Context(), ws.ID, "web")
			if err != nil || p.PodSecurity != tc.want {
				t.Fatalf("stored %q %v, want %s", p.PodSecurity, err, tc.want)
			}
		})
	}
}

// TestConcurrentPatches: PATCHes of different fields sent at once all
// survive, because each is applied to the row as it is when written.
func TestConcurrentPatches(t *testing.T) {
	h := newHarness(t)
	owner, tok := h.user("owner@example.com")
	o := h.org("acme", owner)
	path := "/api/v1/organizations/" + o.ID
	patches := []map[string]any{
		{"name": "Acme Renamed"},
		{"billing_email": "pay@acme.example"},
		{"slug": "acme-renamed"},
	}
	var wg sync.WaitGroup
	statuses := make([]int, len(patches))
	for i, p := range patches {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses[i] = h.send("PATCH", path, tok, p, nil).status
		}()
	}
	wg.Wait()
	for i, st := range statuses {
		if st != 200 {
			t.Fatalf("patch %v: %d", patches[i], st)
		}
	}
	got := decodeAs[api.Organization](t, h.get(path, tok, nil))
	if got.Name != "Acme Renamed" || got.BillingEmail != "pay@acme.example" || got.Slug != "acme-renamed" {
		t.Fatalf("a concurrent update was lost: %+v", got)
	}
	if got.ResourceVersion != fmt.Sprint(1+len(patches)) {
		t.Fatalf("resource_version %s after %d updates", got.ResourceVersion, len(patches))
	}
}

// TestIDOrName: {org} takes the id or the slug, {workspace}, {project}
// and {group} the id or the name; names of another organization or
// workspace do not resolve, and an unknown one is a 404.
func TestIDOrName(t *testing.T) {
	h := newHarness(t)
	owner, tok := h.user("owner@example.com")
	stranger, stok := h.user("stranger@example.com")
	o := h.org("acme", owner)
	other := h.org("globex", stranger)
	ws := h.workspace(o, "prod", store.WorkspaceRunning, owner)
	otherWS := h.workspace(other, "prod", store.WorkspaceRunning, stranger)
	now := o.CreatedAt
	p := store.Project{ID: store.NewID(), WorkspaceID: ws.ID, Name: "web", CreatedAt: now, UpdatedAt: now}
	h.must(h.st.CreateProject(t.Context(), p))
	g := store.Group{ID: store.NewID(), WorkspaceID: ws.ID, Name: "eng", CreatedAt: now, UpdatedAt: now}
	h.must(h.st.CreateGroup(t.Context(), g))

	for _, tc := range []struct{ name, byID, byName string }{
		{"org", "/api/v1/organizations/" + o.ID, "/api/v1/organizations/acme"},
		{"workspace", "/api/v1/organizations/" + o.ID + "/workspaces/" + ws.ID, "/api/v1/organizations/acme/workspaces/prod"},
		{"project", "/api/v1/organizations/" + o.ID + "/workspaces/" + ws.ID + "/projects/" + p.ID, "/api/v1/organizations/acme/workspaces/prod/projects/web"},
		{"group", "/api/v1/organizations/" + o.ID + "/workspaces/" + ws.ID + "/groups/" + g.ID, "/api/v1/organizations/acme/workspaces/prod/groups/eng"},
		{"group members", "/api/v1/organizations/" + o.ID + "/workspaces/" + ws.ID + "/groups/" + g.ID + "/members", "/api/v1/organizations/acme/workspaces/" + ws.ID + "/groups/eng/members"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, b := h.get(tc.byID, tok, nil), h.get(tc.byName, tok, nil)
			if a.status != 200 || b.status != a.status || !bytes.Equal(a.body, b.body) {
				t.Fatalf("by id: %d %s\nby name: %d %s", a.status, a.body, b.status, b.body)
			}
		})
	}
	for _, tc := range []struct{ name, path, token string }{
		{"unknown org", "/api/v1/organizations/initech", tok},
		{"unknown workspace", "/api/v1/organizations/acme/workspaces/staging", tok},
		{"unknown project", "/api/v1/organizations/acme/workspaces/prod/projects/api", tok},
		{"another org's workspace by id", "/api/v1/organizations/acme/workspaces/" + otherWS.ID, tok},
		{"another org by slug", "/api/v1/organizations/acme", stok},
		{"a project of another workspace", "/api/v1/organizations/globex/workspaces/prod/projects/web", stok},
		{"the org's name, not its slug", "/api/v1/organizations/Org%20acme", tok},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if a := h.get(tc.path, tc.token, nil); a.status != 404 {
				t.Fatalf("got %d, want 404: %s", a.status, a.body)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

// TestDeepProjectTree: a member bound to the root of a project tree deeper
// than any small walk bound sees the deepest project both in the list and
// by name, so that what the list shows and what the access check finds
// agree.
func TestDeepProjectTree(t *testing.T) {
	h := newHarness(t)
	owner, _ := h.user("owner@example.com")
	dev, devTok := h.user("dev@example.com")
	o := h.org("acme", owner, dev)
	ws := h.workspace(o, "prod", store.WorkspaceRunning, owner)
	ctx, now := t.Context(), o.CreatedAt
	const depth = 80
	parent := ""
	var root string
	for i := range depth {
		p := store.Project{ID: store.NewID(), WorkspaceID: ws.ID, Name: fmt.Sprint("d", i), ParentID: parent, CreatedAt: now, UpdatedAt: now}
		h.must(h.st.CreateProject(ctx, p))
		if i == 0 {
			root = p.ID
		}
		parent = p.ID
	}
	g := store.Group{ID: store.NewID(), WorkspaceID: ws.ID, Name: "devs", CreatedAt: now, UpdatedAt: now}
	h.must(h.st.CreateGroup(ctx, g))
	h.must(h.st.AddWorkspaceMember(ctx, store.WorkspaceMember{WorkspaceID: ws.ID, UserID: dev.ID, CreatedAt: now}))
	h.must(h.st.AddGroupMember(ctx, store.GroupMember{GroupID: g.ID, UserID: dev.ID, CreatedAt: now}))
	h.must(h.st.CreateRoleBinding(ctx, store.RoleBinding{ID: store.NewID(), WorkspaceID: ws.ID, GroupID: g.ID, Role: store.RoleDeveloper, ProjectID: root, CreatedAt: now}))

	base := "/api/v1/organizations/acme/workspaces/prod/projects"
	list := decodeAs[api.List[api.Project]](t, h.get(base+"?limit=100", devTok, nil))
	if len(list.Items) != depth {
		t.Fatalf("the developer lists %d projects, want %d", len(list.Items), depth)
	}
	last := fmt.Sprint("d", depth-1)
	if a := h.get(base+"/"+last, devTok, nil); a.status != 200 {
		t.Fatalf("GET the deepest project %s: %d %s", last, a.status, a.body)
	}
}

// TestPatchProjectParent: a project cannot become its own ancestor, nor
// the child of a project in another workspace; nothing changes then.
func TestPatchProjectParent(t *testing.T) {
	h := newHarness(t)
	owner, tok := h.user("owner@example.com")
	o := h.org("acme", owner)
	ws, other := h.workspace(o, "prod", store.WorkspaceRunning, owner), h.workspace(o, "dev", store.WorkspaceRunning, owner)
	now := o.CreatedAt
	mk := func(ws store.Workspace, name, parent string) store.Project {
		p := store.Project{ID: store.NewID(), WorkspaceID: ws.ID, Name: name, ParentID: parent, CreatedAt: now, UpdatedAt: now}
		h.must(h.st.CreateProject(t.Context(), p))
		return p
	}
	root := mk(ws, "root", "")
	child := mk(ws, "child", root.ID)
	grandchild := mk(ws, "grandchild", child.ID)
	elsewhere := mk(other, "elsewhere", "")
	path := "/api/v1/organizations/acme/workspaces/prod/projects/root"
	for _, tc := range []struct {
		name, parent string
	}{
		{"itself", root.ID},
		{"its child", child.ID},
		{"its grandchild", grandchild.ID},
		{"a project of another workspace", elsewhere.ID},
		{"no such project", store.NewID()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := h.send("PATCH", path, tok, map[string]any{"parent_id": tc.parent}, nil)
			if a.status != 422 {
				t.Fatalf("got %d, want 422: %s", a.status, a.body)
			}
			if p := a.problem(t); len(p.Errors) != 1 || p.Errors[0].Field != "parent_id" {
				t.Fatalf("problem %+v does not name parent_id", p)
			}
			if got := decodeAs[api.Project](t, h.get(path, tok, nil)); got.ParentID != "" || got.ResourceVersion != "1" {
				t.Fatalf("a refused move changed the project: %+v", got)
			}
		})
	}
}
