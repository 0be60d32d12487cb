package tenancy

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/hexabase/hexabase-ai/internal/api"
	"github.com/hexabase/hexabase-ai/internal/authz"
	"github.com/hexabase/hexabase-ai/internal/events"
	"github.com/hexabase/hexabase-ai/internal/httpapi"
	"github.com/hexabase/hexabase-ai/internal/store"
)

func (s *Service) createWorkspace(r *http.Request) (any, error) {
	var req api.CreateWorkspaceRequest
	oc, err := s.orgBody(r, store.RoleAdmin, &req)
	if err != nil {
		return nil, err
	}
	if req.Plan == "" {
		req.Plan = store.PlanShared
	}
	var planErr *api.FieldError
	if req.Plan != store.PlanShared && req.Plan != store.PlanDedicated {
		planErr = &api.FieldError{Field: "plan", Message: "must be shared or dedicated"}
	}
	if err := collect(checkLabel("name", req.Name), planErr); err != nil {
		return nil, err
	}
	now := s.clock()
	id, release := s.newWorkspaceID(req.Plan)
	ws := store.Workspace{ID: id, OrgID: oc.org.ID, Name: req.Name, Plan: req.Plan, Status: store.WorkspacePending,
		CreatedBy: oc.p.UserID, CreatedAt: now, UpdatedAt: now, Version: 1, SleepAfter: store.SleepAfterDefault}
	if err := s.st.CreateWorkspace(r.Context(), ws); err != nil {
		release()
		return nil, conflictField(err, "name", fmt.Sprintf("a workspace named %q exists in this organization", ws.Name))
	}
	task, err := s.tasks.Enqueue(r.Context(), TaskWorkspaceProvision, oc.org.ID, WorkspaceTask{WorkspaceID: ws.ID})
	if err != nil {
		// Nothing half-created: without its task the workspace would never
		// leave pending, so take it back — even when the request's own
		// context is what failed.
		uctx, cancel := undoContext(r)
		defer cancel()
		if derr := s.st.DeleteWorkspace(uctx, ws.ID); derr != nil {
			s.log.Error("undo workspace create", "workspace", ws.ID, "error", derr)
		} else {
			release()
		}
		return nil, fmt.Errorf("enqueue provisioning: %w", err)
	}
	s.events.Notify(r.Context(), oc.org.ID, events.WorkspaceStatus, ws.ID, events.WorkspaceStatusData{Status: ws.Status})
	out := workspaceOut(ws, authz.Admin.String(), s.sleepAfterDefault)
	out.TaskID = task.ID
	return &httpapi.Response{Body: out,
		Header: http.Header{"Location": {"/api/v1/organizations/" + oc.org.ID + "/workspaces/" + ws.ID}}}, nil
}

func (s *Service) listWorkspaces(r *http.Request) (any, error) {
	oc, err := s.orgFor(r)
	if err != nil {
		return nil, err
	}
	wss, next, err := readPage(r, s.st.ListWorkspaces, oc.org.ID)
	if err != nil {
		return nil, err
	}
	out := make([]api.Workspace, 0, len(wss))
	if oc.role == store.RoleOwner || oc.role == store.RoleAdmin {
		// Workspace admins of every workspace: nothing to compute per row.
		return httpapi.NewList(mapSlice(wss, func(ws store.Workspace) api.Workspace {
			return workspaceOut(ws, authz.Admin.String(), s.sleepAfterDefault)
		}), next), nil
	}
	for _, ws := range wss {
		acc, err := s.az.Workspace(r.Context(), oc.p.UserID, oc.role, ws)
		if err != nil {
			return nil, err
		}
		if acc.Visible() {
			out = append(out, workspaceOut(ws, roleName(acc.Workspace), s.sleepAfterDefault))
		}
	}
	return httpapi.NewList(out, next), nil
}

func roleName(l authz.Level) string {
	if l == authz.None {
		return ""
	}
	return l.String()
}

func (s *Service) getWorkspace(r *http.Request) (any, error) {
	wc, err := s.wsFor(r)
	if err != nil {
		return nil, err
	}
	out := workspaceOut(wc.ws, roleName(wc.acc.Workspace), s.sleepAfterDefault)
	out.ControlPlane = s.controlPlaneStatus(r.Context(), wc.ws.ID)
	return out, nil
}

func (s *Service) updateWorkspace(r *http.Request) (any, error) {
	wc, err := s.wsWith(r, authz.Admin)
	if err != nil {
		return nil, err
	}
	patch, err := httpapi.DecodeMergePatch(r)
	if err != nil {
		return nil, err
	}
	var name string
	ws, err := s.st.UpdateWorkspace(r.Context(), wc.ws.ID, func(ws store.Workspace) (store.Workspace, error) {
		var req api.UpdateWorkspaceRequest
		sleepAfter := "default"
		if ws.SleepAfter != store.SleepAfterDefault {
			sleepAfter = FormatSleepAfter(EffectiveSleepAfter(ws, 0))
		}
		hs, err := storedHibernation(ws.Hibernation)
		if err != nil {
			return ws, fmt.Errorf("stored hibernation schedules: %w", err)
		}
		view := api.UpdateWorkspaceRequest{Name: &ws.Name, SleepAfter: &sleepAfter, Hibernation: &hs, ResourceVersion: version(ws.Version)}
		if err := patchVersioned(r, patch, view, &req, &req.ResourceVersion, ws.Version); err != nil {
			return ws, err
		}
		ws.Name, name = deref(req.Name), deref(req.Name)
		fes := []*api.FieldError{checkLabel("name", ws.Name)}
		if req.SleepAfter == nil {
			ws.SleepAfter = store.SleepAfterDefault
		} else {
			var fe *api.FieldError
			ws.SleepAfter, fe = parseSleepAfter(*req.SleepAfter)
			fes = append(fes, fe)
		}
		var sched []api.HibernationSchedule
		if req.Hibernation != nil {
			sched = *req.Hibernation
		}
		_, herrs := checkHibernation(sched)
		for i := range herrs {
			fes = append(fes, &herrs[i])
		}
		if err := collect(fes...); err != nil {
			return ws, err
		}
		ws.Hibernation = ""
		if len(sched) > 0 {
			b, err := json.Marshal(sched)
			if err != nil {
				return ws, err
			}
			ws.Hibernation = string(b)
		}
		ws.UpdatedAt = s.clock()
		return ws, nil
	})
	if err != nil {
		return nil, conflictField(err, "name", fmt.Sprintf("a workspace named %q exists in this organization", name))
	}
	return workspaceOut(ws, roleName(wc.acc.Workspace), s.sleepAfterDefault), nil
}

// deletableFrom are the statuses a workspace can be deleted from.
var deletableFrom = []string{store.WorkspacePending, store.WorkspaceProvisioning, store.WorkspaceRunning, store.WorkspaceSleeping, store.WorkspaceWaking, store.WorkspaceFailed}

func (s *Service) deleteWorkspace(r *http.Request) (any, error) {
	wc, err := s.wsWith(r, authz.Admin)
	if err != nil {
		return nil, err
	}
	if wc.ws.Status == store.WorkspaceDeleting {
		return nil, httpapi.Conflict("", "the workspace is being deleted already")
	}
	now := s.clock()
	err = s.st.SetWorkspaceStatus(r.Context(), wc.ws.ID, deletableFrom, store.WorkspaceDeleting, "", now)
	if errors.Is(err, store.ErrConflict) {
		return nil, httpapi.Conflict("", "the workspace is being deleted already")
	}
	if err != nil {
		return nil, err
	}
	task, err := s.tasks.Enqueue(r.Context(), TaskWorkspaceDelete, wc.org.ID, WorkspaceTask{WorkspaceID: wc.ws.ID})
	if err != nil {
		uctx, cancel := undoContext(r)
		defer cancel()
		if uerr := s.st.SetWorkspaceStatus(uctx, wc.ws.ID, []string{store.WorkspaceDeleting}, wc.ws.Status, wc.ws.StatusReason, s.clock()); uerr != nil {
			s.log.Error("undo workspace delete", "workspace", wc.ws.ID, "error", uerr)
		}
		return nil, fmt.Errorf("enqueue deletion: %w", err)
	}
	s.events.Notify(r.Context(), wc.org.ID, events.WorkspaceStatus, wc.ws.ID, events.WorkspaceStatusData{Status: store.WorkspaceDeleting})
	ws := wc.ws
	ws.Status, ws.StatusReason, ws.UpdatedAt = store.WorkspaceDeleting, "", now
	out := workspaceOut(ws, roleName(wc.acc.Workspace), s.sleepAfterDefault)
	out.TaskID = task.ID
	return out, nil
}

func (s *Service) getTask(r *http.Request) (any, error) {
	oc, err := s.orgWith(r, store.RoleAdmin)
	if err != nil {
		return nil, err
	}
	t, err := ownedBy(r.Context(), s.st.GetTask, r.PathValue("task"), oc.org.ID,
		func(t store.Task) string { return t.OrgID }, httpapi.NotFound("task"))
	if err != nil {
		return nil, err
	}
	return taskOut(t), nil
}

func (s *Service) listTasks(r *http.Request) (any, error) {
	oc, err := s.orgWith(r, store.RoleAdmin)
	if err != nil {
		return nil, err
	}
	return listPage(r, s.st.ListOrgTasks, oc.org.ID, taskOut)
}
