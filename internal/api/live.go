package api

import "time"

// The live-update WebSocket (GET /api/v1/ws) carries JSON text frames:
// LiveClientMessage from the client, LiveServerMessage from the server.
// docs/websocket.md is the protocol.

// LiveClientMessage is a message a client sends on the live-update
// WebSocket.
type LiveClientMessage struct {
	Type string `json:"type" doc:"subscribe, unsubscribe or ping"`
	// ID names a subscription (subscribe, unsubscribe): chosen by the
	// client, 1 to 64 characters of letters, digits, '-', '_', '.', ':'.
	ID    string `json:"id,omitempty" doc:"the client's name of the subscription: 1 to 64 letters, digits, - _ . :"`
	Topic string `json:"topic,omitempty" doc:"subscribe: org (the organization's events) or watch (a Kubernetes watch in a project)"`
	Org   string `json:"org,omitempty" doc:"the organization: id or slug"`
	// After resumes topic org after the event whose seq it is.
	After     string `json:"after,omitempty" doc:"topic org: the seq of the last event seen; the events after it are replayed first"`
	Workspace string `json:"workspace,omitempty" doc:"topic watch: the workspace, id or name"`
	Project   string `json:"project,omitempty" doc:"topic watch: the project, id or name"`
	Kind      string `json:"kind,omitempty" doc:"topic watch: deployments, pods, jobs, cronjobs or events"`
	// ResourceVersion resumes a watch; without it the watch lists first.
	ResourceVersion string `json:"resource_version,omitempty" doc:"topic watch: resume from this resourceVersion instead of listing first"`
}

// LiveServerMessage is a message the server sends on the live-update
// WebSocket.
type LiveServerMessage struct {
	Type string `json:"type" doc:"subscribed, event, watch, synced, error, ended or pong"`
	ID   string `json:"id,omitempty" doc:"the subscription the message is about (empty on an error about no subscription)"`
	// Seq orders the events of topic org; After takes it back.
	Seq             string     `json:"seq,omitempty" doc:"event: the event's sequence number, increasing; send it back as after to resume"`
	Event           *LiveEvent `json:"event,omitempty"`
	ResourceVersion string     `json:"resource_version,omitempty" doc:"synced: the resourceVersion of the list the watch continues from"`
	Problem         *Problem   `json:"problem,omitempty" doc:"error: the problem+json body the API would answer"`
	Reason          string     `json:"reason,omitempty" doc:"ended: why the server ended the subscription"`
}

// LiveEvent is the payload of an event message (a platform event: id,
// type, org_id, resource_id, time, data) or of a watch message (type
// ADDED, MODIFIED or DELETED, and the object).
type LiveEvent struct {
	ID         string     `json:"id,omitempty"`
	Type       string     `json:"type"`
	OrgID      string     `json:"org_id,omitempty"`
	ResourceID string     `json:"resource_id,omitempty"`
	Time       *time.Time `json:"time,omitempty"`
	Data       any        `json:"data,omitempty" doc:"the event's payload (events catalogue)"`
	Object     any        `json:"object,omitempty" doc:"watch: the Kubernetes object as JSON"`
}
