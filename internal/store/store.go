package store

import (
	"context"
	"errors"
	"time"
)

// MaxTreeDepth is how deep project and group trees may nest: the store
// treats a deeper chain as a cycle, and walks up a tree (access levels,
// workspace groups) stop there, so that what a list shows and what an
// access check finds agree.
const MaxTreeDepth = 1000

// Sentinel errors. Backends wrap driver errors so that errors.Is works with
// these; callers never inspect driver errors.
var (
	// ErrNotFound: the addressed record does not exist.
	ErrNotFound = errors.New("not found")
	// ErrConflict: a uniqueness constraint would be violated (duplicate
	// name, slug, email, membership), a referenced record (org, workspace,
	// user, parent, group, project) does not exist, or a compare-and-swap
	// lost its race.
	ErrConflict = errors.New("conflict")
	// ErrCycle: setting a group's (or project's) parent would make the tree
	// cyclic.
	ErrCycle = errors.New("cycle")
	// ErrInvalidCursor: a pagination cursor was not produced by this store.
	ErrInvalidCursor = errors.New("invalid cursor")
	// ErrLastOwner: the change would leave an organization without an owner.
	ErrLastOwner = errors.New("last owner")
)

// Page asks for one page of a list ordered by ID ascending. After is the
// opaque cursor returned as NextCursor by the previous page ("" for the first
// page). Limit <= 0 means DefaultLimit; Limit is capped at MaxLimit.
type Page struct {
	After string
	Limit int
}

const (
	DefaultLimit = 50
	MaxLimit     = 500
)

// Store is the platform's storage. All methods are safe for concurrent use.
// IDs are assigned by the caller (see NewID) so that retries are idempotent.
// Timestamps are stored with at least microsecond precision and returned in UTC.
type Store interface {
	AuditStore
	MFAStore
	FederationStore
	OAuthStore
	LimitStore
	CronJobStore
	AIStore
	FunctionStore
	FunctionTriggerStore

	// Users.
	CreateUser(ctx context.Context, u User) error // ErrConflict on duplicate email (case-insensitive)
	GetUser(ctx context.Context, id string) (User, error)
	GetUserByEmail(ctx context.Context, email string) (User, error) // case-insensitive
	UpdateUserPassword(ctx context.Context, id, passwordHash string, now time.Time) error
	CountUsers(ctx context.Context) (int, error)

	// Sessions and refresh tokens.
	CreateSession(ctx context.Context, s Session) error
	GetSession(ctx context.Context, id string) (Session, error)
	// RevokeSession sets RevokedAt if not already set; revoking twice is not an error.
	RevokeSession(ctx context.Context, id string, now time.Time) error
	ListUserSessions(ctx context.Context, userID string) ([]Session, error)
	CreateRefreshToken(ctx context.Context, t RefreshToken) error
	GetRefreshToken(ctx context.Context, tokenHash string) (RefreshToken, error)
	// RotateRefreshToken atomically marks oldHash used (only if it is not
	// used yet, else ErrConflict) and inserts next, in one transaction.
	RotateRefreshToken(ctx context.Context, oldHash string, next RefreshToken, now time.Time) error

	// Signing keys (private part sealed by the caller).
	CreateSigningKey(ctx context.Context, k SigningKey) error
	ListSigningKeys(ctx context.Context) ([]SigningKey, error) // newest first

	// Settings: a small key/value table for singletons (setup token hash …).
	GetSetting(ctx context.Context, key string) (string, error) // ErrNotFound if absent
	PutSetting(ctx context.Context, key, value string) error    // upsert
	// DeleteSettingIf deletes key only if its current value equals value;
	// ErrNotFound if the key is absent or holds another value.
	DeleteSettingIf(ctx context.Context, key, value string) error

	// Organizations and members. CreateOrganization also inserts owner as
	// an "owner" member in the same transaction.
	CreateOrganization(ctx context.Context, o Organization, owner OrgMember) error // ErrConflict on duplicate slug
	GetOrganization(ctx context.Context, id string) (Organization, error)
	GetOrganizationBySlug(ctx context.Context, slug string) (Organization, error)
	// UpdateOrganization, like every UpdateX(id, update), is a
	// compare-and-swap in one transaction: it reads the row (locked
	// against other writers), calls update with it and writes what update
	// returns (here name, slug, billing email, require_2fa, updated_at)
	// with Version one higher, returning the stored value. update must not
	// call the store; its error aborts and comes back unchanged.
	// ErrNotFound if id is absent; ErrConflict on a duplicate slug.
	UpdateOrganization(ctx context.Context, id string, update func(Organization) (Organization, error)) (Organization, error)
	DeleteOrganization(ctx context.Context, id string) error // cascades to everything under it
	// ListUserOrganizations lists organizations userID is a member of.
	ListUserOrganizations(ctx context.Context, userID string, p Page) ([]Organization, string, error)

	AddOrgMember(ctx context.Context, m OrgMember) error // ErrConflict if already a member
	GetOrgMember(ctx context.Context, orgID, userID string) (OrgMember, error)
	// UpdateOrgMemberRole and RemoveOrgMember refuse with ErrLastOwner a
	// change that would leave the organization without an owner (checked
	// in the same transaction as the write, so two owners demoting each
	// other cannot both succeed). RemoveOrgMember also removes workspace
	// and group memberships in that org.
	UpdateOrgMemberRole(ctx context.Context, orgID, userID, role string) error
	RemoveOrgMember(ctx context.Context, orgID, userID string) error
	ListOrgMembers(ctx context.Context, orgID string, p Page) ([]OrgMember, string, error) // ordered by user id; Email filled in
	CountOrgMembersWithRole(ctx context.Context, orgID, role string) (int, error)

	// Invitations.
	// CreateInvitation first drops unaccepted invitations of (org, email)
	// that expired before inv.CreatedAt; ErrConflict if a live one exists.
	CreateInvitation(ctx context.Context, inv Invitation) error
	GetInvitation(ctx context.Context, id string) (Invitation, error)
	GetInvitationByTokenHash(ctx context.Context, tokenHash string) (Invitation, error)
	ListInvitations(ctx context.Context, orgID string, p Page) ([]Invitation, string, error)
	DeleteInvitation(ctx context.Context, id string) error
	// AcceptInvitation, in one transaction: marks the invitation accepted
	// (ErrConflict if already accepted) and adds m as an org member
	// (ErrConflict if already a member).
	AcceptInvitation(ctx context.Context, id string, m OrgMember, now time.Time) error

	// Workspaces.
	CreateWorkspace(ctx context.Context, w Workspace) error // ErrConflict on duplicate name in org
	GetWorkspace(ctx context.Context, id string) (Workspace, error)
	ListWorkspaces(ctx context.Context, orgID string, p Page) ([]Workspace, string, error)
	// ListWorkspacesByStatus lists the workspaces of every organization
	// that are in status, ordered by id (not paged: it serves internal
	// sweeps such as the control-plane reconciler).
	ListWorkspacesByStatus(ctx context.Context, status string) ([]Workspace, error)
	GetWorkspaceByName(ctx context.Context, orgID, name string) (Workspace, error)
	// UpdateWorkspace writes name, SleepAfter, Hibernation and updated_at (a compare-and-swap like
	// UpdateOrganization); ErrConflict on a duplicate name in the org.
	UpdateWorkspace(ctx context.Context, id string, update func(Workspace) (Workspace, error)) (Workspace, error)
	// SetWorkspaceStatus is a compare-and-swap: it sets status and reason
	// only if the current status is one of from (any if from is empty);
	// ErrConflict otherwise.
	SetWorkspaceStatus(ctx context.Context, id string, from []string, to, reason string, now time.Time) error
	// SetWorkspaceSleep records when the workspace went to sleep and when
	// scheduled work needs it awake (nil: none); a nil sleptAt clears the
	// record (the workspace woke). ErrNotFound if missing.
	SetWorkspaceSleep(ctx context.Context, id string, sleptAt, wakeAt *time.Time) error
	DeleteWorkspace(ctx context.Context, id string) error // removes the row and everything under it

	// Workspace members (users of the org admitted to the workspace).
	AddWorkspaceMember(ctx context.Context, m WorkspaceMember) error             // ErrConflict if present
	RemoveWorkspaceMember(ctx context.Context, workspaceID, userID string) error // also removes group memberships in that workspace
	GetWorkspaceMember(ctx context.Context, workspaceID, userID string) (WorkspaceMember, error)
	ListWorkspaceMembers(ctx context.Context, workspaceID string, p Page) ([]WorkspaceMember, string, error) // ordered by user id; Email filled in

	// Projects.
	CreateProject(ctx context.Context, p Project) error // ErrConflict on duplicate name in workspace
	GetProject(ctx context.Context, id string) (Project, error)
	ListProjects(ctx context.Context, workspaceID string, p Page) ([]Project, string, error)
	// ListProjectsUnder lists, ordered by id like ListProjects, the
	// workspace's projects that are one of roots or below one of them
	// (roots' descendants at any depth). No roots, no projects.
	ListProjectsUnder(ctx context.Context, workspaceID string, roots []string, p Page) ([]Project, string, error)
	GetProjectByName(ctx context.Context, workspaceID, name string) (Project, error)
	// UpdateProject writes quota, parent and updated_at (a compare-and-swap
	// like UpdateOrganization); ErrCycle like UpdateGroup.
	UpdateProject(ctx context.Context, id string, update func(Project) (Project, error)) (Project, error)
	DeleteProject(ctx context.Context, id string) error // ErrConflict if it has child projects

	// Groups (hierarchical within a workspace).
	CreateGroup(ctx context.Context, g Group) error // ErrConflict on duplicate name in workspace
	GetGroup(ctx context.Context, id string) (Group, error)
	ListGroups(ctx context.Context, workspaceID string, p Page) ([]Group, string, error)
	GetGroupByName(ctx context.Context, workspaceID, name string) (Group, error)
	// UpdateGroup sets name, parent and updated_at (a compare-and-swap like
	// UpdateOrganization) and refuses with ErrCycle if the new parent is
	// the group itself or one of its descendants; ErrConflict on a
	// duplicate name in the workspace.
	UpdateGroup(ctx context.Context, id string, update func(Group) (Group, error)) (Group, error)
	DeleteGroup(ctx context.Context, id string) error        // ErrConflict if it has child groups
	AddGroupMember(ctx context.Context, m GroupMember) error // ErrConflict if present
	RemoveGroupMember(ctx context.Context, groupID, userID string) error
	ListGroupMembers(ctx context.Context, groupID string, p Page) ([]GroupMember, string, error) // ordered by user id; Email filled in
	// UserGroupIDs returns the ids of groups in workspaceID that userID is a
	// direct member of.
	UserGroupIDs(ctx context.Context, workspaceID, userID string) ([]string, error)
	// AllGroups returns every group of a workspace (for walking the tree).
	AllGroups(ctx context.Context, workspaceID string) ([]Group, error)

	// Role bindings: a role bound to a group, workspace-wide (ProjectID "")
	// or for one project.
	CreateRoleBinding(ctx context.Context, b RoleBinding) error // ErrConflict if (group, role, project) exists
	GetRoleBinding(ctx context.Context, id string) (RoleBinding, error)
	ListRoleBindings(ctx context.Context, workspaceID string, p Page) ([]RoleBinding, string, error)
	AllRoleBindings(ctx context.Context, workspaceID string) ([]RoleBinding, error)
	DeleteRoleBinding(ctx context.Context, id string) error

	// Tasks: the database side of the durable task queue.
	CreateTask(ctx context.Context, t Task) error // ErrConflict if the id exists
	GetTask(ctx context.Context, id string) (Task, error)
	// UpdateTask writes status, attempts, reason, updated_at, finished_at.
	UpdateTask(ctx context.Context, t Task) error
	// ListTasksByStatus lists tasks in any of the statuses, oldest first,
	// up to limit (not capped at MaxLimit: it serves internal sweeps).
	ListTasksByStatus(ctx context.Context, statuses []string, limit int) ([]Task, error)
	ListOrgTasks(ctx context.Context, orgID string, p Page) ([]Task, string, error)

	// Ping checks the database is reachable.
	Ping(ctx context.Context) error
	Close() error
}
