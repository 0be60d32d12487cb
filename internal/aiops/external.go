package aiops

import (
	"context"
	"errors"

	"github.com/hexabase/hexabase-ai/internal/aiops/tools"
	"github.com/hexabase/hexabase-ai/internal/httpapi"
	"github.com/hexabase/hexabase-ai/internal/store"
)

// What other front ends of the same registry (the MCP server) use.

// Registry is the tool registry the assistant serves.
func (s *Service) Registry() *tools.Registry { return s.cfg.Tools }

// ExternalURL is the platform's URL (for links to the console).
func (s *Service) ExternalURL() string { return s.cfg.ExternalURL }

// TargetFor resolves a workspace (org: id or slug; workspace: id or
// name) for the caller p and builds the tools' target acting as them: a
// 404 problem unless they see it, 403 when the organization turned the
// assistant off. project, if not "", must be a project they see (404).
func (s *Service) TargetFor(ctx context.Context, p httpapi.Principal, org, workspace, project string) (*tools.Target, error) {
	sc, err := s.cfg.Scopes.ResolveWorkspaceRefs(ctx, p, org, workspace)
	if err != nil {
		return nil, err
	}
	if err := s.enabled(ctx, sc.Org.ID); err != nil {
		return nil, err
	}
	var name string
	if project != "" {
		pr, ok := visibleProject(sc, project)
		if !ok {
			return nil, httpapi.NotFound("project")
		}
		name = pr.Name
	}
	t, err := s.target(ctx, sc, "")
	if err != nil {
		return nil, err
	}
	t.Project = name
	return t, nil
}

// ConfirmFor confirms plan id of the target's caller (see Confirm).
func (s *Service) ConfirmFor(ctx context.Context, t *tools.Target, id string) (store.Plan, error) {
	p, err := s.ownPlan(ctx, t.Scope, id)
	if err != nil {
		return store.Plan{}, err
	}
	out, err := s.Confirm(ctx, t.Scope, p)
	// The REST route's record is the audit middleware's; this one is
	// the MCP confirmation's.
	result, detail := store.AuditSuccess, "confirmed over MCP: "+p.Summary
	if err != nil {
		result, detail = store.AuditFailure, "refused over MCP: "+refusal(err)
	}
	s.auditPlan(ctx, t.Scope, p, "ai.plan.confirm", result, detail)
	return out, err
}

// refusal is what an audit record says of a refused confirmation.
func refusal(err error) string {
	var he *httpapi.Error
	if errors.As(err, &he) {
		return he.Detail
	}
	if _, ok := IsStale(err); ok {
		return err.Error()
	}
	return "the request could not be made"
}

// IsStale reports a confirm refused because the object changed, with the
// fresh plan that replaces it.
func IsStale(err error) (store.Plan, bool) {
	var st *StaleError
	if errors.As(err, &st) {
		return st.Fresh, true
	}
	return store.Plan{}, false
}

// RejectFor rejects plan id of the target's caller.
func (s *Service) RejectFor(ctx context.Context, t *tools.Target, id string) (store.Plan, error) {
	p, err := s.ownPlan(ctx, t.Scope, id)
	if err != nil {
		return store.Plan{}, err
	}
	return s.reject(ctx, t.Scope, p)
}

// maxListed bounds Workspaces.
const maxListed = 200

// Workspaces names the workspaces the caller p sees, as org/workspace
// (at most maxListed).
func (s *Service) Workspaces(ctx context.Context, p httpapi.Principal) ([]string, error) {
	orgs, _, err := s.cfg.Store.ListUserOrganizations(ctx, p.UserID, store.Page{Limit: store.MaxLimit})
	if err != nil {
		return nil, err
	}
	var out []string
	for _, o := range orgs {
		wss, _, err := s.cfg.Store.ListWorkspaces(ctx, o.ID, store.Page{Limit: store.MaxLimit})
		if err != nil {
			return nil, err
		}
		for _, ws := range wss {
			if ws.Status == store.WorkspaceDeleted {
				continue
			}
			if _, err := s.cfg.Scopes.ResolveWorkspaceRefs(ctx, p, o.ID, ws.ID); err != nil {
				continue // hidden from them
			}
			out = append(out, o.Slug+"/"+ws.Name)
			if len(out) == maxListed {
				return out, nil
			}
		}
	}
	return out, nil
}
