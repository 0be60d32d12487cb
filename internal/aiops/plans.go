package aiops

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/hexabase/hexabase-ai/internal/aiops/tools"
	"github.com/hexabase/hexabase-ai/internal/api"
	"github.com/hexabase/hexabase-ai/internal/httpapi"
	"github.com/hexabase/hexabase-ai/internal/store"
	"github.com/hexabase/hexabase-ai/internal/tenancy"
)

// maxResult bounds what a plan keeps of the cluster's answer.
const maxResult = 8 << 10

// planAttempts bounds the reads of an object that keeps changing while a
// plan is made, and the re-plans of a confirm whose diff did not change.
const planAttempts = 3

// PlanURL is the console page of a plan.
func PlanURL(externalURL string, p store.Plan) string {
	return strings.TrimSuffix(externalURL, "/") + "/orgs/" + p.OrgID + "/workspaces/" + p.WorkspaceID + "/assistant/plans/" + p.ID
}

func (s *Service) planOut(_ tenancy.WorkspaceScope, p store.Plan) api.AIPlan {
	out := api.AIPlan{ID: p.ID, ChatID: p.ChatID, OrgID: p.OrgID, WorkspaceID: p.WorkspaceID, Tool: p.Tool, Args: tools.RedactArgs(json.RawMessage(p.Args)),
		Summary: p.Summary, Target: p.Target, Method: p.Method, Path: p.Path, Body: tools.Scrub(p.Body), Diff: p.Diff, Status: p.Status, Result: p.Result,
		CreatedAt: p.CreatedAt, ExpiresAt: p.ExpiresAt, ConfirmURL: PlanURL(s.cfg.ExternalURL, p)}
	if !p.DecidedAt.IsZero() {
		t := p.DecidedAt
		out.DecidedAt = &t
	}
	return out
}

// expire marks a pending plan past its time expired (best effort: a
// failure leaves it pending, and confirm checks the time itself).
func (s *Service) expire(ctx context.Context, p store.Plan) store.Plan {
	now := s.cfg.Now()
	if p.Status != store.PlanPending || now.Before(p.ExpiresAt) {
		return p
	}
	if err := s.cfg.Store.DecidePlan(ctx, p.ID, store.PlanPending, store.PlanExpired, now.UTC().Truncate(timePrecision)); err == nil {
		p.Status, p.DecidedAt = store.PlanExpired, now.UTC().Truncate(timePrecision)
	} else if q, err := s.cfg.Store.GetPlan(ctx, p.ID); err == nil {
		p = q
	}
	return p
}

// makePlan runs a write tool's proposal: the dry run as the caller, the
// diff, and the stored pending plan bound to the caller, the chat, the
// workspace, the request's hash and the object's resourceVersion.
func (s *Service) makePlan(ctx context.Context, t *tools.Target, tool tools.Tool, args json.RawMessage, chatID string) (store.Plan, error) {
	var pr tools.Prepared
	// The object may change between the read and the dry run (its
	// controllers write its status): read it again, a few times.
	for attempt := 1; ; attempt++ {
		prop, err := tool.Propose(ctx, t, args)
		if err != nil {
			return store.Plan{}, err
		}
		pr, err = tools.Prepare(ctx, t, prop)
		if errors.Is(err, tools.ErrStale) && attempt < planAttempts {
			continue
		}
		if err != nil {
			return store.Plan{}, err
		}
		break
	}
	now := s.cfg.Now().UTC().Truncate(timePrecision)
	p := store.Plan{ID: store.NewID(), OrgID: t.Scope.Org.ID, WorkspaceID: t.Scope.Workspace.ID, UserID: t.Scope.Principal.UserID, ChatID: chatID,
		Tool: tool.Name, Args: string(args), Summary: pr.Summary, Target: planTarget(pr.Target), Method: pr.Method, Path: pr.Path, Body: string(pr.Body), Hash: pr.Hash,
		GuardPath: pr.GuardPath, GuardResourceVersion: pr.GuardResourceVersion, Before: pr.BeforeYAML, After: pr.AfterYAML, Diff: pr.Diff,
		Status: store.PlanPending, CreatedAt: now, ExpiresAt: now.Add(PlanTTL)}
	where := namespaceOf(pr.Path)
	if p.Target == tools.TargetPlatform {
		where = projectOfPath(pr.Path)
	}
	if pid := projectOfNamespace(t.Scope, where); pid != "" {
		p.ProjectID = pid
	}
	if err := s.cfg.Store.CreatePlan(ctx, p); err != nil {
		return store.Plan{}, fmt.Errorf("store plan: %w", err)
	}
	return p, nil
}

func planTarget(t string) string {
	if t == "" {
		return tools.TargetWorkspace
	}
	return t
}

// projectOfPath is the project a platform API path names (by name, as the
// tools write it), "" for none.
func projectOfPath(path string) string {
	parts := strings.Split(strings.SplitN(path, "?", 2)[0], "/")
	for i := 0; i+1 < len(parts); i++ {
		if parts[i] == "projects" {
			if v, err := url.PathUnescape(parts[i+1]); err == nil {
				return v
			}
		}
	}
	return ""
}

// namespaceOf is the namespace an API path names, "" for none.
func namespaceOf(path string) string {
	parts := strings.Split(strings.SplitN(path, "?", 2)[0], "/")
	for i := 0; i+1 < len(parts); i++ {
		if parts[i] == "namespaces" {
			return parts[i+1]
		}
	}
	return ""
}

func projectOfNamespace(sc tenancy.WorkspaceScope, ns string) string {
	for _, p := range sc.Projects {
		if p.Name == ns {
			return p.ID
		}
	}
	return ""
}

// ownPlan finds a plan of the caller in the scope's workspace: another
// user's plan is not found.
func (s *Service) ownPlan(ctx context.Context, sc tenancy.WorkspaceScope, id string) (store.Plan, error) {
	p, err := s.cfg.Store.GetPlan(ctx, id)
	if errors.Is(err, store.ErrNotFound) || err == nil && (p.UserID != sc.Principal.UserID || p.WorkspaceID != sc.Workspace.ID) {
		return store.Plan{}, httpapi.NotFound("plan")
	}
	return p, err
}

func (s *Service) getPlan(r *http.Request) (any, error) {
	sc, err := s.cfg.Scopes.ResolveWorkspace(r)
	if err != nil {
		return nil, err
	}
	p, err := s.ownPlan(r.Context(), sc, r.PathValue("plan"))
	if err != nil {
		return nil, err
	}
	return s.planOut(sc, s.expire(r.Context(), p)), nil
}

func (s *Service) rejectPlan(r *http.Request) (any, error) {
	sc, err := s.cfg.Scopes.ResolveWorkspace(r)
	if err != nil {
		return nil, err
	}
	p, err := s.ownPlan(r.Context(), sc, r.PathValue("plan"))
	if err != nil {
		return nil, err
	}
	p, err = s.reject(r.Context(), sc, p)
	if err != nil {
		return nil, err
	}
	return s.planOut(sc, p), nil
}

// take decides a pending plan (to confirmed or rejected), once: a plan
// past its time, or decided already, is answered as such.
func (s *Service) take(ctx context.Context, p store.Plan, to string) (store.Plan, error) {
	now := s.cfg.Now().UTC().Truncate(timePrecision)
	if p.Status == store.PlanPending && !now.Before(p.ExpiresAt) {
		return store.Plan{}, decided(s.expire(ctx, p))
	}
	if err := s.cfg.Store.DecidePlan(ctx, p.ID, store.PlanPending, to, now); errors.Is(err, store.ErrConflict) {
		q, gerr := s.cfg.Store.GetPlan(ctx, p.ID)
		if gerr != nil {
			return store.Plan{}, gerr
		}
		return store.Plan{}, decided(s.expire(ctx, q))
	} else if err != nil {
		return store.Plan{}, err
	}
	p.Status, p.DecidedAt = to, now
	return p, nil
}

// reject marks a pending plan of the scope's caller rejected.
func (s *Service) reject(ctx context.Context, sc tenancy.WorkspaceScope, p store.Plan) (store.Plan, error) {
	p, err := s.take(ctx, p, store.PlanRejected)
	if err != nil {
		return store.Plan{}, err
	}
	s.auditPlan(ctx, sc, p, "ai.plan.reject", store.AuditSuccess, "rejected: "+p.Summary)
	return p, nil
}

// decided is the answer to a decision on a plan that is not pending.
func decided(p store.Plan) *httpapi.Error {
	if p.Status == store.PlanExpired {
		return &httpapi.Error{Status: http.StatusGone, Type: "plan-expired", Title: "Plan expired",
			Detail: fmt.Sprintf("the plan expired at %s (plans may be confirmed for %s): ask the assistant again", p.ExpiresAt.Format(time.RFC3339), PlanTTL)}
	}
	if p.Status == store.PlanStale {
		return &httpapi.Error{Status: http.StatusConflict, Type: "plan-decided", Title: "Plan replaced",
			Detail: "the plan is stale: " + p.Result}
	}
	return &httpapi.Error{Status: http.StatusConflict, Type: "plan-decided", Title: "Plan already decided",
		Detail: fmt.Sprintf("the plan is %s already: a plan is confirmed or rejected once", p.Status)}
}

func (s *Service) confirmPlan(r *http.Request) (any, error) {
	sc, err := s.cfg.Scopes.ResolveWorkspace(r)
	if err != nil {
		return nil, err
	}
	p, err := s.ownPlan(r.Context(), sc, r.PathValue("plan"))
	if err != nil {
		return nil, err
	}
	out, err := s.Confirm(r.Context(), sc, p)
	if err != nil {
		var st *StaleError
		if errors.As(err, &st) {
			e := &httpapi.Error{Status: http.StatusConflict, Type: "plan-stale", Title: "The object changed since the plan",
				Detail: fmt.Sprintf("%s: nothing was changed. A fresh plan %s replaces this one: review its diff and confirm it (`hks ai confirm %s`)", st.Reason, st.Fresh.ID, st.Fresh.ID),
				Header: http.Header{"Location": {path.Dir(path.Dir(r.URL.Path)) + "/" + st.Fresh.ID}}}
			return nil, e
		}
		return nil, err
	}
	return s.planOut(sc, out), nil
}

// StaleError is a confirm refused because the object changed since the
// plan; Fresh is the plan made again against the object as it is now.
type StaleError struct {
	Reason string
	Fresh  store.Plan
}

func (e *StaleError) Error() string { return "stale plan: " + e.Reason }

// Confirm runs a pending plan of the scope's caller, once: the request as
// the caller, through the gateway. A 403 of the cluster is passed on as
// such; an object changed since the plan is a *StaleError carrying a
// fresh plan.
func (s *Service) Confirm(ctx context.Context, sc tenancy.WorkspaceScope, p store.Plan) (store.Plan, error) {
	if p.UserID != sc.Principal.UserID || p.WorkspaceID != sc.Workspace.ID {
		return store.Plan{}, httpapi.NotFound("plan")
	}
	if err := s.enabled(ctx, sc.Org.ID); err != nil {
		return store.Plan{}, err
	}
	p, err := s.take(ctx, p, store.PlanConfirmed)
	if err != nil {
		return store.Plan{}, err
	}
	t, err := s.target(ctx, sc, p.ChatID)
	for attempt := 1; err == nil; attempt++ {
		var res tools.Result
		res, err = s.cfg.Tools.Execute(ctx, t, p)
		if err == nil {
			p.Status, p.Result = store.PlanDone, capText(res.Text, maxResult)
			s.finish(ctx, p)
			s.auditPlan(ctx, sc, p, "ai.plan.execute", store.AuditSuccess, "done: "+p.Summary)
			return p, nil
		}
		if !errors.Is(err, tools.ErrStale) {
			break
		}
		p.Status, p.Result = store.PlanStale, "the object changed since the plan"
		s.finish(ctx, p)
		s.auditPlan(ctx, sc, p, "ai.plan.execute", store.AuditFailure, "stale: "+p.Summary)
		fresh, ferr := s.replan(ctx, t, p)
		if ferr != nil {
			return store.Plan{}, ferr
		}
		s.noteReplaced(ctx, p, fresh)
		// Only the object's status or version moved (its controllers):
		// the change the user confirmed is exactly the fresh plan's, so
		// their confirmation carries over to it.
		if !sameChange(fresh.Diff, p.Diff) || fresh.Method != p.Method || fresh.Path != p.Path || attempt == planAttempts {
			return store.Plan{}, &StaleError{Reason: "the object changed since the plan was made", Fresh: fresh}
		}
		now := s.cfg.Now().UTC().Truncate(timePrecision)
		if err := s.cfg.Store.DecidePlan(ctx, fresh.ID, store.PlanPending, store.PlanConfirmed, now); err != nil {
			return store.Plan{}, err
		}
		p = fresh
		p.Status, p.DecidedAt = store.PlanConfirmed, now
		s.auditPlan(ctx, sc, p, "ai.plan.confirm", store.AuditSuccess, "the same change, re-planned after a status update: "+p.Summary)
		err = nil
	}
	p.Status = store.PlanFailed
	var ce *tools.ClusterError
	result := store.AuditFailure
	if errors.As(err, &ce) {
		p.Result = capText(fmt.Sprintf("%s refused it (%d %s): %s", ce.Who(), ce.Status, ce.Reason, ce.Message), maxResult)
		if ce.Status == http.StatusForbidden {
			result = store.AuditDenied
		}
	} else {
		p.Result = "the request could not be made"
	}
	s.finish(ctx, p)
	s.auditPlan(ctx, sc, p, "ai.plan.execute", result, p.Result)
	if ce != nil {
		return store.Plan{}, clusterProblem(ce)
	}
	return store.Plan{}, err
}

// clusterProblem passes the cluster's refusal on.
func clusterProblem(ce *tools.ClusterError) *httpapi.Error {
	st := ce.Status
	if (st < 400 || st > 499) && st != http.StatusServiceUnavailable {
		st = http.StatusBadGateway
	}
	typ, title := "cluster-refused", "Refused by the workspace cluster"
	if ce.Platform {
		typ, title = "platform-refused", "Refused by the platform"
	}
	if ce.Status == http.StatusForbidden {
		typ = "forbidden"
	}
	return &httpapi.Error{Status: st, Type: typ, Title: title, Detail: ce.Who() + " refused it: " + ce.Message}
}

// finish stores a confirmed plan's outcome (logged on failure: the
// execution happened either way).
func (s *Service) finish(ctx context.Context, p store.Plan) {
	if err := s.cfg.Store.FinishPlan(context.WithoutCancel(ctx), p.ID, p.Status, p.Result); err != nil {
		s.cfg.Logger.ErrorContext(ctx, "record plan outcome", "plan", p.ID, "status", p.Status, "error", err)
	}
}

// noteReplaced records on a stale plan the plan that replaced it, so that
// whoever looks at it later finds its successor.
func (s *Service) noteReplaced(ctx context.Context, old, fresh store.Plan) {
	if err := s.cfg.Store.SetPlanResult(context.WithoutCancel(ctx), old.ID, "the object changed since the plan; plan "+fresh.ID+" replaced it"); err != nil {
		s.cfg.Logger.WarnContext(ctx, "note a plan's successor", "plan", old.ID, "error", err)
	}
}

// replan makes a stale plan again, against the object as it is now.
func (s *Service) replan(ctx context.Context, t *tools.Target, p store.Plan) (store.Plan, error) {
	tool, ok := s.cfg.Tools.Get(p.Tool)
	if !ok || t == nil {
		return store.Plan{}, fmt.Errorf("replan: no tool %q", p.Tool)
	}
	return s.makePlan(ctx, t, tool, json.RawMessage(p.Args), p.ChatID)
}

// auditPlan records a decision on a plan or its execution.
func (s *Service) auditPlan(ctx context.Context, sc tenancy.WorkspaceScope, p store.Plan, action, result, detail string) {
	where := "chat=" + p.ChatID
	if p.ChatID == "" {
		where = "via=mcp"
	}
	s.cfg.Audit.Append(ctx, store.AuditRecord{ActorID: sc.Principal.UserID, ActorEmail: sc.Principal.Email, OrgID: p.OrgID,
		Action: action, TargetType: "ai_plan", TargetID: p.ID, Result: result,
		Detail: fmt.Sprintf("%s tool=%s args=%s: %s", where, p.Tool, tools.RedactArgs(json.RawMessage(p.Args)), detail)})
}

// capText cuts s at n bytes (on a rune boundary), saying so.
func capText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + fmt.Sprintf("\n[truncated: %d more bytes]", len(s)-cut)
}

func utf8RuneStart(b byte) bool { return b&0xC0 != 0x80 }

// sameChange reports whether two diffs make the same change: the same
// lines removed, added and around them, wherever in the object (the
// hunks' line numbers move when something above them changed).
func sameChange(a, b string) bool {
	strip := func(d string) string {
		var out []string
		for _, l := range strings.Split(d, "\n") {
			if !strings.HasPrefix(l, "@@") {
				out = append(out, l)
			}
		}
		return strings.Join(out, "\n")
	}
	return a != "" && strip(a) == strip(b)
}
