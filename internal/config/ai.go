package config

import (
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"
)

// AI configures the assistant (docs/assistant.md). With no provider the
// analyzers and every deterministic command still work; chats answer that
// no model is set up.
//
//	ai:
//	  providers:
//	  - name: local
//	    baseURL: http://127.0.0.1:11434/v1   # Ollama's OpenAI-compatible API
//	    model: llama3.1
//	  - name: openai
//	    baseURL: https://api.openai.com/v1
//	    model: gpt-4o-mini
//	    apiKeyEnv: OPENAI_API_KEY
//	    anonymize: true
type AI struct {
	// Providers are the OpenAI-compatible chat-completion endpoints; the
	// first is the default.
	Providers []AIProvider `json:"providers,omitempty"`
	// MaxToolCallsPerTurn caps the tool calls of one user message (8).
	MaxToolCallsPerTurn int `json:"maxToolCallsPerTurn,omitempty"`
	// TurnTimeout caps one user message's whole turn, model time
	// included (2m).
	TurnTimeout Duration `json:"turnTimeout,omitempty"`
	// ToolOutputBytes caps what one tool call hands the model (16 KiB).
	ToolOutputBytes int `json:"toolOutputBytes,omitempty"`
}

// AIProvider is one OpenAI-compatible endpoint: OpenAI, Ollama's /v1,
// vLLM, llama.cpp's server, LM Studio.
type AIProvider struct {
	// Name names it in chats and in the usage ledger: lowercase letters,
	// digits and dashes, at most 32.
	Name    string `json:"name"`
	BaseURL string `json:"baseURL"`
	Model   string `json:"model"`
	// APIKey, or APIKeyEnv naming an environment variable, or APIKeyFile
	// naming a file that holds it (read when the configuration is
	// loaded); none for servers without keys (Ollama).
	APIKey     string `json:"apiKey,omitempty"`
	APIKeyEnv  string `json:"apiKeyEnv,omitempty"`
	APIKeyFile string `json:"apiKeyFile,omitempty"`
	// Anonymize masks the names of objects, namespaces and the workspace
	// in what is sent to this provider and unmasks them in its answers.
	Anonymize bool `json:"anonymize,omitempty"`
	// Timeout caps one model call (default 60s).
	Timeout Duration `json:"timeout,omitempty"`
}

var aiProviderName = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,31}$`)

// resolveAIKeys reads apiKeyEnv and apiKeyFile.
func (c *Config) resolveAIKeys(getenv func(string) string) error {
	for i := range c.AI.Providers {
		p := &c.AI.Providers[i]
		bad := func(field, msg string) error { return fmt.Errorf("config: ai.providers[%d].%s: %s", i, field, msg) }
		n := 0
		for _, s := range []string{p.APIKey, p.APIKeyEnv, p.APIKeyFile} {
			if s != "" {
				n++
			}
		}
		if n > 1 {
			return bad("apiKey", "set one of apiKey, apiKeyEnv and apiKeyFile")
		}
		switch {
		case p.APIKeyEnv != "":
			p.APIKey = getenv(p.APIKeyEnv)
			if p.APIKey == "" {
				return bad("apiKeyEnv", fmt.Sprintf("environment variable %s is not set", p.APIKeyEnv))
			}
		case p.APIKeyFile != "":
			b, err := os.ReadFile(p.APIKeyFile)
			if err != nil {
				return bad("apiKeyFile", fmt.Sprintf("cannot read %s", p.APIKeyFile))
			}
			p.APIKey = strings.TrimSpace(string(b))
			if p.APIKey == "" {
				return bad("apiKeyFile", fmt.Sprintf("%s is empty", p.APIKeyFile))
			}
		}
	}
	return nil
}

// validateAI checks the assistant's settings and fills defaults.
func (c *Config) validateAI() error {
	a := &c.AI
	seen := map[string]bool{}
	for i := range a.Providers {
		p := &a.Providers[i]
		bad := func(field, msg string) error { return fmt.Errorf("config: ai.providers[%d].%s: %s", i, field, msg) }
		if !aiProviderName.MatchString(p.Name) {
			return bad("name", fmt.Sprintf("%q must be 1 to 32 lowercase letters, digits and dashes", p.Name))
		}
		if seen[p.Name] {
			return bad("name", fmt.Sprintf("%q is used by another provider", p.Name))
		}
		seen[p.Name] = true
		if msg := checkProviderURL(p.BaseURL); msg != "" {
			// A keyless server on the operator's network (Ollama, vLLM on
			// another host) may be plain http: there is no key to expose.
			u, err := url.Parse(p.BaseURL)
			if p.APIKey != "" || err != nil || u.Scheme != "http" || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
				return bad("baseURL", msg+"; plain http is allowed for any host only without an API key")
			}
		}
		if strings.TrimSpace(p.Model) == "" {
			return bad("model", "is required")
		}
		if p.Timeout.Duration < 0 {
			return bad("timeout", "must not be negative")
		}
		if p.Timeout.Duration == 0 {
			p.Timeout = Duration{60 * time.Second}
		}
	}
	switch {
	case a.MaxToolCallsPerTurn < 0 || a.MaxToolCallsPerTurn > 64:
		return fmt.Errorf("config: ai.maxToolCallsPerTurn: %d must be 1 to 64", a.MaxToolCallsPerTurn)
	case a.TurnTimeout.Duration < 0:
		return fmt.Errorf("config: ai.turnTimeout: must not be negative")
	case a.ToolOutputBytes < 0 || a.ToolOutputBytes > 1<<20:
		return fmt.Errorf("config: ai.toolOutputBytes: %d must be at most 1 MiB", a.ToolOutputBytes)
	}
	if a.MaxToolCallsPerTurn == 0 {
		a.MaxToolCallsPerTurn = 8
	}
	if a.TurnTimeout.Duration == 0 {
		a.TurnTimeout = Duration{2 * time.Minute}
	}
	if a.ToolOutputBytes == 0 {
		a.ToolOutputBytes = 16 << 10
	}
	return nil
}
