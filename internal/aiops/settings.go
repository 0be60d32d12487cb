package aiops

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/hexabase/hexabase-ai/internal/api"
	"github.com/hexabase/hexabase-ai/internal/httpapi"
	"github.com/hexabase/hexabase-ai/internal/store"
)

// timePrecision is what the store keeps of times.
const timePrecision = time.Microsecond

// maxBudget bounds a monthly token budget.
const maxBudget = 1_000_000_000_000

// aiMeters are the ledger's meters a budget counts.
var aiMeters = []string{store.MeterAIPromptTokens, store.MeterAICompletionTokens}

// month is the calendar month (UTC) of t: its start and the next one's.
func month(t time.Time) (start, next time.Time) {
	t = t.UTC()
	start = time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
	return start, start.AddDate(0, 1, 0)
}

// member answers the caller's membership of the path's organization: 404
// for a non-member, as everywhere.
func (s *Service) member(r *http.Request) (httpapi.Principal, store.OrgMember, error) {
	p, err := httpapi.MustPrincipal(r)
	if err != nil {
		return p, store.OrgMember{}, err
	}
	m, err := s.cfg.Store.GetOrgMember(r.Context(), r.PathValue("org"), p.UserID)
	if errors.Is(err, store.ErrNotFound) {
		return p, m, httpapi.NotFound("organization")
	}
	return p, m, err
}

func isAdmin(m store.OrgMember) bool { return m.Role == store.RoleOwner || m.Role == store.RoleAdmin }

// used is the organization's AI tokens this month.
func (s *Service) used(ctx context.Context, orgID string, now time.Time) (int64, time.Time, error) {
	start, next := month(now)
	ts, err := s.cfg.Store.SumUsage(ctx, store.UsageFilter{OrgID: orgID, Meters: aiMeters, Since: start, Until: next})
	if err != nil {
		return 0, next, fmt.Errorf("sum usage: %w", err)
	}
	var n int64
	for _, t := range ts {
		n += t.Quantity
	}
	return n, next, nil
}

func (s *Service) settingsOut(ctx context.Context, st store.AISettings) (api.AISettings, error) {
	n, reset, err := s.used(ctx, st.OrgID, s.cfg.Now())
	if err != nil {
		return api.AISettings{}, err
	}
	return api.AISettings{Enabled: st.Enabled, MonthlyTokenBudget: st.MonthlyTokenBudget, UsedThisMonth: n, ResetsAt: reset,
		ResourceVersion: strconv.FormatInt(st.Version, 10), UpdatedAt: st.UpdatedAt}, nil
}

func (s *Service) getSettings(r *http.Request) (any, error) {
	_, m, err := s.member(r)
	if err != nil {
		return nil, err
	}
	st, err := s.cfg.Store.GetAISettings(r.Context(), m.OrgID)
	if err != nil {
		return nil, err
	}
	out, err := s.settingsOut(r.Context(), st)
	if err != nil {
		return nil, err
	}
	return &httpapi.Response{Header: http.Header{"Etag": {httpapi.ETag(out.ResourceVersion)}}, Body: out}, nil
}

func (s *Service) patchSettings(r *http.Request) (any, error) {
	_, m, err := s.member(r)
	if err != nil {
		return nil, err
	}
	if !isAdmin(m) {
		return nil, httpapi.Forbidden("only the organization's owners and admins may change its assistant settings")
	}
	patch, err := httpapi.DecodeMergePatch(r)
	if err != nil {
		return nil, err
	}
	for {
		cur, err := s.cfg.Store.GetAISettings(r.Context(), m.OrgID)
		if err != nil {
			return nil, err
		}
		curOut := api.PatchAISettingsRequest{Enabled: &cur.Enabled, MonthlyTokenBudget: &cur.MonthlyTokenBudget}
		var want api.PatchAISettingsRequest
		if err := patch.Apply(curOut, &want); err != nil {
			return nil, err
		}
		if err := httpapi.CheckVersion(r, want.ResourceVersion, strconv.FormatInt(cur.Version, 10)); err != nil {
			return nil, err
		}
		if want.Enabled == nil || want.MonthlyTokenBudget == nil {
			return nil, httpapi.Invalid(httpapi.Field("enabled", "must not be null"))
		}
		if b := *want.MonthlyTokenBudget; b < 0 || b > maxBudget {
			return nil, httpapi.Invalid(httpapi.Field("monthly_token_budget", fmt.Sprintf("must be 0 (no cap) to %d", int64(maxBudget))))
		}
		next := cur
		next.Enabled, next.MonthlyTokenBudget = *want.Enabled, *want.MonthlyTokenBudget
		next.UpdatedAt = s.cfg.Now().UTC().Truncate(timePrecision)
		saved, err := s.cfg.Store.PutAISettings(r.Context(), next)
		if errors.Is(err, store.ErrConflict) {
			if want.ResourceVersion != "" || r.Header.Get("If-Match") != "" {
				return nil, httpapi.PreconditionFailed(strconv.FormatInt(cur.Version+1, 10))
			}
			continue // another admin's change came first: apply the patch to it
		}
		if err != nil {
			return nil, err
		}
		out, err := s.settingsOut(r.Context(), saved)
		if err != nil {
			return nil, err
		}
		return &httpapi.Response{Header: http.Header{"Etag": {httpapi.ETag(out.ResourceVersion)}}, Body: out}, nil
	}
}

// enabled refuses when the organization turned the assistant off.
func (s *Service) enabled(ctx context.Context, orgID string) error {
	st, err := s.cfg.Store.GetAISettings(ctx, orgID)
	if err != nil {
		return err
	}
	if !st.Enabled {
		return &httpapi.Error{Status: http.StatusForbidden, Type: "assistant-disabled", Title: "The assistant is turned off",
			Detail: "the organization's admins turned the assistant off (PATCH /api/v1/organizations/{org}/ai); the analyzers still work: `hks ai diagnose` or GET …/workspaces/{workspace}/diagnose"}
	}
	return nil
}

// withinBudget refuses when the organization used its monthly tokens.
func (s *Service) withinBudget(ctx context.Context, orgID string) error {
	st, err := s.cfg.Store.GetAISettings(ctx, orgID)
	if err != nil {
		return err
	}
	if st.MonthlyTokenBudget == 0 {
		return nil
	}
	now := s.cfg.Now()
	n, reset, err := s.used(ctx, orgID, now)
	if err != nil {
		return err
	}
	if n < st.MonthlyTokenBudget {
		return nil
	}
	return budgetExceeded(st.MonthlyTokenBudget, n, reset, now)
}

func budgetExceeded(budget, used int64, reset, now time.Time) *httpapi.Error {
	retry := int64(reset.Sub(now).Seconds()) + 1
	return &httpapi.Error{Status: http.StatusTooManyRequests, Type: "token-budget-exceeded", Title: "Monthly token budget used up",
		Detail: fmt.Sprintf("the organization used %d of its monthly budget of %d tokens; it resets at %s", used, budget, reset.Format(time.RFC3339)),
		Header: http.Header{"Retry-After": {strconv.FormatInt(retry, 10)}}}
}

func (s *Service) status(r *http.Request) (any, error) {
	_, m, err := s.member(r)
	if err != nil {
		return nil, err
	}
	st, err := s.cfg.Store.GetAISettings(r.Context(), m.OrgID)
	if err != nil {
		return nil, err
	}
	out := api.AIStatus{Enabled: st.Enabled, Models: []api.AIModel{}, Tools: s.toolsOut()}
	for i, c := range s.cfg.Models {
		p := c.Provider()
		out.Models = append(out.Models, api.AIModel{Provider: p.Name, Model: p.Model, Default: i == 0, Anonymize: p.Anonymize})
	}
	return out, nil
}

func (s *Service) toolsOut() []api.AITool {
	var out []api.AITool
	for _, t := range s.cfg.Tools.List() {
		schema, _ := json.Marshal(t.Schema) // the registry validated it
		out = append(out, api.AITool{Name: t.Name, Description: t.Description, Effect: string(t.Effect), Schema: schema})
	}
	return out
}

func (s *Service) usage(r *http.Request) (any, error) {
	_, m, err := s.member(r)
	if err != nil {
		return nil, err
	}
	if !isAdmin(m) {
		return nil, httpapi.Forbidden("only the organization's owners and admins may read its usage")
	}
	now := s.cfg.Now().UTC()
	since, _ := month(now)
	until := now
	q := r.URL.Query()
	for _, f := range []struct {
		name string
		dst  *time.Time
	}{{"since", &since}, {"until", &until}} {
		if v := q.Get(f.name); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				return nil, httpapi.Invalid(httpapi.Field(f.name, "must be an RFC 3339 time such as 2026-12-01T00:00:00Z"))
			}
			*f.dst = t.UTC()
		}
	}
	if !until.After(since) {
		return nil, httpapi.Invalid(httpapi.Field("until", "must be after since"))
	}
	ts, err := s.cfg.Store.SumUsage(r.Context(), store.UsageFilter{OrgID: m.OrgID, Since: since, Until: until})
	if err != nil {
		return nil, err
	}
	out := api.UsageReport{Since: since, Until: until, Totals: make([]api.UsageTotal, 0, len(ts))}
	for _, t := range ts {
		out.Totals = append(out.Totals, api.UsageTotal{Meter: t.Meter, WorkspaceID: t.WorkspaceID, UserID: t.UserID, Subject: t.Subject, Quantity: t.Quantity})
	}
	return out, nil
}
