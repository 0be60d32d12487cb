package llm

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/shared"

	"github.com/hexabase/hexabase-ai/internal/required"
)

// Provider is one model endpoint, as the operator configured it.
type Provider struct {
	// Name identifies the provider in errors, logs and the usage ledger.
	Name string
	// BaseURL is the API's base, the part before /chat/completions:
	// https://api.openai.com/v1, http://127.0.0.1:11434/v1 (Ollama)…
	BaseURL string
	// Model is the model every request names.
	Model string
	// APIKey is sent as a bearer token; empty sends no Authorization header
	// (a local Ollama or llama.cpp server needs none).
	APIKey string
	// Anonymize tells the caller to mask names before messages reach this
	// provider; the client itself sends messages as it is given them.
	Anonymize bool
	// Timeout bounds one whole completion, from the request to the last
	// chunk; 0 leaves the bound to the caller's context.
	Timeout time.Duration
}

// String describes p without its API key, so that printing or logging a
// Provider cannot leak it.
func (p Provider) String() string {
	key := "none"
	if p.APIKey != "" {
		key = "set"
	}
	return fmt.Sprintf("{Name:%s BaseURL:%s Model:%s APIKey:%s Anonymize:%t Timeout:%s}", p.Name, p.BaseURL, p.Model, key, p.Anonymize, p.Timeout)
}

// GoString is String, for %#v.
func (p Provider) GoString() string { return "llm.Provider" + p.String() }

// LogValue logs p without its API key.
func (p Provider) LogValue() slog.Value {
	return slog.GroupValue(slog.String("name", p.Name), slog.String("base_url", p.BaseURL), slog.String("model", p.Model))
}

// Message is one message of a conversation.
type Message struct {
	// Role is system, user, assistant or tool.
	Role    string
	Content string
	// ToolCalls are the calls an assistant message made.
	ToolCalls []ToolCall
	// ToolCallID is the call a tool message answers.
	ToolCallID string
}

// ToolCall is one function call of the model.
type ToolCall struct {
	ID, Name string
	// Arguments is the JSON text as the model sent it (not validated: a
	// model can send invalid JSON, which the tool's caller must refuse).
	Arguments string
}

// ToolDef is a function offered to the model.
type ToolDef struct {
	Name, Description string
	// Parameters is the JSON schema of the arguments, an object schema.
	Parameters map[string]any
}

// Request is one chat completion to run.
type Request struct {
	Messages []Message
	Tools    []ToolDef
	// MaxTokens caps the completion's tokens; 0 leaves the provider's
	// default.
	MaxTokens int
	// Temperature is sent when not nil.
	Temperature *float64
}

// Usage is the token count the provider reported.
type Usage struct {
	PromptTokens, CompletionTokens, TotalTokens int64
}

// Response is the completed answer.
type Response struct {
	// Content is the text the model wrote, all deltas joined.
	Content string
	// ToolCalls are the calls the model made, in the order of their index.
	ToolCalls []ToolCall
	// FinishReason is the provider's: stop, tool_calls, length,
	// content_filter…
	FinishReason string
	// Usage comes from the provider's final chunk; it is zero when the
	// provider does not honour stream_options.include_usage.
	Usage Usage
	// Model is the model as the provider reported it.
	Model string
}

// Client runs chat completions with one provider. It is safe for
// concurrent use.
type Client struct {
	p    Provider
	chat openai.ChatCompletionService
	// maxCompletionTokens sends MaxTokens as max_completion_tokens (OpenAI,
	// whose reasoning models refuse max_tokens) rather than max_tokens (what
	// every other compatible server reads).
	maxCompletionTokens bool
}

// New returns a client of p sending its requests with httpClient (nil: a
// client of its own, with a copy of http.DefaultTransport). Name, BaseURL
// and Model are required; BaseURL must be an absolute http or https URL
// without credentials, query or fragment.
func New(p Provider, httpClient *http.Client) (*Client, error) {
	if err := required.Fields("llm", p, "Name", "BaseURL", "Model"); err != nil {
		return nil, err
	}
	u, err := url.Parse(p.BaseURL)
	switch {
	case err != nil:
		return nil, errors.New("llm: BaseURL is not a URL")
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("llm: BaseURL %q: the scheme must be http or https", p.BaseURL)
	case u.Host == "":
		return nil, fmt.Errorf("llm: BaseURL %q: an absolute URL with a host is required", p.BaseURL)
	case u.User != nil:
		// Never echo it: the user info may be a credential.
		return nil, errors.New("llm: BaseURL must not carry credentials (user info): give the key as APIKey")
	case u.RawQuery != "" || u.Fragment != "":
		return nil, fmt.Errorf("llm: BaseURL %q must not carry a query or fragment", p.BaseURL)
	case p.Timeout < 0:
		return nil, errors.New("llm: Timeout must not be negative")
	}
	if httpClient == nil {
		httpClient = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	}
	opts := []option.RequestOption{
		option.WithBaseURL(p.BaseURL),
		option.WithHTTPClient(httpClient),
		// No retries: a retry re-sends the whole conversation (a second
		// bill when a 5xx came after the provider did the work), holds the
		// user's turn for as long as a 429's Retry-After says, and hides
		// the failure from the agent loop, which shows it to the user, who
		// can ask again. Nothing is retried once a stream has started in
		// any case.
		option.WithMaxRetries(0),
	}
	if p.APIKey != "" {
		opts = append(opts, option.WithAPIKey(p.APIKey))
	}
	return &Client{
		p: p,
		// The service alone, not openai.NewClient: that one also reads
		// OPENAI_* variables of the environment (organization, project,
		// custom headers), which must not reach an operator's provider.
		chat:                openai.NewChatCompletionService(opts...),
		maxCompletionTokens: strings.EqualFold(u.Hostname(), "api.openai.com"),
	}, nil
}

// Provider returns the provider the client was made for.
func (c *Client) Provider() Provider { return c.p }

// String describes c by its provider, without the API key.
func (c *Client) String() string { return "llm.Client" + c.p.String() }

// GoString is String, for %#v.
func (c *Client) GoString() string { return c.String() }

// LogValue logs c as its provider, without the API key.
func (c *Client) LogValue() slog.Value { return c.p.LogValue() }

// Stream runs one chat completion with stream=true and
// stream_options.include_usage=true. It calls onDelta (if not nil) with
// every content delta as soon as it arrives, on the calling goroutine and
// in order; it accumulates tool-call deltas by index, their arguments
// concatenated, and takes the usage from the final chunk. Canceling ctx
// stops it.
//
// On failure it returns what had arrived so far with the error: a
// *ProviderError when the provider failed (unreachable, an HTTP error, a
// malformed or interrupted stream, Provider.Timeout passed), ctx's error
// (wrapped) when ctx ended first, or a plain error for a request it
// cannot send (an unknown role, a tool message without its call's id).
func (c *Client) Stream(ctx context.Context, req Request, onDelta func(string)) (Response, error) {
	params, err := c.params(req)
	if err != nil {
		return Response{}, err
	}
	parent := ctx
	if c.p.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, c.p.Timeout, errTimeout)
		defer cancel()
	}
	var httpResp *http.Response
	stream := c.chat.NewStreaming(ctx, params, option.WithResponseInto(&httpResp))
	defer stream.Close()

	var (
		resp    Response
		content strings.Builder
		calls   toolCalls
	)
	for stream.Next() {
		chunk := stream.Current()
		if resp.Model == "" {
			resp.Model = chunk.Model
		}
		if chunk.JSON.Usage.Valid() {
			u := chunk.Usage
			resp.Usage = Usage{PromptTokens: u.PromptTokens, CompletionTokens: u.CompletionTokens, TotalTokens: u.TotalTokens}
		}
		for _, choice := range chunk.Choices {
			if choice.Index != 0 {
				continue // n is 1: other choices are not asked for
			}
			if d := choice.Delta.Content; d != "" {
				content.WriteString(d)
				if onDelta != nil {
					onDelta(d)
				}
			}
			calls.add(choice.Delta.ToolCalls)
			if choice.FinishReason != "" {
				resp.FinishReason = choice.FinishReason
			}
		}
	}
	resp.Content, resp.ToolCalls = content.String(), calls.list()
	if err := stream.Err(); err != nil {
		return resp, c.failure(parent, ctx, err, httpResp)
	}
	if err := parent.Err(); err != nil {
		return resp, fmt.Errorf("stream chat completion: %w", err)
	}
	if resp.FinishReason == "" {
		if ct := contentType(httpResp); ct != "" && ct != "text/event-stream" {
			return resp, c.errorf(0, nil, "the model provider did not stream its answer (it sent %s)", ct)
		}
		return resp, c.errorf(0, nil, "the model provider ended the stream before the answer was complete")
	}
	return resp, nil
}

func contentType(r *http.Response) string {
	if r == nil {
		return ""
	}
	ct, _, _ := strings.Cut(r.Header.Get("Content-Type"), ";")
	return strings.ToLower(strings.TrimSpace(ct))
}

// params translates req into the provider's request.
func (c *Client) params(req Request) (openai.ChatCompletionNewParams, error) {
	p := openai.ChatCompletionNewParams{
		Model:         c.p.Model,
		StreamOptions: openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)},
	}
	switch {
	case req.MaxTokens < 0:
		return p, errors.New("llm: MaxTokens must not be negative")
	case req.MaxTokens > 0 && c.maxCompletionTokens:
		p.MaxCompletionTokens = openai.Int(int64(req.MaxTokens))
	case req.MaxTokens > 0:
		p.MaxTokens = openai.Int(int64(req.MaxTokens))
	}
	if req.Temperature != nil {
		p.Temperature = openai.Float(*req.Temperature)
	}
	for i, t := range req.Tools {
		if t.Name == "" {
			return p, fmt.Errorf("llm: tool %d: Name is required", i)
		}
		fn := shared.FunctionDefinitionParam{Name: t.Name, Parameters: shared.FunctionParameters(t.Parameters)}
		if t.Description != "" {
			fn.Description = openai.String(t.Description)
		}
		p.Tools = append(p.Tools, openai.ChatCompletionFunctionTool(fn))
	}
	for i, m := range req.Messages {
		switch m.Role {
		case "system":
			p.Messages = append(p.Messages, openai.SystemMessage(m.Content))
		case "user":
			p.Messages = append(p.Messages, openai.UserMessage(m.Content))
		case "assistant":
			var a openai.ChatCompletionAssistantMessageParam
			if m.Content != "" || len(m.ToolCalls) == 0 {
				a.Content.OfString = openai.String(m.Content)
			}
			for _, tc := range m.ToolCalls {
				a.ToolCalls = append(a.ToolCalls, openai.ChatCompletionMessageToolCallUnionParam{
					OfFunction: &openai.ChatCompletionMessageFunctionToolCallParam{
						ID:       tc.ID,
						Function: openai.ChatCompletionMessageFunctionToolCallFunctionParam{Name: tc.Name, Arguments: tc.Arguments},
					},
				})
			}
			p.Messages = append(p.Messages, openai.ChatCompletionMessageParamUnion{OfAssistant: &a})
		case "tool":
			if m.ToolCallID == "" {
				return p, fmt.Errorf("llm: message %d: a tool message needs the ToolCallID it answers", i)
			}
			p.Messages = append(p.Messages, openai.ToolMessage(m.Content, m.ToolCallID))
		default:
			return p, fmt.Errorf("llm: message %d: unknown role %q (system, user, assistant or tool)", i, m.Role)
		}
	}
	return p, nil
}

// toolCalls accumulates tool-call deltas: the first delta of a call
// carries its index, id and name, the following ones pieces of its
// arguments under the same index.
type toolCalls struct {
	calls   []ToolCall
	byIndex map[int64]int
}

func (t *toolCalls) add(deltas []openai.ChatCompletionChunkChoiceDeltaToolCall) {
	for _, d := range deltas {
		i, ok := t.byIndex[d.Index]
		// A new id under a known index is a new call: some servers send
		// every call whole with index 0.
		if !ok || (d.ID != "" && t.calls[i].ID != "" && d.ID != t.calls[i].ID) {
			if t.byIndex == nil {
				t.byIndex = map[int64]int{}
			}
			t.calls = append(t.calls, ToolCall{})
			i = len(t.calls) - 1
			t.byIndex[d.Index] = i
		}
		c := &t.calls[i]
		if c.ID == "" {
			c.ID = d.ID
		}
		if c.Name == "" {
			c.Name = d.Function.Name
		}
		c.Arguments += d.Function.Arguments
	}
}

// list returns the calls, giving those the provider sent without an id one
// of their own, since the tool results must name the call they answer.
func (t *toolCalls) list() []ToolCall {
	for i := range t.calls {
		if t.calls[i].ID == "" {
			t.calls[i].ID = "call_" + strconv.Itoa(i)
		}
	}
	return t.calls
}
