package tenancy

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/hexabase/hexabase-ai/internal/api"
	"github.com/hexabase/hexabase-ai/internal/store"
)

func orgOut(o store.Organization, role string) api.Organization {
	return api.Organization{ID: o.ID, Name: o.Name, Slug: o.Slug, BillingEmail: o.BillingEmail, Require2FA: o.Require2FA, Role: role, CreatedAt: o.CreatedAt, UpdatedAt: o.UpdatedAt,
		ResourceVersion: version(o.Version)}
}

// version is a store version as the API's resource_version.
func version(v int64) string { return strconv.FormatInt(v, 10) }

func memberOut(m store.OrgMember) api.Member {
	return api.Member{UserID: m.UserID, Email: m.Email, Role: m.Role, CreatedAt: m.CreatedAt}
}

func invitationOut(i store.Invitation) api.Invitation {
	return api.Invitation{ID: i.ID, OrgID: i.OrgID, Email: i.Email, Role: i.Role, InvitedBy: i.InvitedBy,
		CreatedAt: i.CreatedAt, ExpiresAt: i.ExpiresAt, AcceptedAt: i.AcceptedAt}
}

// workspaceOut is the API form of w for a caller of role; def is the
// operator's sleep_after.
func workspaceOut(w store.Workspace, role string, def time.Duration) api.Workspace {
	out := api.Workspace{ID: w.ID, OrgID: w.OrgID, Name: w.Name, Plan: w.Plan, Status: w.Status, StatusReason: w.StatusReason,
		CreatedBy: w.CreatedBy, Role: role, CreatedAt: w.CreatedAt, UpdatedAt: w.UpdatedAt, ResourceVersion: version(w.Version),
		SleepAfter: FormatSleepAfter(EffectiveSleepAfter(w, def)), SleepAfterDefault: w.SleepAfter == store.SleepAfterDefault}
	if hs, err := storedHibernation(w.Hibernation); err == nil {
		out.Hibernation = hs
	}
	if w.Status == store.WorkspaceSleeping || w.Status == store.WorkspaceWaking {
		out.SleptAt = w.SleptAt
		// When CronJobs run tells of projects a member may not see.
		if role == "workspace-admin" {
			out.WakeAt = w.WakeAt
		}
	}
	return out
}

// storedHibernation decodes stored schedules without parsing them.
func storedHibernation(stored string) ([]api.HibernationSchedule, error) {
	if stored == "" {
		return nil, nil
	}
	var hs []api.HibernationSchedule
	err := json.Unmarshal([]byte(stored), &hs)
	return hs, err
}

func projectOut(p store.Project) api.Project {
	return api.Project{ID: p.ID, WorkspaceID: p.WorkspaceID, Name: p.Name, ParentID: p.ParentID,
		Quota:       api.Quota{CPU: p.Quota.CPU, Memory: p.Quota.Memory, Storage: p.Quota.Storage, Pods: p.Quota.Pods},
		PodSecurity: podSecurityLevel(p.PodSecurity),
		CreatedAt:   p.CreatedAt, UpdatedAt: p.UpdatedAt, ResourceVersion: version(p.Version)}
}

func groupOut(g store.Group) api.Group {
	return api.Group{ID: g.ID, WorkspaceID: g.WorkspaceID, Name: g.Name, ParentID: g.ParentID, CreatedAt: g.CreatedAt, UpdatedAt: g.UpdatedAt,
		ResourceVersion: version(g.Version)}
}

func bindingOut(b store.RoleBinding) api.RoleBinding {
	return api.RoleBinding{ID: b.ID, WorkspaceID: b.WorkspaceID, GroupID: b.GroupID, Role: b.Role, ProjectID: b.ProjectID, CreatedAt: b.CreatedAt}
}

func taskOut(t store.Task) api.Task {
	return api.Task{ID: t.ID, Kind: t.Kind, Status: t.Status, Attempts: t.Attempts, Reason: t.Reason,
		CreatedAt: t.CreatedAt, UpdatedAt: t.UpdatedAt, FinishedAt: t.FinishedAt}
}

func mapSlice[S, T any](in []S, f func(S) T) []T {
	out := make([]T, 0, len(in))
	for _, v := range in {
		out = append(out, f(v))
	}
	return out
}
