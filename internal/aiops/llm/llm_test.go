package llm_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hexabase/hexabase-ai/internal/aiops/llm"
	"github.com/hexabase/hexabase-ai/internal/testutil/scriptedmodel"
)

// apiKey is the key the tests configure; no error text may contain it.
const apiKey = "sk-test-SECRET-4f9c2d1e8b7a"

func newClient(t testing.TB, baseURL string, mod ...func(*llm.Provider)) *llm.Client {
	t.Helper()
	p := llm.Provider{Name: "scripted", BaseURL: baseURL, Model: "test-model", APIKey: apiKey}
	for _, m := range mod {
		m(&p)
	}
	c, err := llm.New(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// within bounds a test that would otherwise hang on a bug.
func within(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestNew(t *testing.T) {
	ok := llm.Provider{Name: "ollama", BaseURL: "http://127.0.0.1:11434/v1", Model: "llama3.2"}
	for _, c := range []struct {
		name string
		mod  func(*llm.Provider)
		want string // "" for valid
	}{
		{"valid", func(*llm.Provider) {}, ""},
		{"https with a port and no path", func(p *llm.Provider) { p.BaseURL = "https://llm.example.com:8443" }, ""},
		{"no name", func(p *llm.Provider) { p.Name = "" }, "llm: Name is required"},
		{"no base URL", func(p *llm.Provider) { p.BaseURL = "" }, "llm: BaseURL is required"},
		{"no model", func(p *llm.Provider) { p.Model = "" }, "llm: Model is required"},
		{"not a URL", func(p *llm.Provider) { p.BaseURL = "http://[::1" }, "llm: BaseURL is not a URL"},
		{"ftp", func(p *llm.Provider) { p.BaseURL = "ftp://host/v1" }, `llm: BaseURL "ftp://host/v1": the scheme must be http or https`},
		{"host without scheme", func(p *llm.Provider) { p.BaseURL = "localhost:11434/v1" }, `llm: BaseURL "localhost:11434/v1": the scheme must be http or https`},
		{"relative", func(p *llm.Provider) { p.BaseURL = "/v1" }, `llm: BaseURL "/v1": the scheme must be http or https`},
		{"no host", func(p *llm.Provider) { p.BaseURL = "http:///v1" }, `llm: BaseURL "http:///v1": an absolute URL with a host is required`},
		{"credentials", func(p *llm.Provider) { p.BaseURL = "https://user:hunter2@llm.example.com/v1" }, "llm: BaseURL must not carry credentials (user info): give the key as APIKey"},
		{"query", func(p *llm.Provider) { p.BaseURL = "https://llm.example.com/v1?api-version=1" }, `llm: BaseURL "https://llm.example.com/v1?api-version=1" must not carry a query or fragment`},
		{"negative timeout", func(p *llm.Provider) { p.Timeout = -time.Second }, "llm: Timeout must not be negative"},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := ok
			c.mod(&p)
			cl, err := llm.New(p, nil)
			switch {
			case c.want == "" && err != nil:
				t.Fatalf("New: %v", err)
			case c.want == "" && cl.Provider() != p:
				t.Fatalf("Provider() = %v, want %v", cl.Provider(), p)
			case c.want != "" && (err == nil || err.Error() != c.want):
				t.Fatalf("New: %v, want %q", err, c.want)
			}
		})
	}
}

// TestStreamForwardsDeltasAsTheyArrive: the server sends the first content
// chunk and holds the rest until the test has seen that chunk's delta, so
// the stream completes only if onDelta runs before the stream ends (a
// client that buffered would wait until the 30 s bound).
func TestStreamForwardsDeltasAsTheyArrive(t *testing.T) {
	gate := make(chan struct{})
	s := scriptedmodel.Start(t, scriptedmodel.Turn{Content: "The web Deployment has 3 of 3 replicas ready.", Gate: gate})
	c := newClient(t, s.URL())
	var deltas []string
	temp := 0.2
	req := llm.Request{
		Messages: []llm.Message{
			{Role: "system", Content: "You help with Kubernetes."},
			{Role: "user", Content: "how is web?"},
			{Role: "assistant", ToolCalls: []llm.ToolCall{{ID: "c1", Name: "get", Arguments: `{"kind":"Deployment","name":"web"}`}}},
			{Role: "tool", ToolCallID: "c1", Content: `{"readyReplicas":3}`},
		},
		Tools:       []llm.ToolDef{{Name: "get", Description: "Get an object", Parameters: map[string]any{"type": "object"}}},
		MaxTokens:   256,
		Temperature: &temp,
	}
	resp, err := c.Stream(within(t), req, func(d string) {
		if len(deltas) == 0 {
			close(gate)
		}
		deltas = append(deltas, d)
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(deltas) < 2 || strings.Join(deltas, "") != resp.Content || resp.Content != "The web Deployment has 3 of 3 replicas ready." {
		t.Errorf("deltas %q, content %q", deltas, resp.Content)
	}
	r := s.Requests()[0]
	if want := scriptedmodel.CountUsage(r, scriptedmodel.Turn{Content: resp.Content}); resp.Usage != (llm.Usage(want)) {
		t.Errorf("usage %+v, want %+v", resp.Usage, want)
	}
	if resp.FinishReason != "stop" || resp.Model != "test-model" || len(resp.ToolCalls) != 0 {
		t.Errorf("response %+v", resp)
	}
	// What the provider received.
	wantMsgs := []scriptedmodel.Message{
		{Role: "system", Content: "You help with Kubernetes."},
		{Role: "user", Content: "how is web?"},
		{Role: "assistant", ToolCalls: []scriptedmodel.ToolCall{{ID: "c1", Name: "get", Arguments: `{"kind":"Deployment","name":"web"}`}}},
		{Role: "tool", ToolCallID: "c1", Content: `{"readyReplicas":3}`},
	}
	if r.Model != "test-model" || !r.Stream || !r.IncludeUsage || !reflect.DeepEqual(r.Messages, wantMsgs) ||
		!slices.Equal(r.Tools, []string{"get"}) || r.MaxTokens != 256 || r.Temperature == nil || *r.Temperature != 0.2 ||
		r.Header.Get("Authorization") != "Bearer "+apiKey {
		t.Errorf("request %+v", r)
	}
	if !bytes.Contains(r.Body, []byte(`"max_tokens":256`)) || !bytes.Contains(r.Body, []byte(`"description":"Get an object"`)) {
		t.Errorf("body %s", r.Body)
	}
}

// TestStreamAccumulatesToolCalls: two parallel calls whose arguments come
// in pieces of 3 runes, after some content.
func TestStreamAccumulatesToolCalls(t *testing.T) {
	calls := []scriptedmodel.ToolCall{
		{ID: "call_logs", Name: "pod_logs", Arguments: `{"namespace":"shop","pod":"web-7d4b9c","tail":50}`},
		{ID: "call_events", Name: "events", Arguments: `{"namespace":"shop","object":"Pod/web-7d4b9c"}`},
	}
	s := scriptedmodel.Start(t, scriptedmodel.Turn{Content: "Checking.", ToolCalls: calls, ChunkSize: 3, Usage: &scriptedmodel.Usage{PromptTokens: 812, CompletionTokens: 57, TotalTokens: 869}})
	c := newClient(t, s.URL())
	resp, err := c.Stream(within(t), llm.Request{Messages: []llm.Message{{Role: "user", Content: "why does web crash?"}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []llm.ToolCall{
		{ID: "call_logs", Name: "pod_logs", Arguments: calls[0].Arguments},
		{ID: "call_events", Name: "events", Arguments: calls[1].Arguments},
	}
	if !reflect.DeepEqual(resp.ToolCalls, want) || resp.Content != "Checking." || resp.FinishReason != "tool_calls" ||
		resp.Usage != (llm.Usage{PromptTokens: 812, CompletionTokens: 57, TotalTokens: 869}) {
		t.Errorf("response %+v", resp)
	}
}

// TestStreamToolCallsAsOtherServersSendThem: calls sent whole under index
// 0 (told apart by their ids), a call without an id (given one, since its
// result must name it), usage on the finishing chunk instead of a chunk of
// its own.
func TestStreamToolCallsAsOtherServersSendThem(t *testing.T) {
	raw := `data: {"id":"x","object":"chat.completion.chunk","created":1,"model":"llama3.2","choices":[{"index":0,"delta":{"role":"assistant","tool_calls":[{"index":0,"id":"a","type":"function","function":{"name":"get","arguments":"{\"n\":1}"}}]},"finish_reason":null}]}

data: {"id":"x","object":"chat.completion.chunk","created":1,"model":"llama3.2","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"b","type":"function","function":{"name":"list","arguments":"{}"}}]},"finish_reason":null}]}

data: {"id":"x","object":"chat.completion.chunk","created":1,"model":"llama3.2","choices":[{"index":0,"delta":{"tool_calls":[{"index":2,"type":"function","function":{"name":"events","arguments":"{\"k\":"}}]},"finish_reason":null}]}

data: {"id":"x","object":"chat.completion.chunk","created":1,"model":"llama3.2","choices":[{"index":0,"delta":{"tool_calls":[{"index":2,"function":{"arguments":"2}"}}]},"finish_reason":null}]}

data: {"id":"x","object":"chat.completion.chunk","created":1,"model":"llama3.2","choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":5,"completion_tokens":7,"total_tokens":12}}

data: [DONE]

`
	s := scriptedmodel.Start(t, scriptedmodel.Turn{Raw: raw})
	resp, err := newClient(t, s.URL()).Stream(within(t), llm.Request{Messages: []llm.Message{{Role: "user", Content: "x"}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []llm.ToolCall{{ID: "a", Name: "get", Arguments: `{"n":1}`}, {ID: "b", Name: "list", Arguments: `{}`}, {ID: "call_2", Name: "events", Arguments: `{"k":2}`}}
	if !reflect.DeepEqual(resp.ToolCalls, want) || resp.Usage != (llm.Usage{5, 7, 12}) || resp.Model != "llama3.2" {
		t.Errorf("response %+v", resp)
	}
}

// TestProviderErrors: each failure of the provider is a *ProviderError
// with its status and a message for users, and no text reachable from the
// error holds the API key, even when the provider echoes it.
func TestProviderErrors(t *testing.T) {
	// A port nothing listens on: a listener opened and closed.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := "http://" + ln.Addr().String() + "/v1"
	ln.Close()

	chunk := `data: {"id":"x","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"par"},"finish_reason":null}]}` + "\n\n"
	for _, c := range []struct {
		name    string
		turn    *scriptedmodel.Turn // nil: the refused address
		status  int
		message string
	}{
		{"bad key echoed", &scriptedmodel.Turn{Status: 401, Error: "Incorrect API key provided: " + apiKey + ". You can find your API key at https://platform.openai.com."},
			401, "the model provider refused the API key: Incorrect API key provided: [redacted]. You can find"},
		{"masked key echoed", &scriptedmodel.Turn{Status: 401, Error: "Incorrect API key provided: sk-test-****7a."},
			401, "the model provider refused the API key: Incorrect API key provided: [redacted]"},
		{"bearer echoed", &scriptedmodel.Turn{Status: 403, Error: "header was Bearer " + apiKey},
			403, "the model provider denied access: header was [redacted]"},
		{"unknown model", &scriptedmodel.Turn{Status: 404, Error: "The model `test-model` does not exist or you do not have access to it."},
			404, `the model provider does not know the model "test-model" (or has no chat completions at its base URL): The model`},
		{"rate limited", &scriptedmodel.Turn{Status: 429, Error: "Rate limit reached for requests"},
			429, "the model provider is limiting requests or its quota is used up: Rate limit reached for requests"},
		{"server error", &scriptedmodel.Turn{Status: 500, Error: "The server had an error while processing your request."},
			500, "the model provider failed: The server had an error"},
		{"overloaded", &scriptedmodel.Turn{Status: 503, Error: ""}, 503, "the model provider failed"},
		{"bad request", &scriptedmodel.Turn{Status: 400, Error: "messages: too long"}, 400, "the model provider refused the request: messages: too long"},
		{"script ran out (problem+json)", &scriptedmodel.Turn{When: func(scriptedmodel.Request) bool { return false }},
			500, "the model provider failed: scripted model: no unplayed turn matches request 1"},
		{"connection refused", nil, 0, "cannot reach the model provider (connection refused)"},
		{"malformed chunk", &scriptedmodel.Turn{Raw: chunk + "data: {\"id\": \"x\", \"choices\": [\n\n"}, 0, "the model provider sent a malformed stream"},
		{"error event", &scriptedmodel.Turn{Raw: chunk + `data: {"error":{"message":"model overloaded, key ` + apiKey + `","type":"server_error"}}` + "\n\n"},
			0, "the model provider reported an error during the answer: model overloaded, key [redacted]"},
		{"ended early", &scriptedmodel.Turn{Raw: chunk}, 0, "the model provider ended the stream before the answer was complete"},
		{"connection cut", &scriptedmodel.Turn{Content: "partial answer", Abort: true}, 0, "the connection to the model provider broke during the answer (the connection closed)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			url := refused
			var s *scriptedmodel.Server
			if c.turn != nil {
				s = scriptedmodel.Start(t, *c.turn)
				url = s.URL()
			}
			cl := newClient(t, url)
			resp, err := cl.Stream(within(t), llm.Request{Messages: []llm.Message{{Role: "user", Content: "hi"}}}, nil)
			var pe *llm.ProviderError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v (%T), want a *ProviderError", err, err)
			}
			if pe.Status != c.status || !strings.HasPrefix(pe.Message, c.message) || pe.Provider != "scripted" {
				t.Errorf("ProviderError %+v, want status %d and a message starting %q", pe, c.status, c.message)
			}
			want := `model provider "scripted": `
			if c.status != 0 {
				want += fmt.Sprintf("HTTP %d: ", c.status)
			}
			if err.Error() != want+pe.Message {
				t.Errorf("Error() = %q, want %q", err, want+pe.Message)
			}
			if s != nil {
				if reqs := s.Requests(); len(reqs) != 1 || reqs[0].Header.Get("Authorization") != "Bearer "+apiKey {
					t.Fatalf("the key was not sent, so its absence proves nothing: %v", reqs)
				}
			}
			assertNoKey(t, err)
			if strings.Contains(fmt.Sprint(resp), apiKey) {
				t.Errorf("the response holds the key")
			}
		})
	}
}

// assertNoKey checks every text reachable from err.
func assertNoKey(t *testing.T, err error) {
	t.Helper()
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Error("stream", "err", err)
	texts := []string{fmt.Sprintf("%v", err), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err), buf.String()}
	for e := err; e != nil; e = errors.Unwrap(e) {
		texts = append(texts, e.Error())
	}
	for _, s := range texts {
		if strings.Contains(s, apiKey) || strings.Contains(s, "SECRET") {
			t.Errorf("error text holds the API key: %s", s)
		}
	}
}

// TestStreamCancel: canceling the context ends the stream with the
// context's error, what arrived before it kept.
func TestStreamCancel(t *testing.T) {
	gate := make(chan struct{}) // never opened: the model "thinks" forever
	s := scriptedmodel.Start(t, scriptedmodel.Turn{Content: "first words then never more", Gate: gate})
	ctx, cancel := context.WithCancel(within(t))
	resp, err := newClient(t, s.URL()).Stream(ctx, llm.Request{Messages: []llm.Message{{Role: "user", Content: "hi"}}}, func(string) { cancel() })
	var pe *llm.ProviderError
	if !errors.Is(err, context.Canceled) || errors.As(err, &pe) {
		t.Fatalf("error %v, want context.Canceled and no ProviderError", err)
	}
	if resp.Content != "first words then " {
		t.Errorf("content %q", resp.Content)
	}
}

// TestStreamTimeout: Provider.Timeout cuts a completion that does not end,
// as a ProviderError that errors.Is context.DeadlineExceeded.
func TestStreamTimeout(t *testing.T) {
	gate := make(chan struct{})
	s := scriptedmodel.Start(t, scriptedmodel.Turn{Content: "first words then never more", Gate: gate})
	c := newClient(t, s.URL(), func(p *llm.Provider) { p.Timeout = 100 * time.Millisecond })
	resp, err := c.Stream(within(t), llm.Request{Messages: []llm.Message{{Role: "user", Content: "hi"}}}, nil)
	var pe *llm.ProviderError
	if !errors.As(err, &pe) || !errors.Is(err, context.DeadlineExceeded) || pe.Message != "the model provider did not finish its answer within 100ms" {
		t.Fatalf("error %v, want a ProviderError for the timeout", err)
	}
	if resp.Content != "first words then " {
		t.Errorf("content %q", resp.Content)
	}
}

// TestStreamRefusesBadRequests before sending anything.
func TestStreamRefusesBadRequests(t *testing.T) {
	s := scriptedmodel.Start(t)
	c := newClient(t, s.URL())
	user := llm.Message{Role: "user", Content: "hi"}
	for _, tc := range []struct {
		req  llm.Request
		want string
	}{
		{llm.Request{Messages: []llm.Message{user, {Role: "robot"}}}, `llm: message 1: unknown role "robot" (system, user, assistant or tool)`},
		{llm.Request{Messages: []llm.Message{{Role: "tool", Content: "x"}}}, "llm: message 0: a tool message needs the ToolCallID it answers"},
		{llm.Request{Messages: []llm.Message{user}, Tools: []llm.ToolDef{{Description: "x"}}}, "llm: tool 0: Name is required"},
		{llm.Request{Messages: []llm.Message{user}, MaxTokens: -1}, "llm: MaxTokens must not be negative"},
	} {
		if _, err := c.Stream(within(t), tc.req, nil); err == nil || err.Error() != tc.want {
			t.Errorf("Stream: %v, want %q", err, tc.want)
		}
	}
	if n := len(s.Requests()); n != 0 {
		t.Errorf("%d requests sent", n)
	}
}

// TestEnvironmentDoesNotReachTheProvider: the OPENAI_* variables the
// official client reads by default (organization, project, custom headers,
// key, base URL) are not used: the operator's configuration alone decides.
func TestEnvironmentDoesNotReachTheProvider(t *testing.T) {
	t.Setenv("OPENAI_API_KEY", "sk-from-env")
	t.Setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
	t.Setenv("OPENAI_ORG_ID", "org-env")
	t.Setenv("OPENAI_PROJECT_ID", "proj-env")
	t.Setenv("OPENAI_CUSTOM_HEADERS", "X-Env-Header: leaked")
	s := scriptedmodel.Start(t, scriptedmodel.Turn{Content: "ok"})
	c := newClient(t, s.URL(), func(p *llm.Provider) { p.APIKey = "" })
	if _, err := c.Stream(within(t), llm.Request{Messages: []llm.Message{{Role: "user", Content: "hi"}}}, nil); err != nil {
		t.Fatal(err)
	}
	h := s.Requests()[0].Header
	for _, name := range []string{"Authorization", "OpenAI-Organization", "OpenAI-Project", "X-Env-Header"} {
		if v := h.Get(name); v != "" {
			t.Errorf("header %s: %q sent", name, v)
		}
	}
}

// TestProviderPrintsWithoutKey: printing or logging a Provider or a Client
// does not show the key.
func TestProviderPrintsWithoutKey(t *testing.T) {
	p := llm.Provider{Name: "openai", BaseURL: "https://api.openai.com/v1", Model: "gpt-4.1", APIKey: apiKey}
	c, err := llm.New(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("provider", "p", p, "c", c)
	for _, s := range []string{fmt.Sprint(p), fmt.Sprintf("%+v %#v %v %+v %#v", p, p, c, c, c), buf.String()} {
		if strings.Contains(s, apiKey) || !strings.Contains(s, "openai") {
			t.Errorf("printed as %s", s)
		}
	}
}

// TestConcurrentStreams share one client.
func TestConcurrentStreams(t *testing.T) {
	s := scriptedmodel.Start(t, scriptedmodel.Turn{Content: "same answer for all", Repeat: true})
	c := newClient(t, s.URL())
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			resp, err := c.Stream(within(t), llm.Request{Messages: []llm.Message{{Role: "user", Content: "hi"}}}, nil)
			if err == nil && resp.Content != "same answer for all" {
				err = fmt.Errorf("content %q", resp.Content)
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}
