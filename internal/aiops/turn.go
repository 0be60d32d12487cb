package aiops

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/hexabase/hexabase-ai/internal/aiops/llm"
	"github.com/hexabase/hexabase-ai/internal/aiops/tools"
	"github.com/hexabase/hexabase-ai/internal/api"
	"github.com/hexabase/hexabase-ai/internal/httpapi"
	"github.com/hexabase/hexabase-ai/internal/store"
	"github.com/hexabase/hexabase-ai/internal/tenancy"
)

// toolTimeout caps one tool call.
const toolTimeout = 30 * time.Second

// target is the tools' view of the scope's caller in a chat: their own
// client of the workspace cluster, the chat's project, the platform's run
// history and the analyzers.
func (s *Service) target(ctx context.Context, sc tenancy.WorkspaceScope, chatID string) (*tools.Target, error) {
	c, err := s.clientAs(ctx, sc)
	if err != nil {
		return nil, err
	}
	t := &tools.Target{Client: c, Scope: sc, Now: s.cfg.Now, Diagnose: s.analyze, Discovery: s.discovery, Platform: s.cfg.Platform,
		Runs: func(ctx context.Context, ns, cronJob string) ([]store.CronJobRun, error) {
			rs, _, err := s.cfg.Store.ListCronJobRuns(ctx, sc.Workspace.ID, ns, cronJob, store.Page{Limit: 20})
			return rs, err
		}}
	if chatID != "" {
		if ch, err := s.cfg.Store.GetChat(ctx, chatID); err == nil && ch.ProjectID != "" {
			t.Project = projectName(sc, ch.ProjectID)
		}
	}
	return t, nil
}

// sink receives a turn as it happens.
type sink interface {
	delta(text string)
	event(name string, v any)
}

type discardSink struct{}

func (discardSink) delta(string)      {}
func (discardSink) event(string, any) {}

// serveMessage serves POST …/messages: JSON, or Server-Sent Events when
// the client accepts them.
func (s *Service) serveMessage(w http.ResponseWriter, r *http.Request) {
	turn, err := s.message(w, r)
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	if turn != nil { // not streamed
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_ = json.NewEncoder(w).Encode(turn)
	}
}

// message runs a turn; it answers (nil, nil) when it streamed the turn.
func (s *Service) message(w http.ResponseWriter, r *http.Request) (*api.AITurn, error) {
	sc, err := s.cfg.Scopes.ResolveWorkspace(r)
	if err != nil {
		return nil, err
	}
	chat, err := s.ownChat(r, sc)
	if err != nil {
		return nil, err
	}
	var req api.SendMessageRequest
	if err := httpapi.DecodeJSON(r, &req); err != nil {
		return nil, err
	}
	content := strings.TrimSpace(req.Content)
	switch n := utf8.RuneCountInString(content); {
	case n == 0:
		return nil, httpapi.Invalid(httpapi.Field("content", "must not be empty"))
	case n > MaxMessageChars:
		return nil, httpapi.Invalid(httpapi.Field("content", fmt.Sprintf("must be at most %d characters (it has %d)", MaxMessageChars, n)))
	case !textOK(content):
		return nil, httpapi.Invalid(httpapi.Field("content", "must be UTF-8 text without control characters"))
	}
	ctx := r.Context()
	if err := s.enabled(ctx, sc.Org.ID); err != nil {
		return nil, err
	}
	model, err := s.model(req.Provider)
	if err != nil {
		return nil, err
	}
	end, err := s.begin(chat)
	if err != nil {
		return nil, err
	}
	defer end()
	if err := s.withinBudget(ctx, sc.Org.ID); err != nil {
		return nil, err
	}
	t, err := s.target(ctx, sc, chat.ID)
	if err != nil {
		return nil, err
	}
	var out sink = discardSink{}
	streamed := strings.Contains(r.Header.Get("Accept"), "text/event-stream")
	if streamed {
		ss, err := startSSE(w)
		if err != nil {
			return nil, err
		}
		out = ss
	}
	turn, err := s.Turn(ctx, t, chat, content, model, out)
	if streamed {
		if err != nil {
			out.event("error", httpapi.ProblemFor(r, err))
		} else {
			out.event("done", turn)
		}
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &turn, nil
}

// textOK reports whether s is UTF-8 without control characters other than
// tabs and line breaks.
func textOK(s string) bool {
	for _, r := range s {
		if r < 0x20 && r != '\t' && r != '\n' && r != '\r' || r == 0x7f {
			return false
		}
	}
	return utf8.ValidString(s)
}

// Turn answers one user message in chat: the model, then the tools it
// calls (reads run as the target's caller, writes become plans), then
// the model again, within the caps. What it adds to the chat is stored as
// it happens and sent to out.
func (s *Service) Turn(ctx context.Context, t *tools.Target, chat store.Chat, content string, model *llm.Client, out sink) (api.AITurn, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.TurnTimeout)
	defer cancel()
	prov := model.Provider()
	turn := api.AITurn{ChatID: chat.ID, Messages: []api.AIMessage{}, Plans: []api.AIPlan{}, Provider: prov.Name, Model: prov.Model}
	history, err := s.cfg.Store.ListMessages(ctx, chat.ID)
	if err != nil {
		return turn, err
	}
	plans, err := s.cfg.Store.ListPlans(ctx, chat.ID)
	if err != nil {
		return turn, err
	}
	stored, err := s.append(ctx, chat.ID, store.ChatMessage{Role: store.MessageUser, Content: content})
	if err != nil {
		return turn, err
	}
	turn.Messages = append(turn.Messages, stored...)
	out.event("message", stored[0])

	var mask *masker
	if prov.Anonymize {
		mask = newMasker(s.maskKey, chat.ID, t.Scope)
	}
	msgs := append([]llm.Message{{Role: "system", Content: systemPrompt(t, plans, s.cfg.Now())}}, historyMessages(history)...)
	msgs = append(msgs, llm.Message{Role: "user", Content: content})
	defs := s.toolDefs()
	calls := 0
	turnID := store.NewID()
	for round := 0; ; round++ {
		if round > 0 {
			if err := s.withinBudget(ctx, chat.OrgID); err != nil {
				turn.Stopped = "the organization's monthly token budget is used up"
				break
			}
		}
		req := llm.Request{Messages: msgs, Tools: defs}
		if calls >= s.cfg.MaxToolCalls {
			req.Tools = nil // the cap is reached: the model answers in words
		}
		onDelta := out.delta
		if mask != nil {
			req.Messages = mask.messages(req.Messages)
			onDelta = mask.stream(out.delta)
		}
		// The model's answer is awaited even when the client goes away, so
		// that its usage (sent at the end) is metered; the turn's own
		// deadline still bounds it.
		mctx, mcancel := context.WithDeadline(context.WithoutCancel(ctx), deadlineOf(ctx))
		resp, err := model.Stream(mctx, req, onDelta)
		mcancel()
		if mask != nil {
			mask.flush()
		}
		resp.Usage = usageOrEstimate(req, resp)
		s.recordUsage(ctx, chat, prov.Name, resp, turnID, round)
		if err == nil && ctx.Err() != nil {
			err = ctx.Err() // the client went away: the turn ends here
		}
		turn.Usage.PromptTokens += resp.Usage.PromptTokens
		turn.Usage.CompletionTokens += resp.Usage.CompletionTokens
		if err != nil {
			turn.Stopped = stopReason(ctx, err)
			if round == 0 && len(turn.Messages) == 1 {
				return turn, modelProblem(ctx, err)
			}
			break
		}
		if mask != nil {
			resp.Content = mask.unmask(resp.Content)
			for i := range resp.ToolCalls {
				resp.ToolCalls[i].Arguments = mask.unmask(resp.ToolCalls[i].Arguments)
			}
		}
		am := store.ChatMessage{Role: store.MessageAssistant, Content: resp.Content, Model: modelName(resp, prov)}
		if len(resp.ToolCalls) > 0 && req.Tools != nil {
			b, _ := json.Marshal(toolCallsOut(resp.ToolCalls))
			am.ToolCalls = string(b)
		} else {
			resp.ToolCalls = nil
		}
		stored, err := s.append(ctx, chat.ID, am)
		if err != nil {
			return turn, err
		}
		turn.Messages = append(turn.Messages, stored...)
		out.event("message", stored[0])
		msgs = append(msgs, llm.Message{Role: "assistant", Content: resp.Content, ToolCalls: resp.ToolCalls})
		if len(resp.ToolCalls) == 0 {
			break
		}
		for _, call := range resp.ToolCalls {
			var tm store.ChatMessage
			var plan *store.Plan
			if calls >= s.cfg.MaxToolCalls {
				tm = store.ChatMessage{Role: store.MessageTool, ToolCallID: call.ID, ToolName: call.Name, ToolArgs: tools.RedactArgs(json.RawMessage(call.Arguments)),
					Content: fmt.Sprintf("not run: this turn reached its cap of %d tool calls", s.cfg.MaxToolCalls), IsError: true}
			} else {
				calls++
				tm, plan = s.runTool(ctx, t, chat, call)
			}
			stored, err := s.append(ctx, chat.ID, tm)
			if err != nil {
				return turn, err
			}
			turn.Messages = append(turn.Messages, stored...)
			out.event("message", stored[0])
			if plan != nil {
				po := s.planOut(t.Scope, *plan)
				turn.Plans = append(turn.Plans, po)
				out.event("plan", po)
			}
			msgs = append(msgs, llm.Message{Role: "tool", ToolCallID: call.ID, Content: tm.Content})
		}
		if ctx.Err() != nil {
			turn.Stopped = stopReason(ctx, ctx.Err())
			break
		}
	}
	if len(history) == 0 && chat.Title == "" {
		if err := s.cfg.Store.SetChatTitle(context.WithoutCancel(ctx), chat.ID, titleFrom(content)); err != nil {
			s.cfg.Logger.WarnContext(ctx, "name chat", "chat", chat.ID, "error", err)
		}
	}
	return turn, nil
}

// append stores messages of a chat and answers their wire form.
func (s *Service) append(ctx context.Context, chatID string, ms ...store.ChatMessage) ([]api.AIMessage, error) {
	now := s.cfg.Now().UTC().Truncate(timePrecision)
	for i := range ms {
		ms[i].ID, ms[i].ChatID, ms[i].CreatedAt = store.NewID(), chatID, now
	}
	saved, err := s.cfg.Store.AppendMessages(context.WithoutCancel(ctx), chatID, now, ms...)
	if err != nil {
		return nil, fmt.Errorf("store messages: %w", err)
	}
	out := make([]api.AIMessage, 0, len(saved))
	for _, m := range saved {
		out = append(out, messageOut(m))
	}
	return out, nil
}

func titleFrom(content string) string {
	line := strings.TrimSpace(strings.SplitN(content, "\n", 2)[0])
	if utf8.RuneCountInString(line) > 80 {
		r := []rune(line)
		line = string(r[:79]) + "…"
	}
	return line
}

func modelName(resp llm.Response, p llm.Provider) string {
	if resp.Model != "" {
		return resp.Model
	}
	return p.Model
}

func toolCallsOut(cs []llm.ToolCall) []api.AIToolCall {
	out := make([]api.AIToolCall, 0, len(cs))
	for _, c := range cs {
		out = append(out, api.AIToolCall{ID: c.ID, Name: c.Name, Arguments: tools.RedactArgs(json.RawMessage(c.Arguments))})
	}
	return out
}

// historyMessages are a chat's past messages for the model: the newest
// that fit historyBytes, starting at a user message (a tool result never
// goes without the call it answers).
func historyMessages(ms []store.ChatMessage) []llm.Message {
	size, start := 0, len(ms)
	for i := len(ms) - 1; i >= 0; i-- {
		size += len(ms[i].Content) + len(ms[i].ToolCalls)
		if size > historyBytes {
			break
		}
		start = i
	}
	for start < len(ms) && ms[start].Role != store.MessageUser {
		start++
	}
	out := make([]llm.Message, 0, len(ms)-start)
	for _, m := range ms[start:] {
		lm := llm.Message{Role: m.Role, Content: m.Content, ToolCallID: m.ToolCallID}
		if m.ToolCalls != "" {
			var cs []api.AIToolCall
			_ = json.Unmarshal([]byte(m.ToolCalls), &cs)
			for _, c := range cs {
				lm.ToolCalls = append(lm.ToolCalls, llm.ToolCall{ID: c.ID, Name: c.Name, Arguments: c.Arguments})
			}
		}
		out = append(out, lm)
	}
	return out
}

// toolDefs are the registry's tools as the model sees them.
func (s *Service) toolDefs() []llm.ToolDef {
	ts := s.cfg.Tools.List()
	out := make([]llm.ToolDef, 0, len(ts))
	for _, t := range ts {
		d := t.Description
		if t.Effect == tools.Write {
			d += " (a write: it makes a plan that the user must confirm; it never runs by itself)"
		}
		out = append(out, llm.ToolDef{Name: t.Name, Description: d, Parameters: t.Schema})
	}
	return out
}

// runTool runs one tool call of a chat's turn.
func (s *Service) runTool(ctx context.Context, t *tools.Target, chat store.Chat, call llm.ToolCall) (store.ChatMessage, *store.Plan) {
	res := s.Call(ctx, t, Via{Chat: chat.ID}, call.Name, json.RawMessage(call.Arguments))
	m := store.ChatMessage{Role: store.MessageTool, ToolCallID: call.ID, ToolName: call.Name, ToolArgs: res.Args, Content: res.Text, IsError: res.IsError}
	if res.Plan != nil {
		m.PlanID = res.Plan.ID
	}
	return m, res.Plan
}

// Via says where a tool call comes from, for its plan and audit record:
// a chat, or an MCP session.
type Via struct {
	Chat string
	MCP  string // the MCP session id
}

// CallResult is the outcome of a tool call.
type CallResult struct {
	Text    string // what the model (or MCP client) reads: scrubbed, capped
	IsError bool
	Args    string      // the arguments, secrets redacted
	Plan    *store.Plan // the plan a write tool made
}

// Call runs the registry's tool name as the target's caller: a read
// answers its result, a write makes a plan (never executes). Every call
// is audited with the actor, the chat (or MCP session), the tool, its
// arguments (secrets redacted) and the result.
func (s *Service) Call(ctx context.Context, t *tools.Target, via Via, name string, args json.RawMessage) CallResult {
	if len(strings.TrimSpace(string(args))) == 0 {
		args = json.RawMessage("{}")
	}
	res := CallResult{Args: tools.RedactArgs(args)}
	action, result := "ai.tool."+safeName(name), store.AuditSuccess
	tool, ok := s.cfg.Tools.Get(name)
	var err error
	switch {
	case !ok:
		err = &tools.ArgError{Field: "name", Message: fmt.Sprintf("there is no tool %q", name)}
	case !json.Valid(args) || !strings.HasPrefix(strings.TrimSpace(string(args)), "{"):
		err = &tools.ArgError{Field: "arguments", Message: "must be a JSON object"}
	case tool.Effect == tools.Write:
		tctx, cancel := context.WithTimeout(ctx, toolTimeout)
		var p store.Plan
		p, err = s.makePlan(tctx, t, tool, args, via.Chat)
		cancel()
		if err == nil {
			res.Plan = &p
			res.Text = fmt.Sprintf("Plan %s made; NOT executed: %s.\nIt runs only if the user confirms it (the console's Confirm button, or `hks ai confirm %s --org %s --workspace %s`) within %s. Do not call the tool again for this change; tell the user what the plan does.\nDry-run diff:\n%s",
				p.ID, p.Summary, p.ID, t.Scope.Org.Slug, t.Scope.Workspace.Name, PlanTTL, p.Diff)
			action = "ai.plan.create"
		}
	default:
		tctx, cancel := context.WithTimeout(ctx, toolTimeout)
		var r tools.Result
		r, err = tool.Read(tctx, t, args)
		cancel()
		if err == nil {
			res.Text = r.Text
		}
	}
	if err != nil {
		res.IsError = true
		res.Text, result = toolError(ctx, err, s)
	}
	res.Text = capText(tools.Scrub(res.Text), s.cfg.ToolOutputBytes)
	target, id := "ai_chat", via.Chat
	if via.Chat == "" {
		target, id = "mcp_session", via.MCP
	}
	where := "chat=" + id
	if via.Chat == "" {
		where = "mcp_session=" + id
	}
	detail := fmt.Sprintf("%s tool=%s args=%s", where, name, res.Args)
	switch {
	case res.Plan != nil:
		detail += " plan=" + res.Plan.ID + ": " + res.Plan.Summary
	case res.IsError:
		detail += ": " + firstLine(res.Text)
	default:
		detail += fmt.Sprintf(": ok, %d bytes", len(res.Text))
	}
	s.cfg.Audit.Append(ctx, store.AuditRecord{ActorID: t.Scope.Principal.UserID, ActorEmail: t.Scope.Principal.Email, OrgID: t.Scope.Org.ID,
		Action: action, TargetType: target, TargetID: id, Result: result, Detail: detail})
	return res
}

// toolError is what the model reads of a failed tool call (the tools
// package's one wording: arguments, the cluster's refusals, stale plans,
// tools not offered here), and the audit result; anything else is logged.
func toolError(ctx context.Context, err error, s *Service) (string, string) {
	var ce *tools.ClusterError
	var he *httpapi.Error
	switch {
	case errors.As(err, &ce) && ce.Status == http.StatusForbidden:
		return tools.ErrorText(err), store.AuditDenied
	case errors.As(err, &he) && he.Status < 500:
		return fmt.Sprintf("refused (%d): %s", he.Status, he.Detail), store.AuditFailure
	}
	text := tools.ErrorText(err)
	if text == tools.ErrorText(errors.New("")) { // not one the tools package words
		s.cfg.Logger.ErrorContext(ctx, "assistant tool failed", "error", err)
	}
	return text, store.AuditFailure
}

func firstLine(s string) string {
	l := strings.SplitN(s, "\n", 2)[0]
	if len(l) > 200 {
		l = capText(l, 200)
	}
	return l
}

// safeName keeps an audit action readable whatever name a model sent.
func safeName(n string) string {
	var b strings.Builder
	for _, r := range n {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' {
			b.WriteRune(r)
		}
		if b.Len() >= 48 {
			break
		}
	}
	if b.Len() == 0 {
		return "unknown"
	}
	return b.String()
}

// recordUsage puts a model call's tokens into the usage ledger, once
// (its entries' ids are derived from the turn and the round).
func (s *Service) recordUsage(ctx context.Context, chat store.Chat, provider string, resp llm.Response, turnID string, round int) {
	if resp.Usage.PromptTokens == 0 && resp.Usage.CompletionTokens == 0 {
		return
	}
	now := s.cfg.Now().UTC().Truncate(timePrecision)
	subject := provider + "/" + modelName(resp, llm.Provider{})
	var rs []store.UsageRecord
	for _, e := range []struct {
		meter string
		n     int64
	}{{store.MeterAIPromptTokens, resp.Usage.PromptTokens}, {store.MeterAICompletionTokens, resp.Usage.CompletionTokens}} {
		rs = append(rs, store.UsageRecord{ID: fmt.Sprintf("%s-%d-%s", turnID, round, e.meter), OrgID: chat.OrgID, WorkspaceID: chat.WorkspaceID,
			UserID: chat.UserID, Meter: e.meter, Subject: subject, Quantity: e.n, RecordedAt: now})
	}
	if err := s.cfg.Store.RecordUsage(context.WithoutCancel(ctx), rs...); err != nil {
		s.cfg.Logger.ErrorContext(ctx, "record token usage", "chat", chat.ID, "error", err)
	}
}

// stopReason says why a turn ended early.
func stopReason(ctx context.Context, err error) string {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return "the turn reached its time cap"
	}
	var pe *llm.ProviderError
	if errors.As(err, &pe) {
		return "the model provider failed: " + pe.Message
	}
	if ctx.Err() != nil {
		return "the request was cancelled"
	}
	return "the model provider failed"
}

// modelProblem is the answer to a turn whose first model call failed.
func modelProblem(ctx context.Context, err error) error {
	var pe *llm.ProviderError
	if errors.As(err, &pe) {
		return &httpapi.Error{Status: http.StatusBadGateway, Type: "model-error", Title: "The model provider failed", Detail: pe.Message, Cause: err}
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return &httpapi.Error{Status: http.StatusServiceUnavailable, Type: "model-timeout", Title: "The model took too long", Detail: "the model did not answer within the turn's time cap", Cause: err}
	}
	return &httpapi.Error{Status: http.StatusBadGateway, Type: "model-error", Title: "The model provider failed", Detail: "the model provider could not be reached", Cause: err}
}

// deadlineOf is ctx's deadline (a turn always has one).
func deadlineOf(ctx context.Context) time.Time {
	if d, ok := ctx.Deadline(); ok {
		return d
	}
	return time.Now().Add(DefaultTurnTimeout)
}

// usageOrEstimate is the provider's usage or, when it sent none (a server
// that ignores stream_options.include_usage, a cut stream), an estimate
// of four bytes per token, so that no answer goes unmetered.
func usageOrEstimate(req llm.Request, resp llm.Response) llm.Usage {
	u := resp.Usage
	if u.PromptTokens > 0 || u.CompletionTokens > 0 {
		return u
	}
	var in, out int
	for _, m := range req.Messages {
		in += len(m.Content)
		for _, c := range m.ToolCalls {
			in += len(c.Name) + len(c.Arguments)
		}
	}
	out = len(resp.Content)
	for _, c := range resp.ToolCalls {
		out += len(c.Name) + len(c.Arguments)
	}
	if out == 0 {
		return u // nothing came back: nothing to meter
	}
	return llm.Usage{PromptTokens: int64(in/4 + 1), CompletionTokens: int64(out/4 + 1), TotalTokens: int64(in/4 + out/4 + 2)}
}
