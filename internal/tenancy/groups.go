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

func (s *Service) groupFor(r *http.Request, wc wsCtx) (store.Group, error) {
	get := func(ctx context.Context, ref string) (store.Group, error) {
		return cached(ctx, resolvedFrom(ctx).group, ref, s.st.GetGroup)
	}
	return ownedBy(r.Context(), get, r.PathValue("group"), wc.ws.ID, groupWorkspace, httpapi.NotFound("group"))
}

// parentGroup checks that id, when given, names a group of the workspace.
func (s *Service) parentGroup(r *http.Request, wsID, id string) error {
	return parentIn(r, s.st.GetGroup, groupWorkspace, wsID, id, "group")
}

func (s *Service) createGroup(r *http.Request) (any, error) {
	var req api.CreateGroupRequest
	wc, err := s.wsBody(r, authz.Admin, &req)
	if err != nil {
		return nil, err
	}
	if err := collect(checkLabel("name", req.Name)); err != nil {
		return nil, err
	}
	if err := s.parentGroup(r, wc.ws.ID, req.ParentID); err != nil {
		return nil, err
	}
	now := s.clock()
	g := store.Group{ID: store.NewID(), WorkspaceID: wc.ws.ID, Name: req.Name, ParentID: req.ParentID, CreatedAt: now, UpdatedAt: now, Version: 1}
	if err := s.st.CreateGroup(r.Context(), g); err != nil {
		return nil, conflictField(err, "name", fmt.Sprintf("a group named %q exists in this workspace", g.Name))
	}
	s.notifyIn(r, wc, events.GroupCreated, g.ID)
	return groupOut(g), nil
}

func (s *Service) listGroups(r *http.Request) (any, error) {
	return wsList(s, r, authz.View, s.st.ListGroups, groupOut)
}

func (s *Service) getGroup(r *http.Request) (any, error) {
	return getIn(r, s.groupWith, authz.View, groupOut)
}

func (s *Service) updateGroup(r *http.Request) (any, error) {
	wc, g, err := s.groupWith(r, authz.Admin)
	if err != nil {
		return nil, err
	}
	patch, req, err := decodePatch(r, groupView(g))
	if err != nil {
		return nil, err
	}
	if patch.Has("parent_id") {
		if err := s.parentGroup(r, wc.ws.ID, deref(req.ParentID)); err != nil {
			return nil, err
		}
	}
	g, err = s.st.UpdateGroup(r.Context(), g.ID, func(g store.Group) (store.Group, error) {
		var req api.UpdateGroupRequest
		if err := patchVersioned(r, patch, groupView(g), &req, &req.ResourceVersion, g.Version); err != nil {
			return g, err
		}
		g.Name, g.ParentID = deref(req.Name), deref(req.ParentID)
		if err := collect(checkLabel("name", g.Name)); err != nil {
			return g, err
		}
		g.UpdatedAt = s.clock()
		return g, nil
	})
	switch {
	case errors.Is(err, store.ErrCycle):
		return nil, httpapi.Invalid(httpapi.Field("parent_id", "would make the group its own ancestor"))
	case err != nil:
		return nil, conflictField(err, "name", fmt.Sprintf("a group named %q exists in this workspace", deref(req.Name)))
	}
	s.notifyIn(r, wc, events.GroupUpdated, g.ID)
	return groupOut(g), nil
}

// groupView is the part of a group a PATCH changes.
func groupView(g store.Group) api.UpdateGroupRequest {
	return api.UpdateGroupRequest{Name: &g.Name, ParentID: &g.ParentID, ResourceVersion: version(g.Version)}
}

func (s *Service) deleteGroup(r *http.Request) (any, error) {
	return deleteIn(s, r, s.groupWith, func(g store.Group) string { return g.ID }, s.st.DeleteGroup,
		"the group has child groups; delete or move them first", events.GroupDeleted)
}

func (s *Service) listGroupMembers(r *http.Request) (any, error) {
	_, g, err := s.groupWith(r, authz.View)
	if err != nil {
		return nil, err
	}
	return listPage(r, s.st.ListGroupMembers, g.ID, userOut[store.GroupMember])
}

func (s *Service) addGroupMember(r *http.Request) (any, error) {
	wc, g, err := s.groupWith(r, authz.Admin)
	if err != nil {
		return nil, err
	}
	m, err := s.memberToAdd(r, wc)
	if err != nil {
		return nil, err
	}
	// Group members are workspace members; admit the user if needed.
	if err := s.st.AddWorkspaceMember(r.Context(), m); err != nil && !errors.Is(err, store.ErrConflict) {
		return nil, err
	}
	if err := s.st.AddGroupMember(r.Context(), store.GroupMember{GroupID: g.ID, UserID: m.UserID, CreatedAt: m.CreatedAt}); err != nil {
		return nil, conflictField(err, "user_id", "is in the group already")
	}
	s.events.Notify(r.Context(), wc.org.ID, events.GroupMemberAdded, g.ID, events.GroupMemberData{WorkspaceID: wc.ws.ID, UserID: m.UserID})
	return userOut(m), nil
}

func (s *Service) removeGroupMember(r *http.Request) (any, error) {
	wc, g, err := s.groupWith(r, authz.Admin)
	if err != nil {
		return nil, err
	}
	err = s.st.RemoveGroupMember(r.Context(), g.ID, r.PathValue("user"))
	if errors.Is(err, store.ErrNotFound) {
		return nil, httpapi.NotFound("group member")
	}
	if err != nil {
		return nil, err
	}
	s.events.Notify(r.Context(), wc.org.ID, events.GroupMemberRemoved, g.ID, events.GroupMemberData{WorkspaceID: wc.ws.ID, UserID: r.PathValue("user")})
	return nil, nil
}

func (s *Service) listWorkspaceMembers(r *http.Request) (any, error) {
	return wsList(s, r, authz.View, s.st.ListWorkspaceMembers, userOut[store.WorkspaceMember])
}

func (s *Service) addWorkspaceMember(r *http.Request) (any, error) {
	wc, err := s.wsWith(r, authz.Admin)
	if err != nil {
		return nil, err
	}
	m, err := s.memberToAdd(r, wc)
	if err != nil {
		return nil, err
	}
	if err := s.st.AddWorkspaceMember(r.Context(), m); err != nil {
		return nil, conflictField(err, "user_id", "is a member of the workspace already")
	}
	s.events.Notify(r.Context(), wc.org.ID, events.WorkspaceMemberAdded, wc.ws.ID, events.UserData{UserID: m.UserID})
	return userOut(m), nil
}

// memberToAdd decodes the user a request adds to the workspace (by id or
// email; a member of the organization) into a membership from now on.
func (s *Service) memberToAdd(r *http.Request, wc wsCtx) (store.WorkspaceMember, error) {
	u, err := s.decodeUserRef(r, wc.org.ID)
	if err != nil {
		return store.WorkspaceMember{}, err
	}
	return store.WorkspaceMember{WorkspaceID: wc.ws.ID, UserID: u.ID, Email: u.Email, CreatedAt: s.clock()}, nil
}

func (s *Service) removeWorkspaceMember(r *http.Request) (any, error) {
	wc, err := s.wsWith(r, authz.Admin)
	if err != nil {
		return nil, err
	}
	err = s.st.RemoveWorkspaceMember(r.Context(), wc.ws.ID, r.PathValue("user"))
	if errors.Is(err, store.ErrNotFound) {
		return nil, httpapi.NotFound("workspace member")
	}
	if err != nil {
		return nil, err
	}
	s.events.Notify(r.Context(), wc.org.ID, events.WorkspaceMemberRemoved, wc.ws.ID, events.UserData{UserID: r.PathValue("user")})
	return nil, nil
}

func (s *Service) createRoleBinding(r *http.Request) (any, error) {
	var req api.CreateRoleBindingRequest
	wc, err := s.wsBody(r, authz.Admin, &req)
	if err != nil {
		return nil, err
	}
	var fes []*api.FieldError
	if authz.LevelOf(req.Role) == authz.None {
		fes = append(fes, &api.FieldError{Field: "role", Message: "must be workspace-admin, developer or viewer"})
	}
	if req.GroupID == "" {
		fes = append(fes, &api.FieldError{Field: "group_id", Message: "is required"})
	}
	if req.ProjectID != "" && req.Role == store.RoleWorkspaceAdmin {
		fes = append(fes, &api.FieldError{Field: "role", Message: "workspace-admin can only be bound to the whole workspace"})
	}
	if err := collect(fes...); err != nil {
		return nil, err
	}
	if _, err := ownedBy(r.Context(), s.st.GetGroup, req.GroupID, wc.ws.ID, groupWorkspace,
		httpapi.Invalid(httpapi.Field("group_id", "is not a group of this workspace"))); err != nil {
		return nil, err
	}
	if req.ProjectID != "" {
		if _, err := ownedBy(r.Context(), s.st.GetProject, req.ProjectID, wc.ws.ID, projectWorkspace,
			httpapi.Invalid(httpapi.Field("project_id", "is not a project of this workspace"))); err != nil {
			return nil, err
		}
	}
	b := store.RoleBinding{ID: store.NewID(), WorkspaceID: wc.ws.ID, GroupID: req.GroupID, Role: req.Role, ProjectID: req.ProjectID, CreatedAt: s.clock()}
	if err := s.st.CreateRoleBinding(r.Context(), b); err != nil {
		return nil, conflictField(err, "role", "this group has this role here already")
	}
	s.notifyIn(r, wc, events.RoleBindingCreated, b.ID)
	return bindingOut(b), nil
}

func (s *Service) listRoleBindings(r *http.Request) (any, error) {
	return wsList(s, r, authz.View, s.st.ListRoleBindings, bindingOut)
}

func (s *Service) deleteRoleBinding(r *http.Request) (any, error) {
	wc, err := s.wsWith(r, authz.Admin)
	if err != nil {
		return nil, err
	}
	b, err := ownedBy(r.Context(), s.st.GetRoleBinding, r.PathValue("binding"), wc.ws.ID, bindingWorkspace, httpapi.NotFound("role binding"))
	if err != nil {
		return nil, err
	}
	if err := s.st.DeleteRoleBinding(r.Context(), b.ID); err != nil {
		return nil, err
	}
	s.notifyIn(r, wc, events.RoleBindingDeleted, b.ID)
	return nil, nil
}
