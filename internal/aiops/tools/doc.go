// Package tools is the assistant's tool registry: the tools the agent loop
// (and the MCP server) may call, each with a name, a JSON schema and an
// Effect that a test reviews (TestReadToolsNeverWrite).
//
//   - Read tools run as the caller (Target.Client: the caller's own client
//     of the workspace cluster, never a platform credential), send only
//     GETs, and answer bounded text for the model (Result).
//   - Write tools never write: Propose reads the object (GET only) and
//     answers the exact request to make (Proposal). Prepare turns it into
//     a plan with a server-side dry run as the caller (dryRun=All) and a
//     diff of the object before and after; Execute runs a confirmed plan
//     as the caller, after checking its hash and that the object is still
//     the one the plan was made against (ErrStale otherwise).
//   - No secrets out: every text a tool answers, every plan's YAML and
//     diff and every refusal of the cluster passes through Scrub (Secret
//     values redacted with their keys kept, PEM blocks, JWTs, bearer tokens
//     and kubeconfig credentials removed) and is capped (MaxOutput).
//
// The agent loop, the HTTP routes, the plans' storage and MCP are built on
// top of it (package aiops); this package does not import them.
package tools
