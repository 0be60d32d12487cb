// Package gateway is the workspace API gateway: `<externalURL>/k8s/<id>/…`
// on the API listener is a streaming reverse proxy to workspace id's
// Kubernetes API server. It verifies the caller's workspace token (the
// platform's signature, the workspace issuer, aud = this workspace, not
// expired, its session alive) before anything is forwarded, then forwards
// the request with that same token and nothing added: the API server
// authenticates it again and its RBAC decides. Watches, chunked lists,
// logs and upgraded connections (exec, attach, port-forward over SPDY or
// WebSocket) stream through, at most so many open at once per user and
// per workspace (Config.UserStreams, Config.WorkspaceStreams); it exports
// per-workspace request counts and latencies.
package gateway
