// Package llm is the assistant's model client: one chat completion with an
// OpenAI-compatible provider (OpenAI, Ollama's /v1, vLLM, llama.cpp's
// server, LM Studio), streamed, with tool calls and token usage. It is built
// on the official github.com/openai/openai-go client.
//
// It owns the translation between the assistant's messages and tools and the
// provider's wire format, the forwarding of each content delta as soon as it
// arrives, the accumulation of tool calls sent in pieces, the usage the
// provider reports in its final chunk, and the mapping of every provider
// failure to a *ProviderError whose text never carries the API key. It does
// not read configuration, choose a provider, run the agent loop or persist
// anything: its callers do (the Provider it is given is already resolved,
// API key included).
package llm
