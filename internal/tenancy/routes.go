package tenancy

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/hexabase/hexabase-ai/internal/api"
	"github.com/hexabase/hexabase-ai/internal/events"
	"github.com/hexabase/hexabase-ai/internal/httpapi"
	"github.com/hexabase/hexabase-ai/internal/kubeconfig"
	"github.com/hexabase/hexabase-ai/internal/store"
)

const (
	orgs     = "/api/v1/organizations"
	org      = orgs + "/{org}"
	wss      = org + "/workspaces"
	ws       = wss + "/{workspace}"
	projects = ws + "/projects"
	groups   = ws + "/groups"
)

// Routes returns the tenancy routes.
func (s *Service) Routes() []httpapi.Route {
	pq := httpapi.PageQuery
	c, a, nc := http.StatusCreated, http.StatusAccepted, http.StatusNoContent
	forb := []int{http.StatusForbidden}
	forbConf := []int{http.StatusForbidden, http.StatusConflict}
	return []httpapi.Route{
		{Method: "POST", Path: orgs, Tag: "organizations", Summary: "Create an organization (the caller becomes its owner)", Request: api.CreateOrganizationRequest{}, Response: api.Organization{}, Status: c, Errors: []int{http.StatusConflict}, Handle: s.createOrg},
		{Method: "GET", Path: orgs, Tag: "organizations", Summary: "List the caller's organizations", Response: api.List[api.Organization]{}, Query: pq, Handle: s.listOrgs},
		{Method: "GET", Path: org, Tag: "organizations", Summary: "Get an organization", Response: api.Organization{}, Handle: s.getOrg},
		{Method: "PATCH", Path: org, Tag: "organizations", Summary: "Update an organization (admin)", Request: api.UpdateOrganizationRequest{}, Response: api.Organization{}, Errors: forbConf, Handle: s.updateOrg},
		{Method: "DELETE", Path: org, Tag: "organizations", Summary: "Delete an organization without workspaces (owner)", Status: nc, Errors: forbConf, Handle: s.deleteOrg},

		{Method: "GET", Path: org + "/members", Tag: "members", Summary: "List organization members", Response: api.List[api.Member]{}, Query: pq, Handle: s.listMembers},
		{Method: "PATCH", Path: org + "/members/{user}", Tag: "members", Summary: "Change a member's role (admin; owner role by owners)", Request: api.UpdateMemberRequest{}, Response: api.Member{}, Errors: forbConf, Handle: s.updateMember},
		{Method: "DELETE", Path: org + "/members/{user}", Tag: "members", Summary: "Remove a member (admin), or leave", Status: nc, Errors: forbConf, Handle: s.removeMember},

		{Method: "POST", Path: org + "/invitations", Tag: "invitations", Summary: "Invite an email address (admin)", Request: api.CreateInvitationRequest{}, Response: api.Invitation{}, Status: c, Errors: forbConf, Handle: s.createInvitation},
		{Method: "GET", Path: org + "/invitations", Tag: "invitations", Summary: "List invitations (admin)", Response: api.List[api.Invitation]{}, Query: pq, Errors: forb, Handle: s.listInvitations},
		{Method: "DELETE", Path: org + "/invitations/{invitation}", Tag: "invitations", Summary: "Withdraw an invitation (admin)", Status: nc, Errors: forb, Handle: s.deleteInvitation},
		{Method: "POST", Path: "/api/v1/invitations/accept", Tag: "invitations", Summary: "Accept an invitation sent to the caller's email", Request: api.AcceptInvitationRequest{}, Response: api.Organization{}, Errors: []int{http.StatusForbidden, http.StatusConflict, http.StatusGone}, Handle: s.acceptInvitation},

		{Method: "POST", Path: wss, Tag: "workspaces", Summary: "Create a workspace (admin); provisioning runs as a task", Request: api.CreateWorkspaceRequest{}, Response: api.Workspace{}, Status: a, Errors: forbConf, Handle: s.createWorkspace},
		{Method: "GET", Path: wss, Tag: "workspaces", Summary: "List the workspaces visible to the caller", Response: api.List[api.Workspace]{}, Query: pq, Handle: s.listWorkspaces},
		{Method: "GET", Path: ws, Tag: "workspaces", Summary: "Get a workspace", Response: api.Workspace{}, Handle: s.getWorkspace},
		{Method: "PATCH", Path: ws, Tag: "workspaces", Summary: "Rename a workspace, or change its sleep_after and hibernation schedules (workspace-admin)", Request: api.UpdateWorkspaceRequest{}, Response: api.Workspace{}, Errors: forbConf, Handle: s.updateWorkspace},
		{Method: "POST", Path: ws + "/sleep", Tag: "workspaces", Summary: "Put a running workspace to sleep (workspace-admin): its control plane stops, its data stays; the next request through the gateway wakes it. 202 with the task, or 200 when it sleeps already",
			Response: api.Workspace{}, Status: a, AlsoStatus: http.StatusOK, Errors: forbConf, Handle: s.sleepWorkspace},
		{Method: "POST", Path: ws + "/wake", Tag: "workspaces", Summary: "Wake a sleeping workspace (workspace-admin). 202 with the task, or 200 when it is running or waking already",
			Response: api.Workspace{}, Status: a, AlsoStatus: http.StatusOK, Errors: forbConf, Handle: s.wakeWorkspace},
		{Method: "DELETE", Path: ws, Tag: "workspaces", Summary: "Delete a workspace (workspace-admin); runs as a task", Response: api.Workspace{}, Status: a, Errors: forbConf, Handle: s.deleteWorkspace},
		{Method: "GET", Path: ws + "/kubeconfig", Tag: "workspaces", Summary: "Get a kubeconfig for the caller: the workspace's URL on the platform's gateway (<external URL>/k8s/<workspace id>) with the platform's CA, and a user that runs `hks kubectl-token` for a short-lived token of the caller's own identity (no credential inside). YAML, or JSON with ?format=json or Accept: application/json",
			Response: kubeconfig.Kubeconfig{}, ContentType: "application/yaml", Query: []httpapi.Param{{Name: "format", Description: "yaml (default) or json"}},
			Errors: []int{http.StatusConflict, http.StatusUnprocessableEntity, http.StatusServiceUnavailable}, Raw: http.HandlerFunc(s.workspaceKubeconfig)},
		{Method: "GET", Path: ws + "/events", Tag: "workspaces", Summary: "Follow the workspace's events as Server-Sent Events: first its current status, then workspace.status, workspace.progress and its tasks' task.status events; a comment every 15 s keeps the stream alive",
			Response: api.WorkspaceEvent{}, ContentType: "text/event-stream", Query: []httpapi.Param{{Name: "since", Description: "RFC 3339 time: replay the stored events from then on before following new ones"}},
			Errors: []int{http.StatusUnprocessableEntity, http.StatusServiceUnavailable}, Stream: true, Raw: http.HandlerFunc(s.workspaceEvents)},

		{Method: "GET", Path: ws + "/members", Tag: "workspace members", Summary: "List workspace members", Response: api.List[api.User]{}, Query: pq, Errors: forb, Handle: s.listWorkspaceMembers},
		{Method: "POST", Path: ws + "/members", Tag: "workspace members", Summary: "Admit an organization member to the workspace (workspace-admin)", Request: api.AddUserRequest{}, Response: api.User{}, Status: c, Errors: forbConf, Handle: s.addWorkspaceMember},
		{Method: "DELETE", Path: ws + "/members/{user}", Tag: "workspace members", Summary: "Remove a workspace member and their group memberships (workspace-admin)", Status: nc, Errors: forb, Handle: s.removeWorkspaceMember},

		{Method: "POST", Path: projects, Tag: "projects", Summary: "Create a project (workspace-admin)", Request: api.CreateProjectRequest{}, Response: api.Project{}, Status: c, Errors: forbConf, Handle: s.createProject},
		{Method: "GET", Path: projects, Tag: "projects", Summary: "List the projects visible to the caller", Response: api.List[api.Project]{}, Query: pq, Handle: s.listProjects},
		{Method: "GET", Path: projects + "/{project}", Tag: "projects", Summary: "Get a project", Response: api.Project{}, Handle: s.getProject},
		{Method: "PATCH", Path: projects + "/{project}", Tag: "projects", Summary: "Change a project's quota or parent (workspace-admin)", Request: api.UpdateProjectRequest{}, Response: api.Project{}, Errors: forb, Handle: s.updateProject},
		{Method: "DELETE", Path: projects + "/{project}", Tag: "projects", Summary: "Delete a project without child projects (workspace-admin)", Status: nc, Errors: forbConf, Handle: s.deleteProject},

		{Method: "POST", Path: groups, Tag: "groups", Summary: "Create a group (workspace-admin)", Request: api.CreateGroupRequest{}, Response: api.Group{}, Status: c, Errors: forbConf, Handle: s.createGroup},
		{Method: "GET", Path: groups, Tag: "groups", Summary: "List groups", Response: api.List[api.Group]{}, Query: pq, Errors: forb, Handle: s.listGroups},
		{Method: "GET", Path: groups + "/{group}", Tag: "groups", Summary: "Get a group", Response: api.Group{}, Errors: forb, Handle: s.getGroup},
		{Method: "PATCH", Path: groups + "/{group}", Tag: "groups", Summary: "Rename or move a group (workspace-admin); cycles are refused", Request: api.UpdateGroupRequest{}, Response: api.Group{}, Errors: forbConf, Handle: s.updateGroup},
		{Method: "DELETE", Path: groups + "/{group}", Tag: "groups", Summary: "Delete a group without child groups (workspace-admin)", Status: nc, Errors: forbConf, Handle: s.deleteGroup},
		{Method: "GET", Path: groups + "/{group}/members", Tag: "groups", Summary: "List group members", Response: api.List[api.User]{}, Query: pq, Errors: forb, Handle: s.listGroupMembers},
		{Method: "POST", Path: groups + "/{group}/members", Tag: "groups", Summary: "Add an organization member to a group (workspace-admin)", Request: api.AddUserRequest{}, Response: api.User{}, Status: c, Errors: forbConf, Handle: s.addGroupMember},
		{Method: "DELETE", Path: groups + "/{group}/members/{user}", Tag: "groups", Summary: "Remove a user from a group (workspace-admin)", Status: nc, Errors: forb, Handle: s.removeGroupMember},

		{Method: "POST", Path: ws + "/rolebindings", Tag: "role bindings", Summary: "Bind a role to a group, workspace-wide or for one project (workspace-admin)", Request: api.CreateRoleBindingRequest{}, Response: api.RoleBinding{}, Status: c, Errors: forbConf, Handle: s.createRoleBinding},
		{Method: "GET", Path: ws + "/rolebindings", Tag: "role bindings", Summary: "List role bindings", Response: api.List[api.RoleBinding]{}, Query: pq, Errors: forb, Handle: s.listRoleBindings},
		{Method: "DELETE", Path: ws + "/rolebindings/{binding}", Tag: "role bindings", Summary: "Delete a role binding (workspace-admin)", Status: nc, Errors: forb, Handle: s.deleteRoleBinding},

		{Method: "GET", Path: org + "/tasks", Tag: "tasks", Summary: "List the organization's tasks (admin)", Response: api.List[api.Task]{}, Query: pq, Errors: forb, Handle: s.listTasks},
		{Method: "GET", Path: org + "/tasks/{task}", Tag: "tasks", Summary: "Get a task (admin)", Response: api.Task{}, Errors: forb, Handle: s.getTask},
	}
}

// DeleteWorkspaceRecords is the last step of the workspace.delete task:
// it removes the records of a workspace in status deleting and announces
// it deleted. A server with a control-plane provider calls it once the
// control plane is torn down; one without registers it as the task's
// handler. It is idempotent: a workspace already gone counts as deleted.
func DeleteWorkspaceRecords(ctx context.Context, st store.Store, n Notifier, workspaceID string) error {
	ws, err := st.GetWorkspace(ctx, workspaceID)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("get workspace: %w", err)
	}
	if ws.Status != store.WorkspaceDeleting {
		return nil // not ours to delete (a retried task after a restore, say)
	}
	if err := st.DeleteWorkspace(ctx, ws.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("delete workspace records: %w", err)
	}
	n.Notify(ctx, ws.OrgID, events.WorkspaceStatus, ws.ID, events.WorkspaceStatusData{Status: store.WorkspaceDeleted})
	return nil
}

// DeleteWorkspace is the handler of the workspace.delete task on a server
// that runs no control-plane provider: there is nothing to tear down, so
// it removes the records.
func (s *Service) DeleteWorkspace(ctx context.Context, _ store.Task, p WorkspaceTask) error {
	return DeleteWorkspaceRecords(ctx, s.st, s.events, p.WorkspaceID)
}
