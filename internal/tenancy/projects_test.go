package tenancy

import (
	"context"
	"encoding/json"
	"fmt"
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
	project := func(name, parent string) store.Project {
		p := store.Project{ID: store.NewID(), WorkspaceID: ws.ID, Name: name, ParentID: parent, CreatedAt: now, UpdatedAt: now, Version: 1}
		h.must(h.st.CreateProject(ctx, p))
		return p
	}
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
