package live

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/hexabase/hexabase-ai/internal/api"
	"github.com/hexabase/hexabase-ai/internal/httpapi"
)

// Message and topic names of the protocol.
const (
	msgSubscribe   = "subscribe"
	msgUnsubscribe = "unsubscribe"
	msgPing        = "ping"

	TopicOrg   = "org"
	TopicWatch = "watch"
)

const maxIDLen = 64

// validID: 1 to 64 letters, digits, '-', '_', '.', ':'.
func validID(id string) bool {
	if id == "" || len(id) > maxIDLen {
		return false
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == ':') {
			return false
		}
	}
	return true
}

// handle answers one client message.
func (c *conn) handle(b []byte) {
	var m api.LiveClientMessage
	if err := httpapi.DecodeJSONBytes(b, &m); err != nil {
		c.sendError("", err)
		return
	}
	switch m.Type {
	case msgPing:
		c.send(api.LiveServerMessage{Type: "pong"})
	case msgUnsubscribe:
		if !validID(m.ID) {
			c.sendError("", invalid("id", "must be the id of a subscription: 1 to 64 letters, digits, - _ . :"))
			return
		}
		c.unsubscribe(m.ID)
	case msgSubscribe:
		c.subscribe(m)
	case "":
		c.sendError("", invalid("type", "is required: subscribe, unsubscribe or ping"))
	default:
		c.sendError("", invalid("type", "must be subscribe, unsubscribe or ping"))
	}
}

func invalid(field, msg string) error { return httpapi.Invalid(httpapi.Field(field, msg)) }

// subscribe validates a subscribe message, authorizes it and starts the
// subscription. A refusal is an error message with the subscription's id
// (none when the id itself is wrong or in use, so that an error with an id
// always means that subscription does not exist).
func (c *conn) subscribe(m api.LiveClientMessage) {
	if !validID(m.ID) {
		c.sendError("", invalid("id", "is required: 1 to 64 letters, digits, - _ . :"))
		return
	}
	// Read by the reader goroutine only.
	if ok, wait := c.subscribes.take(time.Now()); !ok {
		c.sendError(m.ID, httpapi.TooManyRequests(wait, fmt.Sprintf("a connection may subscribe %g times a second (bursts of %d); wait before subscribing again",
			c.s.cfg.Limits.SubscribeRate, c.s.cfg.Limits.SubscribeBurst)))
		return
	}
	if inUse, err := c.admit(m.ID); inUse {
		c.sendError("", err)
		return
	} else if err != nil {
		c.sendError(m.ID, err)
		return
	}
	if err := checkSubscribe(m); err != nil {
		c.sendError(m.ID, err)
		return
	}
	switch m.Topic {
	case TopicOrg:
		c.subscribeOrg(m)
	case TopicWatch:
		c.subscribeWatch(m)
	}
}

// checkSubscribe checks the fields of a subscribe message for its topic.
func checkSubscribe(m api.LiveClientMessage) error {
	switch m.Topic {
	case "":
		return invalid("topic", "is required: org or watch")
	case TopicOrg, TopicWatch:
	default:
		return invalid("topic", "must be org or watch")
	}
	if m.Org == "" {
		return invalid("org", "is required: the organization's id or slug")
	}
	if len(m.Org) > 128 {
		return invalid("org", "is not an organization id or slug")
	}
	if m.Topic == TopicOrg {
		for _, f := range []struct{ name, v string }{{"workspace", m.Workspace}, {"project", m.Project}, {"kind", m.Kind}, {"resource_version", m.ResourceVersion}} {
			if f.v != "" {
				return invalid(f.name, "only a watch takes it")
			}
		}
		if m.After != "" {
			if n, err := strconv.ParseUint(m.After, 10, 64); err != nil || n == 0 || len(m.After) > 20 {
				return invalid("after", "must be the seq of an event this server sent (a positive decimal number)")
			}
		}
		return nil
	}
	switch {
	case m.After != "":
		return invalid("after", "only topic org takes it; a watch resumes with resource_version")
	case m.Workspace == "":
		return invalid("workspace", "is required: the workspace's id or name")
	case m.Project == "":
		return invalid("project", "is required: the project's id or name")
	case m.Kind == "":
		return invalid("kind", "is required: deployments, pods, jobs, cronjobs or events")
	case len(m.Workspace) > 128:
		return invalid("workspace", "is not a workspace id or name")
	case len(m.Project) > 128:
		return invalid("project", "is not a project id or name")
	case len(m.ResourceVersion) > 128:
		return invalid("resource_version", "is not a resourceVersion")
	}
	if _, ok := kinds[m.Kind]; !ok {
		return invalid("kind", "must be deployments, pods, jobs, cronjobs or events")
	}
	return nil
}

// ended tells the client the server ended subscription id.
func (c *conn) ended(id, reason string) {
	c.send(api.LiveServerMessage{Type: "ended", ID: id, Reason: reason})
}

// authorizeCtx bounds one authorization's reads.
func (c *conn) authorizeCtx(parent context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(parent, authorizeTimeout)
}
