package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestAI(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "key")
	if err := os.WriteFile(keyFile, []byte("sk-from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "hks.yaml")
	yaml := `ai:
  providers:
  - name: local
    baseURL: http://ollama.lan:11434/v1
    model: llama3.1
  - name: openai
    baseURL: https://api.openai.com/v1
    model: gpt-4o-mini
    apiKeyEnv: OPENAI_KEY
    anonymize: true
  - name: vllm
    baseURL: https://vllm.example/v1
    model: qwen
    apiKeyFile: ` + keyFile + `
    timeout: 30s
  maxToolCallsPerTurn: 4
`
	if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := load(t, []string{"--config", file}, map[string]string{"OPENAI_KEY": "sk-from-env"})
	if err != nil {
		t.Fatal(err)
	}
	ps := c.AI.Providers
	if len(ps) != 3 || ps[0].APIKey != "" || ps[1].APIKey != "sk-from-env" || !ps[1].Anonymize || ps[2].APIKey != "sk-from-file" {
		t.Fatalf("providers: %+v", ps)
	}
	if ps[0].Timeout.Duration != 60*time.Second || ps[2].Timeout.Duration != 30*time.Second {
		t.Errorf("timeouts: %v %v", ps[0].Timeout, ps[2].Timeout)
	}
	if c.AI.MaxToolCallsPerTurn != 4 || c.AI.TurnTimeout.Duration != 2*time.Minute || c.AI.ToolOutputBytes != 16<<10 {
		t.Errorf("caps: %+v", c.AI)
	}
	// No provider is a supported mode.
	d := Default()
	if err := d.Validate(); err != nil || len(d.AI.Providers) != 0 {
		t.Fatalf("default: %v %+v", err, d.AI)
	}
}

func TestBadAI(t *testing.T) {
	ok := AIProvider{Name: "local", BaseURL: "http://127.0.0.1:11434/v1", Model: "llama3.1"}
	with := func(f func(p *AIProvider)) []AIProvider {
		p := ok
		f(&p)
		return []AIProvider{p}
	}
	tests := []struct {
		name      string
		providers []AIProvider
		caps      func(a *AI)
		env       map[string]string
		want      string
	}{
		{"bad name", with(func(p *AIProvider) { p.Name = "Local Llama" }), nil, nil, `config: ai.providers[0].name: "Local Llama" must be 1 to 32 lowercase letters, digits and dashes`},
		{"duplicate", append(with(func(*AIProvider) {}), ok), nil, nil, `config: ai.providers[1].name: "local" is used by another provider`},
		{"no model", with(func(p *AIProvider) { p.Model = " " }), nil, nil, "config: ai.providers[0].model: is required"},
		{"no url", with(func(p *AIProvider) { p.BaseURL = "" }), nil, nil, "config: ai.providers[0].baseURL: must be an https URL"},
		{"http with a key", with(func(p *AIProvider) { p.BaseURL, p.APIKey = "http://llm.example/v1", "sk-x" }), nil, nil, "config: ai.providers[0].baseURL: must be an https URL (http only for localhost or 127.0.0.1); plain http is allowed for any host only without an API key"},
		{"query", with(func(p *AIProvider) { p.BaseURL = "http://llm.example/v1?x=1" }), nil, nil, "config: ai.providers[0].baseURL: must be an https URL without query or fragment"},
		{"two key sources", with(func(p *AIProvider) { p.APIKey, p.APIKeyEnv = "a", "B" }), nil, map[string]string{"B": "b"}, "config: ai.providers[0].apiKey: set one of apiKey, apiKeyEnv and apiKeyFile"},
		{"key env unset", with(func(p *AIProvider) { p.APIKeyEnv = "NOPE" }), nil, nil, "config: ai.providers[0].apiKeyEnv: environment variable NOPE is not set"},
		{"key file missing", with(func(p *AIProvider) { p.APIKeyFile = "/nonexistent/key" }), nil, nil, "config: ai.providers[0].apiKeyFile: cannot read /nonexistent/key"},
		{"negative timeout", with(func(p *AIProvider) { p.Timeout = Duration{-time.Second} }), nil, nil, "config: ai.providers[0].timeout: must not be negative"},
		{"tool cap", nil, func(a *AI) { a.MaxToolCallsPerTurn = 100 }, nil, "config: ai.maxToolCallsPerTurn: 100 must be 1 to 64"},
		{"output cap", nil, func(a *AI) { a.ToolOutputBytes = 2 << 20 }, nil, "config: ai.toolOutputBytes: 2097152 must be at most 1 MiB"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			c.AI.Providers = tt.providers
			if tt.caps != nil {
				tt.caps(&c.AI)
			}
			err := c.resolveAIKeys(func(k string) string { return tt.env[k] })
			if err == nil {
				err = c.Validate()
			}
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("error = %v, want prefix %q", err, tt.want)
			}
		})
	}
}
