package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hexabase/hexabase-ai/internal/store"
)

// Organizations.

const orgCols = "o.id, o.name, o.slug, o.billing_email, o.require_2fa, o.created_at, o.updated_at, o.version"

func scanOrg(r rowScanner) (store.Organization, error) {
	var o store.Organization
	err := r.Scan(&o.ID, &o.Name, &o.Slug, &o.BillingEmail, &o.Require2FA, timeScan{&o.CreatedAt}, timeScan{&o.UpdatedAt}, &o.Version)
	return o, err
}

func (s *Store) CreateOrganization(ctx context.Context, o store.Organization, owner store.OrgMember) error {
	owner.OrgID = o.ID
	owner.Role = store.RoleOwner
	if owner.CreatedAt.IsZero() {
		owner.CreatedAt = o.CreatedAt
	}
	return s.inTxAs(ctx, "create organization", func(tx *sql.Tx) error {
		_, err := s.exec(ctx, tx, `INSERT INTO organizations (id, name, slug, billing_email, require_2fa, created_at, updated_at, version)
VALUES (?, ?, ?, ?, ?, ?, ?, 1)`, o.ID, o.Name, o.Slug, o.BillingEmail, o.Require2FA, o.CreatedAt, o.UpdatedAt)
		if err != nil {
			return err
		}
		return s.insertOrgMember(ctx, tx, owner)
	})
}

func (s *Store) GetOrganization(ctx context.Context, id string) (store.Organization, error) {
	return get(ctx, s, "get organization", scanOrg, "SELECT "+orgCols+" FROM organizations o WHERE o.id = ?", id)
}

func (s *Store) GetOrganizationBySlug(ctx context.Context, slug string) (store.Organization, error) {
	return get(ctx, s, "get organization by slug", scanOrg, "SELECT "+orgCols+" FROM organizations o WHERE o.slug = ?", slug)
}

func (s *Store) UpdateOrganization(ctx context.Context, id string, update func(store.Organization) (store.Organization, error)) (store.Organization, error) {
	return casUpdate(ctx, s, "update organization", scanOrg, "SELECT "+orgCols+" FROM organizations o WHERE o.id = ?", id, update,
		func(tx *sql.Tx, old, o store.Organization) (store.Organization, error) {
			o.ID, o.CreatedAt, o.Version = old.ID, old.CreatedAt, old.Version+1
			return o, s.execOne(ctx, tx, "UPDATE organizations SET name = ?, slug = ?, billing_email = ?, require_2fa = ?, updated_at = ?, version = ? WHERE id = ?",
				o.Name, o.Slug, o.BillingEmail, o.Require2FA, o.UpdatedAt, o.Version, o.ID)
		}, nil)
}

func (s *Store) DeleteOrganization(ctx context.Context, id string) error {
	return s.writeOne(ctx, "delete organization", "DELETE FROM organizations WHERE id = ?", id)
}

func (s *Store) ListUserOrganizations(ctx context.Context, userID string, p store.Page) ([]store.Organization, string, error) {
	return list(ctx, s, "list user organizations", p, scanOrg, func(o store.Organization) string { return o.ID },
		"SELECT "+orgCols+" FROM organizations o JOIN org_members m ON m.org_id = o.id WHERE m.user_id = ? AND o.id > ? ORDER BY o.id LIMIT ?",
		userID)
}

// Organization members.

const orgMemberCols = "m.org_id, m.user_id, u.email, m.role, m.created_at"

func scanOrgMember(r rowScanner) (store.OrgMember, error) {
	var m store.OrgMember
	err := r.Scan(&m.OrgID, &m.UserID, &m.Email, &m.Role, timeScan{&m.CreatedAt})
	return m, err
}

func (s *Store) insertOrgMember(ctx context.Context, q querier, m store.OrgMember) error {
	_, err := s.exec(ctx, q, "INSERT INTO org_members (org_id, user_id, role, created_at) VALUES (?, ?, ?, ?)",
		m.OrgID, m.UserID, m.Role, m.CreatedAt)
	return err
}

func (s *Store) AddOrgMember(ctx context.Context, m store.OrgMember) error {
	if err := s.insertOrgMember(ctx, s.db, m); err != nil {
		return fmt.Errorf("add org member: %w", err)
	}
	return nil
}

func (s *Store) GetOrgMember(ctx context.Context, orgID, userID string) (store.OrgMember, error) {
	return get(ctx, s, "get org member", scanOrgMember,
		"SELECT "+orgMemberCols+" FROM org_members m JOIN users u ON u.id = m.user_id WHERE m.org_id = ? AND m.user_id = ?",
		orgID, userID)
}

func (s *Store) UpdateOrgMemberRole(ctx context.Context, orgID, userID, role string) error {
	return s.inTxAs(ctx, "update org member role", func(tx *sql.Tx) error {
		if role != store.RoleOwner {
			if err := s.keepAnOwner(ctx, tx, orgID, userID); err != nil {
				return err
			}
		}
		return s.execOne(ctx, tx, "UPDATE org_members SET role = ? WHERE org_id = ? AND user_id = ?", role, orgID, userID)
	})
}

// keepAnOwner refuses with ErrLastOwner when userID is the organization's
// only owner. It locks the organization row first (PostgreSQL; SQLite's
// write transactions are exclusive already), so concurrent demotions are
// decided one after the other.
func (s *Store) keepAnOwner(ctx context.Context, tx *sql.Tx, orgID, userID string) error {
	if _, err := s.exists(ctx, tx, "SELECT 1 FROM organizations WHERE id = ?"+s.d.forUpdate(), orgID); err != nil {
		return err
	}
	isOwner, err := s.exists(ctx, tx, "SELECT 1 FROM org_members WHERE org_id = ? AND user_id = ? AND role = ?", orgID, userID, store.RoleOwner)
	if err != nil || !isOwner {
		return err
	}
	others, err := s.exists(ctx, tx, "SELECT 1 FROM org_members WHERE org_id = ? AND user_id <> ? AND role = ?", orgID, userID, store.RoleOwner)
	if err != nil {
		return err
	}
	if !others {
		return store.ErrLastOwner
	}
	return nil
}

func (s *Store) RemoveOrgMember(ctx context.Context, orgID, userID string) error {
	return s.inTxAs(ctx, "remove org member", func(tx *sql.Tx) error {
		if err := s.keepAnOwner(ctx, tx, orgID, userID); err != nil {
			return err
		}
		if err := s.execOne(ctx, tx, "DELETE FROM org_members WHERE org_id = ? AND user_id = ?", orgID, userID); err != nil {
			return err
		}
		if _, err := s.exec(ctx, tx, `DELETE FROM group_members WHERE user_id = ? AND group_id IN (
    SELECT g.id FROM workspace_groups g JOIN workspaces w ON w.id = g.workspace_id WHERE w.org_id = ?)`, userID, orgID); err != nil {
			return err
		}
		_, err := s.exec(ctx, tx, "DELETE FROM workspace_members WHERE user_id = ? AND workspace_id IN (SELECT id FROM workspaces WHERE org_id = ?)",
			userID, orgID)
		return err
	})
}

func (s *Store) ListOrgMembers(ctx context.Context, orgID string, p store.Page) ([]store.OrgMember, string, error) {
	return list(ctx, s, "list org members", p, scanOrgMember, func(m store.OrgMember) string { return m.UserID },
		"SELECT "+orgMemberCols+" FROM org_members m JOIN users u ON u.id = m.user_id WHERE m.org_id = ? AND m.user_id > ? ORDER BY m.user_id LIMIT ?",
		orgID)
}

func (s *Store) CountOrgMembersWithRole(ctx context.Context, orgID, role string) (int, error) {
	return s.count(ctx, "count org members", "SELECT COUNT(*) FROM org_members WHERE org_id = ? AND role = ?", orgID, role)
}

// Invitations.

const invitationCols = "id, org_id, email, role, token_hash, invited_by, created_at, expires_at, accepted_at"

func scanInvitation(r rowScanner) (store.Invitation, error) {
	var i store.Invitation
	err := r.Scan(&i.ID, &i.OrgID, &i.Email, &i.Role, &i.TokenHash, &i.InvitedBy,
		timeScan{&i.CreatedAt}, timeScan{&i.ExpiresAt}, nullTimeScan{&i.AcceptedAt})
	return i, err
}

func (s *Store) CreateInvitation(ctx context.Context, inv store.Invitation) error {
	return s.inTxAs(ctx, "create invitation", func(tx *sql.Tx) error {
		if _, err := s.exec(ctx, tx, "DELETE FROM invitations WHERE org_id = ? AND email_lower = ? AND accepted_at IS NULL AND expires_at <= ?",
			inv.OrgID, strings.ToLower(inv.Email), inv.CreatedAt); err != nil {
			return err
		}
		_, err := s.exec(ctx, tx, `INSERT INTO invitations (id, org_id, email, email_lower, role, token_hash, invited_by, created_at, expires_at, accepted_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			inv.ID, inv.OrgID, inv.Email, strings.ToLower(inv.Email), inv.Role, inv.TokenHash, inv.InvitedBy, inv.CreatedAt, inv.ExpiresAt, inv.AcceptedAt)
		return err
	})
}

func (s *Store) GetInvitation(ctx context.Context, id string) (store.Invitation, error) {
	return get(ctx, s, "get invitation", scanInvitation, "SELECT "+invitationCols+" FROM invitations WHERE id = ?", id)
}

func (s *Store) GetInvitationByTokenHash(ctx context.Context, tokenHash string) (store.Invitation, error) {
	return get(ctx, s, "get invitation by token", scanInvitation, "SELECT "+invitationCols+" FROM invitations WHERE token_hash = ?", tokenHash)
}

func (s *Store) ListInvitations(ctx context.Context, orgID string, p store.Page) ([]store.Invitation, string, error) {
	return list(ctx, s, "list invitations", p, scanInvitation, func(i store.Invitation) string { return i.ID },
		"SELECT "+invitationCols+" FROM invitations WHERE org_id = ? AND id > ? ORDER BY id LIMIT ?", orgID)
}

func (s *Store) DeleteInvitation(ctx context.Context, id string) error {
	return s.writeOne(ctx, "delete invitation", "DELETE FROM invitations WHERE id = ?", id)
}

func (s *Store) AcceptInvitation(ctx context.Context, id string, m store.OrgMember, now time.Time) error {
	_, err := lockedRow(ctx, s, "accept invitation", scanInvitation, "SELECT "+invitationCols+" FROM invitations WHERE id = ?", id,
		func(tx *sql.Tx, inv store.Invitation) error {
			if inv.AcceptedAt != nil {
				return fmt.Errorf("invitation already accepted: %w", store.ErrConflict)
			}
			if m.OrgID == "" {
				m.OrgID = inv.OrgID
			}
			if m.OrgID != inv.OrgID {
				return fmt.Errorf("member organization does not match the invitation's: %w", store.ErrConflict)
			}
			if err := s.execOne(ctx, tx, "UPDATE invitations SET accepted_at = ? WHERE id = ? AND accepted_at IS NULL", now, id); err != nil {
				if errors.Is(err, store.ErrNotFound) {
					return fmt.Errorf("invitation already accepted: %w", store.ErrConflict)
				}
				return err
			}
			return s.insertOrgMember(ctx, tx, m)
		})
	return err
}

// Workspaces.

const workspaceCols = "id, org_id, name, plan, status, status_reason, created_by, created_at, updated_at, version, sleep_after_seconds, hibernation, slept_at, wake_at"

func scanWorkspace(r rowScanner) (store.Workspace, error) {
	var w store.Workspace
	err := r.Scan(&w.ID, &w.OrgID, &w.Name, &w.Plan, &w.Status, &w.StatusReason, &w.CreatedBy, timeScan{&w.CreatedAt}, timeScan{&w.UpdatedAt}, &w.Version,
		&w.SleepAfter, &w.Hibernation, nullTimeScan{&w.SleptAt}, nullTimeScan{&w.WakeAt})
	return w, err
}

func (s *Store) CreateWorkspace(ctx context.Context, w store.Workspace) error {
	return s.write(ctx, "create workspace", "INSERT INTO workspaces ("+workspaceCols+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?)",
		w.ID, w.OrgID, w.Name, w.Plan, w.Status, w.StatusReason, w.CreatedBy, w.CreatedAt, w.UpdatedAt,
		w.SleepAfter, w.Hibernation, w.SleptAt, w.WakeAt)
}

func (s *Store) GetWorkspace(ctx context.Context, id string) (store.Workspace, error) {
	return get(ctx, s, "get workspace", scanWorkspace, "SELECT "+workspaceCols+" FROM workspaces WHERE id = ?", id)
}

func (s *Store) ListWorkspaces(ctx context.Context, orgID string, p store.Page) ([]store.Workspace, string, error) {
	return list(ctx, s, "list workspaces", p, scanWorkspace, func(w store.Workspace) string { return w.ID },
		"SELECT "+workspaceCols+" FROM workspaces WHERE org_id = ? AND id > ? ORDER BY id LIMIT ?", orgID)
}

func (s *Store) ListWorkspacesByStatus(ctx context.Context, status string) ([]store.Workspace, error) {
	return all(ctx, s, "list workspaces by status", scanWorkspace, "SELECT "+workspaceCols+" FROM workspaces WHERE status = ? ORDER BY id", status)
}

func (s *Store) GetWorkspaceByName(ctx context.Context, orgID, name string) (store.Workspace, error) {
	return get(ctx, s, "get workspace by name", scanWorkspace, "SELECT "+workspaceCols+" FROM workspaces WHERE org_id = ? AND name = ?", orgID, name)
}

func (s *Store) UpdateWorkspace(ctx context.Context, id string, update func(store.Workspace) (store.Workspace, error)) (store.Workspace, error) {
	return casUpdate(ctx, s, "update workspace", scanWorkspace, "SELECT "+workspaceCols+" FROM workspaces WHERE id = ?", id, update,
		func(tx *sql.Tx, old, w store.Workspace) (store.Workspace, error) {
			w.ID, w.OrgID, w.CreatedAt, w.CreatedBy, w.Version = old.ID, old.OrgID, old.CreatedAt, old.CreatedBy, old.Version+1
			w.Plan, w.Status, w.StatusReason = old.Plan, old.Status, old.StatusReason
			w.SleptAt, w.WakeAt = old.SleptAt, old.WakeAt
			return w, s.execOne(ctx, tx, "UPDATE workspaces SET name = ?, sleep_after_seconds = ?, hibernation = ?, updated_at = ?, version = ? WHERE id = ?",
				w.Name, w.SleepAfter, w.Hibernation, w.UpdatedAt, w.Version, w.ID)
		}, nil)
}

func (s *Store) SetWorkspaceSleep(ctx context.Context, id string, sleptAt, wakeAt *time.Time) error {
	return s.writeOne(ctx, "set workspace sleep", "UPDATE workspaces SET slept_at = ?, wake_at = ? WHERE id = ?", sleptAt, wakeAt, id)
}

func (s *Store) SetWorkspaceStatus(ctx context.Context, id string, from []string, to, reason string, now time.Time) error {
	query := "UPDATE workspaces SET status = ?, status_reason = ?, updated_at = ? WHERE id = ?"
	args := []any{to, reason, now, id}
	if len(from) > 0 {
		query += " AND status IN (" + placeholders(len(from)) + ")"
		for _, f := range from {
			args = append(args, f)
		}
	}
	err := s.execOne(ctx, s.db, query, args...)
	if errors.Is(err, store.ErrNotFound) && len(from) > 0 {
		found, xerr := s.exists(ctx, s.db, "SELECT 1 FROM workspaces WHERE id = ?", id)
		if xerr != nil {
			err = xerr
		} else if found {
			err = fmt.Errorf("workspace status is not one of %q: %w", from, store.ErrConflict)
		}
	}
	if err != nil {
		return fmt.Errorf("set workspace status: %w", err)
	}
	return nil
}

func (s *Store) DeleteWorkspace(ctx context.Context, id string) error {
	return s.writeOne(ctx, "delete workspace", "DELETE FROM workspaces WHERE id = ?", id)
}

// Workspace members.

const workspaceMemberCols = "m.workspace_id, m.user_id, u.email, m.created_at"

func scanWorkspaceMember(r rowScanner) (store.WorkspaceMember, error) {
	var m store.WorkspaceMember
	err := r.Scan(&m.WorkspaceID, &m.UserID, &m.Email, timeScan{&m.CreatedAt})
	return m, err
}

func (s *Store) AddWorkspaceMember(ctx context.Context, m store.WorkspaceMember) error {
	return s.write(ctx, "add workspace member", "INSERT INTO workspace_members (workspace_id, user_id, created_at) VALUES (?, ?, ?)",
		m.WorkspaceID, m.UserID, m.CreatedAt)
}

func (s *Store) RemoveWorkspaceMember(ctx context.Context, workspaceID, userID string) error {
	return s.inTxAs(ctx, "remove workspace member", func(tx *sql.Tx) error {
		if err := s.execOne(ctx, tx, "DELETE FROM workspace_members WHERE workspace_id = ? AND user_id = ?", workspaceID, userID); err != nil {
			return err
		}
		_, err := s.exec(ctx, tx, "DELETE FROM group_members WHERE user_id = ? AND group_id IN (SELECT id FROM workspace_groups WHERE workspace_id = ?)",
			userID, workspaceID)
		return err
	})
}

func (s *Store) GetWorkspaceMember(ctx context.Context, workspaceID, userID string) (store.WorkspaceMember, error) {
	return get(ctx, s, "get workspace member", scanWorkspaceMember,
		"SELECT "+workspaceMemberCols+" FROM workspace_members m JOIN users u ON u.id = m.user_id WHERE m.workspace_id = ? AND m.user_id = ?",
		workspaceID, userID)
}

func (s *Store) ListWorkspaceMembers(ctx context.Context, workspaceID string, p store.Page) ([]store.WorkspaceMember, string, error) {
	return list(ctx, s, "list workspace members", p, scanWorkspaceMember, func(m store.WorkspaceMember) string { return m.UserID },
		"SELECT "+workspaceMemberCols+" FROM workspace_members m JOIN users u ON u.id = m.user_id WHERE m.workspace_id = ? AND m.user_id > ? ORDER BY m.user_id LIMIT ?",
		workspaceID)
}

// Trees: projects and groups each form a forest inside a workspace.

// checkParent refuses with ErrCycle if making parentID the parent of id in
// table would close a loop. It must run inside a transaction that holds the
// workspace's tree lock (see lockWorkspace). table is one of this package's
// table names, never input.
func (s *Store) checkParent(ctx context.Context, tx *sql.Tx, table, workspaceID, id, parentID string) error {
	cur := parentID
	for depth := 0; cur != ""; depth++ {
		if cur == id || depth > store.MaxTreeDepth {
			return fmt.Errorf("parent %q: %w", parentID, store.ErrCycle)
		}
		var next string
		err := tx.QueryRowContext(ctx, s.d.rebind("SELECT parent_id FROM "+table+" WHERE id = ? AND workspace_id = ?"), cur, workspaceID).
			Scan(stringScan{&next})
		if errors.Is(err, sql.ErrNoRows) {
			return nil // a missing parent fails the foreign key: ErrConflict
		}
		if err != nil {
			return s.d.wrapErr(err)
		}
		cur = next
	}
	return nil
}

// lockWorkspace serializes tree changes within one workspace. On SQLite the
// IMMEDIATE transaction already holds the only write lock.
func (s *Store) lockWorkspace(ctx context.Context, tx *sql.Tx, workspaceID string) error {
	if s.d != dialectPostgres {
		return nil
	}
	found, err := s.exists(ctx, tx, "SELECT 1 FROM workspaces WHERE id = ?"+s.d.forUpdate(), workspaceID)
	if err != nil {
		return err
	}
	if !found {
		return store.ErrNotFound
	}
	return nil
}

// treeWorkspace returns the workspace of row id in table and locks that
// workspace's tree.
func (s *Store) treeWorkspace(ctx context.Context, tx *sql.Tx, table, id string) (string, error) {
	var ws string
	err := tx.QueryRowContext(ctx, s.d.rebind("SELECT workspace_id FROM "+table+" WHERE id = ?"), id).Scan(&ws)
	if err != nil {
		return "", s.d.wrapErr(err)
	}
	if err := s.lockWorkspace(ctx, tx, ws); err != nil {
		return "", err
	}
	return ws, nil
}

// lockTree is the lock step of casUpdate for row id of a workspace tree
// (projects or groups, table): it locks the tree of the row's workspace.
func (s *Store) lockTree(ctx context.Context, table, id string) func(*sql.Tx) error {
	return func(tx *sql.Tx) error {
		_, err := s.treeWorkspace(ctx, tx, table, id)
		return err
	}
}

// deleteTreeNode deletes row id of a workspace tree (projects or groups)
// unless it has children, which is ErrConflict with the message children.
// table is one of this package's table names, never input.
func (s *Store) deleteTreeNode(ctx context.Context, op, table, id, children string) error {
	return s.inTxAs(ctx, op, func(tx *sql.Tx) error {
		ws, err := s.treeWorkspace(ctx, tx, table, id)
		if err != nil {
			return err
		}
		has, err := s.exists(ctx, tx, "SELECT 1 FROM "+table+" WHERE workspace_id = ? AND parent_id = ?", ws, id)
		if err != nil {
			return err
		}
		if has {
			return fmt.Errorf("%s: %w", children, store.ErrConflict)
		}
		return s.execOne(ctx, tx, "DELETE FROM "+table+" WHERE id = ?", id)
	})
}

// Projects.

const projectCols = "id, workspace_id, name, parent_id, quota_cpu, quota_memory, quota_storage, quota_pods, pod_security, created_at, updated_at, version"

func scanProject(r rowScanner) (store.Project, error) {
	var p store.Project
	err := r.Scan(&p.ID, &p.WorkspaceID, &p.Name, stringScan{&p.ParentID}, &p.Quota.CPU, &p.Quota.Memory, &p.Quota.Storage, &p.Quota.Pods, &p.PodSecurity,
		timeScan{&p.CreatedAt}, timeScan{&p.UpdatedAt}, &p.Version)
	return p, err
}

func (s *Store) CreateProject(ctx context.Context, p store.Project) error {
	return s.write(ctx, "create project", "INSERT INTO projects ("+projectCols+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)",
		p.ID, p.WorkspaceID, p.Name, nullString(p.ParentID), p.Quota.CPU, p.Quota.Memory, p.Quota.Storage, p.Quota.Pods, podSecurity(p.PodSecurity), p.CreatedAt, p.UpdatedAt)
}

func (s *Store) GetProject(ctx context.Context, id string) (store.Project, error) {
	return get(ctx, s, "get project", scanProject, "SELECT "+projectCols+" FROM projects WHERE id = ?", id)
}

func (s *Store) ListProjects(ctx context.Context, workspaceID string, p store.Page) ([]store.Project, string, error) {
	return list(ctx, s, "list projects", p, scanProject, func(p store.Project) string { return p.ID },
		"SELECT "+projectCols+" FROM projects WHERE workspace_id = ? AND id > ? ORDER BY id LIMIT ?", workspaceID)
}

func (s *Store) ListProjectsUnder(ctx context.Context, workspaceID string, roots []string, p store.Page) ([]store.Project, string, error) {
	if _, err := store.DecodeCursor(p.After); err != nil {
		return nil, "", fmt.Errorf("list projects under: %w", err)
	}
	if len(roots) == 0 {
		return []store.Project{}, "", nil
	}
	// UNION, not UNION ALL: a row already reached is not walked again.
	args := append([]any{workspaceID}, anys(roots)...)
	return list(ctx, s, "list projects under", p, scanProject, func(p store.Project) string { return p.ID },
		`WITH RECURSIVE under(id) AS (
  SELECT id FROM projects WHERE workspace_id = ? AND id IN (`+placeholders(len(roots))+`)
  UNION SELECT c.id FROM projects c JOIN under ON c.parent_id = under.id
)
SELECT `+projectCols+` FROM projects WHERE id IN (SELECT id FROM under) AND id > ? ORDER BY id LIMIT ?`, args...)
}

func (s *Store) GetProjectByName(ctx context.Context, workspaceID, name string) (store.Project, error) {
	return get(ctx, s, "get project by name", scanProject, "SELECT "+projectCols+" FROM projects WHERE workspace_id = ? AND name = ?", workspaceID, name)
}

// UpdateProject writes quota, parent, pod security and updated_at. Like UpdateGroup it
// refuses a parent that would make the project tree cyclic (ErrCycle).
func (s *Store) UpdateProject(ctx context.Context, id string, update func(store.Project) (store.Project, error)) (store.Project, error) {
	return casUpdate(ctx, s, "update project", scanProject, "SELECT "+projectCols+" FROM projects WHERE id = ?", id, update,
		func(tx *sql.Tx, old, p store.Project) (store.Project, error) {
			p.ID, p.WorkspaceID, p.Name, p.CreatedAt, p.Version = old.ID, old.WorkspaceID, old.Name, old.CreatedAt, old.Version+1
			if err := s.checkParent(ctx, tx, "projects", p.WorkspaceID, p.ID, p.ParentID); err != nil {
				return p, err
			}
			return p, s.execOne(ctx, tx, `UPDATE projects SET parent_id = ?, quota_cpu = ?, quota_memory = ?, quota_storage = ?, quota_pods = ?, pod_security = ?, updated_at = ?, version = ?
WHERE id = ?`, nullString(p.ParentID), p.Quota.CPU, p.Quota.Memory, p.Quota.Storage, p.Quota.Pods, podSecurity(p.PodSecurity), p.UpdatedAt, p.Version, p.ID)
		}, s.lockTree(ctx, "projects", id))
}

// podSecurity is the stored pod security level: "" is baseline.
func podSecurity(level string) string {
	if level == "" {
		return store.PodSecurityBaseline
	}
	return level
}

func (s *Store) DeleteProject(ctx context.Context, id string) error {
	return s.deleteTreeNode(ctx, "delete project", "projects", id, "project has child projects")
}

// Groups.

const groupCols = "id, workspace_id, name, parent_id, created_at, updated_at, version"

func scanGroup(r rowScanner) (store.Group, error) {
	var g store.Group
	err := r.Scan(&g.ID, &g.WorkspaceID, &g.Name, stringScan{&g.ParentID}, timeScan{&g.CreatedAt}, timeScan{&g.UpdatedAt}, &g.Version)
	return g, err
}

func (s *Store) CreateGroup(ctx context.Context, g store.Group) error {
	return s.write(ctx, "create group", "INSERT INTO workspace_groups ("+groupCols+") VALUES (?, ?, ?, ?, ?, ?, 1)",
		g.ID, g.WorkspaceID, g.Name, nullString(g.ParentID), g.CreatedAt, g.UpdatedAt)
}

func (s *Store) GetGroup(ctx context.Context, id string) (store.Group, error) {
	return get(ctx, s, "get group", scanGroup, "SELECT "+groupCols+" FROM workspace_groups WHERE id = ?", id)
}

func (s *Store) ListGroups(ctx context.Context, workspaceID string, p store.Page) ([]store.Group, string, error) {
	return list(ctx, s, "list groups", p, scanGroup, func(g store.Group) string { return g.ID },
		"SELECT "+groupCols+" FROM workspace_groups WHERE workspace_id = ? AND id > ? ORDER BY id LIMIT ?", workspaceID)
}

func (s *Store) GetGroupByName(ctx context.Context, workspaceID, name string) (store.Group, error) {
	return get(ctx, s, "get group by name", scanGroup, "SELECT "+groupCols+" FROM workspace_groups WHERE workspace_id = ? AND name = ?", workspaceID, name)
}

func (s *Store) UpdateGroup(ctx context.Context, id string, update func(store.Group) (store.Group, error)) (store.Group, error) {
	return casUpdate(ctx, s, "update group", scanGroup, "SELECT "+groupCols+" FROM workspace_groups WHERE id = ?", id, update,
		func(tx *sql.Tx, old, g store.Group) (store.Group, error) {
			g.ID, g.WorkspaceID, g.CreatedAt, g.Version = old.ID, old.WorkspaceID, old.CreatedAt, old.Version+1
			if err := s.checkParent(ctx, tx, "workspace_groups", g.WorkspaceID, g.ID, g.ParentID); err != nil {
				return g, err
			}
			return g, s.execOne(ctx, tx, "UPDATE workspace_groups SET name = ?, parent_id = ?, updated_at = ?, version = ? WHERE id = ?",
				g.Name, nullString(g.ParentID), g.UpdatedAt, g.Version, g.ID)
		}, s.lockTree(ctx, "workspace_groups", id))
}

func (s *Store) DeleteGroup(ctx context.Context, id string) error {
	return s.deleteTreeNode(ctx, "delete group", "workspace_groups", id, "group has child groups")
}

const groupMemberCols = "m.group_id, m.user_id, u.email, m.created_at"

func scanGroupMember(r rowScanner) (store.GroupMember, error) {
	var m store.GroupMember
	err := r.Scan(&m.GroupID, &m.UserID, &m.Email, timeScan{&m.CreatedAt})
	return m, err
}

func (s *Store) AddGroupMember(ctx context.Context, m store.GroupMember) error {
	return s.write(ctx, "add group member", "INSERT INTO group_members (group_id, user_id, created_at) VALUES (?, ?, ?)", m.GroupID, m.UserID, m.CreatedAt)
}

func (s *Store) RemoveGroupMember(ctx context.Context, groupID, userID string) error {
	return s.writeOne(ctx, "remove group member", "DELETE FROM group_members WHERE group_id = ? AND user_id = ?", groupID, userID)
}

func (s *Store) ListGroupMembers(ctx context.Context, groupID string, p store.Page) ([]store.GroupMember, string, error) {
	return list(ctx, s, "list group members", p, scanGroupMember, func(m store.GroupMember) string { return m.UserID },
		"SELECT "+groupMemberCols+" FROM group_members m JOIN users u ON u.id = m.user_id WHERE m.group_id = ? AND m.user_id > ? ORDER BY m.user_id LIMIT ?",
		groupID)
}

func (s *Store) UserGroupIDs(ctx context.Context, workspaceID, userID string) ([]string, error) {
	return all(ctx, s, "user group ids", func(r rowScanner) (string, error) {
		var id string
		return id, r.Scan(&id)
	}, "SELECT m.group_id FROM group_members m JOIN workspace_groups g ON g.id = m.group_id WHERE g.workspace_id = ? AND m.user_id = ? ORDER BY m.group_id",
		workspaceID, userID)
}

func (s *Store) AllGroups(ctx context.Context, workspaceID string) ([]store.Group, error) {
	return all(ctx, s, "all groups", scanGroup, "SELECT "+groupCols+" FROM workspace_groups WHERE workspace_id = ? ORDER BY id", workspaceID)
}

// Role bindings.

const roleBindingCols = "id, workspace_id, group_id, role, project_id, created_at"

func scanRoleBinding(r rowScanner) (store.RoleBinding, error) {
	var b store.RoleBinding
	err := r.Scan(&b.ID, &b.WorkspaceID, &b.GroupID, &b.Role, stringScan{&b.ProjectID}, timeScan{&b.CreatedAt})
	return b, err
}

func (s *Store) CreateRoleBinding(ctx context.Context, b store.RoleBinding) error {
	return s.write(ctx, "create role binding", "INSERT INTO role_bindings ("+roleBindingCols+") VALUES (?, ?, ?, ?, ?, ?)",
		b.ID, b.WorkspaceID, b.GroupID, b.Role, nullString(b.ProjectID), b.CreatedAt)
}

func (s *Store) GetRoleBinding(ctx context.Context, id string) (store.RoleBinding, error) {
	return get(ctx, s, "get role binding", scanRoleBinding, "SELECT "+roleBindingCols+" FROM role_bindings WHERE id = ?", id)
}

func (s *Store) ListRoleBindings(ctx context.Context, workspaceID string, p store.Page) ([]store.RoleBinding, string, error) {
	return list(ctx, s, "list role bindings", p, scanRoleBinding, func(b store.RoleBinding) string { return b.ID },
		"SELECT "+roleBindingCols+" FROM role_bindings WHERE workspace_id = ? AND id > ? ORDER BY id LIMIT ?", workspaceID)
}

func (s *Store) AllRoleBindings(ctx context.Context, workspaceID string) ([]store.RoleBinding, error) {
	return all(ctx, s, "all role bindings", scanRoleBinding, "SELECT "+roleBindingCols+" FROM role_bindings WHERE workspace_id = ? ORDER BY id", workspaceID)
}

func (s *Store) DeleteRoleBinding(ctx context.Context, id string) error {
	return s.writeOne(ctx, "delete role binding", "DELETE FROM role_bindings WHERE id = ?", id)
}

// Tasks.

const taskCols = "id, kind, org_id, payload, status, attempts, reason, created_at, updated_at, finished_at"

func scanTask(r rowScanner) (store.Task, error) {
	var t store.Task
	err := r.Scan(&t.ID, &t.Kind, &t.OrgID, bytesScan{&t.Payload}, &t.Status, &t.Attempts, &t.Reason,
		timeScan{&t.CreatedAt}, timeScan{&t.UpdatedAt}, nullTimeScan{&t.FinishedAt})
	return t, err
}

func (s *Store) CreateTask(ctx context.Context, t store.Task) error {
	return s.write(ctx, "create task", "INSERT INTO tasks ("+taskCols+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
		t.ID, t.Kind, t.OrgID, blob(t.Payload), t.Status, t.Attempts, t.Reason, t.CreatedAt, t.UpdatedAt, t.FinishedAt)
}

func (s *Store) GetTask(ctx context.Context, id string) (store.Task, error) {
	return get(ctx, s, "get task", scanTask, "SELECT "+taskCols+" FROM tasks WHERE id = ?", id)
}

func (s *Store) UpdateTask(ctx context.Context, t store.Task) error {
	return s.writeOne(ctx, "update task", "UPDATE tasks SET status = ?, attempts = ?, reason = ?, updated_at = ?, finished_at = ? WHERE id = ?",
		t.Status, t.Attempts, t.Reason, t.UpdatedAt, t.FinishedAt, t.ID)
}

func (s *Store) ListTasksByStatus(ctx context.Context, statuses []string, limit int) ([]store.Task, error) {
	if len(statuses) == 0 {
		return []store.Task{}, nil
	}
	if limit <= 0 {
		limit = store.DefaultLimit
	}
	args := make([]any, 0, len(statuses)+1)
	for _, st := range statuses {
		args = append(args, st)
	}
	args = append(args, limit)
	return all(ctx, s, "list tasks by status", scanTask,
		"SELECT "+taskCols+" FROM tasks WHERE status IN ("+placeholders(len(statuses))+") ORDER BY created_at, id LIMIT ?", args...)
}

func (s *Store) ListOrgTasks(ctx context.Context, orgID string, p store.Page) ([]store.Task, string, error) {
	return list(ctx, s, "list org tasks", p, scanTask, func(t store.Task) string { return t.ID },
		"SELECT "+taskCols+" FROM tasks WHERE org_id = ? AND id > ? ORDER BY id LIMIT ?", orgID)
}
