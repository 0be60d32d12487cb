package audit

import (
	"errors"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/hexabase/hexabase-ai/internal/api"
	"github.com/hexabase/hexabase-ai/internal/httpapi"
	"github.com/hexabase/hexabase-ai/internal/store"
)

func recordOut(r store.AuditRecord) api.Record {
	return api.Record{ID: r.ID, Time: r.Time, ActorID: r.ActorID, ActorEmail: r.ActorEmail, OrgID: r.OrgID, Action: r.Action,
		TargetType: r.TargetType, TargetID: r.TargetID, Result: r.Result, Status: r.Status, SourceIP: r.IP,
		UserAgent: r.UserAgent, RequestID: r.RequestID, Detail: r.Detail}
}

func listOut(rs []store.AuditRecord, next string) api.List[api.Record] {
	out := make([]api.Record, len(rs))
	for i, r := range rs {
		out[i] = recordOut(r)
	}
	return httpapi.NewList(out, next)
}

var (
	filterQuery = []httpapi.Param{
		{Name: "actor", Type: "string", Description: "the actor's user id, or an email (case-insensitive)"},
		{Name: "action", Type: "string", Description: "an action such as workspace.create, or a prefix ending in * such as auth.*"},
		{Name: "result", Type: "string", Description: "success, failure or denied"},
		{Name: "target", Type: "string", Description: "the target's id, or type:id (such as workspace:0192…)"},
		{Name: "since", Type: "string", Description: "RFC 3339 time; records at or after it"},
		{Name: "until", Type: "string", Description: "RFC 3339 time; records before it"},
	}
	actionPattern = regexp.MustCompile(`^[a-z0-9_]+(\.[a-z0-9_]+)*(\.\*|\*)?$`)
)

// Routes returns the audit log's read routes. l may be a zero Log when only
// the route table is wanted (the OpenAPI document).
func (l *Log) Routes() []httpapi.Route {
	return []httpapi.Route{
		{Method: "GET", Path: "/api/v1/organizations/{org}/audit", Tag: "audit", Summary: "The organization's audit log, newest first (owner, admin)",
			Response: api.List[api.Record]{}, Query: append(append([]httpapi.Param(nil), filterQuery...), httpapi.PageQuery...),
			Errors: []int{http.StatusForbidden}, Handle: l.orgAudit},
		{Method: "GET", Path: "/auth/security-logs", Tag: "auth", Summary: "The caller's own security events (sign-ins, failed sign-ins as their email, 2FA, sessions), newest first",
			Response: api.List[api.Record]{}, Query: httpapi.PageQuery, Handle: l.securityLogs},
	}
}

func (l *Log) orgAudit(r *http.Request) (any, error) {
	p, err := httpapi.MustPrincipal(r)
	if err != nil {
		return nil, err
	}
	orgID := r.PathValue("org")
	m, err := l.st.GetOrgMember(r.Context(), orgID, p.UserID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, httpapi.NotFound("organization")
	}
	if err != nil {
		return nil, err
	}
	if m.Role != store.RoleOwner && m.Role != store.RoleAdmin {
		return nil, httpapi.Forbidden("only the organization's owners and admins may read its audit log")
	}
	f, err := filterFromQuery(r)
	if err != nil {
		return nil, err
	}
	f.OrgID = orgID
	page, err := httpapi.PageFromQuery(r)
	if err != nil {
		return nil, err
	}
	rs, next, err := l.st.ListAudit(r.Context(), f, page)
	if err != nil {
		return nil, err
	}
	return listOut(rs, next), nil
}

func (l *Log) securityLogs(r *http.Request) (any, error) {
	p, err := httpapi.MustPrincipal(r)
	if err != nil {
		return nil, err
	}
	page, err := httpapi.PageFromQuery(r)
	if err != nil {
		return nil, err
	}
	rs, next, err := l.st.ListAudit(r.Context(), store.AuditFilter{Subject: p.UserID, SubjectEmail: p.Email, ActionPrefix: "auth."}, page)
	if err != nil {
		return nil, err
	}
	return listOut(rs, next), nil
}

// filterFromQuery reads and validates the filters of the org audit list.
func filterFromQuery(r *http.Request) (store.AuditFilter, error) {
	q := r.URL.Query()
	var f store.AuditFilter
	var fes []api.FieldError
	if v := q.Get("actor"); v != "" {
		switch {
		case len(v) > 320 || !utf8Printable(v):
			fes = append(fes, httpapi.Field("actor", "must be a user id or an email of at most 320 characters"))
		case strings.Contains(v, "@"):
			f.ActorEmail = v
		default:
			f.ActorID = v
		}
	}
	if v := q.Get("action"); v != "" {
		switch {
		case len(v) > 100 || !actionPattern.MatchString(v):
			fes = append(fes, httpapi.Field("action", "must be an action such as workspace.create, or a prefix ending in * such as auth.*"))
		case strings.HasSuffix(v, "*"):
			f.ActionPrefix = strings.TrimSuffix(v, "*")
		default:
			f.Action = v
		}
	}
	if v := q.Get("result"); v != "" {
		if v != store.AuditSuccess && v != store.AuditFailure && v != store.AuditDenied {
			fes = append(fes, httpapi.Field("result", "must be success, failure or denied"))
		}
		f.Result = v
	}
	if v := q.Get("target"); v != "" {
		typ, id, typed := strings.Cut(v, ":")
		switch {
		case len(v) > 320 || !utf8Printable(v) || (typed && (typ == "" || id == "")):
			fes = append(fes, httpapi.Field("target", "must be an id, or type:id, of at most 320 characters"))
		case typed:
			f.TargetType, f.TargetID = typ, id
		default:
			f.TargetID = v
		}
	}
	for _, tf := range []struct {
		name string
		dst  *time.Time
	}{{httpapi.SinceParam, &f.Since}, {"until", &f.Until}} {
		t, fe := httpapi.TimeQuery(r, tf.name)
		if fe != nil {
			fes = append(fes, *fe)
			continue
		}
		*tf.dst = t
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Until.After(f.Since) {
		fes = append(fes, httpapi.Field("until", "must be after since"))
	}
	if len(fes) > 0 {
		return f, httpapi.Invalid(fes...)
	}
	return f, nil
}

// utf8Printable reports whether s is valid UTF-8 without control characters.
func utf8Printable(s string) bool {
	for _, c := range s {
		if c == 0xFFFD || c < 0x20 || c == 0x7F {
			return false
		}
	}
	return true
}
