package scriptedmodel

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"
)

// ModelID is the model GET /v1/models lists. Chat completions answer for
// whatever model the request names, and report that name.
const ModelID = "scripted"

// maxBody bounds a request body.
const maxBody = 8 << 20

// Server is a running scripted model server.
type Server struct {
	url string
	hs  *http.Server
	seq atomic.Int64

	mu       sync.Mutex
	turns    []*entry
	requests []Request
	sentAt   []time.Time
	first    []time.Time
}

type entry struct {
	Turn
	played bool
}

// Start runs a server on 127.0.0.1 playing turns; it is closed by
// t.Cleanup.
func Start(t testing.TB, turns ...Turn) *Server {
	t.Helper()
	s, err := Listen("127.0.0.1:0", turns...)
	if err != nil {
		t.Fatalf("scripted model server: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

// Listen runs a server on addr (host:port, port 0 for any) playing turns,
// until Close.
func Listen(addr string, turns ...Turn) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	s := &Server{url: "http://" + ln.Addr().String() + "/v1"}
	s.Add(turns...)
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/chat/completions", s.chat)
	mux.HandleFunc("GET /v1/models", s.models)
	mux.HandleFunc("GET /_scripted", s.state)
	mux.HandleFunc("PUT /_scripted/turns", s.putTurns)
	mux.HandleFunc("POST /_scripted/turns", s.putTurns)
	s.hs = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.hs.Serve(ln) }()
	return s, nil
}

// Close stops the server and closes its connections, ending the streams in
// progress.
func (s *Server) Close() { _ = s.hs.Close() }

// URL is the base URL of the API, ending in /v1.
func (s *Server) URL() string { return s.url }

// Add appends turns to the script.
func (s *Server) Add(turns ...Turn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range turns {
		s.turns = append(s.turns, &entry{Turn: t})
	}
}

// Reset replaces the script with turns and forgets the requests received
// and the chunks sent.
func (s *Server) Reset(turns ...Turn) {
	s.mu.Lock()
	s.turns, s.requests, s.sentAt, s.first = nil, nil, nil, nil
	s.mu.Unlock()
	s.Add(turns...)
}

// Requests returns the chat completion requests received, in order,
// including those the script could not answer.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// SentAt returns when each content chunk was written and flushed, over
// every request, in order.
func (s *Server) SentAt() []time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Time(nil), s.sentAt...)
}

// FirstChunkSentAt returns, for each streamed answer with content in the
// order they started, when its first content chunk was written and
// flushed: the start of the time to the first token forwarded.
func (s *Server) FirstChunkSentAt() []time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Time(nil), s.first...)
}

// Remaining is the number of turns not played yet, repeating ones aside.
func (s *Server) Remaining() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, e := range s.turns {
		if !e.played && !e.Repeat {
			n++
		}
	}
	return n
}

// next records r and picks the first unplayed turn matching it.
func (s *Server) next(r Request) (Turn, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = append(s.requests, r)
	for _, e := range s.turns {
		if e.played || (e.When != nil && !e.When(r)) || (e.Match != nil && !e.Match.Matches(r)) {
			continue
		}
		e.played = !e.Repeat
		return e.Turn, true
	}
	return Turn{}, false
}

func (s *Server) sent(t time.Time, first bool) {
	s.mu.Lock()
	s.sentAt = append(s.sentAt, t)
	if first {
		s.first = append(s.first, t)
	}
	s.mu.Unlock()
}

// wireRequest is the part of an OpenAI chat completion request the server
// reads.
type wireRequest struct {
	Model    string `json:"model"`
	Messages []struct {
		Role       string          `json:"role"`
		Content    json.RawMessage `json:"content"`
		ToolCallID string          `json:"tool_call_id"`
		ToolCalls  []struct {
			ID       string `json:"id"`
			Function struct {
				Name      string `json:"name"`
				Arguments string `json:"arguments"`
			} `json:"function"`
		} `json:"tool_calls"`
	} `json:"messages"`
	Tools []struct {
		Function struct {
			Name string `json:"name"`
		} `json:"function"`
	} `json:"tools"`
	Stream        bool `json:"stream"`
	StreamOptions *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
	MaxTokens           int64    `json:"max_tokens"`
	MaxCompletionTokens int64    `json:"max_completion_tokens"`
	Temperature         *float64 `json:"temperature"`
}

func parseRequest(r *http.Request) (Request, error) {
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, maxBody))
	if err != nil {
		return Request{}, fmt.Errorf("read body: %w", err)
	}
	var w wireRequest
	if err := json.Unmarshal(body, &w); err != nil {
		return Request{Body: body, Header: r.Header.Clone()}, fmt.Errorf("body: %w", err)
	}
	req := Request{
		Model: w.Model, Stream: w.Stream, IncludeUsage: w.StreamOptions != nil && w.StreamOptions.IncludeUsage,
		MaxTokens: w.MaxCompletionTokens, Temperature: w.Temperature,
		Header: r.Header.Clone(), Body: body,
	}
	if req.MaxTokens == 0 {
		req.MaxTokens = w.MaxTokens
	}
	for _, t := range w.Tools {
		req.Tools = append(req.Tools, t.Function.Name)
	}
	for i, m := range w.Messages {
		content, err := contentText(m.Content)
		if err != nil {
			return req, fmt.Errorf("messages[%d].content: %w", i, err)
		}
		msg := Message{Role: m.Role, Content: content, ToolCallID: m.ToolCallID}
		for _, c := range m.ToolCalls {
			msg.ToolCalls = append(msg.ToolCalls, ToolCall{ID: c.ID, Name: c.Function.Name, Arguments: c.Function.Arguments})
		}
		req.Messages = append(req.Messages, msg)
	}
	return req, nil
}

// contentText reads a message's content: a string, null, or an array of
// parts whose text parts it joins.
func contentText(raw json.RawMessage) (string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	if raw[0] == '"' {
		var s string
		err := json.Unmarshal(raw, &s)
		return s, err
	}
	var parts []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if err := json.Unmarshal(raw, &parts); err != nil {
		return "", err
	}
	var b strings.Builder
	for _, p := range parts {
		b.WriteString(p.Text)
	}
	return b.String(), nil
}

func (s *Server) chat(w http.ResponseWriter, r *http.Request) {
	req, err := parseRequest(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid_request_error", "", "We could not parse the JSON body of your request: "+err.Error())
		return
	}
	turn, ok := s.next(req)
	if !ok {
		last := "(no messages)"
		if n := len(req.Messages); n > 0 {
			last = req.Messages[n-1].Role + ": " + truncate(req.Messages[n-1].Content, 200)
		}
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(http.StatusInternalServerError)
		_ = json.NewEncoder(w).Encode(map[string]any{
			"type":   "about:blank",
			"title":  "script ran out",
			"status": http.StatusInternalServerError,
			"detail": fmt.Sprintf("scripted model: no unplayed turn matches request %d; its last message is %s", len(s.Requests()), last),
		})
		return
	}
	if !wait(r.Context(), turn.Delay) {
		return
	}
	switch {
	case turn.Status != 0:
		typ, code := errorKind(turn.Status)
		writeError(w, turn.Status, typ, code, turn.Error)
	case turn.Raw != "":
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = io.WriteString(w, turn.Raw)
		if turn.Abort {
			_ = http.NewResponseController(w).Flush()
			panic(http.ErrAbortHandler) // closes the connection mid-body
		}
	case req.Stream:
		s.stream(w, r, req, turn)
	default:
		s.complete(w, req, turn)
	}
}

// wait sleeps d unless ctx ends first; it reports whether to go on.
func wait(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func errorKind(status int) (typ, code string) {
	switch status {
	case http.StatusUnauthorized:
		return "invalid_request_error", "invalid_api_key"
	case http.StatusNotFound:
		return "invalid_request_error", "model_not_found"
	case http.StatusTooManyRequests:
		return "requests", "rate_limit_exceeded"
	case http.StatusBadRequest:
		return "invalid_request_error", ""
	}
	if status >= 500 {
		return "server_error", ""
	}
	return "invalid_request_error", ""
}

// writeError answers as OpenAI does: {"error": {message, type, param, code}}.
func writeError(w http.ResponseWriter, status int, typ, code, msg string) {
	var c any
	if code != "" {
		c = code
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"message": msg, "type": typ, "param": nil, "code": c}})
}

func (s *Server) ids() (string, int64) {
	return "chatcmpl-scripted-" + strconv.FormatInt(s.seq.Add(1), 10), time.Now().Unix()
}

func toolCallID(t Turn, i int, completion string) string {
	if id := t.ToolCalls[i].ID; id != "" {
		return id
	}
	return "call_" + strings.TrimPrefix(completion, "chatcmpl-") + "_" + strconv.Itoa(i)
}

func finishReason(t Turn) string {
	switch {
	case t.FinishReason != "":
		return t.FinishReason
	case len(t.ToolCalls) > 0:
		return "tool_calls"
	}
	return "stop"
}

func usageOf(r Request, t Turn) Usage {
	if t.Usage != nil {
		return *t.Usage
	}
	return CountUsage(r, t)
}

func wireUsage(u Usage) map[string]any {
	return map[string]any{
		"prompt_tokens": u.PromptTokens, "completion_tokens": u.CompletionTokens, "total_tokens": u.TotalTokens,
		"prompt_tokens_details":     map[string]any{"cached_tokens": 0, "audio_tokens": 0},
		"completion_tokens_details": map[string]any{"reasoning_tokens": 0, "audio_tokens": 0, "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0},
	}
}

// stream writes the turn as OpenAI streams a chat completion.
func (s *Server) stream(w http.ResponseWriter, r *http.Request, req Request, t Turn) {
	rc := http.NewResponseController(w)
	id, created := s.ids()
	w.Header().Set("Content-Type", "text/event-stream; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	chunk := func(choices []any, usage any) map[string]any {
		c := map[string]any{
			"id": id, "object": "chat.completion.chunk", "created": created, "model": req.Model,
			"service_tier": "default", "system_fingerprint": "fp_scripted", "choices": choices,
		}
		if req.IncludeUsage {
			c["usage"] = usage
		}
		return c
	}
	choice := func(delta map[string]any, finish any) []any {
		return []any{map[string]any{"index": 0, "delta": delta, "logprobs": nil, "finish_reason": finish}}
	}
	send := func(v any) bool {
		b, err := json.Marshal(v)
		if err != nil {
			panic(err) // maps of plain values always marshal
		}
		if _, err := fmt.Fprintf(w, "data: %s\n\n", b); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	gated := false
	hold := func() bool {
		if gated || t.Gate == nil {
			return true
		}
		gated = true
		select {
		case <-t.Gate:
			return true
		case <-r.Context().Done():
			return false
		}
	}

	if !send(chunk(choice(map[string]any{"role": "assistant", "content": "", "refusal": nil}, nil), nil)) {
		return
	}
	for i, part := range contentChunks(t.Content, t.ChunkSize) {
		if !send(chunk(choice(map[string]any{"content": part}, nil), nil)) {
			return
		}
		s.sent(time.Now(), i == 0)
		if !hold() {
			return
		}
	}
	argSize := t.ChunkSize
	if argSize == 0 {
		argSize = 8
	}
	for i, c := range t.ToolCalls {
		first := map[string]any{"tool_calls": []any{map[string]any{
			"index": i, "id": toolCallID(t, i, id), "type": "function",
			"function": map[string]any{"name": c.Name, "arguments": ""},
		}}}
		if !send(chunk(choice(first, nil), nil)) || !hold() {
			return
		}
		for _, part := range runeChunks(c.Arguments, argSize) {
			delta := map[string]any{"tool_calls": []any{map[string]any{
				"index": i, "function": map[string]any{"arguments": part},
			}}}
			if !send(chunk(choice(delta, nil), nil)) {
				return
			}
		}
	}
	if t.Abort {
		panic(http.ErrAbortHandler) // closes the connection mid-body
	}
	if !send(chunk(choice(map[string]any{}, finishReason(t)), nil)) {
		return
	}
	if req.IncludeUsage && !send(chunk([]any{}, wireUsage(usageOf(req, t)))) {
		return
	}
	if _, err := io.WriteString(w, "data: [DONE]\n\n"); err == nil {
		_ = rc.Flush()
	}
}

// complete writes the turn as one chat completion object.
func (s *Server) complete(w http.ResponseWriter, req Request, t Turn) {
	id, created := s.ids()
	msg := map[string]any{"role": "assistant", "content": t.Content, "refusal": nil}
	if t.Content == "" && len(t.ToolCalls) > 0 {
		msg["content"] = nil
	}
	if len(t.ToolCalls) > 0 {
		var calls []any
		for i, c := range t.ToolCalls {
			calls = append(calls, map[string]any{
				"id": toolCallID(t, i, id), "type": "function",
				"function": map[string]any{"name": c.Name, "arguments": c.Arguments},
			})
		}
		msg["tool_calls"] = calls
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"id": id, "object": "chat.completion", "created": created, "model": req.Model,
		"service_tier": "default", "system_fingerprint": "fp_scripted",
		"choices": []any{map[string]any{"index": 0, "message": msg, "logprobs": nil, "finish_reason": finishReason(t)}},
		"usage":   wireUsage(usageOf(req, t)),
	})
}

// contentChunks splits s into chunks of size runes, or of three words
// (with their spaces) when size is 0.
func contentChunks(s string, size int) []string {
	if size > 0 {
		return runeChunks(s, size)
	}
	var out []string
	for s != "" {
		end, n := 0, 0
		for end < len(s) && n < 3 {
			// Skip the spaces before a word, then the word.
			for end < len(s) && isSpace(s[end]) {
				end++
			}
			for end < len(s) && !isSpace(s[end]) {
				end++
			}
			n++
		}
		for end < len(s) && isSpace(s[end]) {
			end++
		}
		out = append(out, s[:end])
		s = s[end:]
	}
	return out
}

func isSpace(b byte) bool { return b == ' ' || b == '\n' || b == '\t' || b == '\r' }

func runeChunks(s string, size int) []string {
	var out []string
	for s != "" {
		end, n := 0, 0
		for end < len(s) && n < size {
			_, w := utf8.DecodeRuneInString(s[end:])
			end += w
			n++
		}
		out = append(out, s[:end])
		s = s[end:]
	}
	return out
}

func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n]) + "…"
}

func (s *Server) models(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"object": "list",
		"data":   []any{map[string]any{"id": ModelID, "object": "model", "created": 0, "owned_by": "scriptedmodel"}},
	})
}

// State is what GET /_scripted answers: the turns left, the requests
// received and the content chunks' send times (SentAt, FirstChunkSentAt).
type State struct {
	Remaining        int         `json:"remaining"`
	Requests         []Request   `json:"requests"`
	SentAt           []time.Time `json:"sent_at"`
	FirstChunkSentAt []time.Time `json:"first_chunk_sent_at"`
}

func (s *Server) state(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(State{Remaining: s.Remaining(), Requests: s.Requests(), SentAt: s.SentAt(), FirstChunkSentAt: s.FirstChunkSentAt()})
}

// putTurns replaces (PUT) or extends (POST) the script with a JSON script.
func (s *Server) putTurns(w http.ResponseWriter, r *http.Request) {
	turns, err := ParseScript(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		var tooLarge *http.MaxBytesError
		status := http.StatusBadRequest
		if errors.As(err, &tooLarge) {
			status = http.StatusRequestEntityTooLarge
		}
		http.Error(w, err.Error(), status)
		return
	}
	if r.Method == http.MethodPut {
		s.Reset(turns...)
	} else {
		s.Add(turns...)
	}
	w.WriteHeader(http.StatusNoContent)
}
