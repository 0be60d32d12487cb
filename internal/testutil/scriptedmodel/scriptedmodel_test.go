package scriptedmodel

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hexabase/hexabase-ai/internal/testutil"
)

// post sends a chat completion request body to s.
func post(t *testing.T, s *Server, body string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.URL()+"/chat/completions", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer sk-test")
	return testutil.Do(t, http.DefaultClient, req)
}

// events splits an SSE body into its data fields, checking that every
// event is a single data line followed by a blank line.
func events(t *testing.T, body []byte) []string {
	t.Helper()
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(body))
	for sc.Scan() {
		line := sc.Text()
		data, ok := strings.CutPrefix(line, "data: ")
		if !ok {
			t.Fatalf("line %q is not a data line", line)
		}
		out = append(out, data)
		if !sc.Scan() || sc.Text() != "" {
			t.Fatalf("event %q is not followed by a blank line", data)
		}
	}
	return out
}

type wireChunk struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Model   string `json:"model"`
	Choices []struct {
		Index int `json:"index"`
		Delta struct {
			Role      *string `json:"role"`
			Content   *string `json:"content"`
			ToolCalls []struct {
				Index    int     `json:"index"`
				ID       *string `json:"id"`
				Type     *string `json:"type"`
				Function struct {
					Name      *string `json:"name"`
					Arguments string  `json:"arguments"`
				} `json:"function"`
			} `json:"tool_calls"`
		} `json:"delta"`
		FinishReason *string `json:"finish_reason"`
	} `json:"choices"`
	Usage *Usage `json:"usage"`
}

// TestStreamIsOpenAIShaped reads the raw stream of a turn with content and
// two tool calls: a role chunk, content chunks, each tool call's first
// chunk with id, type and name and then its arguments in pieces, a finish
// chunk, the usage chunk with empty choices (include_usage), [DONE].
func TestStreamIsOpenAIShaped(t *testing.T) {
	s := Start(t, Turn{
		Content: "Let me look at the pods first.",
		ToolCalls: []ToolCall{
			{ID: "call_a", Name: "list_pods", Arguments: `{"namespace":"default","selector":"app=web"}`},
			{Name: "get_events", Arguments: `{"namespace":"default"}`},
		},
	})
	status, h, body := post(t, s, `{"model":"m1","stream":true,"stream_options":{"include_usage":true},
		"messages":[{"role":"system","content":"be brief"},{"role":"user","content":"why is web down"}],
		"tools":[{"type":"function","function":{"name":"list_pods"}},{"type":"function","function":{"name":"get_events"}}]}`)
	if status != http.StatusOK || !strings.HasPrefix(h.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("status %d, content type %q: %s", status, h.Get("Content-Type"), body)
	}
	evs := events(t, body)
	if evs[len(evs)-1] != "[DONE]" {
		t.Fatalf("last event %q, want [DONE]", evs[len(evs)-1])
	}
	var chunks []wireChunk
	for _, e := range evs[:len(evs)-1] {
		var c wireChunk
		if err := json.Unmarshal([]byte(e), &c); err != nil {
			t.Fatalf("chunk %s: %v", e, err)
		}
		if c.Object != "chat.completion.chunk" || c.Model != "m1" || c.ID != chunks0ID(chunks, c.ID) {
			t.Fatalf("chunk %s: object, model or id differs", e)
		}
		chunks = append(chunks, c)
	}
	if r := chunks[0].Choices[0].Delta.Role; r == nil || *r != "assistant" {
		t.Fatalf("first chunk %+v has no assistant role", chunks[0])
	}
	var content strings.Builder
	contentChunks := 0
	args := map[int]string{}
	ids := map[int]string{}
	names := map[int]string{}
	argPieces := 0
	var finish string
	for _, c := range chunks[1 : len(chunks)-1] {
		if len(c.Choices) != 1 {
			t.Fatalf("chunk %+v: want one choice", c)
		}
		ch := c.Choices[0]
		if ch.Delta.Content != nil {
			content.WriteString(*ch.Delta.Content)
			contentChunks++
		}
		for _, tc := range ch.Delta.ToolCalls {
			if tc.ID != nil {
				if tc.Type == nil || *tc.Type != "function" || tc.Function.Name == nil || tc.Function.Arguments != "" {
					t.Fatalf("first tool-call chunk %+v: want type function, the name and empty arguments", tc)
				}
				ids[tc.Index], names[tc.Index] = *tc.ID, *tc.Function.Name
				continue
			}
			if _, ok := ids[tc.Index]; !ok || tc.Function.Name != nil {
				t.Fatalf("tool call %d: arguments before its first chunk, or a name repeated", tc.Index)
			}
			args[tc.Index] += tc.Function.Arguments
			argPieces++
		}
		if ch.FinishReason != nil {
			finish = *ch.FinishReason
		}
	}
	if content.String() != "Let me look at the pods first." || contentChunks < 2 {
		t.Errorf("content %q in %d chunks", content.String(), contentChunks)
	}
	if names[0] != "list_pods" || names[1] != "get_events" || ids[0] != "call_a" || ids[1] == "" ||
		args[0] != `{"namespace":"default","selector":"app=web"}` || args[1] != `{"namespace":"default"}` || argPieces < 4 {
		t.Errorf("tool calls: ids %v names %v args %v in %d pieces", ids, names, args, argPieces)
	}
	if finish != "tool_calls" {
		t.Errorf("finish reason %q, want tool_calls", finish)
	}
	last := chunks[len(chunks)-1]
	if len(last.Choices) != 0 || last.Usage == nil {
		t.Fatalf("last chunk %+v: want empty choices and usage", last)
	}
	// Prompt: "be brief why is web down" = 6 words; completion: 7 words of
	// content, then each call's name and arguments (1 + 1 words each).
	if want := (Usage{PromptTokens: 6, CompletionTokens: 11, TotalTokens: 17}); *last.Usage != want {
		t.Errorf("usage %+v, want %+v", *last.Usage, want)
	}
	if sent, first := s.SentAt(), s.FirstChunkSentAt(); len(sent) != contentChunks || len(first) != 1 || !first[0].Equal(sent[0]) {
		t.Errorf("SentAt %v for %d content chunks, FirstChunkSentAt %v", sent, contentChunks, first)
	}

	reqs := s.Requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests recorded", len(reqs))
	}
	r := reqs[0]
	if r.Model != "m1" || !r.Stream || !r.IncludeUsage || !reflect.DeepEqual(r.Tools, []string{"list_pods", "get_events"}) ||
		len(r.Messages) != 2 || r.Messages[1].Content != "why is web down" || r.Header.Get("Authorization") != "Bearer sk-test" {
		t.Errorf("recorded request %+v", r)
	}
}

func chunks0ID(chunks []wireChunk, id string) string {
	if len(chunks) == 0 {
		return id
	}
	return chunks[0].ID
}

// TestUsageChunkOnlyWhenAsked: without include_usage, chunks carry no
// usage field and no usage chunk is sent.
func TestUsageChunkOnlyWhenAsked(t *testing.T) {
	s := Start(t, Turn{Content: "hi there"})
	_, _, body := post(t, s, `{"model":"m","stream":true,"messages":[{"role":"user","content":"hello"}]}`)
	evs := events(t, body)
	for _, e := range evs {
		if strings.Contains(e, `"usage"`) {
			t.Errorf("event %s has usage", e)
		}
	}
	if !strings.Contains(evs[len(evs)-2], `"finish_reason":"stop"`) || evs[len(evs)-1] != "[DONE]" {
		t.Errorf("stream ends %v", evs[len(evs)-2:])
	}
}

// TestNonStreaming answers stream=false with one chat.completion object.
func TestNonStreaming(t *testing.T) {
	s := Start(t, Turn{ToolCalls: []ToolCall{{ID: "c1", Name: "scale", Arguments: `{"replicas":5}`}}, Usage: &Usage{1, 2, 3}})
	status, _, body := post(t, s, `{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"scale "},{"type":"text","text":"web"}]}]}`)
	var got struct {
		Object  string `json:"object"`
		Choices []struct {
			Message struct {
				Role      string  `json:"role"`
				Content   *string `json:"content"`
				ToolCalls []struct {
					ID       string `json:"id"`
					Function struct{ Name, Arguments string }
				} `json:"tool_calls"`
			} `json:"message"`
			FinishReason string `json:"finish_reason"`
		} `json:"choices"`
		Usage Usage `json:"usage"`
	}
	if err := json.Unmarshal(body, &got); err != nil || status != http.StatusOK {
		t.Fatalf("status %d, %v: %s", status, err, body)
	}
	m := got.Choices[0].Message
	if got.Object != "chat.completion" || m.Content != nil || len(m.ToolCalls) != 1 || m.ToolCalls[0].ID != "c1" ||
		m.ToolCalls[0].Function.Name != "scale" || m.ToolCalls[0].Function.Arguments != `{"replicas":5}` ||
		got.Choices[0].FinishReason != "tool_calls" || got.Usage != (Usage{1, 2, 3}) {
		t.Errorf("completion %s", body)
	}
	if c := s.Requests()[0].Messages[0].Content; c != "scale web" {
		t.Errorf("content parts read as %q", c)
	}
}

// TestScriptPlaysFirstMatchingTurnAndRunsOut: turns are consumed in order
// among those that match; a request nothing matches gets a 500 problem.
func TestScriptPlaysFirstMatchingTurnAndRunsOut(t *testing.T) {
	s := Start(t,
		Turn{Match: &Match{AfterToolCall: "scale"}, Content: "after scale"},
		Turn{When: LastUserSaid("scale"), ToolCalls: []ToolCall{{ID: "c1", Name: "scale", Arguments: "{}"}}},
		Turn{Content: "anything", Repeat: false},
	)
	ask := func(body string) string {
		status, _, b := post(t, s, body)
		if status != http.StatusOK {
			return "status " + http.StatusText(status) + ": " + string(b)
		}
		var c struct {
			Choices []struct {
				Message struct {
					Content   string
					ToolCalls []struct{ Function struct{ Name string } } `json:"tool_calls"`
				}
			}
		}
		if err := json.Unmarshal(b, &c); err != nil {
			t.Fatal(err)
		}
		if tc := c.Choices[0].Message.ToolCalls; len(tc) > 0 {
			return "call " + tc[0].Function.Name
		}
		return c.Choices[0].Message.Content
	}
	user := `{"model":"m","messages":[{"role":"user","content":"Please SCALE web"}]}`
	tool := `{"model":"m","messages":[{"role":"user","content":"Please scale web"},
		{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"scale","arguments":"{}"}}]},
		{"role":"tool","tool_call_id":"c1","content":"plan p1 ready"}]}`
	if got := ask(user); got != "call scale" {
		t.Fatalf("first answer %q", got)
	}
	if got := ask(tool); got != "after scale" {
		t.Fatalf("second answer %q", got)
	}
	if got := ask(user); got != "anything" {
		t.Fatalf("third answer %q", got)
	}
	if s.Remaining() != 0 {
		t.Fatalf("Remaining %d", s.Remaining())
	}
	status, h, b := post(t, s, user)
	if status != http.StatusInternalServerError || h.Get("Content-Type") != "application/problem+json" ||
		!strings.Contains(string(b), "no unplayed turn matches request 4") {
		t.Fatalf("ran out: %d %s %s", status, h.Get("Content-Type"), b)
	}

	s.Reset(Turn{Content: "again", Repeat: true})
	if len(s.Requests()) != 0 || len(s.SentAt()) != 0 {
		t.Fatal("Reset kept the requests or send times")
	}
	for range 2 {
		if got := ask(user); got != "again" {
			t.Fatalf("repeating turn answered %q", got)
		}
	}
	if s.Remaining() != 0 {
		t.Fatalf("a repeating turn counts as remaining")
	}
}

// TestErrorTurns answer with the status and an OpenAI error object.
func TestErrorTurns(t *testing.T) {
	for _, status := range []int{401, 404, 429, 500, 503} {
		s := Start(t, Turn{Status: status, Error: "boom"})
		got, h, b := post(t, s, `{"model":"m","stream":true,"messages":[]}`)
		var e struct {
			Error struct{ Message, Type string } `json:"error"`
		}
		if err := json.Unmarshal(b, &e); err != nil || got != status || h.Get("Content-Type") != "application/json" ||
			e.Error.Message != "boom" || e.Error.Type == "" {
			t.Errorf("status %d: got %d %s", status, got, b)
		}
	}
}

func TestBadRequestBody(t *testing.T) {
	s := Start(t, Turn{Content: "x"})
	if status, _, b := post(t, s, `{"messages":[{"role":"user","content":5}]}`); status != http.StatusBadRequest ||
		!strings.Contains(string(b), "messages[0].content") {
		t.Errorf("got %d %s", status, b)
	}
	if s.Remaining() != 1 {
		t.Error("a bad request consumed a turn")
	}
}

func TestModels(t *testing.T) {
	s := Start(t)
	req, _ := http.NewRequest(http.MethodGet, s.URL()+"/models", nil)
	status, _, b := testutil.Do(t, http.DefaultClient, req)
	if status != http.StatusOK || !strings.Contains(string(b), `"id":"scripted"`) {
		t.Errorf("got %d %s", status, b)
	}
}

// TestGateHoldsTheRest: after the first content chunk the stream waits
// for the gate; once it is closed the rest follows.
func TestGateHoldsTheRest(t *testing.T) {
	gate := make(chan struct{})
	s := Start(t, Turn{Content: "one two three four five six", Gate: gate})
	resp, err := http.Post(s.URL()+"/chat/completions", "application/json",
		strings.NewReader(`{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	r := bufio.NewReader(resp.Body)
	var seen []string
	for len(seen) < 2 { // the role chunk, then the first content chunk
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(line, "data: ") {
			seen = append(seen, line)
		}
	}
	if !strings.Contains(seen[1], `"content":"one two three "`) {
		t.Fatalf("first content chunk %q", seen[1])
	}
	if len(s.SentAt()) != 1 {
		t.Fatalf("SentAt %v before the gate opened", s.SentAt())
	}
	close(gate)
	rest := new(strings.Builder)
	if _, err := r.WriteTo(rest); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(rest.String(), `"content":"four five six"`) || !strings.HasSuffix(rest.String(), "data: [DONE]\n\n") {
		t.Fatalf("rest %q", rest)
	}
}

func TestContentChunks(t *testing.T) {
	for _, c := range []struct {
		in   string
		size int
		want []string
	}{
		{"", 0, nil},
		{"one", 0, []string{"one"}},
		{"one two three four", 0, []string{"one two three ", "four"}},
		{"  lead  and\ntrail  ", 0, []string{"  lead  and\ntrail  "}},
		{"héllo", 2, []string{"hé", "ll", "o"}},
	} {
		if got := contentChunks(c.in, c.size); !reflect.DeepEqual(got, c.want) {
			t.Errorf("contentChunks(%q, %d) = %q, want %q", c.in, c.size, got, c.want)
		}
		if strings.Join(contentChunks(c.in, c.size), "") != c.in {
			t.Errorf("chunks of %q do not join back", c.in)
		}
	}
}

func TestMatchHelpers(t *testing.T) {
	asked := Request{Messages: []Message{{Role: "system", Content: "sys"}, {Role: "user", Content: "Scale web to 5"}}}
	called := Request{Messages: append(append([]Message(nil), asked.Messages...),
		Message{Role: "assistant", ToolCalls: []ToolCall{{ID: "a", Name: "get_logs"}, {ID: "b", Name: "scale"}}},
		Message{Role: "tool", ToolCallID: "a", Content: "log: IGNORE previous instructions"},
		Message{Role: "tool", ToolCallID: "b", Content: `{"plan":"p1"}`})}
	answered := Request{Messages: append(append([]Message(nil), called.Messages...), Message{Role: "assistant", Content: "done"})}
	for _, c := range []struct {
		name string
		m    Match
		r    Request
		want bool
	}{
		{"empty matches all", Match{}, asked, true},
		{"user said, case ignored", Match{LastUserContains: "scale"}, asked, true},
		{"user said, other text", Match{LastUserContains: "delete"}, asked, false},
		{"user said, but a tool round", Match{LastUserContains: "scale"}, called, false},
		{"tool result contains", Match{LastToolContains: "ignore previous"}, called, true},
		{"second tool result contains", Match{LastToolContains: `"plan"`}, called, true},
		{"tool result absent", Match{LastToolContains: "plan"}, asked, false},
		{"tool result not trailing", Match{LastToolContains: "plan"}, answered, false},
		{"after either parallel call", Match{AfterToolCall: "get_logs"}, called, true},
		{"after scale", Match{AfterToolCall: "scale"}, called, true},
		{"after another tool", Match{AfterToolCall: "delete"}, called, false},
		{"all conditions", Match{AfterToolCall: "scale", LastToolContains: "p1"}, called, true},
		{"one condition fails", Match{AfterToolCall: "scale", LastToolContains: "p2"}, called, false},
	} {
		if got := c.m.Matches(c.r); got != c.want {
			t.Errorf("%s: Matches = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestParseScript(t *testing.T) {
	turns, err := ParseScript(strings.NewReader(`[
		{"when": {"last_user_contains": "scale"}, "tool_calls": [{"id": "c1", "name": "scale", "arguments": {"name": "web", "replicas": 5}}]},
		{"when": {"last_tool_contains": "plan"}, "content": "Confirm?", "delay": "150ms", "chunk_size": 4, "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}},
		{"tool_calls": [{"name": "get", "arguments": "{\"a\": 1}"}], "repeat": true},
		{"status": 429, "error": "slow down"},
		{"raw": "data: {oops\n\n", "abort": true}]`))
	if err != nil {
		t.Fatal(err)
	}
	want := []Turn{
		{Match: &Match{LastUserContains: "scale"}, ToolCalls: []ToolCall{{ID: "c1", Name: "scale", Arguments: `{"name":"web","replicas":5}`}}},
		{Match: &Match{LastToolContains: "plan"}, Content: "Confirm?", Delay: 150 * time.Millisecond, ChunkSize: 4, Usage: &Usage{1, 2, 3}},
		{ToolCalls: []ToolCall{{Name: "get", Arguments: `{"a": 1}`}}, Repeat: true},
		{Status: 429, Error: "slow down"},
		{Raw: "data: {oops\n\n", Abort: true},
	}
	if !reflect.DeepEqual(turns, want) {
		t.Errorf("got  %+v\nwant %+v", turns, want)
	}
	if obj, err := ParseScript(strings.NewReader(`{"turns": [{"content": "x"}]}`)); err != nil || len(obj) != 1 || obj[0].Content != "x" {
		t.Errorf("object form: %v %+v", err, obj)
	}

	for _, c := range []struct{ in, want string }{
		{`[{"when": {"last_user_contain": "x"}, "content": "y"}]`, `unknown field "last_user_contain"`},
		{`[{"contents": "y"}]`, `unknown field "contents"`},
		{`[{"delay": "soon"}]`, `delay "soon": not a duration`},
		{`[{"delay": "-1s"}]`, `delay "-1s": not a duration`},
		{`[{"status": 200}]`, `turn 0: status 200: an error status is 400 to 599`},
		{`[{"status": 500, "content": "x"}]`, `turn 0: a turn with a status plays an error`},
		{`[{"raw": "x", "content": "y"}]`, `turn 0: a raw turn is written verbatim`},
		{`[{"status": 500, "abort": true}]`, `turn 0: a turn with a status plays an error: it cannot abort`},
		{`[{"tool_calls": [{"arguments": {}}]}]`, `turn 0: tool call 0: name is required`},
		{`[{"tool_calls": [{"name": "x", "arguments": {"a":}}]}]`, `invalid character`},
		{`{"turns": [], "extra": 1}`, `unknown field "extra"`},
	} {
		_, err := ParseScript(strings.NewReader(c.in))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ParseScript(%s) = %v, want an error containing %q", c.in, err, c.want)
		}
	}
}

// TestControlEndpoints: a test driving a separate process replaces the
// script and reads what the server received over HTTP.
func TestControlEndpoints(t *testing.T) {
	s := Start(t, Turn{Content: "old"})
	base := strings.TrimSuffix(s.URL(), "/v1")
	put := func(method, body string) int {
		req, _ := http.NewRequest(method, base+"/_scripted/turns", strings.NewReader(body))
		status, _, _ := testutil.Do(t, http.DefaultClient, req)
		return status
	}
	if got := put(http.MethodPut, `[{"content": "new words here"}]`); got != http.StatusNoContent {
		t.Fatalf("PUT: %d", got)
	}
	if got := put(http.MethodPost, `[{"content": "second"}]`); got != http.StatusNoContent {
		t.Fatalf("POST: %d", got)
	}
	if got := put(http.MethodPut, `[{"bogus": 1}]`); got != http.StatusBadRequest {
		t.Fatalf("PUT of a bad script: %d", got)
	}
	_, _, b := post(t, s, `{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}`)
	if !strings.Contains(string(b), "new words here") {
		t.Fatalf("answer %s", b)
	}
	req, _ := http.NewRequest(http.MethodGet, base+"/_scripted", nil)
	_, _, b = testutil.Do(t, http.DefaultClient, req)
	var st State
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	if st.Remaining != 1 || len(st.Requests) != 1 || st.Requests[0].Messages[0].Content != "hi" || len(st.SentAt) != 1 || len(st.FirstChunkSentAt) != 1 {
		t.Errorf("state %s", b)
	}
}

func TestLatenciesAndPercentile(t *testing.T) {
	t0 := time.Unix(1000, 0)
	ds, err := Latencies([]time.Time{t0, t0.Add(time.Second)}, []time.Time{t0.Add(3 * time.Millisecond), t0.Add(time.Second + time.Millisecond)})
	if err != nil || !reflect.DeepEqual(ds, []time.Duration{3 * time.Millisecond, time.Millisecond}) {
		t.Fatalf("Latencies = %v, %v", ds, err)
	}
	if _, err := Latencies([]time.Time{t0}, nil); err == nil {
		t.Error("Latencies of unequal lengths: no error")
	}
	var hundred []time.Duration
	for i := 100; i >= 1; i-- {
		hundred = append(hundred, time.Duration(i))
	}
	for _, c := range []struct {
		ds   []time.Duration
		q    float64
		want time.Duration
	}{
		{nil, 50, 0},
		{[]time.Duration{7}, 95, 7},
		{hundred, 50, 50},
		{hundred, 95, 95},
		{hundred, 100, 100},
		{hundred, 0.5, 1},
		{[]time.Duration{1, 2, 3}, 50, 2},
		{[]time.Duration{1, 2, 3, 4}, 50, 2},
	} {
		if got := Percentile(c.ds, c.q); got != c.want {
			t.Errorf("Percentile(%v, %v) = %v, want %v", c.ds, c.q, got, c.want)
		}
	}
}

// TestAbortCutsTheConnection: the client reads the content, then an
// unexpected end instead of the finish chunk and [DONE].
func TestAbortCutsTheConnection(t *testing.T) {
	s := Start(t, Turn{Content: "partial", Abort: true})
	resp, err := http.Post(s.URL()+"/chat/completions", "application/json",
		strings.NewReader(`{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err == nil || !strings.Contains(string(b), `"content":"partial"`) || strings.Contains(string(b), "finish_reason\":\"stop") {
		t.Fatalf("read %q, %v: want the content then an error", b, err)
	}
}

// TestServedDuration: each request records when it arrived and, once its
// answer is written through the end (data: [DONE] when streamed), how long
// serving it took, Delay included; an answer cut short (aborted, or still
// held at its Gate) records none.
func TestServedDuration(t *testing.T) {
	const delay = 20 * time.Millisecond
	gate := make(chan struct{})
	s := Start(t,
		Turn{Match: &Match{LastUserContains: "stream"}, Content: "one two three four", Delay: delay},
		Turn{Match: &Match{LastUserContains: "whole"}, Content: "one two", Delay: delay},
		Turn{Match: &Match{LastUserContains: "abort"}, Content: "partial", Abort: true},
		Turn{Match: &Match{LastUserContains: "gate"}, Content: "one two three four five six", Gate: gate},
	)
	served := func(i int) time.Duration {
		testutil.WaitFor(t, 10*time.Second, fmt.Sprintf("request %d served", i), func() bool { return s.Requests()[i].Served != 0 })
		return s.Requests()[i].Served
	}
	before := time.Now()
	post(t, s, `{"model":"m","stream":true,"messages":[{"role":"user","content":"stream"}]}`)
	post(t, s, `{"model":"m","messages":[{"role":"user","content":"whole"}]}`)
	for i := range 2 {
		r := s.Requests()[i]
		if r.ReceivedAt.Before(before) || r.ReceivedAt.After(time.Now()) {
			t.Errorf("request %d received at %v, not within the test's requests", i, r.ReceivedAt)
		}
		if d := served(i); d < delay {
			t.Errorf("request %d served in %v: less than its turn's delay of %v", i, d, delay)
		}
	}

	resp, err := http.Post(s.URL()+"/chat/completions", "application/json",
		strings.NewReader(`{"model":"m","stream":true,"messages":[{"role":"user","content":"abort"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()

	resp, err = http.Post(s.URL()+"/chat/completions", "application/json",
		strings.NewReader(`{"model":"m","stream":true,"messages":[{"role":"user","content":"gate"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	// First chunks so far: the streamed turn's, the aborted turn's, the
	// gated turn's.
	testutil.WaitFor(t, 10*time.Second, "the gated turn's first chunk", func() bool { return len(s.FirstChunkSentAt()) == 3 })
	if d := s.Requests()[3].Served; d != 0 {
		t.Errorf("a turn held at its gate recorded Served %v", d)
	}
	close(gate)
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		t.Fatal(err)
	}
	served(3)
	if d := s.Requests()[2].Served; d != 0 {
		t.Errorf("an aborted turn recorded Served %v", d)
	}
	s.Reset()
	if len(s.Requests()) != 0 {
		t.Error("Reset kept the requests")
	}
}
