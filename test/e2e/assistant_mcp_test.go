package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// bearer adds a platform access token to every request of an MCP client.
type bearer struct {
	token string
	next  http.RoundTripper
}

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return b.next.RoundTrip(r)
}

// mcpSession connects an MCP client (the official go-sdk) to the
// platform's /mcp as c; elicit, if not nil, answers the server's
// elicitations (and makes the client declare that it can).
func mcpSession(t *testing.T, url string, c *apiClient, elicit func(*mcp.ElicitRequest) *mcp.ElicitResult) *mcp.ClientSession {
	t.Helper()
	opts := &mcp.ClientOptions{}
	if elicit != nil {
		opts.ElicitationHandler = func(_ context.Context, r *mcp.ElicitRequest) (*mcp.ElicitResult, error) { return elicit(r), nil }
	}
	client := mcp.NewClient(&mcp.Implementation{Name: "e2e", Version: "v1"}, opts)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cs, err := client.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: url + "/mcp",
		HTTPClient: &http.Client{Transport: bearer{token: c.token, next: http.DefaultTransport}}}, nil)
	if err != nil {
		t.Fatalf("connect to /mcp as %s: %v", c.email, err)
	}
	t.Cleanup(func() { cs.Close() })
	return cs
}

func callTool(t *testing.T, cs *mcp.ClientSession, name string, args map[string]any) (string, bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: name, Arguments: args})
	if err != nil {
		t.Fatalf("call %s: %v", name, err)
	}
	var b strings.Builder
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			b.WriteString(tc.Text)
		}
	}
	return b.String(), res.IsError
}

// TestMCPActsAsTheTokensUser is issue 14's acceptance of MCP: a go-sdk
// client with a platform token lists the tools and reads as its user; a
// write without elicitation returns a plan and changes nothing; with the
// human's accepted elicitation it runs; a declined one runs nothing; a
// token of another organization sees none of this workspace.
func TestMCPActsAsTheTokensUser(t *testing.T) {
	w := newAIWorld(t)
	web := w.frontend + "/applications/web"
	ws := "acme/prod"

	// Unauthenticated: 401 pointing at the RFC 9728 metadata.
	resp, err := http.Post(w.s.URL+"/mcp", "application/json", strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"initialize"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(resp.Header.Get("WWW-Authenticate"), "resource_metadata=") {
		t.Fatalf("/mcp without a token: %d %v", resp.StatusCode, resp.Header)
	}
	mresp, err := http.Get(w.s.URL + "/.well-known/oauth-protected-resource/mcp")
	if err != nil {
		t.Fatal(err)
	}
	mb, _ := io.ReadAll(mresp.Body)
	mresp.Body.Close()
	var meta struct {
		Resource             string   `json:"resource"`
		AuthorizationServers []string `json:"authorization_servers"`
	}
	if err := json.Unmarshal(mb, &meta); err != nil || meta.Resource != w.s.URL+"/mcp" || len(meta.AuthorizationServers) != 1 {
		t.Fatalf("protected-resource metadata: %s", mb)
	}

	plain := mcpSession(t, w.s.URL, w.a, nil)
	ctx := context.Background()
	tools, err := plain.ListTools(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]*mcp.Tool{}
	for _, tl := range tools.Tools {
		byName[tl.Name] = tl
	}
	for _, n := range []string{"get_resource", "list_resources", "pod_logs", "diagnose", "scale", "delete", "list_workspaces"} {
		if byName[n] == nil {
			t.Fatalf("tool %s not listed: %v", n, byName)
		}
	}
	if a := byName["scale"].Annotations; a == nil || a.DestructiveHint == nil || !*a.DestructiveHint || a.ReadOnlyHint {
		t.Errorf("scale is not annotated destructive: %+v", a)
	}
	if a := byName["get_resource"].Annotations; a == nil || !a.ReadOnlyHint {
		t.Errorf("get_resource is not annotated read-only: %+v", a)
	}
	for _, n := range []string{"confirm", "confirm_plan"} {
		if byName[n] != nil {
			t.Errorf("a tool %s would let an agent approve its own writes", n)
		}
	}

	if out, isErr := callTool(t, plain, "list_workspaces", nil); isErr || !strings.Contains(out, ws) {
		t.Fatalf("list_workspaces as A: %s", out)
	}
	if out, isErr := callTool(t, plain, "get_resource", map[string]any{"workspace": ws, "kind": "deployment", "name": "web", "project": "frontend"}); isErr || !strings.Contains(out, "name: web") {
		t.Fatalf("get_resource as A: %s", out)
	}
	// A reads as A: the backend project is not theirs.
	if out, isErr := callTool(t, plain, "list_resources", map[string]any{"workspace": ws, "kind": "pods", "project": "backend"}); !isErr {
		t.Fatalf("A lists backend's pods: %s", out)
	}

	// A write without elicitation: a plan and a link, nothing runs.
	out, isErr := callTool(t, plain, "scale", map[string]any{"workspace": ws, "name": "web", "replicas": 6, "project": "frontend"})
	if isErr || !strings.Contains(out, "hks ai confirm") || !strings.Contains(out, "/assistant/plans/") || !strings.Contains(out, "+  replicas: 6") {
		t.Fatalf("scale without elicitation: %s", out)
	}
	if got := replicasOf(t, w.a, web); got != 2 {
		t.Fatalf("scale without elicitation changed web: %d replicas", got)
	}

	// With elicitation declined: rejected, nothing runs.
	asked := ""
	declining := mcpSession(t, w.s.URL, w.a, func(r *mcp.ElicitRequest) *mcp.ElicitResult {
		asked = r.Params.Message
		return &mcp.ElicitResult{Action: "decline"}
	})
	if out, _ := callTool(t, declining, "scale", map[string]any{"workspace": ws, "name": "web", "replicas": 6, "project": "frontend"}); !strings.Contains(out, "rejected") {
		t.Fatalf("declined scale: %s", out)
	}
	if !strings.Contains(asked, "+  replicas: 6") {
		t.Fatalf("the human was asked without the diff: %q", asked)
	}
	if got := replicasOf(t, w.a, web); got != 2 {
		t.Fatalf("a declined scale changed web: %d replicas", got)
	}

	// With elicitation accepted: it runs, as A.
	accepting := mcpSession(t, w.s.URL, w.a, func(*mcp.ElicitRequest) *mcp.ElicitResult {
		return &mcp.ElicitResult{Action: "accept", Content: map[string]any{"confirm": true}}
	})
	if out, isErr := callTool(t, accepting, "scale", map[string]any{"workspace": ws, "name": "web", "replicas": 6, "project": "frontend"}); isErr || !strings.Contains(out, "executed") {
		t.Fatalf("accepted scale: %s", out)
	}
	if got := replicasOf(t, w.a, web); got != 6 {
		t.Fatalf("an accepted scale left web at %d replicas", got)
	}
	// The viewer's accepted write is refused by the cluster, as them.
	viewer := mcpSession(t, w.s.URL, w.b, func(*mcp.ElicitRequest) *mcp.ElicitResult {
		return &mcp.ElicitResult{Action: "accept", Content: map[string]any{"confirm": true}}
	})
	if out, isErr := callTool(t, viewer, "scale", map[string]any{"workspace": ws, "name": "web", "replicas": 1, "project": "frontend"}); !isErr || !strings.Contains(out, "403") {
		t.Fatalf("the viewer's scale: %s", out)
	}

	// Another organization's user sees none of this workspace.
	other := mcpSession(t, w.s.URL, w.x, nil)
	if out, _ := callTool(t, other, "list_workspaces", nil); strings.Contains(out, ws) {
		t.Fatalf("X lists %s: %s", ws, out)
	}
	if out, isErr := callTool(t, other, "get_resource", map[string]any{"workspace": ws, "kind": "deployment", "name": "web", "project": "frontend"}); !isErr || !strings.Contains(out, "not found") || strings.Contains(out, "name: web") {
		t.Fatalf("X reads web: %s", out)
	}
	if got := replicasOf(t, w.a, web); got != 6 {
		t.Fatalf("web changed: %d", got)
	}
}
