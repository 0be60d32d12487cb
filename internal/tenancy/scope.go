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
	return s.scopeOf(r, wc)
}

func (s *Service) scopeOf(r *http.Request, wc wsCtx) (WorkspaceScope, error) {
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
// its projects that they see (projectFor: a project hidden from them
// answers what an unknown one does, and its cluster is never asked).
func (s *Service) ResolveProject(r *http.Request) (ProjectScope, error) {
	wc, err := s.wsFor(r)
	if err != nil {
		return ProjectScope{}, err
	}
	p, lvl, err := s.projectFor(r, wc)
	if err != nil {
		return ProjectScope{}, err
	}
	sc, err := s.scopeOf(r, wc)
	if err != nil {
		return ProjectScope{}, err
	}
	return ProjectScope{WorkspaceScope: sc, Project: p, Level: lvl}, nil
}
