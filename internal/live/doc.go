// Package live serves the live-update WebSocket, GET /api/v1/ws: one
// connection per browser tab that carries many subscriptions at once, the
// events of an organization (topic org, from package events, each event
// delivered only to whom may read what it is about, resumable by its
// sequence number) and Kubernetes watches of a project's objects (topic
// watch, made with the caller's own workspace identity so that the
// cluster's RBAC filters them, resumable by resourceVersion).
//
// Each subscription is authorized when it is made, with the decision of
// the matching GET route, and checked again every Config.Recheck and when
// memberships change, so that it ends within seconds of the caller's
// access going away; the connection closes (4401) when the caller's
// session ends. It owns the protocol (docs/websocket.md), the origin check
// that, with SameSite cookies, makes the endpoint CSRF-safe, and the
// limits: connections per user, subscriptions per connection and their
// rate, watches against the shared per-user and per-workspace stream
// caps, message size and an outbound queue bounded in bytes whose
// overflow disconnects a client that cannot keep up rather than dropping
// what it would miss. Every subscription of the process is fed by one
// follower of the events (the hub, hub.go), so subscriptions cost no
// JetStream consumer.
package live
