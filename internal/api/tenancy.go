package api

import "time"

// ControlPlaneStatus is the health of a workspace's control plane.
type ControlPlaneStatus struct {
	Ready      bool              `json:"ready" doc:"the API server answers /readyz and every component is healthy"`
	Version    string            `json:"version,omitempty" doc:"the Kubernetes version the API server reports"`
	Components []ComponentStatus `json:"components"`
	CheckedAt  time.Time         `json:"checked_at"`
}

// ComponentStatus is the state of one process or service of a control
// plane.
type ComponentStatus struct {
	Name     string `json:"name" doc:"e.g. kube-apiserver"`
	Healthy  bool   `json:"healthy"`
	Message  string `json:"message,omitempty"`
	Restarts int    `json:"restarts"`
}

// Organization is the API form of an organization.
type Organization struct {
	ID              string    `json:"id"`
	Name            string    `json:"name"`
	Slug            string    `json:"slug"`
	BillingEmail    string    `json:"billing_email,omitempty"`
	Require2FA      bool      `json:"require_2fa" doc:"members without two-factor authentication are refused (403 mfa-required) on the organization's resources"`
	Role            string    `json:"role,omitempty" doc:"the caller's role in the organization"`
	CreatedAt       time.Time `json:"created_at"`
	UpdatedAt       time.Time `json:"updated_at"`
	ResourceVersion string    `json:"resource_version" doc:"changes on every update; send it back as If-Match (or resource_version in a PATCH or PUT body) and a change made by someone else first is refused with 412"`
}

type CreateOrganizationRequest struct {
	Name         string `json:"name" doc:"display name, 1 to 100 characters"`
	Slug         string `json:"slug,omitempty" doc:"DNS-1123 label, unique across the platform; derived from name when omitted"`
	BillingEmail string `json:"billing_email,omitempty"`
}

type UpdateOrganizationRequest struct {
	Name            *string `json:"name,omitempty"`
	Slug            *string `json:"slug,omitempty"`
	BillingEmail    *string `json:"billing_email,omitempty"`
	Require2FA      *bool   `json:"require_2fa,omitempty" doc:"owners only; turning it on needs the caller's own 2FA enabled"`
	ResourceVersion string  `json:"resource_version,omitempty" doc:"if given, the update is refused with 412 unless the resource is still at this version (as If-Match)"`
}

// Member is a member of an organization.
type Member struct {
	UserID    string    `json:"user_id"`
	Email     string    `json:"email"`
	Role      string    `json:"role" doc:"owner, admin or member"`
	CreatedAt time.Time `json:"created_at"`
}

type UpdateMemberRequest struct {
	Role string `json:"role" doc:"owner, admin or member"`
}

// Invitation invites an email address into an organization.
type Invitation struct {
	ID         string     `json:"id"`
	OrgID      string     `json:"org_id"`
	Email      string     `json:"email"`
	Role       string     `json:"role"`
	InvitedBy  string     `json:"invited_by"`
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  time.Time  `json:"expires_at"`
	AcceptedAt *time.Time `json:"accepted_at,omitempty"`
	Token      string     `json:"token,omitempty" doc:"the secret to accept with; returned once, on creation"`
}

type CreateInvitationRequest struct {
	Email string `json:"email"`
	Role  string `json:"role,omitempty" doc:"owner, admin or member (default member)"`
	// ExpiresInHours defaults to 168 (7 days); at most 720.
	ExpiresInHours int `json:"expires_in_hours,omitempty"`
}

type AcceptInvitationRequest struct {
	Token string `json:"token"`
}

// Workspace is the API form of a workspace.
type Workspace struct {
	ID           string `json:"id"`
	OrgID        string `json:"org_id"`
	Name         string `json:"name"`
	Plan         string `json:"plan" doc:"shared or dedicated"`
	Status       string `json:"status" doc:"pending, provisioning, running, sleeping, waking, deleting, deleted or failed"`
	StatusReason string `json:"status_reason,omitempty"`
	CreatedBy    string `json:"created_by"`
	Role         string `json:"role,omitempty" doc:"the caller's workspace-wide role"`
	TaskID       string `json:"task_id,omitempty" doc:"the task started by this request, to follow"`
	// ControlPlane is set by GET of one workspace when its control plane
	// is known.
	ControlPlane *ControlPlaneStatus `json:"control_plane,omitempty" doc:"health of the workspace's Kubernetes control plane; only in GET of one workspace, when known"`
	// Sleep settings and state.
	SleepAfter        string                `json:"sleep_after" doc:"idle time without requests through the gateway after which the workspace sleeps, as a duration such as 30m0s; 0s: never"`
	SleepAfterDefault bool                  `json:"sleep_after_default,omitempty" doc:"true when sleep_after is the operator's default (the workspace sets none)"`
	Hibernation       []HibernationSchedule `json:"hibernation,omitempty" doc:"hibernation schedules: the workspace sleeps at each start and wakes at each end"`
	SleptAt           *time.Time            `json:"slept_at,omitempty" doc:"when the workspace last went to sleep"`
	WakeAt            *time.Time            `json:"wake_at,omitempty" doc:"while sleeping (workspace admins only): its next scheduled wake, shortly before it: the earliest CronJob run, or the retry after a failed wake, or a brief wake to read CronJobs that could not be read"`
	CreatedAt         time.Time             `json:"created_at"`
	UpdatedAt         time.Time             `json:"updated_at"`
	ResourceVersion   string                `json:"resource_version" doc:"changes on every update; send it back as If-Match (or resource_version in a PATCH or PUT body) and a change made by someone else first is refused with 412"`
}

type CreateWorkspaceRequest struct {
	Name string `json:"name" doc:"DNS-1123 label, unique in the organization"`
	Plan string `json:"plan,omitempty" doc:"shared (default) or dedicated"`
}

// HibernationSchedule is a sleep window (Gardener's semantics): at each
// activation of start the workspace goes to sleep, at each activation of
// end it wakes; either may be left out.
type HibernationSchedule struct {
	Start    string `json:"start,omitempty" doc:"cron expression (5 fields): when the workspace goes to sleep"`
	End      string `json:"end,omitempty" doc:"cron expression (5 fields): when it wakes"`
	Location string `json:"location,omitempty" doc:"IANA time zone of start and end, such as Europe/Berlin; default UTC"`
}

type UpdateWorkspaceRequest struct {
	Name            *string                `json:"name,omitempty"`
	SleepAfter      *string                `json:"sleep_after,omitempty" doc:"idle time before the workspace sleeps: a duration of whole seconds from 10s to 720h (30m, 2h), 0 for never, or \"default\" for the operator's default"`
	Hibernation     *[]HibernationSchedule `json:"hibernation,omitempty" doc:"replaces the hibernation schedules (at most 8); null or [] removes them"`
	ResourceVersion string                 `json:"resource_version,omitempty" doc:"if given, the update is refused with 412 unless the resource is still at this version (as If-Match)"`
}

// Quota is a project's resource quota in Kubernetes quantity syntax,
// bounded to what Kubernetes holds exactly and a person could mean.
type Quota struct {
	CPU     string `json:"cpu,omitempty" doc:"e.g. 2 or 500m; at most 1M cores, in whole millicores"`
	Memory  string `json:"memory,omitempty" doc:"e.g. 4Gi; at most 1Pi, in whole bytes"`
	Storage string `json:"storage,omitempty" doc:"e.g. 100Gi; at most 1Ei, in whole bytes"`
	Pods    int    `json:"pods,omitempty" doc:"0 to 1000000"`
}

type Project struct {
	ID              string    `json:"id"`
	WorkspaceID     string    `json:"workspace_id"`
	Name            string    `json:"name"`
	ParentID        string    `json:"parent_id,omitempty"`
	Quota           Quota     `json:"quota"`
	PodSecurity     string    `json:"pod_security" doc:"the Pod Security Standard enforced in the project's namespace: baseline or restricted"`
	Role            string    `json:"role,omitempty" doc:"the caller's effective role in the project: workspace-admin, developer or viewer (the highest of their workspace-wide role and the roles bound to the project or one of its ancestors), as the API's own checks decide it"`
	CreatedAt       time.Time `json:"created_at"`
	UpdatedAt       time.Time `json:"updated_at"`
	ResourceVersion string    `json:"resource_version" doc:"changes on every update; send it back as If-Match (or resource_version in a PATCH or PUT body) and a change made by someone else first is refused with 412"`
}

type CreateProjectRequest struct {
	Name        string `json:"name" doc:"DNS-1123 label, unique in the workspace; becomes the namespace name"`
	ParentID    string `json:"parent_id,omitempty"`
	Quota       *Quota `json:"quota,omitempty"`
	PodSecurity string `json:"pod_security,omitempty" doc:"Pod Security Standard enforced in the namespace: baseline (default) or restricted; warnings and audit are at restricted either way"`
}

type UpdateProjectRequest struct {
	ParentID        *string `json:"parent_id,omitempty" doc:"\"\" makes it a top-level project"`
	Quota           *Quota  `json:"quota,omitempty"`
	PodSecurity     *string `json:"pod_security,omitempty" doc:"baseline or restricted; null or \"\" is baseline"`
	ResourceVersion string  `json:"resource_version,omitempty" doc:"if given, the update is refused with 412 unless the resource is still at this version (as If-Match)"`
}

type Group struct {
	ID              string    `json:"id"`
	WorkspaceID     string    `json:"workspace_id"`
	Name            string    `json:"name"`
	ParentID        string    `json:"parent_id,omitempty"`
	CreatedAt       time.Time `json:"created_at"`
	UpdatedAt       time.Time `json:"updated_at"`
	ResourceVersion string    `json:"resource_version" doc:"changes on every update; send it back as If-Match (or resource_version in a PATCH or PUT body) and a change made by someone else first is refused with 412"`
}

type CreateGroupRequest struct {
	Name     string `json:"name" doc:"DNS-1123 label, unique in the workspace"`
	ParentID string `json:"parent_id,omitempty"`
}

type UpdateGroupRequest struct {
	Name            *string `json:"name,omitempty"`
	ParentID        *string `json:"parent_id,omitempty" doc:"\"\" makes it a root group"`
	ResourceVersion string  `json:"resource_version,omitempty" doc:"if given, the update is refused with 412 unless the resource is still at this version (as If-Match)"`
}

// User is a member of a workspace or group.
type User struct {
	UserID    string    `json:"user_id"`
	Email     string    `json:"email"`
	CreatedAt time.Time `json:"created_at"`
}

type AddUserRequest struct {
	UserID string `json:"user_id,omitempty" doc:"user id, or give email"`
	Email  string `json:"email,omitempty"`
}

type RoleBinding struct {
	ID          string    `json:"id"`
	WorkspaceID string    `json:"workspace_id"`
	GroupID     string    `json:"group_id"`
	Role        string    `json:"role" doc:"workspace-admin, developer or viewer"`
	ProjectID   string    `json:"project_id,omitempty" doc:"empty: the whole workspace"`
	CreatedAt   time.Time `json:"created_at"`
}

type CreateRoleBindingRequest struct {
	GroupID   string `json:"group_id"`
	Role      string `json:"role"`
	ProjectID string `json:"project_id,omitempty"`
}

// Task is the state of a durable task.
type Task struct {
	ID         string     `json:"id"`
	Kind       string     `json:"kind"`
	Status     string     `json:"status" doc:"queued, running, succeeded or failed"`
	Attempts   int        `json:"attempts"`
	Reason     string     `json:"reason,omitempty"`
	CreatedAt  time.Time  `json:"created_at"`
	UpdatedAt  time.Time  `json:"updated_at"`
	FinishedAt *time.Time `json:"finished_at,omitempty"`
}

// WorkspaceEvent is the data of one Server-Sent Event of GET
// …/workspaces/{workspace}/events (the SSE event name is its type).
type WorkspaceEvent struct {
	ID         string         `json:"id" doc:"event id (also the SSE id); empty on the first event, the current status"`
	Type       string         `json:"type" doc:"workspace.status (data: status, reason), workspace.progress (data: step) or task.status (data: kind, status, attempts, reason)"`
	OrgID      string         `json:"org_id,omitempty"`
	ResourceID string         `json:"resource_id,omitempty" doc:"the workspace id, or the task id of task.status"`
	Time       time.Time      `json:"time"`
	Data       map[string]any `json:"data,omitempty"`
}
