package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hexabase/hexabase-ai/internal/api"
)

// aiWS is the workspace path the assistant tests address, with acme and
// web as the user types them.
const aiWS = "/api/v1/organizations/acme/workspaces/web"

// aiCall is one request the CLI sent to aiAPI: method and path with
// query, its Accept header and its body.
type aiCall struct{ Method, Path, Accept, Body string }

func (c aiCall) String() string { return c.Method + " " + c.Path }

// aiAPI is a test double of the assistant's routes: it answers them with
// canned objects and scripted event streams and records each request.
// The routes themselves are the server's (internal/aiops, tested there
// and end to end with the built binary); the test here is what the CLI
// sends, and how it reads and renders the answers.
type aiAPI struct {
	t     *testing.T
	mu    sync.Mutex
	calls []aiCall
	// held, if set, is waited for by the "stream" script between its two
	// deltas.
	held chan struct{}
}

// sseFrame is one Server-Sent Event with v as its JSON data.
func sseFrame(name string, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return fmt.Sprintf("event: %s\ndata: %s\n\n", name, b)
}

var aiAt = time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)

// aiPlans are the plans aiAPI knows: p1 confirms, p2 is stale with p3 as
// its fresh plan, p4 has expired, p5 fails in the cluster, p6 is refused
// by the cluster, p7 is already done.
func aiPlans() map[string]api.AIPlan {
	plan := func(id, from string) api.AIPlan {
		return api.AIPlan{ID: id, ChatID: "c1", Tool: "scale", Args: `{"name":"web","replicas":5}`, Status: "pending",
			Summary: "Scale deployment web from " + from + " to 5 replicas", Method: "PATCH",
			Path:      "/apis/apps/v1/namespaces/api/deployments/web/scale",
			Diff:      "--- deployment/web\n+++ deployment/web\n@@ -5 +5 @@\n-  replicas: " + from + "\n+  replicas: 5\n",
			CreatedAt: aiAt, ExpiresAt: aiAt.Add(5 * time.Minute), ConfirmURL: "https://hks.example.com/ai/plans/" + id}
	}
	ps := map[string]api.AIPlan{}
	for _, id := range []string{"p1", "p2", "p4", "p5", "p6", "p7"} {
		ps[id] = plan(id, "3")
	}
	ps["p3"] = plan("p3", "4")
	p7 := ps["p7"]
	p7.Status = "done"
	ps["p7"] = p7
	return ps
}

// script is the event stream the messages route answers to a message.
func (a *aiAPI) script(w http.ResponseWriter, content string) {
	flush := func(frames ...string) {
		for _, f := range frames {
			io.WriteString(w, f)
		}
		w.(http.Flusher).Flush()
	}
	user := api.AIMessage{ID: "m1", Role: "user", Content: content}
	done := func(plans ...api.AIPlan) string {
		return sseFrame("done", api.AITurn{ChatID: "c1", Plans: plans, Usage: api.AIUsage{PromptTokens: 10, CompletionTokens: 5}})
	}
	switch {
	case content == "stream":
		flush(sseFrame("message", user), sseFrame("delta", api.AIDelta{Text: "Hel"}))
		if a.held != nil {
			select {
			case <-a.held:
			case <-time.After(time.Minute): // a failure guard, not a timing
				flush(sseFrame("error", api.Problem{Status: 500, Detail: "the first delta was not printed before the rest was sent"}))
				return
			}
		}
		flush(sseFrame("delta", api.AIDelta{Text: "lo, "}), sseFrame("delta", api.AIDelta{Text: "world.\nSecond line."}),
			sseFrame("message", api.AIMessage{Role: "assistant", Content: "Hello, world.\nSecond line."}), done())
	case strings.HasPrefix(content, "plan "):
		p := aiPlans()[strings.TrimPrefix(content, "plan ")]
		flush(sseFrame("message", user),
			sseFrame("delta", api.AIDelta{Text: "Let me look."}),
			sseFrame("message", api.AIMessage{Role: "assistant", Content: "Let me look.", ToolCalls: []api.AIToolCall{{ID: "t1", Name: "get_resource"}}}),
			sseFrame("message", api.AIMessage{Role: "tool", Tool: "get_resource", ToolArgs: `{"kind": "deployment",` + "\n" + ` "name": "web"}`, Content: `{"replicas":3}`}),
			sseFrame("message", api.AIMessage{Role: "tool", Tool: "get_resource", ToolArgs: `{"kind":"deployment","name":"api"}`, IsError: true, Content: "deployments.apps \"api\" not found"}),
			sseFrame("message", api.AIMessage{Role: "tool", Tool: "scale", ToolArgs: p.Args, PlanID: p.ID, Content: "plan " + p.ID + " waits for confirmation"}),
			sseFrame("plan", p),
			sseFrame("message", api.AIMessage{Role: "assistant", Content: "I made a plan to scale web."}), // no deltas: printed whole
			done(p))
	case content == "fail":
		flush(sseFrame("message", user), sseFrame("delta", api.AIDelta{Text: "Let me"}),
			sseFrame("error", api.Problem{Type: "https://hexabase.ai/problems/model-error", Title: "Bad gateway", Status: 502, Detail: "the model failed: upstream timeout"}))
	case content == "escape":
		hidden := "\x1b[8m"
		flush(sseFrame("message", user), sseFrame("delta", api.AIDelta{Text: "Nothing to see" + hidden}),
			sseFrame("message", api.AIMessage{Role: "tool", Tool: "pod_logs", ToolArgs: `{"pod":"web"}`, Content: "log \x1b]52;c;ZXZpbA==\a"}),
			sseFrame("message", api.AIMessage{Role: "assistant", Content: "Nothing to see" + hidden}), done(api.AIPlan{ID: "p9", Summary: "delete \u202edeployment web", Diff: "-kind: Deployment\x1b[2K"}))
	case content == "cut":
		flush(sseFrame("message", user), sseFrame("delta", api.AIDelta{Text: "Half"}))
	default:
		flush(sseFrame("message", user), sseFrame("delta", api.AIDelta{Text: "You said: " + content}),
			sseFrame("message", api.AIMessage{Role: "assistant", Content: "You said: " + content}), done())
	}
}

func newAIAPI(t *testing.T) *aiAPI {
	t.Helper()
	a := &aiAPI{t: t}
	plans := aiPlans()
	problem := func(w http.ResponseWriter, status int, typ, detail string) {
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(api.Problem{Type: "https://hexabase.ai/problems/" + typ, Title: http.StatusText(status), Status: status, Detail: detail})
	}
	answer := func(w http.ResponseWriter, status int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(v)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		a.mu.Lock()
		a.calls = append(a.calls, aiCall{r.Method, r.URL.RequestURI(), r.Header.Get("Accept"), string(b)})
		a.mu.Unlock()
		if r.Header.Get("Authorization") != "Bearer access" {
			problem(w, http.StatusUnauthorized, "unauthorized", "no access token")
			return
		}
		path := r.URL.Path
		rel, inWS := strings.CutPrefix(path, aiWS)
		switch {
		case path == "/api/v1/organizations/acme/ai":
			st := api.AISettings{Enabled: true, MonthlyTokenBudget: 2000000, UsedThisMonth: 1234567, ResetsAt: time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC), ResourceVersion: "3"}
			if r.Method == http.MethodPatch {
				var p api.PatchAISettingsRequest
				_ = json.Unmarshal(b, &p)
				if p.Enabled != nil {
					st.Enabled = *p.Enabled
				}
				if p.MonthlyTokenBudget != nil {
					st.MonthlyTokenBudget = *p.MonthlyTokenBudget
				}
			}
			answer(w, 200, st)
		case path == "/api/v1/organizations/acme/ai/status":
			answer(w, 200, aiStatus)
		case path == "/api/v1/organizations/acme/usage":
			answer(w, 200, aiUsage)
		case !inWS:
			problem(w, 404, "not-found", "workspace not found")
		case rel == "/diagnose":
			answer(w, 200, api.Diagnosis{Analyzers: []string{"crashloop", "image-pull", "service-selector"}, Objects: 42, Namespaces: []string{"api", "web"}, Findings: []api.Finding{}})
		case rel == "/projects/api/diagnose":
			answer(w, 200, aiDiagnosis)
		case rel == "/ai/chats" && r.Method == http.MethodPost:
			var req api.CreateChatRequest
			_ = json.Unmarshal(b, &req)
			answer(w, 201, api.AIChat{ID: "c1", WorkspaceID: "w1", Project: req.Project, CreatedAt: aiAt, UpdatedAt: aiAt})
		case rel == "/ai/chats":
			answer(w, 200, api.List[api.AIChat]{Items: []api.AIChat{aiChat.AIChat, {ID: "c2", Title: "Quota", CreatedAt: aiAt, UpdatedAt: aiAt}}})
		case rel == "/ai/chats/c1" && r.Method == http.MethodDelete:
			w.WriteHeader(http.StatusNoContent)
		case rel == "/ai/chats/c1" || rel == "/ai/chats/c9":
			ch := aiChat
			ch.ID = strings.TrimPrefix(rel, "/ai/chats/")
			answer(w, 200, ch)
		case rel == "/ai/chats/c1/messages" || rel == "/ai/chats/c9/messages":
			var req api.SendMessageRequest
			_ = json.Unmarshal(b, &req)
			switch req.Content {
			case "no-model":
				problem(w, 409, "no-model", "no model is set up: ask the operator to configure ai.providers")
				return
			case "busy":
				problem(w, 409, "turn-running", "a turn of this chat is running")
				return
			}
			if r.Header.Get("Accept") != "text/event-stream" {
				answer(w, 200, api.AITurn{ChatID: "c1", Messages: []api.AIMessage{{ID: "m1", Role: "user", Content: req.Content}, {ID: "m2", Role: "assistant", Content: "Hi"}},
					Plans: []api.AIPlan{}, Usage: api.AIUsage{PromptTokens: 10, CompletionTokens: 2}, Provider: "local", Model: "qwen"})
				return
			}
			w.Header().Set("Content-Type", "text/event-stream")
			w.WriteHeader(200)
			a.script(w, req.Content)
		case strings.HasPrefix(rel, "/ai/plans/"):
			id, verb, _ := strings.Cut(strings.TrimPrefix(rel, "/ai/plans/"), "/")
			p, ok := plans[id]
			switch {
			case !ok:
				problem(w, 404, "not-found", "plan not found")
			case r.Method == http.MethodGet:
				answer(w, 200, p)
			case verb == "reject":
				p.Status = "rejected"
				answer(w, 200, p)
			case verb != "confirm":
				problem(w, 404, "not-found", "not found")
			case id == "p2":
				w.Header().Set("Location", aiWS+"/ai/plans/p3")
				problem(w, 409, "plan-stale", "the deployment changed since the plan was made: review plan p3")
			case id == "p4":
				problem(w, 410, "plan-expired", "the plan expired at 2026-12-07T09:05:00Z")
			case id == "p5":
				p.Status, p.Result = "failed", `Deployment.apps "web" is invalid: spec.replicas: must be greater than or equal to 0`
				answer(w, 200, p)
			case id == "p6":
				problem(w, 403, "forbidden", `deployments.apps "web" is forbidden: User "viewer@example.com" cannot patch resource "deployments/scale"`)
			case id == "p7":
				problem(w, 409, "plan-decided", "the plan was already confirmed")
			default:
				p.Status, p.Result = "done", `{"replicas":5}`
				answer(w, 200, p)
			}
		default:
			problem(w, 404, "not-found", "not found")
		}
	}))
	t.Cleanup(srv.Close)
	signedInTo(t, srv.URL)
	return a
}

// sent is the requests so far as "METHOD path" lines.
func (a *aiAPI) sent() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	var s []string
	for _, c := range a.calls {
		s = append(s, c.String())
	}
	return s
}

func (a *aiAPI) call(i int) aiCall {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.calls[i]
}

var (
	aiStatus = api.AIStatus{Enabled: true,
		Models: []api.AIModel{{Provider: "local", Model: "qwen2.5-coder", Default: true}, {Provider: "openai", Model: "gpt-4.1", Anonymize: true}},
		Tools: []api.AITool{{Name: "get_resource", Description: "Read one object of the project: its spec and status, secrets without values.", Effect: "read", Schema: json.RawMessage(`{"type":"object"}`)},
			{Name: "scale", Description: "Scale a Deployment or StatefulSet.", Effect: "write", Schema: json.RawMessage(`{"type":"object"}`)}}}
	aiUsage = api.UsageReport{Since: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), Until: aiAt, Totals: []api.UsageTotal{
		{Meter: "ai.prompt_tokens", WorkspaceID: "w1", UserID: "u1", Subject: "qwen2.5-coder", Quantity: 1234567},
		{Meter: "ai.completion_tokens", WorkspaceID: "w1", UserID: "u1", Subject: "qwen2.5-coder", Quantity: 4321}}}
	aiDiagnosis = api.Diagnosis{Analyzers: []string{"crashloop", "image-pull", "quota", "service-selector", "cronjob-history"}, Objects: 17,
		Namespaces: []string{"api"}, Skipped: []string{"horizontalpodautoscalers", "ingresses"},
		Findings: []api.Finding{
			{Analyzer: "service-selector", Severity: "warning", Title: "Service api-internal selects no pod",
				Objects:  []api.FindingObject{{Kind: "Service", Name: "api-internal", Namespace: "api"}},
				Evidence: []string{"selector app=api-internal matches none of the 4 pods"}, Suggestion: "Fix the selector or the pods' labels."},
			{Analyzer: "image-pull", Severity: "critical", Title: "Pods of web cannot pull their image",
				Objects: []api.FindingObject{{Kind: "Deployment", Name: "web", Namespace: "api"}, {Kind: "Pod", Name: "web-5d9c-a", Namespace: "api"},
					{Kind: "Pod", Name: "web-5d9c-b", Namespace: "api"}, {Kind: "Pod", Name: "web-5d9c-c", Namespace: "api"}},
				Evidence:   []string{`Failed to pull image "ngnix:1.27": not found`, "Back-off pulling image\n(4 times in 10m)"},
				Suggestion: "Correct the image name: hks app set image web nginx:1.27"},
			{Analyzer: "cronjob-history", Severity: "info", Title: "CronJob report has never run", Objects: []api.FindingObject{{Kind: "CronJob", Name: "report", Namespace: "api"}}},
			{Analyzer: "quota", Severity: "critical", Title: "Quota pods is at its limit (10/10)",
				Objects: []api.FindingObject{{Kind: "ResourceQuota", Name: "hks-quota", Namespace: "api"}}, Evidence: []string{"ReplicaSet web-5d9c refused: exceeded quota"},
				Suggestion: "Raise the project's pod quota or scale something down."}}}
	aiChat = api.AIChatDetail{
		AIChat: api.AIChat{ID: "c1", Title: "Why does web not start?", Project: "api", ProjectID: "p1", CreatedAt: aiAt, UpdatedAt: aiAt.Add(2 * time.Minute)},
		Messages: []api.AIMessage{
			{Seq: 1, Role: "user", Content: "Why does web not start? Scale it to 5 then."},
			{Seq: 2, Role: "assistant", ToolCalls: []api.AIToolCall{{ID: "t1", Name: "get_resource"}}},
			{Seq: 3, Role: "tool", Tool: "get_resource", ToolArgs: `{"kind":"deployment","name":"web"}`, Content: `{"name":"web","replicas":3,"ready":0,"conditions":[{"type":"Available","status":"False","reason":"MinimumReplicasUnavailable","message":"Deployment does not have minimum availability."}]}`},
			{Seq: 4, Role: "tool", Tool: "get_logs", ToolArgs: `{"pod":"web-1"}`, IsError: true, Content: "pods \"web-1\" not found"},
			{Seq: 5, Role: "tool", Tool: "scale", ToolArgs: `{"name":"web","replicas":5}`, PlanID: "p1", Content: "plan p1"},
			{Seq: 6, Role: "assistant", Content: "The image name is misspelled (ngnix).\nI made a plan to scale web to 5."}},
		Plans: []api.AIPlan{{ID: "p1", Status: "done", Summary: "Scale deployment web from 3 to 5 replicas"},
			{ID: "p0", Status: "failed", Summary: "Delete pod web-1", Result: "pods \"web-1\" not found"}}}
)

// aiScope is the scope flags of the workspace commands.
var aiScope = []string{"--org", "acme", "--workspace", "web"}

func aiArgs(args ...string) []string { return append(append([]string{"ai"}, args...), aiScope...) }

// TestAIChatPlans: hks ai chat streams a turn, prints its tool calls, and
// asks about each plan: y confirms it once, anything else rejects it; a
// stale plan's fresh plan is shown and asked about again; the outcome of a
// confirm (done, failed, expired, refused) is printed and the chat goes
// on.
func TestAIChatPlans(t *testing.T) {
	msgs, chats := aiWS+"/ai/chats/c1/messages", aiWS+"/ai/chats"
	plan := func(id, verb string) string {
		if verb == "" {
			return "GET " + aiWS + "/ai/plans/" + id
		}
		return "POST " + aiWS + "/ai/plans/" + id + "/" + verb
	}
	for _, tc := range []struct {
		name  string
		args  []string
		stdin string
		sent  []string
		out   []string // in this order
		not   []string
		err   string
	}{
		{name: "y confirms the plan once", stdin: "plan p1\ny\n",
			sent: []string{"POST " + chats, "POST " + msgs, plan("p1", "confirm")},
			out: []string{"Let me look.\n", "· get_resource {\"kind\":\"deployment\",\"name\":\"web\"}\n",
				"· get_resource {\"kind\":\"deployment\",\"name\":\"api\"}\n  ✗ deployments.apps \"api\" not found\n",
				"· scale {\"name\":\"web\",\"replicas\":5}\n  → plan p1\n", "I made a plan to scale web.\n",
				"Plan p1: Scale deployment web from 3 to 5 replicas\n  PATCH /apis/apps/v1/namespaces/api/deployments/web/scale\n  expires at 2026-12-07T09:05:00Z\n--- deployment/web\n+++ deployment/web\n@@ -5 +5 @@\n-  replicas: 3\n+  replicas: 5\n",
				"Confirm this plan? [y/N] ", "✓ Done: Scale deployment web from 3 to 5 replicas\n", "Chat c1: continue it with hks ai chat --chat c1\n"},
			not: []string{"\x1b[", "> "}},
		{name: "n rejects the plan", stdin: "plan p1\nn\n",
			sent: []string{"POST " + chats, "POST " + msgs, plan("p1", "reject")},
			out:  []string{"Confirm this plan? [y/N] ", "Rejected plan p1.\n"}},
		{name: "the end of input at the prompt rejects the plan", stdin: "plan p1\n",
			sent: []string{"POST " + chats, "POST " + msgs, plan("p1", "reject")}},
		{name: "a stale plan's fresh plan is shown and asked again", stdin: "plan p2\nyes\ny\n",
			sent: []string{"POST " + chats, "POST " + msgs, plan("p2", "confirm"), plan("p3", ""), plan("p3", "confirm")},
			out: []string{"Plan p2: ", "-  replicas: 3\n", "Confirm this plan? [y/N] ", "The object changed since plan p2 was made: a fresh plan follows.\n",
				"Plan p3: Scale deployment web from 4 to 5 replicas\n", "-  replicas: 4\n", "Confirm this plan? [y/N] ", "✓ Done: Scale deployment web from 4 to 5"}},
		{name: "a fresh plan answered no is rejected", stdin: "plan p2\ny\nno\n",
			sent: []string{"POST " + chats, "POST " + msgs, plan("p2", "confirm"), plan("p3", ""), plan("p3", "reject")},
			out:  []string{"Rejected plan p3.\n"}},
		{name: "an expired plan is said so and the chat goes on", stdin: "plan p4\ny\nhello\n",
			sent: []string{"POST " + chats, "POST " + msgs, plan("p4", "confirm"), "POST " + msgs},
			out:  []string{"✗ plan p4 expired: ask the assistant again for a fresh one: the plan expired at 2026-12-07T09:05:00Z (HTTP 410)\n", "You said: hello\n"}},
		{name: "a plan that failed in the cluster shows the cluster's message", stdin: "plan p5\ny\n",
			sent: []string{"POST " + chats, "POST " + msgs, plan("p5", "confirm")},
			out:  []string{"✗ plan p5 failed: Deployment.apps \"web\" is invalid: spec.replicas: must be greater than or equal to 0\n"}},
		{name: "a plan the cluster refuses is shown as refused", stdin: "plan p6\ny\n",
			sent: []string{"POST " + chats, "POST " + msgs, plan("p6", "confirm")},
			out:  []string{"✗ plan p6 was refused: deployments.apps \"web\" is forbidden: User \"viewer@example.com\" cannot patch resource \"deployments/scale\" (HTTP 403)\n"}},
		{name: "/exit ends the chat", stdin: "hello\n/exit\nplan p1\n",
			sent: []string{"POST " + chats, "POST " + msgs}, out: []string{"You said: hello\n"}},
		{name: "no chat is made without a message", stdin: "\n\n", sent: nil, not: []string{"Chat c1"}},
		{name: "--chat continues a chat", args: []string{"--chat", "c9", "--provider", "openai"}, stdin: "hello",
			sent: []string{"GET " + aiWS + "/ai/chats/c9", "POST " + aiWS + "/ai/chats/c9/messages"},
			out:  []string{"Chat c9: Why does web not start?\n", "You said: hello\n", "Chat c9: continue it with hks ai chat --chat c9\n"}},
		{name: "an error event is printed and the chat goes on", stdin: "fail\nhello\n",
			sent: []string{"POST " + chats, "POST " + msgs, "POST " + msgs},
			out:  []string{"Let me\n✗ the model failed: upstream timeout (HTTP 502)\n", "You said: hello\n"}},
		{name: "a stream cut short is an error and the chat goes on", stdin: "cut\nhello\n",
			sent: []string{"POST " + chats, "POST " + msgs, "POST " + msgs},
			out:  []string{"Half\n✗ the reply ended before the turn was done\n", "You said: hello\n"}},
		{name: "a turn already running is an error and the chat goes on", stdin: "busy\nhello\n",
			sent: []string{"POST " + chats, "POST " + msgs, "POST " + msgs},
			out:  []string{"✗ a turn of this chat is running (HTTP 409)\n", "You said: hello\n"}},
		{name: "no model ends the chat with the server's words", stdin: "no-model\nhello\n",
			sent: []string{"POST " + chats, "POST " + msgs},
			err:  "no model is set up: ask the operator to configure ai.providers (HTTP 409)"},
		{name: "-o json is refused", args: []string{"-o", "json"}, stdin: "hello\n", err: `hks ai chat is interactive and prints no -o json: use hks ai ask "…" -o json`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newAIAPI(t)
			out, err := runIn(t, tc.stdin, append(aiArgs("chat", "--project", "api"), tc.args...)...)
			if (err == nil) != (tc.err == "") || (err != nil && err.Error() != tc.err) {
				t.Fatalf("error %v, want %q; output:\n%s", err, tc.err, out)
			}
			if got := a.sent(); !slices.Equal(got, tc.sent) {
				t.Errorf("sent:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.sent, "\n"))
			}
			rest := out
			for _, want := range tc.out {
				i := strings.Index(rest, want)
				if i < 0 {
					t.Fatalf("output lacks %q (in this order):\n%s", want, out)
				}
				rest = rest[i+len(want):]
			}
			for _, not := range tc.not {
				if strings.Contains(out, not) {
					t.Errorf("output has %q:\n%s", not, out)
				}
			}
		})
	}
}

// TestAIChatSends: the chat is made with the project, each message is
// sent as the user typed it, with the provider, asking for an event
// stream.
func TestAIChatSends(t *testing.T) {
	a := newAIAPI(t)
	if out, err := runIn(t, "  hello there  \n", aiArgs("chat", "--project", "api", "--provider", "openai")...); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if c := a.call(0); canonical(t, c.Body) != canonical(t, `{"project":"api"}`) {
		t.Errorf("chat made with %s", c.Body)
	}
	if c := a.call(1); canonical(t, c.Body) != canonical(t, `{"content":"hello there","provider":"openai"}`) || c.Accept != "text/event-stream" {
		t.Errorf("message sent as %s (Accept %q)", c.Body, c.Accept)
	}
}

// watchWriter closes seen once what it was written contains want.
type watchWriter struct {
	mu   sync.Mutex
	b    bytes.Buffer
	want string
	seen chan struct{}
	once sync.Once
}

func (w *watchWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.b.Write(p)
	if strings.Contains(w.b.String(), w.want) {
		w.once.Do(func() { close(w.seen) })
	}
	return len(p), nil
}

// TestAIAskStreamsDeltas: each delta is on standard output before the
// server sends the next (the server holds the rest of the reply until
// the first delta is printed), in order, and the assistant's message
// that repeats them is not printed again.
func TestAIAskStreamsDeltas(t *testing.T) {
	a := newAIAPI(t)
	w := &watchWriter{want: "Hel", seen: make(chan struct{})}
	a.held = w.seen
	root := newTestRoot()
	root.SetOut(w)
	root.SetErr(io.Discard)
	root.SetIn(strings.NewReader(""))
	root.SetArgs(aiArgs("ask", "stream"))
	if err := root.Execute(); err != nil {
		t.Fatalf("%v\n%s", err, w.b.String())
	}
	if want := "Hello, world.\nSecond line.\n"; w.b.String() != want {
		t.Fatalf("output %q, want %q", w.b.String(), want)
	}
}

// TestAIAsk: one message in a new chat, streamed; the plans are listed
// with the commands that confirm or reject them, and nothing is confirmed.
func TestAIAsk(t *testing.T) {
	t.Run("plans are listed, never confirmed", func(t *testing.T) {
		a := newAIAPI(t)
		out, err := runIn(t, "y\n", append(aiArgs("ask", "plan", "p1"), "--project", "api")...)
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		want := []string{"POST " + aiWS + "/ai/chats", "POST " + aiWS + "/ai/chats/c1/messages"}
		if got := a.sent(); !slices.Equal(got, want) {
			t.Errorf("sent %q, want %q", got, want)
		}
		for _, line := range []string{"Plan p1: Scale deployment web from 3 to 5 replicas\n", "+  replicas: 5\n",
			"Confirm it: hks ai confirm p1 --org acme --workspace web\n", "Reject it:  hks ai reject p1 --org acme --workspace web\n",
			"Or in the console: https://hks.example.com/ai/plans/p1\n", "Chat c1: continue it with hks ai chat --chat c1\n"} {
			if !strings.Contains(out, line) {
				t.Errorf("output lacks %q:\n%s", line, out)
			}
		}
		if strings.Contains(out, "Confirm this plan?") {
			t.Errorf("ask asked:\n%s", out)
		}
	})
	t.Run("-o json sends for a JSON answer and prints the turn", func(t *testing.T) {
		a := newAIAPI(t)
		out, err := runIn(t, "", append(aiArgs("ask", "hi"), "-o", "json")...)
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		var turn api.AITurn
		if err := json.Unmarshal([]byte(out), &turn); err != nil || turn.Model != "qwen" || len(turn.Messages) != 2 {
			t.Fatalf("output %q: %+v %v", out, turn, err)
		}
		if c := a.call(1); c.Accept != "application/json" {
			t.Errorf("Accept %q", c.Accept)
		}
	})
	t.Run("an error event fails the command", func(t *testing.T) {
		newAIAPI(t)
		out, err := runIn(t, "", aiArgs("ask", "fail")...)
		if err == nil || err.Error() != "the model failed: upstream timeout (HTTP 502)" {
			t.Fatalf("error %v; output:\n%s", err, out)
		}
	})
}

// TestAIConfirmAndReject: hks ai confirm shows the plan and asks, unless
// --yes; a no leaves the plan pending; a stale plan with --yes shows the
// fresh plan and confirms nothing more.
func TestAIConfirmAndReject(t *testing.T) {
	plan := func(id, verb string) string {
		if verb == "" {
			return "GET " + aiWS + "/ai/plans/" + id
		}
		return "POST " + aiWS + "/ai/plans/" + id + "/" + verb
	}
	for _, tc := range []struct {
		name  string
		args  []string
		stdin string
		sent  []string
		out   []string
		err   string
	}{
		{name: "--yes confirms without asking", args: []string{"confirm", "p1", "--yes"},
			sent: []string{plan("p1", ""), plan("p1", "confirm")}, out: []string{"-  replicas: 3\n", "✓ Done: Scale deployment web"}},
		{name: "y confirms", args: []string{"confirm", "p1"}, stdin: "y\n",
			sent: []string{plan("p1", ""), plan("p1", "confirm")}, out: []string{"Confirm this plan? [y/N] ", "✓ Done"}},
		{name: "no leaves the plan pending", args: []string{"confirm", "p1"}, stdin: "\n",
			sent: []string{plan("p1", "")}, err: "plan p1 not confirmed: it stays pending until it expires (hks ai reject p1 rejects it)"},
		{name: "a stale plan is asked about again", args: []string{"confirm", "p2"}, stdin: "y\ny\n",
			sent: []string{plan("p2", ""), plan("p2", "confirm"), plan("p3", ""), plan("p3", "confirm")},
			out:  []string{"a fresh plan follows", "Plan p3: ", "✓ Done: Scale deployment web from 4 to 5"}},
		{name: "--yes confirms no fresh plan", args: []string{"confirm", "p2", "-y"},
			sent: []string{plan("p2", ""), plan("p2", "confirm"), plan("p3", "")}, out: []string{"Plan p3: ", "-  replicas: 4\n"},
			err: "plan p2 is stale: review the fresh plan with hks ai confirm p3"},
		{name: "a decided plan is not sent", args: []string{"confirm", "p7", "--yes"},
			sent: []string{plan("p7", "")}, err: "plan p7 is done, not pending"},
		{name: "an unknown plan", args: []string{"confirm", "nope", "--yes"},
			sent: []string{plan("nope", "")}, err: "plan not found (HTTP 404)"},
		{name: "-o json prints the plan confirmed", args: []string{"confirm", "p1", "--yes", "-o", "json"},
			sent: []string{plan("p1", ""), plan("p1", "confirm")}, out: []string{`"status": "done"`}},
		{name: "reject", args: []string{"reject", "p1"},
			sent: []string{plan("p1", "reject")}, out: []string{"ID  STATUS    SUMMARY\np1  rejected  Scale deployment web from 3 to 5 replicas\n"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newAIAPI(t)
			out, err := runIn(t, tc.stdin, aiArgs(tc.args...)...)
			if (err == nil) != (tc.err == "") || (err != nil && err.Error() != tc.err) {
				t.Fatalf("error %v, want %q; output:\n%s", err, tc.err, out)
			}
			if got := a.sent(); !slices.Equal(got, tc.sent) {
				t.Errorf("sent:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.sent, "\n"))
			}
			rest := out
			for _, want := range tc.out {
				i := strings.Index(rest, want)
				if i < 0 {
					t.Fatalf("output lacks %q (in this order):\n%s", want, out)
				}
				rest = rest[i+len(want):]
			}
		})
	}
}

// TestAICommandsSend: the requests of the other ai commands.
func TestAICommandsSend(t *testing.T) {
	org := "/api/v1/organizations/acme"
	for _, tc := range []struct {
		name string
		args []string
		sent []aiCall // Accept not compared
		err  string
		env  string // HKS_PROJECT
	}{
		{name: "diagnose the project of HKS_PROJECT", args: aiArgs("diagnose"), env: "api", sent: []aiCall{{Method: "GET", Path: aiWS + "/projects/api/diagnose"}}},
		{name: "--project \"\" diagnoses the whole workspace over HKS_PROJECT", args: aiArgs("diagnose", "--project", ""), env: "api",
			sent: []aiCall{{Method: "GET", Path: aiWS + "/diagnose"}}},
		{name: "settings reads", args: []string{"ai", "settings", "--org", "acme"}, sent: []aiCall{{Method: "GET", Path: org + "/ai"}}},
		{name: "settings --enable --budget 0", args: []string{"ai", "settings", "--org", "acme", "--enable", "--budget", "0"},
			sent: []aiCall{{Method: "PATCH", Path: org + "/ai", Body: `{"enabled":true,"monthly_token_budget":0}`}}},
		{name: "settings --disable", args: []string{"ai", "settings", "--org", "acme", "--disable"},
			sent: []aiCall{{Method: "PATCH", Path: org + "/ai", Body: `{"enabled":false}`}}},
		{name: "settings --enable --disable", args: []string{"ai", "settings", "--org", "acme", "--enable", "--disable"},
			err: "if any flags in the group [enable disable] are set none of the others can be; [disable enable] were all set"},
		{name: "settings with a negative budget", args: []string{"ai", "settings", "--org", "acme", "--budget", "-1"}, err: "--budget: must be 0 (no cap) or more"},
		{name: "status", args: []string{"ai", "status", "--org", "acme"}, sent: []aiCall{{Method: "GET", Path: org + "/ai/status"}}},
		{name: "usage", args: []string{"ai", "usage", "--org", "acme", "--since", "2026-11-01", "--until", "2026-12-01T09:00:00+09:00"},
			sent: []aiCall{{Method: "GET", Path: org + "/usage?since=2026-11-01T00%3A00%3A00Z&until=2026-12-01T09%3A00%3A00%2B09%3A00"}}},
		{name: "usage with a bad date", args: []string{"ai", "usage", "--org", "acme", "--since", "yesterday"},
			err: `--since: "yesterday" is neither an RFC 3339 time nor a date (YYYY-MM-DD)`},
		{name: "diagnose a workspace", args: aiArgs("diagnose"), sent: []aiCall{{Method: "GET", Path: aiWS + "/diagnose"}}},
		{name: "diagnose a project", args: aiArgs("diagnose", "--project", "api"), sent: []aiCall{{Method: "GET", Path: aiWS + "/projects/api/diagnose"}}},
		{name: "chats list", args: aiArgs("chats", "list"), sent: []aiCall{{Method: "GET", Path: aiWS + "/ai/chats?limit=500"}}},
		{name: "chats show", args: aiArgs("chats", "show", "c1"), sent: []aiCall{{Method: "GET", Path: aiWS + "/ai/chats/c1"}}},
		{name: "chats delete", args: aiArgs("chats", "delete", "c1"), sent: []aiCall{{Method: "DELETE", Path: aiWS + "/ai/chats/c1"}}},
		{name: "ask sends the words as one question", args: append(aiArgs("ask", "why", "is", "web", "down?"), "--project", "api"),
			sent: []aiCall{{Method: "POST", Path: aiWS + "/ai/chats", Body: `{"project":"api"}`}, {Method: "POST", Path: aiWS + "/ai/chats/c1/messages", Body: `{"content":"why is web down?"}`}}},
		{name: "a workspace command needs --workspace", args: []string{"ai", "chats", "list", "--org", "acme"}, err: "--workspace is required (or set HKS_WORKSPACE)"},
		{name: "every ai command needs --org", args: []string{"ai", "status"}, err: "--org is required (or set HKS_ORG)"},
		{name: "an unknown workspace is named", args: []string{"ai", "chats", "list", "--org", "acme", "--workspace", "nope"},
			sent: []aiCall{{Method: "GET", Path: "/api/v1/organizations/acme/workspaces/nope/ai/chats?limit=500"}}, err: `workspace "nope" not found (HTTP 404)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newAIAPI(t)
			t.Setenv("HKS_PROJECT", tc.env)
			out, err := runIn(t, "", tc.args...)
			if (err == nil) != (tc.err == "") || (err != nil && err.Error() != tc.err) {
				t.Fatalf("error %v, want %q; output:\n%s", err, tc.err, out)
			}
			a.mu.Lock()
			defer a.mu.Unlock()
			if len(a.calls) != len(tc.sent) {
				t.Fatalf("sent %v, want %v", a.calls, tc.sent)
			}
			for i, want := range tc.sent {
				got := a.calls[i]
				if got.Method != want.Method || got.Path != want.Path || canonical(t, got.Body) != canonical(t, want.Body) {
					t.Errorf("call %d: %s %s %s, want %s %s %s", i, got.Method, got.Path, got.Body, want.Method, want.Path, want.Body)
				}
			}
		})
	}
}

// TestAIOutput prints every answer of the ai commands in each format; the
// output must stay as the golden file has it, byte for byte (-update
// rewrites it).
func TestAIOutput(t *testing.T) {
	newAIAPI(t)
	var all strings.Builder
	for _, cmd := range []string{"diagnose --project api", "diagnose", "chats list", "chats show c1", "status", "settings", "usage"} {
		for _, format := range []string{"table", "json", "yaml"} {
			args := append(aiArgs(strings.Fields(cmd)...), "-o", format)
			if f := strings.Fields(cmd)[0]; f == "status" || f == "settings" || f == "usage" {
				args = append([]string{"ai", f, "--org", "acme"}, "-o", format)
			}
			out, err := runIn(t, "", args...)
			if err != nil {
				t.Fatalf("%s -o %s: %v\n%s", cmd, format, err, out)
			}
			all.WriteString("=== hks ai " + cmd + " -o " + format + "\n" + out)
		}
	}
	golden := filepath.Join("testdata", "ai_output.golden")
	if *updateGolden {
		if err := os.WriteFile(golden, []byte(all.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if all.String() != string(want) {
		t.Errorf("output differs from %s:\n%s", golden, all.String())
	}
}

// TestColorDiff: a diff is colored on a terminal only.
func TestColorDiff(t *testing.T) {
	for line, want := range map[string]string{
		"--- a":          "\x1b[1m--- a\x1b[0m",
		"+  replicas: 5": "\x1b[32m+  replicas: 5\x1b[0m",
		"-  replicas: 3": "\x1b[31m-  replicas: 3\x1b[0m",
		"@@ -5 +5 @@":    "\x1b[36m@@ -5 +5 @@\x1b[0m",
		"   image: web":  "   image: web",
	} {
		if got := colorDiffLine(line, true); got != want {
			t.Errorf("%q: %q, want %q", line, got, want)
		}
		if got := colorDiffLine(line, false); got != line {
			t.Errorf("%q uncolored: %q", line, got)
		}
	}
}

// TestAIOutputIsSafeForTerminals: text from the model or the cluster
// cannot send escape sequences to the user's terminal (hide the plan
// above the prompt, write the clipboard) nor reorder it with bidi
// overrides (the hostile review's finding 4).
func TestAIOutputIsSafeForTerminals(t *testing.T) {
	newAIAPI(t)
	out, err := runIn(t, "", aiArgs("ask", "escape")...)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if strings.ContainsAny(out, "\x1b\a\u202e") {
		t.Fatalf("control characters reach the terminal: %q", out)
	}
	if !strings.Contains(out, `\u001b[8m`) || !strings.Contains(out, "delete \\u202edeployment web") {
		t.Fatalf("the escapes are not shown: %q", out)
	}
}

// TestPrintPlatformPlan: a plan whose request goes to the platform's API
// (a function's deploy, run_code) says so, and its diff (the code) is
// printed like an object's.
func TestPrintPlatformPlan(t *testing.T) {
	var b strings.Builder
	printPlan(&b, api.AIPlan{ID: "p1", Summary: "run python code once in shop", Target: "platform", Method: "PUT",
		Path: "/api/v1/organizations/acme/workspaces/prod/projects/shop/functions/tmp-abc", Diff: "--- before\n+++ after\n@@ -0,0 +1,2 @@\n+def handle(req):\n+    return 1\n"}, false)
	want := "Plan p1: run python code once in shop\n" +
		"  PUT /api/v1/organizations/acme/workspaces/prod/projects/shop/functions/tmp-abc  (the platform's API)\n" +
		"--- before\n+++ after\n@@ -0,0 +1,2 @@\n+def handle(req):\n+    return 1\n"
	if b.String() != want {
		t.Errorf("printed:\n%s\nwant:\n%s", b.String(), want)
	}
}
