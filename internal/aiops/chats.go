package aiops

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/hexabase/hexabase-ai/internal/api"
	"github.com/hexabase/hexabase-ai/internal/httpapi"
	"github.com/hexabase/hexabase-ai/internal/store"
	"github.com/hexabase/hexabase-ai/internal/tenancy"
)

// Paths of the assistant's routes.
const (
	OrgPath       = "/api/v1/organizations/{org}"
	WorkspacePath = OrgPath + "/workspaces/{workspace}"
	ProjectPath   = WorkspacePath + "/projects/{project}"
	chatsPath     = WorkspacePath + "/ai/chats"
	chatPath      = chatsPath + "/{chat}"
	plansPath     = WorkspacePath + "/ai/plans"
	planPath      = plansPath + "/{plan}"
)

// Routes returns the assistant's routes.
func (s *Service) Routes() []httpapi.Route {
	kubeErrs := []int{http.StatusForbidden, http.StatusConflict, http.StatusServiceUnavailable}
	turnErrs := []int{http.StatusForbidden, http.StatusConflict, http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable}
	return []httpapi.Route{
		{Method: "GET", Path: OrgPath + "/ai", Tag: "assistant", Summary: "The organization's assistant settings (on or off, monthly token budget) and its token use this month",
			Response: api.AISettings{}, Handle: s.getSettings},
		{Method: "PATCH", Path: OrgPath + "/ai", Tag: "assistant", Summary: "Turn the assistant on or off for the organization, set its monthly token budget (owner, admin); If-Match or resource_version make it conditional (412 when stale)",
			Request: api.PatchAISettingsRequest{}, Response: api.AISettings{}, Errors: []int{http.StatusForbidden, http.StatusPreconditionFailed}, Action: "ai.settings.update", Handle: s.patchSettings},
		{Method: "GET", Path: OrgPath + "/ai/status", Tag: "assistant", Summary: "What the assistant can do here: on or off for the organization, the configured models (no keys), the tools",
			Response: api.AIStatus{}, Handle: s.status},
		{Method: "GET", Path: OrgPath + "/usage", Tag: "assistant", Summary: "The organization's usage ledger summed by meter, workspace, user and model over a period (owner, admin); default: this month",
			Response: api.UsageReport{}, Query: []httpapi.Param{{Name: "since", Description: "RFC 3339 time (default: the start of this month, UTC)"}, {Name: "until", Description: "RFC 3339 time (default: now)"}},
			Errors: []int{http.StatusForbidden}, Handle: s.usage},
		{Method: "GET", Path: chatsPath, Tag: "assistant", Summary: "The caller's chats about the workspace, newest first", Response: api.List[api.AIChat]{}, Query: httpapi.PageQuery, Handle: s.listChats},
		{Method: "POST", Path: chatsPath, Tag: "assistant", Summary: "Start a chat with the assistant about the workspace or one of its projects", Request: api.CreateChatRequest{}, Response: api.AIChat{},
			Status: http.StatusCreated, Errors: []int{http.StatusForbidden}, Action: "ai.chat.create", Handle: s.createChat},
		{Method: "GET", Path: chatPath, Tag: "assistant", Summary: "A chat of the caller with its messages (tool calls and their results included) and plans", Response: api.AIChatDetail{}, Handle: s.getChat},
		{Method: "DELETE", Path: chatPath, Tag: "assistant", Summary: "Delete a chat of the caller with its messages and plans", Status: http.StatusNoContent, Action: "ai.chat.delete", Handle: s.deleteChat},
		{Method: "POST", Path: chatPath + "/messages", Tag: "assistant", Summary: "Send a message: the assistant answers, calling tools as the caller; writes become plans to confirm. With Accept: text/event-stream the answer streams as Server-Sent Events (delta, message, plan, done, error)",
			Request: api.SendMessageRequest{}, Response: api.AITurn{}, Errors: turnErrs, Stream: true, Action: "ai.chat.message", Raw: http.HandlerFunc(s.serveMessage)},
		{Method: "GET", Path: planPath, Tag: "assistant", Summary: "A plan of the caller: the request, its dry run's diff, its status", Response: api.AIPlan{}, Handle: s.getPlan},
		{Method: "POST", Path: planPath + "/confirm", Tag: "assistant", Summary: "Confirm a pending plan of the caller (once, within 5 minutes): its request runs as the caller; 409 with a fresh plan (Location) when the object changed since; the cluster's 403 is passed on",
			Response: api.AIPlan{}, Errors: []int{http.StatusForbidden, http.StatusConflict, http.StatusGone, http.StatusServiceUnavailable}, Action: "ai.plan.confirm", Handle: s.confirmPlan},
		{Method: "POST", Path: planPath + "/reject", Tag: "assistant", Summary: "Reject a pending plan of the caller: it will never run", Response: api.AIPlan{}, Errors: []int{http.StatusConflict}, Action: "ai.plan.reject", Handle: s.rejectPlan},
		{Method: "GET", Path: WorkspacePath + "/diagnose", Tag: "assistant", Summary: "Run the analyzers (no model needed) over the projects of the workspace the caller sees, or one of them, as the caller",
			Response: api.Diagnosis{}, Query: []httpapi.Param{{Name: "project", Description: "id or name of one project (default: every project the caller sees)"}}, Errors: kubeErrs, Handle: s.diagnoseWorkspace},
		{Method: "GET", Path: ProjectPath + "/diagnose", Tag: "assistant", Summary: "Run the analyzers (no model needed) over a project, as the caller", Response: api.Diagnosis{}, Errors: kubeErrs, Handle: s.diagnoseProject},
	}
}

// chatOut is the wire form of a chat.
func chatOut(c store.Chat, projectName string) api.AIChat {
	return api.AIChat{ID: c.ID, OrgID: c.OrgID, WorkspaceID: c.WorkspaceID, ProjectID: c.ProjectID, Project: projectName,
		Title: c.Title, CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt}
}

func messageOut(m store.ChatMessage) api.AIMessage {
	out := api.AIMessage{ID: m.ID, Seq: m.Seq, Role: m.Role, Content: m.Content, ToolCallID: m.ToolCallID, Tool: m.ToolName,
		ToolArgs: m.ToolArgs, IsError: m.IsError, PlanID: m.PlanID, Model: m.Model, CreatedAt: m.CreatedAt}
	if m.ToolCalls != "" {
		_ = json.Unmarshal([]byte(m.ToolCalls), &out.ToolCalls) // stored by this package: valid
	}
	return out
}

// projectName names a chat's project among the scope's.
func projectName(sc tenancy.WorkspaceScope, id string) string {
	for _, p := range sc.Projects {
		if p.ID == id {
			return p.Name
		}
	}
	return ""
}

// ownChat finds a chat of the caller in the scope's workspace: another
// user's chat, or one of another workspace, is not found.
func (s *Service) ownChat(r *http.Request, sc tenancy.WorkspaceScope) (store.Chat, error) {
	c, err := s.cfg.Store.GetChat(r.Context(), r.PathValue("chat"))
	if errors.Is(err, store.ErrNotFound) || err == nil && (c.UserID != sc.Principal.UserID || c.WorkspaceID != sc.Workspace.ID) {
		return store.Chat{}, httpapi.NotFound("chat")
	}
	return c, err
}

func (s *Service) listChats(r *http.Request) (any, error) {
	sc, err := s.cfg.Scopes.ResolveWorkspace(r)
	if err != nil {
		return nil, err
	}
	page, err := httpapi.PageFromQuery(r)
	if err != nil {
		return nil, err
	}
	cs, next, err := s.cfg.Store.ListChats(r.Context(), sc.Principal.UserID, sc.Workspace.ID, page)
	if err != nil {
		return nil, err
	}
	out := make([]api.AIChat, 0, len(cs))
	for _, c := range cs {
		out = append(out, chatOut(c, projectName(sc, c.ProjectID)))
	}
	return httpapi.NewList(out, next), nil
}

func (s *Service) createChat(r *http.Request) (any, error) {
	sc, err := s.cfg.Scopes.ResolveWorkspace(r)
	if err != nil {
		return nil, err
	}
	var req api.CreateChatRequest
	if err := httpapi.DecodeJSON(r, &req); err != nil {
		return nil, err
	}
	if err := s.enabled(r.Context(), sc.Org.ID); err != nil {
		return nil, err
	}
	req.Title = strings.TrimSpace(req.Title)
	if utf8.RuneCountInString(req.Title) > 200 || !printable(req.Title) {
		return nil, httpapi.Invalid(httpapi.Field("title", "must be at most 200 printable characters"))
	}
	c := store.Chat{ID: store.NewID(), OrgID: sc.Org.ID, WorkspaceID: sc.Workspace.ID, UserID: sc.Principal.UserID, Title: req.Title}
	if req.Project != "" {
		p, ok := visibleProject(sc, req.Project)
		if !ok {
			return nil, httpapi.Invalid(httpapi.Field("project", "no such project in this workspace"))
		}
		c.ProjectID = p.ID
	}
	now := s.cfg.Now().UTC().Truncate(timePrecision)
	c.CreatedAt, c.UpdatedAt = now, now
	if err := s.cfg.Store.CreateChat(r.Context(), c); err != nil {
		return nil, err
	}
	return chatOut(c, projectName(sc, c.ProjectID)), nil
}

// visibleProject finds a project of the scope the caller sees, by id or name.
func visibleProject(sc tenancy.WorkspaceScope, ref string) (store.Project, bool) {
	for _, p := range sc.VisibleProjects() {
		if p.ID == ref || p.Name == ref {
			return p, true
		}
	}
	return store.Project{}, false
}

func (s *Service) getChat(r *http.Request) (any, error) {
	sc, err := s.cfg.Scopes.ResolveWorkspace(r)
	if err != nil {
		return nil, err
	}
	c, err := s.ownChat(r, sc)
	if err != nil {
		return nil, err
	}
	ms, err := s.cfg.Store.ListMessages(r.Context(), c.ID)
	if err != nil {
		return nil, err
	}
	ps, err := s.cfg.Store.ListPlans(r.Context(), c.ID)
	if err != nil {
		return nil, err
	}
	out := api.AIChatDetail{AIChat: chatOut(c, projectName(sc, c.ProjectID)), Messages: make([]api.AIMessage, 0, len(ms)), Plans: make([]api.AIPlan, 0, len(ps))}
	for _, m := range ms {
		out.Messages = append(out.Messages, messageOut(m))
	}
	for _, p := range ps {
		out.Plans = append(out.Plans, s.planOut(sc, s.expire(r.Context(), p)))
	}
	return out, nil
}

func (s *Service) deleteChat(r *http.Request) (any, error) {
	sc, err := s.cfg.Scopes.ResolveWorkspace(r)
	if err != nil {
		return nil, err
	}
	c, err := s.ownChat(r, sc)
	if err != nil {
		return nil, err
	}
	if err := s.cfg.Store.DeleteChat(r.Context(), c.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	return nil, nil
}

// printable reports whether s has no control characters.
func printable(s string) bool {
	for _, r := range s {
		if r < 0x20 && r != '\t' || r == 0x7f {
			return false
		}
	}
	return utf8.ValidString(s)
}
