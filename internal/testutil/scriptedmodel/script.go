package scriptedmodel

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// Turn is one answer of the script.
type Turn struct {
	// When decides whether this turn answers the request (nil: always). It
	// is a Go-only addition to Match: a turn plays only if both match. It
	// is called with the server's lock held, so it must not call the Server.
	When func(r Request) bool `json:"-"`
	// Match is the declarative condition, the one a JSON script can carry
	// (as "when"); nil matches every request.
	Match *Match `json:"when,omitempty"`

	// Content is the assistant's text, streamed in chunks of ChunkSize
	// runes (0: three words per chunk, each chunk keeping its spaces).
	Content   string `json:"content,omitempty"`
	ChunkSize int    `json:"chunk_size,omitempty"`
	// ToolCalls are streamed after the content as OpenAI does: for each
	// call in turn, a first chunk with its index, id and name and empty
	// arguments, then its arguments split across chunks (of ChunkSize
	// runes, or 8 when ChunkSize is 0).
	ToolCalls []ToolCall `json:"tool_calls,omitempty"`
	// FinishReason overrides the finish reason (default "stop", or
	// "tool_calls" when the turn has tool calls), e.g. "length".
	FinishReason string `json:"finish_reason,omitempty"`
	// Usage is reported in the final chunk; nil reports CountUsage's
	// deterministic count.
	Usage *Usage `json:"usage,omitempty"`

	// Delay is waited before anything is sent (JSON: "delay": "250ms").
	Delay time.Duration `json:"-"`
	// Gate, when set, holds the rest of the stream after the first content
	// chunk (or, with no content, the first tool-call chunk) until it is
	// closed or the client goes away: a test closes it once it has seen the
	// first delta, which proves the client forwards deltas as they arrive.
	Gate <-chan struct{} `json:"-"`

	// Status, when not 0, answers with this HTTP status (401, 404, 429,
	// 500…) and an OpenAI error object whose message is Error.
	Status int    `json:"status,omitempty"`
	Error  string `json:"error,omitempty"`
	// Raw, when not empty, is written verbatim as the body of a 200
	// text/event-stream answer: a malformed or truncated stream.
	Raw string `json:"raw,omitempty"`
	// Abort cuts the connection after the content and tool calls (or the
	// Raw body), before the finish chunk: a provider that died mid-answer.
	Abort bool `json:"abort,omitempty"`

	// Repeat keeps the turn in the script after it played, so that it
	// answers every request it matches (a long-running server's fallback).
	Repeat bool `json:"repeat,omitempty"`
}

// Match is the declarative condition of a turn; every field that is set
// must hold. Comparisons ignore case.
type Match struct {
	// LastUserContains: the request's final message is the user's and
	// contains this text (a new question, not a tool round).
	LastUserContains string `json:"last_user_contains,omitempty"`
	// LastToolContains: one of the tool results that end the request
	// (those after the last assistant message) contains this text.
	LastToolContains string `json:"last_tool_contains,omitempty"`
	// AfterToolCall: the request ends with the result of a call to this
	// tool.
	AfterToolCall string `json:"after_tool_call,omitempty"`
}

// Matches reports whether r satisfies every condition m sets.
func (m Match) Matches(r Request) bool {
	return (m.LastUserContains == "" || LastUserSaid(m.LastUserContains)(r)) &&
		(m.LastToolContains == "" || LastToolResultContains(m.LastToolContains)(r)) &&
		(m.AfterToolCall == "" || AfterToolCall(m.AfterToolCall)(r))
}

// ToolCall is one function call of the assistant. In a JSON script,
// arguments may be given as a JSON object or as the text of one.
type ToolCall struct {
	ID   string `json:"id,omitempty"`
	Name string `json:"name"`
	// Arguments is the JSON text the model sends (not checked: a model may
	// well send invalid JSON).
	Arguments string `json:"arguments"`
}

// Usage is the token count a turn reports.
type Usage struct {
	PromptTokens     int64 `json:"prompt_tokens"`
	CompletionTokens int64 `json:"completion_tokens"`
	TotalTokens      int64 `json:"total_tokens"`
}

// Request is what the server received in one chat completion request.
type Request struct {
	Model    string    `json:"model"`
	Messages []Message `json:"messages"`
	// Tools are the names of the functions offered.
	Tools        []string `json:"tools,omitempty"`
	Stream       bool     `json:"stream"`
	IncludeUsage bool     `json:"include_usage"`
	// MaxTokens is max_completion_tokens, or max_tokens (0: neither).
	MaxTokens   int64       `json:"max_tokens,omitempty"`
	Temperature *float64    `json:"temperature,omitempty"`
	Header      http.Header `json:"header"`
	// Body is the request body as received, to scan it whole.
	Body []byte `json:"-"`
}

// Message is one message of a request. Content holds the text of every
// text part when the client sent an array of parts.
type Message struct {
	Role       string     `json:"role"`
	Content    string     `json:"content"`
	ToolCalls  []ToolCall `json:"tool_calls,omitempty"`
	ToolCallID string     `json:"tool_call_id,omitempty"`
}

// LastUserSaid matches a request whose final message is the user's and
// contains substr, ignoring case.
func LastUserSaid(substr string) func(Request) bool {
	return func(r Request) bool {
		n := len(r.Messages)
		return n > 0 && r.Messages[n-1].Role == "user" && containsFold(r.Messages[n-1].Content, substr)
	}
}

// LastToolResultContains matches a request that ends with tool results
// (the tool messages after the last assistant message) one of which
// contains substr, ignoring case.
func LastToolResultContains(substr string) func(Request) bool {
	return func(r Request) bool {
		for _, m := range trailingToolResults(r) {
			if containsFold(m.Content, substr) {
				return true
			}
		}
		return false
	}
}

// AfterToolCall matches a request that ends with the result of a call to
// the tool name (the call found by its id in the assistant message before).
func AfterToolCall(name string) func(Request) bool {
	return func(r Request) bool {
		results := trailingToolResults(r)
		if len(results) == 0 {
			return false
		}
		called := map[string]string{}
		for _, m := range r.Messages {
			for _, c := range m.ToolCalls {
				called[c.ID] = c.Name
			}
		}
		for _, m := range results {
			if called[m.ToolCallID] == name {
				return true
			}
		}
		return false
	}
}

// trailingToolResults returns the tool messages that end r.
func trailingToolResults(r Request) []Message {
	i := len(r.Messages)
	for i > 0 && r.Messages[i-1].Role == "tool" {
		i--
	}
	return r.Messages[i:]
}

func containsFold(s, substr string) bool {
	return strings.Contains(strings.ToLower(s), strings.ToLower(substr))
}

// CountUsage is the usage a turn without Usage reports for r: prompt
// tokens are the whitespace-separated words of the request's message
// contents and tool-call arguments, completion tokens the words of the
// turn's content and of each tool call's name and arguments; so that a
// test can assert the ledger exactly.
func CountUsage(r Request, t Turn) Usage {
	var u Usage
	for _, m := range r.Messages {
		u.PromptTokens += words(m.Content)
		for _, c := range m.ToolCalls {
			u.PromptTokens += words(c.Arguments)
		}
	}
	u.CompletionTokens = words(t.Content)
	for _, c := range t.ToolCalls {
		u.CompletionTokens += words(c.Name) + words(c.Arguments)
	}
	u.TotalTokens = u.PromptTokens + u.CompletionTokens
	return u
}

func words(s string) int64 { return int64(len(strings.Fields(s))) }

// UnmarshalJSON reads a turn of a JSON script, refusing unknown fields (a
// misspelt condition would otherwise match everything) and reading delay
// as a Go duration ("250ms").
func (t *Turn) UnmarshalJSON(b []byte) error {
	type plain Turn
	var v struct {
		plain
		Delay string `json:"delay,omitempty"`
	}
	if err := strictUnmarshal(b, &v); err != nil {
		return err
	}
	*t = Turn(v.plain)
	if v.Delay != "" {
		d, err := time.ParseDuration(v.Delay)
		if err != nil || d < 0 {
			return fmt.Errorf("delay %q: not a duration such as 250ms", v.Delay)
		}
		t.Delay = d
	}
	return nil
}

// UnmarshalJSON reads a tool call whose arguments are a JSON object or a
// string holding the JSON text.
func (c *ToolCall) UnmarshalJSON(b []byte) error {
	var v struct {
		ID        string          `json:"id"`
		Name      string          `json:"name"`
		Arguments json.RawMessage `json:"arguments"`
	}
	if err := strictUnmarshal(b, &v); err != nil {
		return err
	}
	*c = ToolCall{ID: v.ID, Name: v.Name}
	args := bytes.TrimSpace(v.Arguments)
	switch {
	case len(args) == 0 || string(args) == "null":
	case args[0] == '"':
		return json.Unmarshal(args, &c.Arguments)
	default:
		var buf bytes.Buffer
		if err := json.Compact(&buf, args); err != nil {
			return fmt.Errorf("arguments: %w", err)
		}
		c.Arguments = buf.String()
	}
	return nil
}

func strictUnmarshal(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

// ParseScript reads a JSON script: an array of turns, or an object whose
// "turns" holds one. A turn is written as
//
//	{"when": {"last_user_contains": "scale"},
//	 "tool_calls": [{"id": "call_1", "name": "scale", "arguments": {"name": "web", "replicas": 5}}]}
//	{"when": {"after_tool_call": "scale"}, "content": "The plan is ready.", "delay": "100ms"}
//	{"status": 429, "error": "Rate limit reached"}
//
// with the fields of Turn in snake_case; When and Gate have no JSON form.
func ParseScript(r io.Reader) ([]Turn, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("read script: %w", err)
	}
	b = bytes.TrimSpace(b)
	var turns []Turn
	if len(b) > 0 && b[0] == '{' {
		var v struct {
			Turns []Turn `json:"turns"`
		}
		err = strictUnmarshal(b, &v)
		turns = v.Turns
	} else {
		err = strictUnmarshal(b, &turns)
	}
	if err != nil {
		return nil, fmt.Errorf("parse script: %w", err)
	}
	for i, t := range turns {
		if err := t.check(); err != nil {
			return nil, fmt.Errorf("parse script: turn %d: %w", i, err)
		}
	}
	return turns, nil
}

// check refuses turns that cannot be played as written.
func (t Turn) check() error {
	switch {
	case t.Status != 0 && (t.Status < 400 || t.Status > 599):
		return fmt.Errorf("status %d: an error status is 400 to 599", t.Status)
	case t.Status != 0 && (t.Content != "" || len(t.ToolCalls) > 0 || t.Raw != ""):
		return errors.New("a turn with a status plays an error: no content, tool calls or raw body")
	case t.Status != 0 && t.Abort:
		return errors.New("a turn with a status plays an error: it cannot abort")
	case t.Raw != "" && (t.Content != "" || len(t.ToolCalls) > 0):
		return errors.New("a raw turn is written verbatim: no content or tool calls")
	case t.ChunkSize < 0:
		return errors.New("chunk_size must not be negative")
	case t.Delay < 0:
		return errors.New("delay must not be negative")
	}
	for i, c := range t.ToolCalls {
		if c.Name == "" {
			return fmt.Errorf("tool call %d: name is required", i)
		}
	}
	return nil
}
