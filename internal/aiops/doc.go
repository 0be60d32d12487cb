// Package aiops owns the assistant: chats of a user with a model about one
// workspace, the agent loop that runs on the server (model → tool calls →
// results → model, within caps), plans for every write (a dry run and a
// diff that only their user confirms, once, within five minutes), the
// organization's settings and token budget, the usage ledger's AI
// entries, the audit record of every tool call, and the diagnose routes.
//
// Every tool acts with the caller's own workspace token, issued by the
// platform's issuer for that user and workspace and sent through the
// workspace gateway (Target), so the workspace cluster's RBAC decides
// every read and every write; no platform or admin credential is used.
// The tools themselves live in aiops/tools, the model client in
// aiops/llm, the analyzers in aiops/analyze; package aiops/mcp serves the
// same registry over the Model Context Protocol.
package aiops
