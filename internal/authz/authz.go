package authz

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/hexabase/hexabase-ai/internal/store"
)

// ErrNotMember: the user is not a member of the organization.
var ErrNotMember = errors.New("not a member of the organization")

// Level orders workspace roles by what they allow.
type Level int

const (
	None Level = iota
	View
	Develop
	Admin
)

func (l Level) String() string {
	switch l {
	case View:
		return store.RoleViewer
	case Develop:
		return store.RoleDeveloper
	case Admin:
		return store.RoleWorkspaceAdmin
	}
	return "none"
}

// LevelOf returns the level of a workspace role name.
func LevelOf(role string) Level {
	switch role {
	case store.RoleViewer:
		return View
	case store.RoleDeveloper:
		return Develop
	case store.RoleWorkspaceAdmin:
		return Admin
	}
	return None
}

// OrgLevel orders organization roles.
func OrgLevel(role string) int {
	switch role {
	case store.RoleOwner:
		return 3
	case store.RoleAdmin:
		return 2
	case store.RoleMember:
		return 1
	}
	return 0
}

// Authorizer answers authorization questions from the store.
type Authorizer struct {
	st store.Store
}

// New returns an Authorizer.
func New(st store.Store) (*Authorizer, error) {
	if st == nil {
		return nil, errors.New("authz: Store is required")
	}
	return &Authorizer{st: st}, nil
}

// OrgRole returns the user's role in the organization, or ErrNotMember.
func (a *Authorizer) OrgRole(ctx context.Context, userID, orgID string) (string, error) {
	m, err := a.st.GetOrgMember(ctx, orgID, userID)
	if errors.Is(err, store.ErrNotFound) {
		return "", ErrNotMember
	}
	if err != nil {
		return "", fmt.Errorf("get org member: %w", err)
	}
	return m.Role, nil
}

// WorkspaceAccess is what one user may do in one workspace.
type WorkspaceAccess struct {
	OrgRole string
	// Workspace is the workspace-wide level: from workspace-wide bindings of
	// the user's groups (and their ancestors), or Admin for org owners/admins
	// and for the workspace's creator.
	Workspace Level
	// Projects holds project-scoped levels by project id, as bound; use
	// ProjectLevel to include inheritance from parent projects.
	Projects map[string]Level
	// Groups are the names of the user's effective groups (direct groups
	// and their ancestors), sorted by the tree walk.
	Groups []string
}

// Visible reports whether the workspace is visible to the user at all.
func (w WorkspaceAccess) Visible() bool {
	if w.Workspace > None {
		return true
	}
	for _, l := range w.Projects {
		if l > None {
			return true
		}
	}
	return false
}

// ProjectLevel returns the user's level in a project whose id chain (the
// project first, then its parent, grandparent …) is given: the
// workspace-wide level or the highest level bound to one of the chain.
func (w WorkspaceAccess) ProjectLevel(chain ...string) Level {
	l := w.Workspace
	for _, id := range chain {
		if pl := w.Projects[id]; pl > l {
			l = pl
		}
	}
	return l
}

// ProjectLevels returns the user's level in each of projects, by id, as
// ProjectLevel gives it; projects must hold every project of the
// workspace, or at least the ancestors of those asked about.
func (w WorkspaceAccess) ProjectLevels(projects []store.Project) map[string]Level {
	byID := make(map[string]store.Project, len(projects))
	for _, p := range projects {
		byID[p.ID] = p
	}
	get := func(id string) (store.Project, error) {
		if p, ok := byID[id]; ok {
			return p, nil
		}
		return store.Project{}, store.ErrNotFound
	}
	out := make(map[string]Level, len(projects))
	for _, p := range projects {
		chain, _ := ProjectChain(p, get) // get fails with ErrNotFound only
		out[p.ID] = w.ProjectLevel(chain...)
	}
	return out
}

// BoundProjects are the ids of the projects with a role bound for the
// user, sorted: the roots of what they see in a workspace where they
// have no workspace-wide role.
func (w WorkspaceAccess) BoundProjects() []string {
	out := make([]string, 0, len(w.Projects))
	for id, l := range w.Projects {
		if l > None {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

// ProjectChain returns p's id chain for ProjectLevel: p, then its parent,
// grandparent …, each looked up with get. The walk stops at a parent get
// does not find (ErrNotFound), at a repeated id and after store.MaxTreeDepth
// steps; other errors of get end it with that error.
func ProjectChain(p store.Project, get func(id string) (store.Project, error)) ([]string, error) {
	chain := []string{p.ID}
	for parent := p.ParentID; parent != "" && len(chain) <= store.MaxTreeDepth && !slices.Contains(chain, parent); {
		pp, err := get(parent)
		if errors.Is(err, store.ErrNotFound) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("get parent project: %w", err)
		}
		chain = append(chain, pp.ID)
		parent = pp.ParentID
	}
	return chain, nil
}

// Workspace computes the user's access to ws. orgRole must be the user's
// role in ws's organization (from OrgRole).
func (a *Authorizer) Workspace(ctx context.Context, userID, orgRole string, ws store.Workspace) (WorkspaceAccess, error) {
	acc := WorkspaceAccess{OrgRole: orgRole, Projects: map[string]Level{}}
	if orgRole == store.RoleOwner || orgRole == store.RoleAdmin {
		acc.Workspace = Admin
	}
	// The workspace's creator stays its admin for as long as they are a
	// member of the organization, whatever their organization role now.
	if orgRole != "" && userID != "" && userID == ws.CreatedBy {
		acc.Workspace = Admin
	}
	direct, err := a.st.UserGroupIDs(ctx, ws.ID, userID)
	if err != nil {
		return acc, fmt.Errorf("user groups: %w", err)
	}
	if len(direct) == 0 {
		return acc, nil
	}
	groups, err := a.st.AllGroups(ctx, ws.ID)
	if err != nil {
		return acc, fmt.Errorf("all groups: %w", err)
	}
	effective := EffectiveGroups(groups, direct)
	bindings, err := a.st.AllRoleBindings(ctx, ws.ID)
	if err != nil {
		return acc, fmt.Errorf("role bindings: %w", err)
	}
	byID := make(map[string]store.Group, len(groups))
	for _, g := range groups {
		byID[g.ID] = g
	}
	for id := range effective {
		acc.Groups = append(acc.Groups, byID[id].Name)
	}
	for _, b := range bindings {
		if !effective[b.GroupID] {
			continue
		}
		l := LevelOf(b.Role)
		if b.ProjectID == "" {
			if l > acc.Workspace {
				acc.Workspace = l
			}
		} else if l > acc.Projects[b.ProjectID] {
			acc.Projects[b.ProjectID] = l
		}
	}
	slices.Sort(acc.Groups)
	return acc, nil
}

// EffectiveGroups returns the set of groups a member of the direct groups
// belongs to: the direct groups and all their ancestors (roles bound to a
// group are inherited by the groups below it). Broken or cyclic parent
// links stop the walk instead of looping.
func EffectiveGroups(all []store.Group, direct []string) map[string]bool {
	parent := make(map[string]string, len(all))
	for _, g := range all {
		parent[g.ID] = g.ParentID
	}
	out := make(map[string]bool, len(direct)*2)
	for _, id := range direct {
		for steps := 0; id != "" && !out[id] && steps <= len(all); steps++ {
			if _, ok := parent[id]; !ok {
				break
			}
			out[id] = true
			id = parent[id]
		}
	}
	return out
}
