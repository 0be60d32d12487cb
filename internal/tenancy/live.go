package tenancy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/hexabase/hexabase-ai/internal/authz"
	"github.com/hexabase/hexabase-ai/internal/events"
	"github.com/hexabase/hexabase-ai/internal/httpapi"
	"github.com/hexabase/hexabase-ai/internal/store"
)

// This file answers the questions of live followers (the WebSocket of
// package live), which hold no request: who may follow an organization's
// events and which of them, and which project a watch is about.

// OrgView is what one caller may read of one organization's events. Allows
// decides each event as the GET route of what it is about decides: the
// organization and its members for every member, invitations for admins,
// a workspace's status and progress when the workspace is visible, its
// members, groups and role bindings with the workspace role viewer, a
// project when the caller sees the project, a task when the caller sees
// the workspace it works on (admins: every task). What it reads is cached
// until Refresh, which a follower calls periodically and when memberships
// change. Events from before the caller became a member are refused.
// Safe for concurrent use.
type OrgView struct {
	s *Service
	p httpapi.Principal
	// Org is the organization followed.
	Org store.Organization

	mu    sync.Mutex
	role  string
	since time.Time // when the caller became a member
	ws    map[string]wsView
	// seen are the workspaces and projects the caller could read before
	// (kept across Refresh), which decide the events of their deletion,
	// when there is nothing left to read.
	seen  map[string]bool
	tasks map[string]string // task id → the workspace it works on ("": none)
}

type wsView struct {
	visible  bool
	level    authz.Level
	projects map[string]authz.Level
}

// OrgView resolves org (an id or a slug) for the caller p: a 404 problem
// unless they are a member, as GET /organizations/{org} answers.
func (s *Service) OrgView(ctx context.Context, p httpapi.Principal, org string) (*OrgView, error) {
	o, err := s.orgByRef(ctx, org)
	if err != nil {
		return nil, err
	}
	v := &OrgView{s: s, p: p, Org: o, seen: map[string]bool{}}
	if err := v.Refresh(ctx); err != nil {
		return nil, err
	}
	return v, nil
}

func (s *Service) orgByRef(ctx context.Context, ref string) (store.Organization, error) {
	err := store.ErrNotFound
	var o store.Organization
	if store.LooksLikeID(ref) {
		o, err = s.st.GetOrganization(ctx, ref)
	}
	if errors.Is(err, store.ErrNotFound) {
		o, err = s.st.GetOrganizationBySlug(ctx, ref)
	}
	if errors.Is(err, store.ErrNotFound) {
		return o, httpapi.NotFound("organization")
	}
	if err != nil {
		return o, fmt.Errorf("get organization: %w", err)
	}
	return o, nil
}

// Refresh reads the caller's membership again and forgets what Allows
// read: a 404 problem when they are no longer a member of the
// organization.
func (v *OrgView) Refresh(ctx context.Context) error {
	m, err := v.s.st.GetOrgMember(ctx, v.Org.ID, v.p.UserID)
	if errors.Is(err, store.ErrNotFound) {
		return httpapi.NotFound("organization")
	}
	if err != nil {
		return fmt.Errorf("get org member: %w", err)
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	v.role, v.since, v.ws, v.tasks = m.Role, m.CreatedAt, map[string]wsView{}, map[string]string{}
	return nil
}

func (v *OrgView) admin() bool { return authz.OrgLevel(v.role) >= authz.OrgLevel(store.RoleAdmin) }

// Allows reports whether the caller may read ev, an event of the
// organization.
func (v *OrgView) Allows(ctx context.Context, ev events.Event) (bool, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if ev.OrgID != v.Org.ID {
		return false, nil
	}
	if ev.Time.Before(v.since) {
		// From before the caller joined (a resume with an old seq): not
		// theirs to read, as the API shows no history of the
		// organization from before (member ids and roles included).
		return false, nil
	}
	family, _, _ := strings.Cut(ev.Type, ".")
	switch family {
	case "organization", "member":
		return true, nil
	case "invitation":
		return v.admin(), nil
	case "workspace":
		w, err := v.workspace(ctx, ev.ResourceID)
		if err != nil {
			return false, err
		}
		if ev.Type == events.WorkspaceMemberAdded || ev.Type == events.WorkspaceMemberRemoved {
			return w.level >= authz.View, nil
		}
		return w.visible, nil
	case "project":
		var d events.InWorkspace
		_ = json.Unmarshal(ev.Data, &d)
		w, err := v.workspace(ctx, d.WorkspaceID)
		if err != nil {
			return false, err
		}
		if l, ok := w.projects[ev.ResourceID]; ok {
			return l > authz.None, nil
		}
		// Gone (project.deleted): whoever saw it, or sees every project.
		return w.level > authz.None || v.seen[ev.ResourceID], nil
	case "group", "rolebinding":
		var d events.InWorkspace
		_ = json.Unmarshal(ev.Data, &d)
		w, err := v.workspace(ctx, d.WorkspaceID)
		if err != nil {
			return false, err
		}
		return w.level >= authz.View, nil
	case "task":
		if v.admin() {
			return true, nil
		}
		wsID, err := v.taskWorkspace(ctx, ev.ResourceID)
		if err != nil || wsID == "" {
			return false, err
		}
		w, err := v.workspace(ctx, wsID)
		return w.visible, err
	}
	return v.admin(), nil
}

// workspace is the caller's view of workspace id (v.mu held).
func (v *OrgView) workspace(ctx context.Context, id string) (wsView, error) {
	if w, ok := v.ws[id]; ok {
		return w, nil
	}
	var w wsView
	ws, err := v.s.st.GetWorkspace(ctx, id)
	switch {
	case errors.Is(err, store.ErrNotFound) || (err == nil && ws.OrgID != v.Org.ID):
		// Deleted: its last events go to whoever saw it.
		w.visible = v.seen[id] || v.admin()
	case err != nil:
		return w, fmt.Errorf("get workspace: %w", err)
	default:
		acc, err := v.s.az.Workspace(ctx, v.p.UserID, v.role, ws)
		if err != nil {
			return w, err
		}
		all, err := store.AllProjects(ctx, v.s.st, ws.ID)
		if err != nil {
			return w, err
		}
		w = wsView{visible: acc.Visible(), level: acc.Workspace, projects: acc.ProjectLevels(all)}
		if w.visible {
			v.seen[id] = true
		}
		for pid, l := range w.projects {
			if l > authz.None {
				v.seen[pid] = true
			}
		}
	}
	v.ws[id] = w
	return w, nil
}

// taskWorkspace is the workspace task id works on, "" for none or an
// unknown task (v.mu held).
func (v *OrgView) taskWorkspace(ctx context.Context, id string) (string, error) {
	if ws, ok := v.tasks[id]; ok {
		return ws, nil
	}
	t, err := v.s.st.GetTask(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return "", nil // not remembered: it may be stored in a moment
	}
	if err != nil {
		return "", fmt.Errorf("get task: %w", err)
	}
	var p WorkspaceTask
	if t.OrgID != v.Org.ID || json.Unmarshal(t.Payload, &p) != nil {
		p.WorkspaceID = ""
	}
	if len(v.tasks) < 4096 {
		v.tasks[id] = p.WorkspaceID
	}
	return p.WorkspaceID, nil
}

// ResolveProjectRefs resolves a project named by references (org: id or
// slug; workspace and project: ids or names) for the caller p, as
// ResolveProject resolves a request's path: a 404 problem naming what is
// unknown or hidden from them.
func (s *Service) ResolveProjectRefs(ctx context.Context, p httpapi.Principal, org, workspace, project string) (ProjectScope, error) {
	r, err := http.NewRequestWithContext(httpapi.WithPrincipal(ctx, p), http.MethodGet, "/", nil)
	if err != nil {
		return ProjectScope{}, err
	}
	r.SetPathValue("org", org)
	r.SetPathValue("workspace", workspace)
	r.SetPathValue("project", project)
	rs, err := s.resolve(r, true, true, false)
	if err != nil {
		return ProjectScope{}, err
	}
	return s.ResolveProject(r.WithContext(context.WithValue(r.Context(), resolvedKey{}, rs)))
}

// ResolveWorkspaceRefs resolves a workspace named by references (org: id
// or slug; workspace: id or name) for the caller p, as ResolveWorkspace
// resolves a request's path: a 404 problem unless they see it.
func (s *Service) ResolveWorkspaceRefs(ctx context.Context, p httpapi.Principal, org, workspace string) (WorkspaceScope, error) {
	r, err := http.NewRequestWithContext(httpapi.WithPrincipal(ctx, p), http.MethodGet, "/", nil)
	if err != nil {
		return WorkspaceScope{}, err
	}
	r.SetPathValue("org", org)
	r.SetPathValue("workspace", workspace)
	rs, err := s.resolve(r, true, false, false)
	if err != nil {
		return WorkspaceScope{}, err
	}
	return s.ResolveWorkspace(r.WithContext(context.WithValue(r.Context(), resolvedKey{}, rs)))
}
