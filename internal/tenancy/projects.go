package tenancy

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/hexabase/hexabase-ai/internal/api"
	"github.com/hexabase/hexabase-ai/internal/authz"
	"github.com/hexabase/hexabase-ai/internal/events"
	"github.com/hexabase/hexabase-ai/internal/httpapi"
	"github.com/hexabase/hexabase-ai/internal/store"
)

func checkQuota(q *api.Quota) error {
	if q == nil {
		return nil
	}
	var podsErr *api.FieldError
	if q.Pods < 0 || q.Pods > maxQuotaPods {
		podsErr = &api.FieldError{Field: "quota.pods", Message: fmt.Sprintf("must be from 0 to %d", maxQuotaPods)}
	}
	return collect(checkQuantity("quota.cpu", q.CPU, cpuBound), checkQuantity("quota.memory", q.Memory, memoryBound),
		checkQuantity("quota.storage", q.Storage, storageBound), podsErr)
}

// checkPodSecurity: a project's pod security level is baseline or
// restricted ("" is baseline). privileged is not offered: a tenant's pods
// never get the host.
func checkPodSecurity(level string) *api.FieldError {
	switch level {
	case "", store.PodSecurityBaseline, store.PodSecurityRestricted:
		return nil
	}
	return &api.FieldError{Field: "pod_security", Message: "must be baseline or restricted"}
}

// podSecurityLevel is the level "" stands for, baseline, or level.
func podSecurityLevel(level string) string {
	if level == "" {
		return store.PodSecurityBaseline
	}
	return level
}

func quotaIn(q *api.Quota) store.Quota {
	if q == nil {
		return store.Quota{}
	}
	return store.Quota{CPU: q.CPU, Memory: q.Memory, Storage: q.Storage, Pods: q.Pods}
}

// parentProject checks that id, when given, names a project of the workspace.
func (s *Service) parentProject(r *http.Request, wsID, id string) error {
	return parentIn(r, s.st.GetProject, projectWorkspace, wsID, id, "project")
}

func (s *Service) createProject(r *http.Request) (any, error) {
	var req api.CreateProjectRequest
	wc, err := s.wsBody(r, authz.Admin, &req)
	if err != nil {
		return nil, err
	}
	if err := collect(checkProjectName(req.Name), checkPodSecurity(req.PodSecurity)); err != nil {
		return nil, err
	}
	if err := checkQuota(req.Quota); err != nil {
		return nil, err
	}
	if err := s.parentProject(r, wc.ws.ID, req.ParentID); err != nil {
		return nil, err
	}
	now := s.clock()
	p := store.Project{ID: store.NewID(), WorkspaceID: wc.ws.ID, Name: req.Name, ParentID: req.ParentID, Quota: quotaIn(req.Quota),
		PodSecurity: podSecurityLevel(req.PodSecurity), CreatedAt: now, UpdatedAt: now, Version: 1}
	if err := s.st.CreateProject(r.Context(), p); err != nil {
		return nil, conflictField(err, "name", fmt.Sprintf("a project named %q exists in this workspace", p.Name))
	}
	s.notifyIn(r, wc, events.ProjectCreated, p.ID)
	out := projectOut(p)
	out.Role = roleName(wc.acc.Workspace)
	return out, nil
}

func (s *Service) listProjects(r *http.Request) (any, error) {
	wc, err := s.wsFor(r)
	if err != nil {
		return nil, err
	}
	// A caller without a workspace-wide role sees the projects at or below
	// those bound to their groups: the store filters, so pages are full.
	list := s.st.ListProjects
	if wc.acc.Workspace < authz.View {
		roots := wc.acc.BoundProjects()
		list = func(ctx context.Context, wsID string, p store.Page) ([]store.Project, string, error) {
			return s.st.ListProjectsUnder(ctx, wsID, roots, p)
		}
	}
	items, next, err := readPage(r, list, wc.ws.ID)
	if err != nil {
		return nil, err
	}
	// The caller's level in each project: the workspace-wide one, unless
	// roles are bound to them on projects, which may raise it below those
	// projects; then from every project of the workspace, read once.
	var levels map[string]authz.Level
	if len(wc.acc.BoundProjects()) > 0 {
		all, err := store.AllProjects(r.Context(), s.st, wc.ws.ID)
		if err != nil {
			return nil, err
		}
		levels = wc.acc.ProjectLevels(all)
	}
	out := make([]api.Project, 0, len(items))
	for _, p := range items {
		o := projectOut(p)
		o.Role = roleName(wc.acc.Workspace)
		if levels != nil {
			o.Role = roleName(levels[p.ID])
			// A parent the caller does not see stays unnamed (projectOutFor).
			if p.ParentID != "" && levels[p.ParentID] == authz.None {
				o.ParentID = ""
			}
		}
		out = append(out, o)
	}
	return httpapi.NewList(out, next), nil
}

func (s *Service) getProject(r *http.Request) (any, error) {
	wc, err := s.wsFor(r)
	if err != nil {
		return nil, err
	}
	p, lvl, err := s.projectFor(r, wc)
	if err != nil {
		return nil, err
	}
	out, err := s.projectOutFor(r.Context(), wc, p)
	out.Role = roleName(lvl)
	return out, err
}

// projectOutFor is projectOut for a caller who sees p, without the id of
// a parent they cannot see: a member bound to a child project only must
// not learn its hidden parent's id (GET of that id is a 404). A caller
// sees the parent when they have a workspace-wide role, or when p itself
// is not bound to them (then a binding above p makes p visible, and so
// its parent); only for a bound p is the parent's chain read.
func (s *Service) projectOutFor(ctx context.Context, wc wsCtx, p store.Project) (api.Project, error) {
	out := projectOut(p)
	if p.ParentID == "" || wc.acc.Workspace > authz.None || wc.acc.Projects[p.ID] == authz.None {
		return out, nil
	}
	parent, err := s.st.GetProject(ctx, p.ParentID)
	if err != nil {
		return out, fmt.Errorf("get parent project: %w", err)
	}
	chain, err := s.projectChain(ctx, parent)
	if err != nil {
		return out, err
	}
	if wc.acc.ProjectLevel(chain...) == authz.None {
		out.ParentID = ""
	}
	return out, nil
}

func (s *Service) updateProject(r *http.Request) (any, error) {
	wc, p, err := s.projectWith(r, authz.Admin)
	if err != nil {
		return nil, err
	}
	patch, req, err := decodePatch(r, projectView(p))
	if err != nil {
		return nil, err
	}
	if patch.Has("parent_id") && deref(req.ParentID) != "" {
		if err := s.parentProject(r, wc.ws.ID, *req.ParentID); err != nil {
			return nil, err
		}
	}
	p, err = s.st.UpdateProject(r.Context(), p.ID, func(p store.Project) (store.Project, error) {
		var req api.UpdateProjectRequest
		if err := patchVersioned(r, patch, projectView(p), &req, &req.ResourceVersion, p.Version); err != nil {
			return p, err
		}
		if err := checkQuota(req.Quota); err != nil {
			return p, err
		}
		if err := collect(checkPodSecurity(deref(req.PodSecurity))); err != nil {
			return p, err
		}
		p.Quota, p.ParentID, p.PodSecurity = quotaIn(req.Quota), deref(req.ParentID), podSecurityLevel(deref(req.PodSecurity))
		p.UpdatedAt = s.clock()
		return p, nil
	})
	if errors.Is(err, store.ErrCycle) {
		return nil, httpapi.Invalid(httpapi.Field("parent_id", "would make the project its own ancestor"))
	} else if err != nil {
		return nil, err
	}
	s.notifyIn(r, wc, events.ProjectUpdated, p.ID)
	out := projectOut(p)
	out.Role = roleName(wc.acc.Workspace)
	return out, nil
}

// projectView is the part of a project a PATCH changes.
func projectView(p store.Project) api.UpdateProjectRequest {
	q := api.Quota{CPU: p.Quota.CPU, Memory: p.Quota.Memory, Storage: p.Quota.Storage, Pods: p.Quota.Pods}
	ps := podSecurityLevel(p.PodSecurity)
	return api.UpdateProjectRequest{ParentID: &p.ParentID, Quota: &q, PodSecurity: &ps, ResourceVersion: version(p.Version)}
}

func (s *Service) deleteProject(r *http.Request) (any, error) {
	return deleteIn(s, r, s.projectWith, func(p store.Project) string { return p.ID }, s.st.DeleteProject,
		"the project has child projects; delete them first", events.ProjectDeleted)
}
