package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/hexabase/hexabase-ai/internal/store"
)

// The assistant's chats, messages, plans and settings, and the usage
// ledger (migration 0014_ai).

// utc is t as the store keeps it: UTC, microsecond precision.
func utc(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// Chats.

const chatCols = "id, org_id, workspace_id, project_id, user_id, title, created_at, updated_at"

func scanChat(r rowScanner) (store.Chat, error) {
	var c store.Chat
	err := r.Scan(&c.ID, &c.OrgID, &c.WorkspaceID, stringScan{&c.ProjectID}, &c.UserID, &c.Title, timeScan{&c.CreatedAt}, timeScan{&c.UpdatedAt})
	return c, err
}

func (s *Store) CreateChat(ctx context.Context, c store.Chat) error {
	return s.write(ctx, "create chat", "INSERT INTO ai_chats ("+chatCols+", next_seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1)",
		c.ID, c.OrgID, c.WorkspaceID, nullString(c.ProjectID), c.UserID, c.Title, c.CreatedAt, c.UpdatedAt)
}

func (s *Store) GetChat(ctx context.Context, id string) (store.Chat, error) {
	return get(ctx, s, "get chat", scanChat, "SELECT "+chatCols+" FROM ai_chats WHERE id = ?", id)
}

func (s *Store) ListChats(ctx context.Context, userID, workspaceID string, p store.Page) ([]store.Chat, string, error) {
	before, err := store.DecodeCursor(p.After)
	if err != nil {
		return nil, "", fmt.Errorf("list chats: %w", err)
	}
	q := "SELECT " + chatCols + " FROM ai_chats WHERE user_id = ? AND workspace_id = ?"
	args := []any{userID, workspaceID}
	if before != "" {
		q += " AND id < ?"
		args = append(args, before)
	}
	return newestFirst(ctx, s, "list chats", p.EffectiveLimit(), scanChat, func(c store.Chat) string { return c.ID }, q, args...)
}

// DeleteChat removes the chat; its messages and plans go with it by
// foreign-key cascade.
func (s *Store) DeleteChat(ctx context.Context, id string) error {
	return s.writeOne(ctx, "delete chat", "DELETE FROM ai_chats WHERE id = ?", id)
}

func (s *Store) SetPlanResult(ctx context.Context, id, result string) error {
	return s.writeOne(ctx, "set plan result", "UPDATE ai_plans SET result = ? WHERE id = ?", result, id)
}

func (s *Store) SetChatTitle(ctx context.Context, id, title string) error {
	return s.writeOne(ctx, "set chat title", "UPDATE ai_chats SET title = ? WHERE id = ?", title, id)
}

// Messages.

const messageCols = "id, chat_id, seq, role, content, tool_calls, tool_call_id, tool_name, tool_args, is_error, plan_id, model, created_at"

func scanMessage(r rowScanner) (store.ChatMessage, error) {
	var m store.ChatMessage
	err := r.Scan(&m.ID, &m.ChatID, &m.Seq, &m.Role, &m.Content, &m.ToolCalls, &m.ToolCallID, &m.ToolName, &m.ToolArgs,
		&m.IsError, &m.PlanID, &m.Model, timeScan{&m.CreatedAt})
	return m, err
}

// AppendMessages takes the chat's next_seq under the chat row's lock
// (FOR UPDATE on PostgreSQL; SQLite's IMMEDIATE transaction holds the
// only write lock), so concurrent appends to one chat get consecutive,
// distinct numbers in the order their transactions commit. A message
// without an ID gets a fresh one; one without CreatedAt gets now.
func (s *Store) AppendMessages(ctx context.Context, chatID string, now time.Time, ms ...store.ChatMessage) ([]store.ChatMessage, error) {
	out := make([]store.ChatMessage, len(ms))
	err := s.inTxAs(ctx, "append messages", func(tx *sql.Tx) error {
		var next int64
		row := tx.QueryRowContext(ctx, s.d.rebind("SELECT next_seq FROM ai_chats WHERE id = ?"+s.d.forUpdate()), chatID)
		if err := row.Scan(&next); err != nil {
			return s.d.wrapErr(err)
		}
		for i, m := range ms {
			m.ChatID, m.Seq = chatID, next+int64(i)
			if m.ID == "" {
				m.ID = store.NewID()
			}
			if m.CreatedAt.IsZero() {
				m.CreatedAt = now
			}
			m.CreatedAt = utc(m.CreatedAt)
			if _, err := s.exec(ctx, tx, "INSERT INTO ai_messages ("+messageCols+") VALUES ("+placeholders(13)+")",
				m.ID, m.ChatID, m.Seq, m.Role, m.Content, m.ToolCalls, m.ToolCallID, m.ToolName, m.ToolArgs,
				m.IsError, m.PlanID, m.Model, m.CreatedAt); err != nil {
				return err
			}
			out[i] = m
		}
		return s.execOne(ctx, tx, "UPDATE ai_chats SET next_seq = ?, updated_at = ? WHERE id = ?", next+int64(len(ms)), now, chatID)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (s *Store) ListMessages(ctx context.Context, chatID string) ([]store.ChatMessage, error) {
	return all(ctx, s, "list messages", scanMessage, "SELECT "+messageCols+" FROM ai_messages WHERE chat_id = ? ORDER BY seq", chatID)
}

// Plans.

const planCols = "id, org_id, workspace_id, project_id, user_id, chat_id, tool, args, summary, method, path, body, hash, " +
	"guard_path, guard_resource_version, object_before, object_after, diff, status, result, created_at, expires_at, decided_at, target"

func scanPlan(r rowScanner) (store.Plan, error) {
	var (
		p       store.Plan
		decided *time.Time
	)
	err := r.Scan(&p.ID, &p.OrgID, &p.WorkspaceID, stringScan{&p.ProjectID}, &p.UserID, stringScan{&p.ChatID},
		&p.Tool, &p.Args, &p.Summary, &p.Method, &p.Path, &p.Body, &p.Hash,
		&p.GuardPath, &p.GuardResourceVersion, &p.Before, &p.After, &p.Diff, &p.Status, &p.Result,
		timeScan{&p.CreatedAt}, timeScan{&p.ExpiresAt}, nullTimeScan{&decided}, &p.Target)
	if decided != nil {
		p.DecidedAt = *decided
	}
	return p, err
}

func (s *Store) CreatePlan(ctx context.Context, p store.Plan) error {
	var decided *time.Time
	if !p.DecidedAt.IsZero() {
		decided = &p.DecidedAt
	}
	return s.write(ctx, "create plan", "INSERT INTO ai_plans ("+planCols+") VALUES ("+placeholders(24)+")",
		p.ID, p.OrgID, p.WorkspaceID, nullString(p.ProjectID), p.UserID, nullString(p.ChatID),
		p.Tool, p.Args, p.Summary, p.Method, p.Path, p.Body, p.Hash,
		p.GuardPath, p.GuardResourceVersion, p.Before, p.After, p.Diff, p.Status, p.Result,
		p.CreatedAt, p.ExpiresAt, decided, planTarget(p.Target))
}

// planTarget is the stored target of a plan: "" is the workspace
// cluster's, as for the plans stored before targets existed.
func planTarget(t string) string {
	if t == "" {
		return store.PlanTargetWorkspace
	}
	return t
}

func (s *Store) GetPlan(ctx context.Context, id string) (store.Plan, error) {
	return get(ctx, s, "get plan", scanPlan, "SELECT "+planCols+" FROM ai_plans WHERE id = ?", id)
}

func (s *Store) ListPlans(ctx context.Context, chatID string) ([]store.Plan, error) {
	return all(ctx, s, "list plans", scanPlan, "SELECT "+planCols+" FROM ai_plans WHERE chat_id = ? ORDER BY created_at, id", chatID)
}

// DecidePlan is one conditional UPDATE: on PostgreSQL a concurrent
// decision waits for the row lock and then finds the status changed, so
// exactly one of them matches.
func (s *Store) DecidePlan(ctx context.Context, id, from, to string, now time.Time) error {
	return s.planTransition(ctx, "decide plan", id, from,
		"UPDATE ai_plans SET status = ?, decided_at = ? WHERE id = ? AND status = ?", to, now, id, from)
}

// planOutcomes are the statuses FinishPlan records.
var planOutcomes = []string{store.PlanDone, store.PlanFailed, store.PlanStale}

func (s *Store) FinishPlan(ctx context.Context, id, status, result string) error {
	if !slices.Contains(planOutcomes, status) {
		return fmt.Errorf("finish plan: status %q is not an outcome (%s)", status, strings.Join(planOutcomes, ", "))
	}
	return s.planTransition(ctx, "finish plan", id, store.PlanConfirmed,
		"UPDATE ai_plans SET status = ?, result = ? WHERE id = ? AND status = ?", status, result, id, store.PlanConfirmed)
}

// planTransition runs update, which changes plan id only if its status
// is from; when it changes nothing, the plan is missing (ErrNotFound) or
// in another status (ErrConflict).
func (s *Store) planTransition(ctx context.Context, op, id, from, update string, args ...any) error {
	err := s.execOne(ctx, s.db, update, args...)
	if errors.Is(err, store.ErrNotFound) {
		var status string
		err = s.db.QueryRowContext(ctx, s.d.rebind("SELECT status FROM ai_plans WHERE id = ?"), id).Scan(&status)
		if err == nil {
			err = fmt.Errorf("plan is %s, not %s: %w", status, from, store.ErrConflict)
		}
		err = s.d.wrapErr(err)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	return nil
}

// Settings.

func (s *Store) GetAISettings(ctx context.Context, orgID string) (store.AISettings, error) {
	v, err := getOne(ctx, s, s.db, func(r rowScanner) (store.AISettings, error) {
		var a store.AISettings
		err := r.Scan(&a.OrgID, &a.Enabled, &a.MonthlyTokenBudget, timeScan{&a.UpdatedAt}, &a.Version)
		return a, err
	}, "SELECT org_id, enabled, monthly_token_budget, updated_at, version FROM ai_settings WHERE org_id = ?", orgID)
	if errors.Is(err, store.ErrNotFound) {
		return store.AISettings{OrgID: orgID, Enabled: true}, nil
	}
	if err != nil {
		return store.AISettings{}, fmt.Errorf("get ai settings: %w", err)
	}
	return v, nil
}

// PutAISettings inserts the row when s.Version is 0 (a concurrent first
// put or a missing organization makes the insert fail: ErrConflict) and
// otherwise updates it only at the stored version s.Version.
func (s *Store) PutAISettings(ctx context.Context, a store.AISettings) (store.AISettings, error) {
	a.UpdatedAt = utc(a.UpdatedAt)
	a.Version++
	var err error
	if a.Version == 1 {
		_, err = s.exec(ctx, s.db, "INSERT INTO ai_settings (org_id, enabled, monthly_token_budget, updated_at, version) VALUES (?, ?, ?, ?, ?)",
			a.OrgID, a.Enabled, a.MonthlyTokenBudget, a.UpdatedAt, a.Version)
	} else {
		err = s.execOne(ctx, s.db, "UPDATE ai_settings SET enabled = ?, monthly_token_budget = ?, updated_at = ?, version = ? WHERE org_id = ? AND version = ?",
			a.Enabled, a.MonthlyTokenBudget, a.UpdatedAt, a.Version, a.OrgID, a.Version-1)
		if errors.Is(err, store.ErrNotFound) {
			err = fmt.Errorf("version %d is not the stored one: %w", a.Version-1, store.ErrConflict)
		}
	}
	if err != nil {
		return store.AISettings{}, fmt.Errorf("put ai settings: %w", err)
	}
	return a, nil
}

// Usage ledger.

func (s *Store) RecordUsage(ctx context.Context, rs ...store.UsageRecord) error {
	return s.inTxAs(ctx, "record usage", func(tx *sql.Tx) error {
		for _, r := range rs {
			if _, err := s.exec(ctx, tx, `INSERT INTO usage_ledger (id, org_id, workspace_id, user_id, meter, subject, quantity, recorded_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
				r.ID, r.OrgID, r.WorkspaceID, r.UserID, r.Meter, r.Subject, r.Quantity, r.RecordedAt); err != nil {
				return err
			}
		}
		return nil
	})
}

// SumUsage binds every condition as a parameter (the meters as one
// placeholder each); only fixed column names enter the SQL text.
func (s *Store) SumUsage(ctx context.Context, f store.UsageFilter) ([]store.UsageTotal, error) {
	var (
		where []string
		args  []any
	)
	eq := func(col, v string) {
		if v != "" {
			where = append(where, col+" = ?")
			args = append(args, v)
		}
	}
	eq("org_id", f.OrgID)
	eq("workspace_id", f.WorkspaceID)
	eq("user_id", f.UserID)
	if len(f.Meters) > 0 {
		where = append(where, "meter IN ("+placeholders(len(f.Meters))+")")
		args = append(args, anys(f.Meters)...)
	}
	if !f.Since.IsZero() {
		where = append(where, "recorded_at >= ?")
		args = append(args, f.Since)
	}
	if !f.Until.IsZero() {
		where = append(where, "recorded_at < ?")
		args = append(args, f.Until)
	}
	q := "SELECT meter, workspace_id, user_id, subject, CAST(SUM(quantity) AS BIGINT) FROM usage_ledger"
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " GROUP BY meter, workspace_id, user_id, subject ORDER BY meter, workspace_id, user_id, subject"
	return all(ctx, s, "sum usage", func(r rowScanner) (store.UsageTotal, error) {
		var u store.UsageTotal
		err := r.Scan(&u.Meter, &u.WorkspaceID, &u.UserID, &u.Subject, &u.Quantity)
		return u, err
	}, q, args...)
}
