package store

import "time"

// Organization roles.
const (
	RoleOwner  = "owner"
	RoleAdmin  = "admin"
	RoleMember = "member"
)

// Workspace roles (bound to groups).
const (
	RoleWorkspaceAdmin = "workspace-admin"
	RoleDeveloper      = "developer"
	RoleViewer         = "viewer"
)

// Workspace plans.
const (
	PlanShared    = "shared"
	PlanDedicated = "dedicated"
)

// Pod Security Standards a project can enforce (Project.PodSecurity).
const (
	PodSecurityBaseline   = "baseline"
	PodSecurityRestricted = "restricted"
)

// Workspace statuses.
const (
	WorkspacePending      = "pending"
	WorkspaceProvisioning = "provisioning"
	WorkspaceRunning      = "running"
	// WorkspaceSleeping: its control plane is stopped (or stopping), its
	// data kept; the first request through the gateway wakes it.
	WorkspaceSleeping = "sleeping"
	// WorkspaceWaking: its control plane is starting again.
	WorkspaceWaking   = "waking"
	WorkspaceDeleting = "deleting"
	WorkspaceDeleted  = "deleted"
	WorkspaceFailed   = "failed"
)

// Task statuses.
const (
	TaskQueued    = "queued"
	TaskRunning   = "running"
	TaskSucceeded = "succeeded"
	TaskFailed    = "failed"
)

type User struct {
	ID            string
	Email         string // stored as given; lookups are case-insensitive
	PasswordHash  string // PHC-formatted argon2id hash; "" for users without a local password
	PlatformAdmin bool
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

type Session struct {
	ID          string
	UserID      string
	UserAgent   string
	IP          string
	Fingerprint string // hash of device attributes
	CreatedAt   time.Time
	ExpiresAt   time.Time
	RevokedAt   *time.Time
}

type RefreshToken struct {
	TokenHash string // hex sha256 of the token; primary key
	SessionID string
	UserID    string
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    *time.Time
}

type SigningKey struct {
	ID         string // JWK kid
	Algorithm  string // "RS256"
	PrivateKey []byte // sealed by the caller
	PublicKey  []byte // PKIX DER
	CreatedAt  time.Time
	// RetiredAt: no longer used to sign; still served in JWKS until
	// every token it signed has expired.
	RetiredAt *time.Time
}

type Organization struct {
	ID           string
	Name         string
	Slug         string // unique across the platform
	BillingEmail string
	// Require2FA: members without two-factor authentication enabled are
	// refused on the organization's resources.
	Require2FA bool
	CreatedAt  time.Time
	UpdatedAt  time.Time
	// Version counts the updates (1 when created): the resource_version.
	Version int64
}

type OrgMember struct {
	OrgID     string
	UserID    string
	Email     string // filled in by list/get from the users table; ignored on write
	Role      string // owner | admin | member
	CreatedAt time.Time
}

type Invitation struct {
	ID         string
	OrgID      string
	Email      string
	Role       string
	TokenHash  string
	InvitedBy  string
	CreatedAt  time.Time
	ExpiresAt  time.Time
	AcceptedAt *time.Time
}

type Workspace struct {
	ID           string
	OrgID        string
	Name         string
	Plan         string
	Status       string
	StatusReason string
	CreatedBy    string
	CreatedAt    time.Time
	UpdatedAt    time.Time
	Version      int64 // counts updates of the name and settings; status changes do not count
	// SleepAfter is the idle time (seconds without gateway traffic) after
	// which the workspace sleeps: SleepAfterDefault for the operator's
	// default, 0 for never.
	SleepAfter int64
	// Hibernation is the workspace's hibernation schedules as JSON (""
	// for none); package tenancy defines and validates the format.
	Hibernation string
	// SleptAt is when it last went to sleep; WakeAt when scheduled work
	// (its earliest CronJob run) needs it awake. Nil: never / none.
	SleptAt *time.Time
	WakeAt  *time.Time
}

// SleepAfterDefault in Workspace.SleepAfter: the operator's default.
const SleepAfterDefault = -1

type WorkspaceMember struct {
	WorkspaceID string
	UserID      string
	Email       string // filled in on read
	CreatedAt   time.Time
}

// Quota is a project's resource quota spec, in Kubernetes quantity syntax
// ("500m", "2Gi"); "" means unlimited. Pods is a count; 0 means unlimited.
type Quota struct {
	CPU     string
	Memory  string
	Storage string
	Pods    int
}

type Project struct {
	ID          string
	WorkspaceID string
	Name        string
	ParentID    string // "" for a top-level project
	Quota       Quota
	// PodSecurity is the Pod Security Standard enforced in the project's
	// namespace: PodSecurityBaseline or PodSecurityRestricted ("" is
	// baseline).
	PodSecurity string
	CreatedAt   time.Time
	UpdatedAt   time.Time
	Version     int64
}

type Group struct {
	ID          string
	WorkspaceID string
	Name        string
	ParentID    string // "" for a root group
	CreatedAt   time.Time
	UpdatedAt   time.Time
	Version     int64
}

type GroupMember struct {
	GroupID   string
	UserID    string
	Email     string // filled in on read
	CreatedAt time.Time
}

type RoleBinding struct {
	ID          string
	WorkspaceID string
	GroupID     string
	Role        string // workspace-admin | developer | viewer
	ProjectID   string // "" = the whole workspace
	CreatedAt   time.Time
}

type Task struct {
	ID         string
	Kind       string // e.g. "workspace.provision"
	OrgID      string // "" for platform tasks
	Payload    []byte // JSON
	Status     string // queued | running | succeeded | failed
	Attempts   int
	Reason     string // last error, or the terminal failure reason
	CreatedAt  time.Time
	UpdatedAt  time.Time
	FinishedAt *time.Time
}
