package live

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/hexabase/hexabase-ai/internal/api"
	"github.com/hexabase/hexabase-ai/internal/events"
	"github.com/hexabase/hexabase-ai/internal/httpapi"
	"github.com/hexabase/hexabase-ai/internal/tenancy"
)

const authorizeTimeout = 30 * time.Second

// accessEvent: an event that may change who may read what in the
// organization (memberships, groups, role bindings, projects' places).
func accessEvent(typ string) bool {
	family, _, _ := strings.Cut(typ, ".")
	switch family {
	case "member", "group", "rolebinding", "project":
		return true
	}
	return typ == events.WorkspaceMemberAdded || typ == events.WorkspaceMemberRemoved
}

// accessEventTypes are the filter of accessEvent's events.
var accessEventTypes = []string{"member.>", "group.>", "rolebinding.>", "project.>", events.WorkspaceMemberAdded, events.WorkspaceMemberRemoved}

// resyncRequired is the problem of a resume point the server cannot
// resume from without a gap.
func resyncRequired(detail string) error {
	return &httpapi.Error{Status: http.StatusGone, Type: "resync-required", Title: "Resync required", Detail: detail}
}

// subscribeOrg follows the organization's events the caller may read.
func (c *conn) subscribeOrg(m api.LiveClientMessage) {
	var after uint64
	if m.After != "" {
		after, _ = strconv.ParseUint(m.After, 10, 64) // checked by checkSubscribe
	}
	c.start(m.ID, func(ctx context.Context, s *sub) { c.runOrg(ctx, s, m.Org, after) })
}

func (c *conn) runOrg(ctx context.Context, s *sub, org string, after uint64) {
	actx, cancel := c.authorizeCtx(ctx)
	view, err := c.s.cfg.Tenancy.OrgView(actx, c.p, org)
	if err == nil {
		err = c.s.cfg.Sessions.RequireOrgMFAOf(actx, c.p.UserID, view.Org.ID)
	}
	if err != nil {
		cancel()
		c.refuse(ctx, s.id, err)
		return
	}
	start := after
	if start == 0 {
		// Subscribe after the last stored event rather than "from now
		// on": the client learns where it started, so it can resume from
		// there even if no event comes before it disconnects.
		start, err = c.s.cfg.Events.LastSeq(actx)
	}
	var es *events.Subscription
	if err == nil {
		f := events.Filter{OrgID: view.Org.ID, AfterSeq: start}
		if start == 0 {
			// Nothing stored yet: everything stored from now on (what
			// is stored before the follower starts included).
			f.Since = time.Unix(1, 0)
		}
		es, err = c.s.cfg.Events.Subscribe(ctx, f)
	}
	cancel()
	if errors.Is(err, events.ErrResumeTooOld) {
		c.refuse(ctx, s.id, resyncRequired(fmt.Sprintf("the events after seq %d are no longer kept (or this server never sent it): read the current state again and subscribe without after", after)))
		return
	}
	if err != nil {
		c.refuse(ctx, s.id, err)
		return
	}
	defer es.Close()
	subscribed := api.LiveServerMessage{Type: "subscribed", ID: s.id}
	if start != 0 {
		subscribed.Seq = strconv.FormatUint(start, 10)
	}
	if !c.send(subscribed) {
		return
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.recheck:
			if !c.recheckOrg(ctx, s, view) {
				return
			}
		case ev, ok := <-es.Events():
			if !ok {
				if ctx.Err() == nil {
					c.log.Warn("live: organization events ended", "error", es.Err())
					c.ended(s.id, "the event stream ended; subscribe again with after set to the last seq you saw")
				}
				return
			}
			if accessEvent(ev.Type) && !c.recheckOrg(ctx, s, view) {
				return
			}
			ok, err := view.Allows(ctx, ev)
			if err != nil {
				if ctx.Err() == nil {
					c.log.Error("live: authorize event", "event", ev.ID, "error", err)
					// Skipping it would be a gap: end instead, so that the
					// client resumes from the last event it got.
					c.ended(s.id, "an internal error stopped the subscription; subscribe again with after set to the last seq you saw")
				}
				return
			}
			if !ok {
				continue
			}
			t := ev.Time
			out := api.LiveServerMessage{Type: "event", ID: s.id, Seq: strconv.FormatUint(ev.Seq, 10),
				Event: &api.LiveEvent{ID: ev.ID, Type: ev.Type, OrgID: ev.OrgID, ResourceID: ev.ResourceID, Time: &t}}
			if len(ev.Data) > 0 {
				out.Event.Data = ev.Data
			}
			if !c.send(out) {
				return
			}
		}
	}
}

// recheckOrg checks the caller may still follow the organization; when
// not it ends the subscription and returns false.
func (c *conn) recheckOrg(ctx context.Context, s *sub, view *tenancy.OrgView) bool {
	actx, cancel := c.authorizeCtx(ctx)
	defer cancel()
	err := view.Refresh(actx)
	if err == nil {
		err = c.s.cfg.Sessions.RequireOrgMFAOf(actx, c.p.UserID, view.Org.ID)
	}
	if err == nil || ctx.Err() != nil {
		return ctx.Err() == nil
	}
	p := httpapi.ProblemFor(c.r, err)
	switch p.Status {
	case http.StatusNotFound:
		c.ended(s.id, "you are no longer a member of the organization")
	case http.StatusForbidden:
		c.ended(s.id, "access to the organization was withdrawn: "+p.Detail)
	default:
		// A store failure: keep following; the next check asks again.
		return true
	}
	return false
}

// refuse answers a subscription that could not start with the API's
// problem for err.
func (c *conn) refuse(ctx context.Context, id string, err error) {
	if ctx.Err() != nil {
		return // unsubscribed or the connection ends
	}
	c.sendError(id, err)
}
