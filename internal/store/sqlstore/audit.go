package sqlstore

import (
	"context"
	"strings"
	"unicode/utf8"

	"github.com/hexabase/hexabase-ai/internal/store"
)

const auditColumns = "id, time, actor_id, actor_email, org_id, action, target_type, target_id, result, status, ip, user_agent, request_id, detail"

// AppendAudit adds a record to the append-only audit log.
func (s *Store) AppendAudit(ctx context.Context, r store.AuditRecord) error {
	return s.write(ctx, "append audit", `INSERT INTO audit_log (`+auditColumns+`, actor_email_lower)
VALUES (`+placeholders(15)+`)`,
		r.ID, r.Time, r.ActorID, r.ActorEmail, r.OrgID, r.Action, r.TargetType, r.TargetID, r.Result, r.Status,
		r.IP, r.UserAgent, r.RequestID, r.Detail, strings.ToLower(r.ActorEmail))
}

func scanAudit(row rowScanner) (store.AuditRecord, error) {
	var r store.AuditRecord
	err := row.Scan(&r.ID, timeScan{&r.Time}, &r.ActorID, &r.ActorEmail, &r.OrgID, &r.Action, &r.TargetType, &r.TargetID,
		&r.Result, &r.Status, &r.IP, &r.UserAgent, &r.RequestID, &r.Detail)
	return r, err
}

// ListAudit lists matching records, newest first. Every condition is a
// bound parameter; only fixed column names enter the SQL text.
func (s *Store) ListAudit(ctx context.Context, f store.AuditFilter, p store.Page) ([]store.AuditRecord, string, error) {
	before, err := store.DecodeCursor(p.After)
	if err != nil {
		return nil, "", err
	}
	var where []string
	var args []any
	eq := func(col, v string) {
		if v != "" {
			where = append(where, col+" = ?")
			args = append(args, v)
		}
	}
	eq("org_id", f.OrgID)
	eq("actor_id", f.ActorID)
	eq("actor_email_lower", strings.ToLower(f.ActorEmail))
	eq("action", f.Action)
	eq("result", f.Result)
	eq("target_type", f.TargetType)
	eq("target_id", f.TargetID)
	eq("request_id", f.RequestID)
	if f.Subject != "" {
		where = append(where, "(actor_id = ? OR (actor_id = '' AND actor_email_lower = ? AND actor_email_lower <> ''))")
		args = append(args, f.Subject, strings.ToLower(f.SubjectEmail))
	}
	if f.ActionPrefix != "" {
		// substr instead of LIKE, so that % and _ in the prefix mean
		// themselves; both dialects count characters.
		where = append(where, "substr(action, 1, ?) = ?")
		args = append(args, utf8.RuneCountInString(f.ActionPrefix), f.ActionPrefix)
	}
	if !f.Since.IsZero() {
		where = append(where, "time >= ?")
		args = append(args, f.Since)
	}
	if !f.Until.IsZero() {
		where = append(where, "time < ?")
		args = append(args, f.Until)
	}
	if before != "" {
		where = append(where, "id < ?")
		args = append(args, before)
	}
	q := "SELECT " + auditColumns + " FROM audit_log"
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	return newestFirst(ctx, s, "list audit", p.EffectiveLimit(), scanAudit, func(e store.AuditRecord) string { return e.ID }, q, args...)
}
