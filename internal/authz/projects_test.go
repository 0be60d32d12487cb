package authz

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"testing"

	"github.com/hexabase/hexabase-ai/internal/store"
)

// TestProjectLevels: a project's level is the highest of the workspace
// level and the levels bound to it and its ancestors; broken and cyclic
// parent links end the walk.
func TestProjectLevels(t *testing.T) {
	ps := []store.Project{
		{ID: "root"}, {ID: "mid", ParentID: "root"}, {ID: "leaf", ParentID: "mid"},
		{ID: "other"}, {ID: "orphan", ParentID: "gone"},
		{ID: "cyc-a", ParentID: "cyc-b"}, {ID: "cyc-b", ParentID: "cyc-a"},
	}
	for _, tc := range []struct {
		name string
		acc  WorkspaceAccess
		want map[string]Level
	}{
		{"nothing bound", WorkspaceAccess{},
			map[string]Level{"root": None, "mid": None, "leaf": None, "other": None, "orphan": None, "cyc-a": None, "cyc-b": None}},
		{"inherited downwards", WorkspaceAccess{Projects: map[string]Level{"mid": Develop}},
			map[string]Level{"root": None, "mid": Develop, "leaf": Develop, "other": None, "orphan": None, "cyc-a": None, "cyc-b": None}},
		{"highest wins", WorkspaceAccess{Workspace: View, Projects: map[string]Level{"root": Admin, "leaf": Develop, "cyc-a": Develop}},
			map[string]Level{"root": Admin, "mid": Admin, "leaf": Admin, "other": View, "orphan": View, "cyc-a": Develop, "cyc-b": Develop}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.acc.ProjectLevels(ps); !maps.Equal(got, tc.want) {
				t.Fatalf("levels:\n got %v\nwant %v", got, tc.want)
			}
		})
	}
}

func TestProjectChain(t *testing.T) {
	byID := map[string]store.Project{"a": {ID: "a"}, "b": {ID: "b", ParentID: "a"}, "c": {ID: "c", ParentID: "b"},
		"x": {ID: "x", ParentID: "y"}, "y": {ID: "y", ParentID: "x"}, "lost": {ID: "lost", ParentID: "gone"}}
	boom := errors.New("boom")
	get := func(id string) (store.Project, error) {
		if id == "gone" {
			return store.Project{}, store.ErrNotFound
		}
		if p, ok := byID[id]; ok {
			return p, nil
		}
		return store.Project{}, boom
	}
	for _, tc := range []struct {
		name    string
		p       store.Project
		want    []string
		wantErr error
	}{
		{"root", byID["a"], []string{"a"}, nil},
		{"grandchild", byID["c"], []string{"c", "b", "a"}, nil},
		{"cycle", byID["x"], []string{"x", "y"}, nil},
		{"missing parent", byID["lost"], []string{"lost"}, nil},
		{"store error", store.Project{ID: "z", ParentID: "broken"}, nil, boom},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ProjectChain(tc.p, get)
			if !errors.Is(err, tc.wantErr) || !slices.Equal(got, tc.want) {
				t.Fatalf("chain %v, %v; want %v, %v", got, err, tc.want, tc.wantErr)
			}
		})
	}
	// A deep chain stops at the bound.
	deep := map[string]store.Project{}
	const n = store.MaxTreeDepth + 10
	for i := range n {
		p := store.Project{ID: fmt.Sprint("p", i)}
		if i > 0 {
			p.ParentID = fmt.Sprint("p", i-1)
		}
		deep[p.ID] = p
	}
	chain, err := ProjectChain(deep[fmt.Sprint("p", n-1)], func(id string) (store.Project, error) { return deep[id], nil })
	if err != nil || len(chain) != store.MaxTreeDepth+1 {
		t.Fatalf("deep chain: %d ids, %v", len(chain), err)
	}
}

func TestBoundProjects(t *testing.T) {
	acc := WorkspaceAccess{Workspace: View, Projects: map[string]Level{"b": Develop, "a": View, "z": None}}
	if got := acc.BoundProjects(); !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("bound projects %v", got)
	}
}
