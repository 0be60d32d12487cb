package events

// The catalogue of event types: every event the platform publishes has its
// type here, and its Data is the payload type named beside it (none where
// no payload is named). TestCatalogueIsUsed checks that every publisher
// names one of these constants.
const (
	// Organizations (resource: the organization).
	OrganizationCreated = "organization.created"
	OrganizationUpdated = "organization.updated"
	OrganizationDeleted = "organization.deleted"
	// Organization members (resource: the user): MemberData, none for
	// removed.
	MemberAdded   = "member.added"
	MemberUpdated = "member.updated"
	MemberRemoved = "member.removed"
	// InvitationCreated (resource: the invitation).
	InvitationCreated = "invitation.created"

	// WorkspaceStatus (resource: the workspace): WorkspaceStatusData.
	WorkspaceStatus = "workspace.status"
	// WorkspaceProgress (resource: the workspace): WorkspaceProgressData,
	// one step of provisioning done.
	WorkspaceProgress = "workspace.progress"
	// Workspace members (resource: the workspace): UserData.
	WorkspaceMemberAdded   = "workspace.member_added"
	WorkspaceMemberRemoved = "workspace.member_removed"

	// Projects, groups and role bindings (resource: the project, group or
	// binding): InWorkspace.
	ProjectCreated     = "project.created"
	ProjectUpdated     = "project.updated"
	ProjectDeleted     = "project.deleted"
	GroupCreated       = "group.created"
	GroupUpdated       = "group.updated"
	GroupDeleted       = "group.deleted"
	RoleBindingCreated = "rolebinding.created"
	RoleBindingDeleted = "rolebinding.deleted"
	// Group members (resource: the group): GroupMemberData.
	GroupMemberAdded   = "group.member_added"
	GroupMemberRemoved = "group.member_removed"

	// TaskStatus (resource: the task): TaskStatusData, on every status
	// change of a durable task.
	TaskStatus = "task.status"
)

// MemberData is the payload of member.added and member.updated.
type MemberData struct {
	Role string `json:"role"`
}

// WorkspaceStatusData is the payload of workspace.status.
type WorkspaceStatusData struct {
	Status string `json:"status"`
	Reason string `json:"reason,omitempty"`
}

// WorkspaceProgressData is the payload of workspace.progress.
type WorkspaceProgressData struct {
	Step string `json:"step"`
}

// UserData is the payload of workspace.member_added and
// workspace.member_removed.
type UserData struct {
	UserID string `json:"user_id"`
}

// InWorkspace is the payload of the project, group and role-binding events:
// the workspace the resource belongs to.
type InWorkspace struct {
	WorkspaceID string `json:"workspace_id"`
}

// GroupMemberData is the payload of group.member_added and
// group.member_removed.
type GroupMemberData struct {
	WorkspaceID string `json:"workspace_id"`
	UserID      string `json:"user_id"`
}

// TaskStatusData is the payload of task.status.
type TaskStatusData struct {
	Kind     string `json:"kind"`
	Status   string `json:"status"`
	Attempts int    `json:"attempts"`
	Reason   string `json:"reason,omitempty"`
}

// Catalogue maps every event type to a zero value of its payload (nil for
// none), for documentation and checks.
var Catalogue = map[string]any{
	OrganizationCreated:    nil,
	OrganizationUpdated:    nil,
	OrganizationDeleted:    nil,
	MemberAdded:            MemberData{},
	MemberUpdated:          MemberData{},
	MemberRemoved:          nil,
	InvitationCreated:      nil,
	WorkspaceStatus:        WorkspaceStatusData{},
	WorkspaceProgress:      WorkspaceProgressData{},
	WorkspaceMemberAdded:   UserData{},
	WorkspaceMemberRemoved: UserData{},
	ProjectCreated:         InWorkspace{},
	ProjectUpdated:         InWorkspace{},
	ProjectDeleted:         InWorkspace{},
	GroupCreated:           InWorkspace{},
	GroupUpdated:           InWorkspace{},
	GroupDeleted:           InWorkspace{},
	RoleBindingCreated:     InWorkspace{},
	RoleBindingDeleted:     InWorkspace{},
	GroupMemberAdded:       GroupMemberData{},
	GroupMemberRemoved:     GroupMemberData{},
	TaskStatus:             TaskStatusData{},
}
