package audit

import (
	"context"
	"sync"
)

type ctxKey struct{}

// entry is the record being built for one request. The middleware puts it
// in the request context; handlers fill it through the Set functions.
type entry struct {
	mu         sync.Mutex
	route      *routeInfo
	params     map[string]string
	actorID    string
	actorEmail string
	actorSet   bool
	action     string
	targetType string
	targetID   string
}

func entryFrom(ctx context.Context) *entry {
	e, _ := ctx.Value(ctxKey{}).(*entry)
	return e
}

func (e *entry) set(fn func(e *entry)) {
	if e == nil {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	fn(e)
}

// SetActor names who acted in the request of ctx: the user, or for an
// anonymous attempt (a failed login) "" and the email tried. It replaces
// the authenticated caller. No-op outside an audited request.
func SetActor(ctx context.Context, userID, email string) {
	entryFrom(ctx).set(func(e *entry) { e.actorID, e.actorEmail, e.actorSet = userID, email, true })
}

// SetTarget names the object the request acted on, such as
// ("workspace", id); by default it is the last path parameter, or for a
// create the "id" of the created object in the answer.
func SetTarget(ctx context.Context, kind, id string) {
	entryFrom(ctx).set(func(e *entry) { e.targetType, e.targetID = kind, id })
}

// SetAction replaces the route's action for this request.
func SetAction(ctx context.Context, action string) {
	entryFrom(ctx).set(func(e *entry) { e.action = action })
}
