package server

import (
	"context"
	"fmt"
	"net/http"
	"sync"

	"github.com/hexabase/hexabase-ai/internal/aiops"
	"github.com/hexabase/hexabase-ai/internal/aiops/llm"
	"github.com/hexabase/hexabase-ai/internal/aiops/mcp"
	"github.com/hexabase/hexabase-ai/internal/aiops/tools"
	"github.com/hexabase/hexabase-ai/internal/httpapi"
	"github.com/hexabase/hexabase-ai/internal/ratelimit"
)

// wireAI builds the assistant: its tool registry, the configured models,
// and the service whose tools reach workspaces with the caller's own
// workspace token through the gateway (so it is wired after it).
func wireAI(_ context.Context, d *deps) error {
	if d.docsOnly {
		d.routes = append(d.routes, (&aiops.Service{}).Routes()...)
		d.routes = append(d.routes, (&mcp.Server{}).Routes()...)
		return nil
	}
	ts := tools.Builtin()
	var platform http.Handler
	if d.cfg.Functions.Enabled {
		// The functions tools call the platform's API (its functions
		// routes) in process as the caller.
		ts = append(ts, tools.FunctionTools()...)
		d.platform = &lateHandler{}
		platform = d.platform
	}
	reg, err := tools.NewRegistry(ts...)
	if err != nil {
		return fmt.Errorf("assistant tools: %w", err)
	}
	var models []*llm.Client
	for _, p := range d.cfg.AI.Providers {
		c, err := llm.New(llm.Provider{Name: p.Name, BaseURL: p.BaseURL, Model: p.Model, APIKey: p.APIKey, Anonymize: p.Anonymize, Timeout: p.Timeout.Duration},
			&http.Client{})
		if err != nil {
			return fmt.Errorf("ai provider %s: %w", p.Name, err)
		}
		models = append(models, c)
	}
	s, err := aiops.New(aiops.Config{Store: d.store, Scopes: d.tenancy, Tokens: d.issuer, Gateway: d.gateway, Platform: platform, ExternalURL: d.cfg.ExternalURL,
		Tools: reg, Audit: d.audit, Models: models, MaxToolCalls: d.cfg.AI.MaxToolCallsPerTurn, TurnTimeout: d.cfg.AI.TurnTimeout.Duration,
		ToolOutputBytes: d.cfg.AI.ToolOutputBytes, Logger: d.log.With("component", "assistant"), Now: d.now})
	if err != nil {
		return err
	}
	d.routes = append(d.routes, s.Routes()...)
	d.assistant = s
	mc := mcp.Config{Assistant: s, Tokens: d.identity, Issuer: d.cfg.ExternalURL, Version: versionOr(d.version), Logger: d.log.With("component", "mcp"),
		UserStreams: d.userStreams}
	if d.userLimit != nil {
		perUser := ratelimit.PerUser(d.userLimit)
		mc.Authenticated = func(h http.Handler) http.Handler { return perUser(httpapi.Route{Method: "*", Path: mcp.Path}, h) }
	}
	m, err := mcp.New(mc)
	if err != nil {
		return err
	}
	d.routes = append(d.routes, m.Routes()...)
	d.mcp = m
	return nil
}

// versionOr is the version MCP clients are told ("dev" for a build
// without one).
func versionOr(v string) string {
	if v == "" {
		return "dev"
	}
	return v
}

// lateHandler is the platform's API handler for the assistant's functions
// tools: built after the wire functions (it serves their routes), so it is
// set once the API exists (New). Until then it answers 503.
type lateHandler struct {
	mu sync.RWMutex
	h  http.Handler
}

func (l *lateHandler) set(h http.Handler) {
	l.mu.Lock()
	l.h = h
	l.mu.Unlock()
}

func (l *lateHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	l.mu.RLock()
	h := l.h
	l.mu.RUnlock()
	if h == nil {
		httpapi.WriteError(w, r, &httpapi.Error{Status: http.StatusServiceUnavailable, Type: "starting", Title: "Service unavailable", Detail: "the platform is starting"})
		return
	}
	h.ServeHTTP(w, r)
}
