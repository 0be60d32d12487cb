package issuer

import (
	"slices"

	"github.com/hexabase/hexabase-ai/internal/authz"
	"github.com/hexabase/hexabase-ai/internal/store"
)

// Role markers in the groups claim. Workspace group names are DNS-1123
// labels, which never contain ':', so markers cannot collide with them.
const (
	// GroupPrefix starts every role marker.
	GroupPrefix = "hks:"
	// GroupWorkspaceAdmin, GroupDeveloper and GroupViewer mark the
	// workspace-wide role (org owners and admins are workspace-admins).
	GroupWorkspaceAdmin = GroupPrefix + store.RoleWorkspaceAdmin
	GroupDeveloper      = GroupPrefix + store.RoleDeveloper
	GroupViewer         = GroupPrefix + store.RoleViewer
)

// ProjectGroup is the marker of a role in one project:
// "hks:<role>:<project name>", e.g. "hks:developer:web".
func ProjectGroup(level authz.Level, projectName string) string {
	return GroupPrefix + level.String() + ":" + projectName
}

// WorkspaceGroups maps a user's access to a workspace onto the groups of
// their workspace token, and so onto Kubernetes RBAC subjects:
//
//   - the names of the user's effective workspace groups (direct groups and
//     their ancestors), as they are;
//   - "hks:<role>" for the workspace-wide role (workspace-admin, developer
//     or viewer), if any;
//   - "hks:<role>:<project>" for each project (by name) where the user's
//     level, including what the project inherits from its parents, is
//     higher than their workspace-wide level.
//
// projects must be every project of the workspace (for the parent chain).
// The result is sorted and has no duplicates. The control-plane reconciler
// must bind RBAC with the names this function produces, so that the API
// and the cluster agree.
func WorkspaceGroups(acc authz.WorkspaceAccess, projects []store.Project) []string {
	out := append([]string{}, acc.Groups...)
	if acc.Workspace > authz.None {
		out = append(out, GroupPrefix+acc.Workspace.String())
	}
	levels := acc.ProjectLevels(projects)
	for _, p := range projects {
		if l := levels[p.ID]; l > acc.Workspace {
			out = append(out, ProjectGroup(l, p.Name))
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}
