package tenancy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hexabase/hexabase-ai/internal/api"
	"github.com/hexabase/hexabase-ai/internal/store"
)

// countingStore is the real store that counts project reads by id.
type countingStore struct {
	store.Store
	getProject atomic.Int64
}

func (c *countingStore) GetProject(ctx context.Context, id string) (store.Project, error) {
	c.getProject.Add(1)
	return c.Store.GetProject(ctx, id)
}

// TestListProjectsScoped: a member whose only role is bound to one project
// lists that project and everything below it, in full pages that a cursor
// walks to the end, without reading ancestors row by row; a viewer of the
// whole workspace lists every project.
func TestListProjectsScoped(t *testing.T) {
	h := newHarness(t)
	owner, _ := h.user("owner@example.com")
	dev, devTok := h.user("dev@example.com")
	viewer, viewerTok := h.user("viewer@example.com")
	o := h.org("acme", owner, dev, viewer)
	ws := h.workspace(o, "web", store.WorkspaceRunning, owner, viewer)
	ctx := t.Context()
	now := time.Now().UTC().Truncate(time.Microsecond)
	project := func(name, parent string) store.Project { return h.project(ws, name, parent, now) }
	// Interleave the team's projects with others, deep and wide.
	var all, want []string
	team := project("team", "")
	all, want = append(all, team.Name), append(want, team.Name)
	parent := team.ID
	for i := range 6 {
		other := project(fmt.Sprintf("other-%d", i), "")
		sub := project(fmt.Sprintf("team-%d", i), parent)
		all, want = append(all, other.Name, sub.Name), append(want, sub.Name)
		if i%2 == 0 {
			parent = sub.ID
		}
	}
	g := store.Group{ID: store.NewID(), WorkspaceID: ws.ID, Name: "team", CreatedAt: now, UpdatedAt: now}
	h.must(h.st.CreateGroup(ctx, g))
	h.must(h.st.AddWorkspaceMember(ctx, store.WorkspaceMember{WorkspaceID: ws.ID, UserID: dev.ID, CreatedAt: now}))
	h.must(h.st.AddGroupMember(ctx, store.GroupMember{GroupID: g.ID, UserID: dev.ID, CreatedAt: now}))
	h.must(h.st.CreateRoleBinding(ctx, store.RoleBinding{ID: store.NewID(), WorkspaceID: ws.ID, GroupID: g.ID, Role: store.RoleDeveloper, ProjectID: team.ID, CreatedAt: now}))

	cs := &countingStore{Store: h.st}
	h2 := h.with(func(cfg *Config) { cfg.Store = cs })
	walk := func(t *testing.T, tok string) []string {
		t.Helper()
		var names []string
		after := ""
		for range 100 {
			a := h2.get("/api/v1/organizations/"+o.ID+"/workspaces/"+ws.ID+"/projects?limit=3&cursor="+after, tok, nil)
			if a.status != 200 {
				t.Fatalf("list: %d %s", a.status, a.body)
			}
			var l api.List[api.Project]
			if err := json.Unmarshal(a.body, &l); err != nil {
				t.Fatal(err)
			}
			if l.NextCursor != "" && len(l.Items) != 3 {
				t.Fatalf("short page with a next cursor: %d items", len(l.Items))
			}
			for _, p := range l.Items {
				names = append(names, p.Name)
			}
			if l.NextCursor == "" {
				slices.Sort(names)
				return names
			}
			after = l.NextCursor
		}
		t.Fatal("the cursor never ends")
		return nil
	}
	slices.Sort(all)
	slices.Sort(want)
	for _, tc := range []struct {
		name string
		tok  string
		want []string
	}{
		{"project member", devTok, want},
		{"workspace viewer", viewerTok, all},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cs.getProject.Store(0)
			if got := walk(t, tc.tok); !slices.Equal(got, tc.want) {
				t.Fatalf("projects:\n got %v\nwant %v", got, tc.want)
			}
			if n := cs.getProject.Load(); n != 0 {
				t.Fatalf("%d project reads by id while listing", n)
			}
		})
	}
}

// TestNameCostsNoReadByID: a reference by name is looked up by name only
// (names never have the form of an id), and the project the resolver read
// serves the handler: reading a project by name reads it by id not once.
func TestNameCostsNoReadByID(t *testing.T) {
	h := newHarness(t)
	owner, tok := h.user("owner@example.com")
	o := h.org("acme", owner)
	ws := h.workspace(o, "web", store.WorkspaceRunning, owner)
	now := time.Now().UTC().Truncate(time.Microsecond)
	p := store.Project{ID: store.NewID(), WorkspaceID: ws.ID, Name: "frontend", CreatedAt: now, UpdatedAt: now, Version: 1}
	h.must(h.st.CreateProject(t.Context(), p))
	cs := &countingStore{Store: h.st}
	h2 := h.with(func(cfg *Config) { cfg.Store = cs })
	if a := h2.get("/api/v1/organizations/acme/workspaces/web/projects/frontend", tok, nil); a.status != 200 {
		t.Fatalf("get by name: %d %s", a.status, a.body)
	}
	if n := cs.getProject.Load(); n != 0 {
		t.Fatalf("%d project reads by id for a reference by name", n)
	}
	if a := h2.get("/api/v1/organizations/acme/workspaces/web/projects/"+p.ID, tok, nil); a.status != 200 {
		t.Fatalf("get by id: %d %s", a.status, a.body)
	}
	if n := cs.getProject.Load(); n != 1 {
		t.Fatalf("%d project reads by id for a reference by id, want 1", n)
	}
}

// TestProjectRole: every project answer carries the caller's effective
// role in it, as the API's own checks decide it: an org owner is
// workspace-admin everywhere; a workspace viewer who is a developer of
// one project is developer there and below, viewer elsewhere; a member
// bound as viewer to one project lists that project only, as viewer, and
// so does GET; the role is what authz.WorkspaceAccess.ProjectLevel gives.
func TestProjectRole(t *testing.T) {
	h := newHarness(t)
	owner, ownerTok := h.user("owner@example.com")
	dev, devTok := h.user("dev@example.com")
	viewer, viewerTok := h.user("viewer@example.com")
	o := h.org("acme", owner, dev, viewer)
	ws := h.workspace(o, "web", store.WorkspaceRunning, owner, dev)
	ctx := t.Context()
	now := time.Now().UTC().Truncate(time.Microsecond)
	project := func(name, parent string) store.Project { return h.project(ws, name, parent, now) }
	team := project("team", "")
	sub := project("team-sub", team.ID)
	project("other", "")
	bind := func(group string, u store.User, role, projectID string) {
		g := store.Group{ID: store.NewID(), WorkspaceID: ws.ID, Name: group, CreatedAt: now, UpdatedAt: now}
		h.must(h.st.CreateGroup(ctx, g))
		if err := h.st.AddWorkspaceMember(ctx, store.WorkspaceMember{WorkspaceID: ws.ID, UserID: u.ID, CreatedAt: now}); err != nil && !errors.Is(err, store.ErrConflict) {
			t.Fatal(err)
		}
		h.must(h.st.AddGroupMember(ctx, store.GroupMember{GroupID: g.ID, UserID: u.ID, CreatedAt: now}))
		h.must(h.st.CreateRoleBinding(ctx, store.RoleBinding{ID: store.NewID(), WorkspaceID: ws.ID, GroupID: g.ID, Role: role, ProjectID: projectID, CreatedAt: now}))
	}
	bind("devs", dev, store.RoleDeveloper, team.ID)
	bind("sub-viewers", viewer, store.RoleViewer, sub.ID)

	base := "/api/v1/organizations/acme/workspaces/web/projects"
	list := func(tok string) map[string]api.Project {
		t.Helper()
		a := h.get(base, tok, nil)
		if a.status != 200 {
			t.Fatalf("list: %d %s", a.status, a.body)
		}
		var l api.List[api.Project]
		if err := json.Unmarshal(a.body, &l); err != nil {
			t.Fatal(err)
		}
		out := map[string]api.Project{}
		for _, p := range l.Items {
			out[p.Name] = p
		}
		return out
	}
	roles := func(ps map[string]api.Project) map[string]string {
		out := map[string]string{}
		for n, p := range ps {
			out[n] = p.Role
		}
		return out
	}
	for _, tc := range []struct {
		name string
		tok  string
		want map[string]string
	}{
		{"owner", ownerTok, map[string]string{"team": "workspace-admin", "team-sub": "workspace-admin", "other": "workspace-admin"}},
		{"workspace viewer, developer of team", devTok, map[string]string{"team": "developer", "team-sub": "developer", "other": "viewer"}},
		{"viewer of team-sub only", viewerTok, map[string]string{"team-sub": "viewer"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := list(tc.tok)
			if r := roles(got); !maps.Equal(r, tc.want) {
				t.Fatalf("list roles:\n got %v\nwant %v", r, tc.want)
			}
			for name, want := range tc.want {
				a := h.get(base+"/"+name, tc.tok, nil)
				var p api.Project
				if a.status != 200 || json.Unmarshal(a.body, &p) != nil {
					t.Fatalf("get %s: %d %s", name, a.status, a.body)
				}
				if p.Role != want {
					t.Fatalf("get %s: role %q, want %q", name, p.Role, want)
				}
				if p.ParentID != got[name].ParentID {
					t.Fatalf("get %s: parent %q, list says %q", name, p.ParentID, got[name].ParentID)
				}
			}
		})
	}
	// The viewer bound to team-sub alone is not told its parent's id.
	if p := list(viewerTok)["team-sub"]; p.ParentID != "" {
		t.Fatalf("hidden parent named: %q", p.ParentID)
	}
	// The developer of team sees team-sub's parent.
	if p := list(devTok)["team-sub"]; p.ParentID != team.ID {
		t.Fatalf("parent %q, want %q", p.ParentID, team.ID)
	}
	// Create and update answer the caller's role too.
	a := h.send("POST", base, ownerTok, map[string]any{"name": "fresh"}, nil)
	var created api.Project
	if a.status != 201 || json.Unmarshal(a.body, &created) != nil || created.Role != "workspace-admin" {
		t.Fatalf("create: %d %s", a.status, a.body)
	}
	a = h.send("PATCH", base+"/fresh", ownerTok, map[string]any{"quota": map[string]any{"pods": 3}}, nil)
	var updated api.Project
	if a.status != 200 || json.Unmarshal(a.body, &updated) != nil || updated.Role != "workspace-admin" {
		t.Fatalf("update: %d %s", a.status, a.body)
	}
}
