// Package mcp serves the assistant's tool registry over the Model Context
// Protocol (Streamable HTTP, with the official go-sdk) at /mcp, for
// external agents: an IDE, kubectl-ai, Claude Desktop. A client
// authenticates with a platform access token (a Bearer header; RFC 9728
// protected-resource metadata says where to get one) and every tool acts
// as that user, with their own workspace token, exactly as in a chat.
//
// Write tools are annotated destructive and never execute on a call: the
// call makes a plan (dry run and diff); a client that supports
// elicitation asks its human to confirm it, and only an accepted
// confirmation runs it; a client without elicitation gets the plan and a
// link to confirm it in the console or with `hks ai confirm`. There is no
// tool that confirms a plan: an agent cannot approve its own writes.
package mcp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/google/jsonschema-go/jsonschema"
	"github.com/modelcontextprotocol/go-sdk/auth"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/modelcontextprotocol/go-sdk/oauthex"

	"github.com/hexabase/hexabase-ai/internal/aiops"
	"github.com/hexabase/hexabase-ai/internal/aiops/tools"
	"github.com/hexabase/hexabase-ai/internal/httpapi"
	"github.com/hexabase/hexabase-ai/internal/ratelimit"
	"github.com/hexabase/hexabase-ai/internal/required"
	"github.com/hexabase/hexabase-ai/internal/store"
)

// Path is where the MCP endpoint is served; MetadataPath its RFC 9728
// protected-resource metadata (the path-inserted form).
const (
	Path         = "/mcp"
	MetadataPath = "/.well-known/oauth-protected-resource" + Path
)

// Assistant is what the MCP server needs of the assistant
// (*aiops.Service implements it).
type Assistant interface {
	Registry() *tools.Registry
	ExternalURL() string
	TargetFor(ctx context.Context, p httpapi.Principal, org, workspace, project string) (*tools.Target, error)
	Call(ctx context.Context, t *tools.Target, via aiops.Via, name string, args json.RawMessage) aiops.CallResult
	ConfirmFor(ctx context.Context, t *tools.Target, id string) (store.Plan, error)
	RejectFor(ctx context.Context, t *tools.Target, id string) (store.Plan, error)
	Workspaces(ctx context.Context, p httpapi.Principal) ([]string, error)
}

var _ Assistant = (*aiops.Service)(nil)

// Config carries the Server's dependencies. Assistant, Tokens, Issuer,
// Version and Logger are required.
type Config struct {
	Assistant Assistant
	// Tokens verifies platform access tokens (*identity.Service).
	Tokens  httpapi.Authenticator
	Issuer  string // the platform's issuer: the authorization server
	Version string
	Logger  *slog.Logger
	// Authenticated, if set, wraps every request whose token was accepted,
	// with the caller as httpapi.PrincipalFrom: the API's per-user rate
	// limit, so that each MCP request (one tool call at most) counts once.
	Authenticated func(http.Handler) http.Handler
	// UserStreams, if set, caps the long-lived GET streams a user holds
	// open (the API's cap on followed logs and watches).
	UserStreams *ratelimit.Concurrency
	// SessionTimeout closes a session idle that long (DefaultSessionTimeout).
	SessionTimeout time.Duration
}

// DefaultSessionTimeout closes idle MCP sessions.
const DefaultSessionTimeout = 10 * time.Minute

// Server is the MCP endpoint.
type Server struct {
	cfg     Config
	handler http.Handler

	// asked holds the plans whose confirmation this server asked a
	// session's human for: only that session may answer, once.
	mu    sync.Mutex
	asked map[string]askedPlan
}

type askedPlan struct {
	session, tool string
	expires       time.Time
}

// New builds the MCP server over the assistant's registry.
func New(cfg Config) (*Server, error) {
	if err := required.Fields("mcp", cfg, "Assistant", "Tokens", "Issuer", "Version", "Logger"); err != nil {
		return nil, err
	}
	if cfg.SessionTimeout < 0 {
		return nil, errors.New("mcp: SessionTimeout must not be negative")
	}
	if cfg.SessionTimeout == 0 {
		cfg.SessionTimeout = DefaultSessionTimeout
	}
	s := &Server{cfg: cfg, asked: map[string]askedPlan{}}
	srv := sdk.NewServer(&sdk.Implementation{Name: "hexabase-ai", Title: "Hexabase AI", Version: cfg.Version},
		&sdk.ServerOptions{Logger: cfg.Logger, Instructions: instructions})
	for _, t := range cfg.Assistant.Registry().List() {
		mt, err := mcpTool(t)
		if err != nil {
			return nil, err
		}
		srv.AddTool(mt, s.handle(t))
	}
	srv.AddTool(&sdk.Tool{Name: "list_workspaces", Description: "The workspaces you can use with the other tools, as org/workspace.",
		InputSchema: &jsonschema.Schema{Type: "object", Properties: map[string]*jsonschema.Schema{}},
		Annotations: &sdk.ToolAnnotations{ReadOnlyHint: true, IdempotentHint: true}}, s.listWorkspaces)
	var h http.Handler = sdk.NewStreamableHTTPHandler(func(*http.Request) *sdk.Server { return srv },
		&sdk.StreamableHTTPOptions{SessionTimeout: cfg.SessionTimeout})
	h = s.streams(h)
	if cfg.Authenticated != nil {
		h = cfg.Authenticated(h)
	}
	h = withPrincipal(h)
	metaURL := strings.TrimSuffix(cfg.Assistant.ExternalURL(), "/") + MetadataPath
	s.handler = auth.RequireBearerToken(s.verify, &auth.RequireBearerTokenOptions{ResourceMetadataURL: metaURL, AllowMissingExpiration: true})(h)
	return s, nil
}

const instructions = "Tools of a Hexabase AI workspace, acting with your user's own permissions. " +
	"Name the workspace as org/workspace (list_workspaces lists them). Write tools make a plan (a dry run and a diff) " +
	"that your user confirms; they never run by themselves."

// ServeHTTP serves the endpoint.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	s.handler.ServeHTTP(w, r)
}

// Metadata is the RFC 9728 protected-resource metadata of the endpoint.
func (s *Server) Metadata() *oauthex.ProtectedResourceMetadata {
	return &oauthex.ProtectedResourceMetadata{
		Resource:               strings.TrimSuffix(s.cfg.Assistant.ExternalURL(), "/") + Path,
		AuthorizationServers:   []string{s.cfg.Issuer},
		BearerMethodsSupported: []string{"header"},
		ResourceName:           "Hexabase AI workspace tools",
	}
}

// verify checks a platform access token: only from the Authorization
// header (never a cookie, so that a web page cannot call it).
func (s *Server) verify(ctx context.Context, token string, _ *http.Request) (*auth.TokenInfo, error) {
	p, err := s.cfg.Tokens.Authenticate(ctx, token)
	if err != nil {
		return nil, fmt.Errorf("%w: the access token is not valid", auth.ErrInvalidToken)
	}
	return &auth.TokenInfo{UserID: p.UserID, Extra: map[string]any{"principal": p}}, nil
}

// withPrincipal puts the token's user into the request's context, for the
// middleware that counts per user.
func withPrincipal(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ti := auth.TokenInfoFromContext(r.Context()); ti != nil {
			if p, ok := ti.Extra["principal"].(httpapi.Principal); ok {
				r = r.WithContext(httpapi.WithPrincipal(r.Context(), p))
			}
		}
		next.ServeHTTP(w, r)
	})
}

// streams counts a user's open GET streams against UserStreams.
func (s *Server) streams(next http.Handler) http.Handler {
	if s.cfg.UserStreams == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := httpapi.PrincipalFrom(r.Context())
		if r.Method != http.MethodGet || !ok {
			next.ServeHTTP(w, r)
			return
		}
		release, ok := s.cfg.UserStreams.Acquire(p.UserID)
		if !ok {
			httpapi.WriteError(w, r, s.cfg.UserStreams.TooManyOpen(p.UserID, "long-lived requests (watches, logs -f, MCP streams) of this user"))
			return
		}
		defer release()
		next.ServeHTTP(w, r)
	})
}

func principalOf(req *sdk.CallToolRequest) (httpapi.Principal, bool) {
	if req.Extra == nil || req.Extra.TokenInfo == nil {
		return httpapi.Principal{}, false
	}
	p, ok := req.Extra.TokenInfo.Extra["principal"].(httpapi.Principal)
	return p, ok
}

// mcpTool is a registry tool as MCP lists it: its schema with the
// workspace to act in, annotated read-only or destructive.
func mcpTool(t tools.Tool) (*sdk.Tool, error) {
	var schema jsonschema.Schema
	b, err := json.Marshal(t.Schema)
	if err == nil {
		err = json.Unmarshal(b, &schema)
	}
	if err != nil {
		return nil, fmt.Errorf("mcp: tool %s schema: %w", t.Name, err)
	}
	props := maps.Clone(schema.Properties)
	if props == nil {
		props = map[string]*jsonschema.Schema{}
	}
	props["workspace"] = &jsonschema.Schema{Type: "string", Description: "the workspace to act in, as org/workspace (see list_workspaces)"}
	schema.Properties = props
	schema.Required = append([]string{"workspace"}, schema.Required...)
	schema.Type = "object"
	yes := true
	ann := &sdk.ToolAnnotations{ReadOnlyHint: true, IdempotentHint: true}
	desc := t.Description
	if t.Effect == tools.Write {
		ann = &sdk.ToolAnnotations{DestructiveHint: &yes}
		desc += " A write: it makes a plan (dry run and diff) that your user must confirm; it never runs by itself."
	}
	return &sdk.Tool{Name: t.Name, Description: desc, InputSchema: &schema, Annotations: ann}, nil
}

// handle serves one registry tool.
func (s *Server) handle(t tools.Tool) sdk.ToolHandler {
	return func(ctx context.Context, req *sdk.CallToolRequest) (*sdk.CallToolResult, error) {
		p, ok := principalOf(req)
		if !ok {
			return nil, errors.New("not authenticated")
		}
		var args map[string]any
		if len(req.Params.Arguments) > 0 {
			if err := json.Unmarshal(req.Params.Arguments, &args); err != nil || args == nil {
				return errResult("invalid arguments: must be a JSON object"), nil
			}
		}
		ref, _ := args["workspace"].(string)
		org, ws, ok := strings.Cut(ref, "/")
		if !ok || org == "" || ws == "" {
			return errResult("invalid arguments: workspace: must be org/workspace (see list_workspaces)"), nil
		}
		delete(args, "workspace")
		target, err := s.cfg.Assistant.TargetFor(ctx, p, org, ws, "")
		if err != nil {
			return errResult(problemText(err)), nil
		}
		// The retry of a write after its human's answer (multi round-trip
		// requests; the SDK does the same for older clients with Elicit).
		if t.Effect == tools.Write && req.Params.RequestState != "" {
			return s.decide(ctx, target, t.Name, req), nil
		}
		raw, _ := json.Marshal(args)
		res := s.cfg.Assistant.Call(ctx, target, aiops.Via{MCP: sessionID(req)}, t.Name, raw)
		if res.IsError {
			return errResult(res.Text), nil
		}
		if res.Plan == nil {
			return textResult(res.Text), nil
		}
		pl := res.Plan
		link := aiops.PlanURL(s.cfg.Assistant.ExternalURL(), *pl)
		if !elicits(req) {
			return textResult(fmt.Sprintf("%s\n\nThis client cannot ask for confirmation: nothing was executed. Your user confirms the plan at %s or with `hks ai confirm %s` before %s.",
				res.Text, link, pl.ID, pl.ExpiresAt.Format("15:04:05 MST"))), nil
		}
		s.ask(pl.ID, sessionID(req), t.Name, pl.ExpiresAt)
		return &sdk.CallToolResult{
			InputRequests: sdk.InputRequestMap{"confirm": &sdk.ElicitParams{
				Message: fmt.Sprintf("Hexabase AI: confirm this change in workspace %s?\n%s\n\n%s", ref, pl.Summary, pl.Diff),
				RequestedSchema: &jsonschema.Schema{Type: "object", Properties: map[string]*jsonschema.Schema{
					"confirm": {Type: "boolean", Description: "run this plan now, as you"},
				}, Required: []string{"confirm"}},
			}},
			RequestState: pl.ID,
		}, nil
	}
}

// decide runs or rejects the plan named by a retry's request state, as
// its human answered. Only a plan of this caller in this workspace is
// found (another's is "not found").
func (s *Server) decide(ctx context.Context, t *tools.Target, tool string, req *sdk.CallToolRequest) *sdk.CallToolResult {
	id := req.Params.RequestState
	// Only the session whose human this server asked, about this tool's
	// plan, answers, once: a client cannot make up an answer to a
	// question never asked (nor one without elicitation answer at all).
	if !elicits(req) || !s.answered(id, sessionID(req), tool) {
		return errResult("no confirmation of this plan was asked in this session: nothing was changed. Your user confirms it in the console or with `hks ai confirm " + safeID(id) + "`")
	}
	ctx, cancel := context.WithTimeout(ctx, confirmTimeout)
	defer cancel()
	ans, _ := req.Params.InputResponses["confirm"].(*sdk.ElicitResult)
	if ans == nil || ans.Action != "accept" || ans.Content["confirm"] != true {
		if _, err := s.cfg.Assistant.RejectFor(ctx, t, id); err != nil {
			return errResult(problemText(err))
		}
		return textResult(fmt.Sprintf("Your user did not confirm: plan %s was rejected and nothing was changed.", id))
	}
	pl, err := s.cfg.Assistant.ConfirmFor(ctx, t, id)
	if fresh, ok := aiops.IsStale(err); ok {
		return errResult(fmt.Sprintf("The object changed since the plan: nothing was changed. A fresh plan %s replaces it (%s):\n%s\nCall the tool again to confirm it.",
			fresh.ID, fresh.Summary, fresh.Diff))
	}
	if err != nil {
		return errResult(problemText(err))
	}
	return textResult(fmt.Sprintf("Plan %s confirmed by your user and executed: %s\n%s", pl.ID, pl.Summary, pl.Result))
}

func (s *Server) listWorkspaces(ctx context.Context, req *sdk.CallToolRequest) (*sdk.CallToolResult, error) {
	p, ok := principalOf(req)
	if !ok {
		return nil, errors.New("not authenticated")
	}
	names, err := s.cfg.Assistant.Workspaces(ctx, p)
	if err != nil {
		return errResult(problemText(err)), nil
	}
	if len(names) == 0 {
		return textResult("You see no workspace."), nil
	}
	return textResult(strings.Join(names, "\n")), nil
}

// confirmTimeout bounds running a confirmed plan.
const confirmTimeout = time.Minute

// ask remembers that session's human was asked about plan id.
func (s *Server) ask(id, session, tool string, expires time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	for k, a := range s.asked {
		if now.After(a.expires) {
			delete(s.asked, k)
		}
	}
	s.asked[id] = askedPlan{session: session, tool: tool, expires: expires}
}

// answered takes the question about plan id if session was asked it
// about tool.
func (s *Server) answered(id, session, tool string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.asked[id]
	if !ok || a.session != session || a.tool != tool || time.Now().After(a.expires) {
		return false
	}
	delete(s.asked, id)
	return true
}

// safeID keeps a client-sent plan id printable.
func safeID(id string) string {
	if len(id) > 64 || strings.ContainsFunc(id, func(r rune) bool { return r < 0x21 || r > 0x7e }) {
		return "PLAN"
	}
	return id
}

// elicits reports whether the client can ask its human.
func elicits(req *sdk.CallToolRequest) bool {
	ip := req.Session.InitializeParams()
	return ip != nil && ip.Capabilities != nil && ip.Capabilities.Elicitation != nil
}

func sessionID(req *sdk.CallToolRequest) string {
	if req.Session == nil {
		return ""
	}
	return req.Session.ID()
}

func textResult(s string) *sdk.CallToolResult {
	return &sdk.CallToolResult{Content: []sdk.Content{&sdk.TextContent{Text: s}}}
}

func errResult(s string) *sdk.CallToolResult {
	return &sdk.CallToolResult{Content: []sdk.Content{&sdk.TextContent{Text: s}}, IsError: true}
}

// problemText is what a client reads of a refusal: the problem's detail,
// never internal text.
func problemText(err error) string {
	var he *httpapi.Error
	if errors.As(err, &he) && he.Status < 500 {
		return fmt.Sprintf("%s (%d): %s", he.Title, he.Status, he.Detail)
	}
	return "the platform could not complete the call"
}

// maxBody bounds an MCP request's body.
const maxBody = 1 << 20

// Routes are the RFC 9728 metadata documents: the path-inserted one of
// the endpoint, and the root one that clients try first. s may be a zero
// Server when only the route table is wanted (the OpenAPI document).
func (s *Server) Routes() []httpapi.Route {
	h := http.HandlerFunc(s.serveMetadata)
	return []httpapi.Route{
		{Method: "GET", Path: MetadataPath, Tag: "assistant", Public: true, Summary: "OAuth 2.0 protected-resource metadata (RFC 9728) of the MCP endpoint " + Path + ": the platform is its authorization server; send a platform access token as a Bearer header",
			Response: oauthex.ProtectedResourceMetadata{}, Raw: h},
		{Method: "GET", Path: "/.well-known/oauth-protected-resource", Tag: "assistant", Public: true, Summary: "OAuth 2.0 protected-resource metadata (RFC 9728) of the MCP endpoint " + Path,
			Response: oauthex.ProtectedResourceMetadata{}, Raw: h},
	}
}

func (s *Server) serveMetadata(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	_ = json.NewEncoder(w).Encode(s.Metadata())
}
