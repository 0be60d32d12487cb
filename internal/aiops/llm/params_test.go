package llm

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestMaxTokensField: OpenAI gets max_completion_tokens (its reasoning
// models refuse max_tokens), every other server max_tokens (what Ollama,
// vLLM, llama.cpp and LM Studio read).
func TestMaxTokensField(t *testing.T) {
	for _, c := range []struct{ baseURL, want, not string }{
		{"https://api.openai.com/v1", `"max_completion_tokens":64`, `"max_tokens"`},
		{"https://API.OpenAI.com:443/v1", `"max_completion_tokens":64`, `"max_tokens"`},
		{"http://127.0.0.1:11434/v1", `"max_tokens":64`, `"max_completion_tokens"`},
		{"https://openai.example.com/v1", `"max_tokens":64`, `"max_completion_tokens"`},
	} {
		cl, err := New(Provider{Name: "p", BaseURL: c.baseURL, Model: "m"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		p, err := cl.params(Request{Messages: []Message{{Role: "user", Content: "hi"}}, MaxTokens: 64})
		if err != nil {
			t.Fatal(err)
		}
		b, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), c.want) || strings.Contains(string(b), c.not) || !strings.Contains(string(b), `"stream_options":{"include_usage":true}`) {
			t.Errorf("%s: body %s, want %s and no %s", c.baseURL, b, c.want, c.not)
		}
	}
}
