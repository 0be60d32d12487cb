package storetest

import (
	"database/sql"
	"testing"
	"time"

	"github.com/hexabase/hexabase-ai/internal/store"
)

// auditRecord returns a record at f's clock with the given fields.
func (f *fixture) auditRecord(orgID, actorID, actorEmail, action, result string) store.AuditRecord {
	return store.AuditRecord{
		ID: store.NewID(), Time: f.tick(), ActorID: actorID, ActorEmail: actorEmail, OrgID: orgID,
		Action: action, TargetType: "workspace", TargetID: "ws-" + action, Result: result, Status: 201,
		IP: "192.0.2.7", UserAgent: "curl/8", RequestID: "req-" + store.NewID(), Detail: "POST /x",
	}
}

func auditIDs(rs []store.AuditRecord) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.ID
	}
	return out
}

func testAudit(t *testing.T, f *fixture) {
	owner, o := f.acme()
	other := f.org(owner, "other")

	a1 := f.auditRecord(o.ID, owner.ID, owner.Email, "workspace.create", store.AuditSuccess)
	a2 := f.auditRecord(o.ID, owner.ID, owner.Email, "workspace.delete", store.AuditDenied)
	a2.TargetType, a2.TargetID, a2.Status = "project", "p1", 403
	a3 := f.auditRecord("", "", "Owner@Example.com", "auth.login.failed", store.AuditFailure)
	a3.Status = 401
	a4 := f.auditRecord("", owner.ID, owner.Email, "auth.login", store.AuditSuccess)
	a5 := f.auditRecord(other.ID, "someone-else", "else@example.com", "organization.update", store.AuditSuccess)
	a6 := f.auditRecord("", "", "stranger@example.com", "auth.login.failed", store.AuditFailure)
	// A prefix with LIKE wildcards must match literally.
	a7 := f.auditRecord("", owner.ID, owner.Email, "authXlogin", store.AuditSuccess)
	all := []store.AuditRecord{a1, a2, a3, a4, a5, a6, a7}
	for _, r := range all {
		ok(t, f.s.AppendAudit(f.ctx, r))
	}
	wantErr(t, f.s.AppendAudit(f.ctx, a1), store.ErrConflict)

	// Round trip: every field, newest first.
	got, next, err := f.s.ListAudit(f.ctx, store.AuditFilter{}, store.Page{})
	ok(t, err)
	equal(t, next, "")
	equal(t, got, []store.AuditRecord{a7, a6, a5, a4, a3, a2, a1})

	for _, tc := range []struct {
		name string
		f    store.AuditFilter
		want []store.AuditRecord
	}{
		{"org", store.AuditFilter{OrgID: o.ID}, []store.AuditRecord{a2, a1}},
		{"other org", store.AuditFilter{OrgID: other.ID}, []store.AuditRecord{a5}},
		{"unknown org", store.AuditFilter{OrgID: store.NewID()}, []store.AuditRecord{}},
		{"actor id", store.AuditFilter{ActorID: owner.ID}, []store.AuditRecord{a7, a4, a2, a1}},
		{"actor email, any case", store.AuditFilter{ActorEmail: "OWNER@example.COM"}, []store.AuditRecord{a7, a4, a3, a2, a1}},
		{"action", store.AuditFilter{Action: "workspace.delete"}, []store.AuditRecord{a2}},
		{"action prefix", store.AuditFilter{ActionPrefix: "auth."}, []store.AuditRecord{a6, a4, a3}},
		{"action prefix with wildcard", store.AuditFilter{ActionPrefix: "auth_"}, []store.AuditRecord{}},
		{"action prefix with percent", store.AuditFilter{ActionPrefix: "%"}, []store.AuditRecord{}},
		{"result", store.AuditFilter{Result: store.AuditFailure}, []store.AuditRecord{a6, a3}},
		{"target type", store.AuditFilter{TargetType: "project"}, []store.AuditRecord{a2}},
		{"target id", store.AuditFilter{TargetID: "p1"}, []store.AuditRecord{a2}},
		{"request id", store.AuditFilter{RequestID: a5.RequestID}, []store.AuditRecord{a5}},
		{"since inclusive", store.AuditFilter{Since: a6.Time}, []store.AuditRecord{a7, a6}},
		{"until exclusive", store.AuditFilter{Until: a2.Time}, []store.AuditRecord{a1}},
		{"window", store.AuditFilter{Since: a2.Time, Until: a4.Time}, []store.AuditRecord{a3, a2}},
		{"subject: own records and anonymous ones naming the email", store.AuditFilter{Subject: owner.ID, SubjectEmail: owner.Email, ActionPrefix: "auth."},
			[]store.AuditRecord{a4, a3}},
		{"subject without email", store.AuditFilter{Subject: owner.ID, ActionPrefix: "auth."}, []store.AuditRecord{a4}},
		{"combined", store.AuditFilter{OrgID: o.ID, ActorID: owner.ID, Result: store.AuditSuccess, Action: "workspace.create"}, []store.AuditRecord{a1}},
		{"injection is a value", store.AuditFilter{Action: "' OR 1=1 --"}, []store.AuditRecord{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, _, err := f.s.ListAudit(f.ctx, tc.f, store.Page{})
			ok(t, err)
			equal(t, auditIDs(got), auditIDs(tc.want))
		})
	}

	t.Run("pagination", func(t *testing.T) {
		want := auditIDs([]store.AuditRecord{a7, a6, a5, a4, a3, a2, a1})
		for _, limit := range []int{1, 2, 3, 7, 8} {
			var got []string
			cursor := ""
			for pages := 0; ; pages++ {
				if pages > len(want) {
					t.Fatalf("limit %d: pagination does not end", limit)
				}
				page, next, err := f.s.ListAudit(f.ctx, store.AuditFilter{}, store.Page{After: cursor, Limit: limit})
				ok(t, err)
				if len(page) > limit || (next != "" && len(page) != limit) {
					t.Fatalf("limit %d: page of %d, next %q", limit, len(page), next)
				}
				got = append(got, auditIDs(page)...)
				if next == "" {
					break
				}
				cursor = next
			}
			equal(t, got, want)
		}
		// Filters and cursors combine.
		page, next, err := f.s.ListAudit(f.ctx, store.AuditFilter{ActorID: owner.ID}, store.Page{Limit: 2})
		ok(t, err)
		equal(t, auditIDs(page), auditIDs([]store.AuditRecord{a7, a4}))
		page, next, err = f.s.ListAudit(f.ctx, store.AuditFilter{ActorID: owner.ID}, store.Page{After: next, Limit: 2})
		ok(t, err)
		equal(t, auditIDs(page), auditIDs([]store.AuditRecord{a2, a1}))
		equal(t, next, "")
		for _, bad := range []string{"garbage!", "YWJj", store.EncodeCursor("x") + "!"} {
			_, _, err := f.s.ListAudit(f.ctx, store.AuditFilter{}, store.Page{After: bad})
			wantErr(t, err, store.ErrInvalidCursor)
		}
	})

	t.Run("records outlive their organization", func(t *testing.T) {
		ok(t, f.s.DeleteOrganization(f.ctx, other.ID))
		got, _, err := f.s.ListAudit(f.ctx, store.AuditFilter{OrgID: other.ID}, store.Page{})
		ok(t, err)
		equal(t, auditIDs(got), []string{a5.ID})
	})

	t.Run("append-only at the database", func(t *testing.T) {
		dbs, isSQL := f.s.(interface{ DB() *sql.DB })
		if !isSQL {
			t.Skip("backend has no SQL database")
		}
		db := dbs.DB()
		for _, stmt := range []string{
			"UPDATE audit_log SET result = 'success'",
			"UPDATE audit_log SET detail = 'rewritten' WHERE action = 'workspace.delete'",
			"DELETE FROM audit_log",
			"DELETE FROM audit_log WHERE action = 'auth.login.failed'",
		} {
			if _, err := db.ExecContext(f.ctx, stmt); err == nil {
				t.Errorf("%s: succeeded, want the database to refuse it", stmt)
			}
		}
		got, _, err := f.s.ListAudit(f.ctx, store.AuditFilter{}, store.Page{})
		ok(t, err)
		equal(t, got, []store.AuditRecord{a7, a6, a5, a4, a3, a2, a1})
		// Inserting still works after the refusals.
		a8 := f.auditRecord("", "", "", "auth.setup", store.AuditSuccess)
		a8.Time = f.now.Add(time.Hour)
		ok(t, f.s.AppendAudit(f.ctx, a8))
	})
}
