package tenancy

import (
	"net/http"

	"github.com/hexabase/hexabase-ai/internal/authz"
	"github.com/hexabase/hexabase-ai/internal/httpapi"
	"github.com/hexabase/hexabase-ai/internal/issuer"
	"github.com/hexabase/hexabase-ai/internal/store"
)

// WorkspaceScope is a workspace resolved for its caller, for the packages
// that act in the workspace's cluster as that caller (workloads,
// cronjobs): who they are there (the same user and groups their workspace
// token carries) and what the platform lets them see.
type WorkspaceScope struct {
	Principal httpapi.Principal
	Org       store.Organization
	Workspace store.Workspace
	Access    authz.WorkspaceAccess
	// Projects are every project of the workspace.
	Projects []store.Project
	// Groups are the caller's workspace groups as the cluster sees them
	// without the prefix (issuer.WorkspaceGroups, the groups claim of a
	// workspace token).
	Groups []string
}

// ProjectScope is a project resolved for its caller.
type ProjectScope struct {
	WorkspaceScope
	Project store.Project
	// Level is the caller's level in the project (inherited from parents
	// and the workspace).
	Level authz.Level
}

// Namespace is the project's namespace in the workspace cluster.
func (ps ProjectScope) Namespace() string { return ps.Project.Name }

// VisibleProjects are the projects the caller may see.
func (ws WorkspaceScope) VisibleProjects() []store.Project {
	levels := ws.Access.ProjectLevels(ws.Projects)
	var out []store.Project
	for _, p := range ws.Projects {
		if levels[p.ID] > authz.None {
			out = append(out, p)
		}
	}
	return out
}

// ResolveWorkspace resolves {org} and {workspace} of r for its caller: 404
// unless the workspace is visible to them.
func (s *Service) ResolveWorkspace(r *http.Request) (WorkspaceScope, error) {
	wc, err := s.wsFor(r)
	if err != nil {
		return WorkspaceScope{}, err
	}
	all, err := store.AllProjects(r.Context(), s.st, wc.ws.ID)
	if err != nil {
		return WorkspaceScope{}, err
	}
	return WorkspaceScope{Principal: wc.p, Org: wc.org, Workspace: wc.ws, Access: wc.acc, Projects: all,
		Groups: issuer.WorkspaceGroups(wc.acc, all)}, nil
}

// ResolveProject resolves {org}, {workspace} and {project} of r (ids:
// the route middleware ResolvePath turned names into ids) for its caller:
// 404 unless the workspace is visible to them and the project is one of
// its projects. A workspace member without a role in
// the project gets it with Level None: those who act in the cluster leave
// the refusal to the cluster's RBAC (a 403 that names it), as the
// member's own kubectl would get.
func (s *Service) ResolveProject(r *http.Request) (ProjectScope, error) {
	sc, err := s.ResolveWorkspace(r)
	if err != nil {
		return ProjectScope{}, err
	}
	ref := r.PathValue("project")
	for _, p := range sc.Projects {
		if p.ID == ref {
			return ProjectScope{WorkspaceScope: sc, Project: p, Level: sc.Access.ProjectLevels(sc.Projects)[p.ID]}, nil
		}
	}
	return ProjectScope{}, httpapi.NotFound("project")
}
