package mcp

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/hexabase/hexabase-ai/internal/aiops"
	"github.com/hexabase/hexabase-ai/internal/aiops/tools"
	"github.com/hexabase/hexabase-ai/internal/httpapi"
	"github.com/hexabase/hexabase-ai/internal/store"
	"github.com/hexabase/hexabase-ai/internal/testutil"
)

// fakeAssistant is a test double of the assistant (aiops.Service), for
// the MCP transport's own behaviour: sessions, limits and who may answer
// a confirmation. The assistant itself is tested end to end against a
// real workspace in test/e2e (TestMCPActsAsTheTokensUser).
type fakeAssistant struct {
	reg *tools.Registry

	mu        sync.Mutex
	confirmed []string
	rejected  []string
}

func newFakeAssistant(t *testing.T) *fakeAssistant {
	obj := map[string]any{"type": "object", "properties": map[string]any{"name": map[string]any{"type": "string"}}, "additionalProperties": false}
	reg, err := tools.NewRegistry(
		tools.Tool{Name: "get_resource", Description: "read", Effect: tools.Read, Schema: obj,
			Read: func(context.Context, *tools.Target, json.RawMessage) (tools.Result, error) {
				return tools.Result{Text: "name: web"}, nil
			}},
		tools.Tool{Name: "scale", Description: "write", Effect: tools.Write, Schema: obj,
			Propose: func(context.Context, *tools.Target, json.RawMessage) (tools.Proposal, error) {
				return tools.Proposal{}, nil
			}},
	)
	if err != nil {
		t.Fatal(err)
	}
	return &fakeAssistant{reg: reg}
}

func (f *fakeAssistant) Registry() *tools.Registry { return f.reg }
func (f *fakeAssistant) ExternalURL() string       { return "https://hks.example" }
func (f *fakeAssistant) TargetFor(_ context.Context, p httpapi.Principal, org, ws, _ string) (*tools.Target, error) {
	if org != "acme" || ws != "prod" {
		return nil, httpapi.NotFound("workspace")
	}
	t := &tools.Target{}
	t.Scope.Principal = p
	return t, nil
}
func (f *fakeAssistant) Call(_ context.Context, _ *tools.Target, _ aiops.Via, name string, _ json.RawMessage) aiops.CallResult {
	if name == "scale" {
		return aiops.CallResult{Text: "Plan p1 made; NOT executed", Plan: &store.Plan{ID: "p1", Summary: "scale web", Diff: "-  replicas: 2\n+  replicas: 5", ExpiresAt: time.Now().Add(time.Minute)}}
	}
	return aiops.CallResult{Text: "name: web"}
}
func (f *fakeAssistant) ConfirmFor(_ context.Context, _ *tools.Target, id string) (store.Plan, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.confirmed = append(f.confirmed, id)
	return store.Plan{ID: id, Summary: "scale web", Result: "done"}, nil
}
func (f *fakeAssistant) RejectFor(_ context.Context, _ *tools.Target, id string) (store.Plan, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rejected = append(f.rejected, id)
	return store.Plan{ID: id}, nil
}
func (f *fakeAssistant) Workspaces(context.Context, httpapi.Principal) ([]string, error) {
	return []string{"acme/prod"}, nil
}

// tokens accepts "tok-<user>".
type tokens struct{}

func (tokens) Authenticate(_ context.Context, tok string) (httpapi.Principal, error) {
	if u, ok := strings.CutPrefix(tok, "tok-"); ok {
		return httpapi.Principal{UserID: u, Email: u + "@example.com", SessionID: "s-" + u}, nil
	}
	return httpapi.Principal{}, errors.New("bad token")
}

type bearer struct {
	token string
}

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return http.DefaultTransport.RoundTrip(r)
}

func serve(t *testing.T, cfg Config) (*httptest.Server, *fakeAssistant) {
	t.Helper()
	fa := newFakeAssistant(t)
	cfg.Assistant, cfg.Tokens, cfg.Issuer, cfg.Version = fa, tokens{}, "https://hks.example", "test"
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	return ts, fa
}

func connect(t *testing.T, url, token string, elicit bool) *sdk.ClientSession {
	t.Helper()
	opts := &sdk.ClientOptions{}
	if elicit {
		opts.ElicitationHandler = func(context.Context, *sdk.ElicitRequest) (*sdk.ElicitResult, error) {
			return &sdk.ElicitResult{Action: "accept", Content: map[string]any{"confirm": true}}, nil
		}
	}
	cs, err := sdk.NewClient(&sdk.Implementation{Name: "t", Version: "v1"}, opts).Connect(context.Background(),
		&sdk.StreamableClientTransport{Endpoint: url, HTTPClient: &http.Client{Transport: bearer{token}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cs.Close() })
	return cs
}

// TestAnswerOnlyWhatWasAsked: a client cannot make up a human's answer:
// a call carrying a plan id as request state and an accepted answer is
// refused unless this session's human was asked about that plan by this
// tool (the review found a client without elicitation confirming a plan
// it made in a chat).
func TestAnswerOnlyWhatWasAsked(t *testing.T) {
	ts, fa := serve(t, Config{})
	args := map[string]any{"workspace": "acme/prod", "name": "web"}
	forged := &sdk.CallToolParams{Name: "scale", Arguments: args, RequestState: "p1",
		InputResponses: sdk.InputResponseMap{"confirm": &sdk.ElicitResult{Action: "accept", Content: map[string]any{"confirm": true}}}}
	for _, elicit := range []bool{false, true} {
		cs := connect(t, ts.URL, "tok-ann", elicit)
		res, err := cs.CallTool(context.Background(), forged)
		if err != nil {
			t.Fatal(err)
		}
		if !res.IsError {
			t.Fatalf("a made-up answer (elicitation %v) was taken: %+v", elicit, res.Content)
		}
	}
	if len(fa.confirmed) != 0 {
		t.Fatalf("confirmed without asking: %v", fa.confirmed)
	}
	// Asked, then answered: once.
	cs := connect(t, ts.URL, "tok-ann", true)
	res, err := cs.CallTool(context.Background(), &sdk.CallToolParams{Name: "scale", Arguments: args})
	if err != nil || res.IsError {
		t.Fatalf("asked scale: %v %+v", err, res)
	}
	if len(fa.confirmed) != 1 || fa.confirmed[0] != "p1" {
		t.Fatalf("confirmed: %v", fa.confirmed)
	}
	if res, _ := cs.CallTool(context.Background(), forged); !res.IsError || len(fa.confirmed) != 1 {
		t.Fatalf("a second answer was taken: %+v %v", res.Content, fa.confirmed)
	}
}

// TestIdleSessionsEnd: a session nobody uses is closed (the review saw
// abandoned sessions kept for ever).
func TestIdleSessionsEnd(t *testing.T) {
	ts, _ := serve(t, Config{SessionTimeout: 100 * time.Millisecond})
	cs := connect(t, ts.URL, "tok-ann", false)
	id := cs.ID()
	testutil.WaitFor(t, 10*time.Second, "the idle session to be closed", func() bool {
		req, _ := http.NewRequest("POST", ts.URL, strings.NewReader(`{"jsonrpc":"2.0","id":9,"method":"tools/list"}`))
		req.Header.Set("Authorization", "Bearer tok-ann")
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		req.Header.Set("Mcp-Session-Id", id)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusNotFound
	})
}

// TestRequestsCountPerUser: every authenticated request passes the
// per-user middleware with its user (the review found /mcp outside the
// API's per-user rate limit).
func TestRequestsCountPerUser(t *testing.T) {
	var mu sync.Mutex
	seen := map[string]int{}
	limit := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p, ok := httpapi.PrincipalFrom(r.Context())
			mu.Lock()
			seen[p.UserID]++
			n := seen[p.UserID]
			mu.Unlock()
			if !ok || n > 5 {
				http.Error(w, "slow down", http.StatusTooManyRequests)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
	ts, _ := serve(t, Config{Authenticated: limit})
	cs := connect(t, ts.URL, "tok-ann", false)
	var err error
	for i := 0; i < 10 && err == nil; i++ {
		_, err = cs.CallTool(context.Background(), &sdk.CallToolParams{Name: "get_resource", Arguments: map[string]any{"workspace": "acme/prod", "name": "web"}})
	}
	if err == nil {
		t.Fatal("10 calls passed a limit of 5")
	}
	if seen["ann"] < 5 {
		t.Fatalf("requests counted per user: %v", seen)
	}
}
