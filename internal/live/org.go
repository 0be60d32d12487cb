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
	cancel()
	if err != nil {
		c.refuse(ctx, s.id, err)
		return
	}
	// Registered with the hub first: what it fans out from pos on waits
	// in f's queue while the stored events up to pos are replayed.
	f, pos, err := c.s.hub.register(ctx, view.Org.ID, nil)
	if err != nil {
		c.refuse(ctx, s.id, err)
		return
	}
	defer c.s.hub.unregister(f)
	// last is the seq of the last event sent (or skipped): what the
	// buffer holds up to it is not sent again.
	last := pos
	subscribed := api.LiveServerMessage{Type: "subscribed", ID: s.id}
	if after != 0 {
		last = after
		if err := c.s.cfg.Events.CheckResume(ctx, after); err != nil {
			c.refuseResume(ctx, s.id, after, err)
			return
		}
		subscribed.Seq = strconv.FormatUint(after, 10)
	} else if pos != 0 {
		// Subscribe after the hub's position rather than "from now on":
		// the client learns where it started, so it can resume from
		// there even if no event comes before it disconnects.
		subscribed.Seq = strconv.FormatUint(pos, 10)
	}
	if !c.send(subscribed) {
		return
	}
	deliver := func(ev events.Event) error {
		if ev.Seq <= last {
			return nil
		}
		last = ev.Seq
		if accessEvent(ev.Type) && !c.recheckOrg(ctx, s, view) {
			return errStop
		}
		ok, err := view.Allows(ctx, ev)
		if err != nil {
			if ctx.Err() == nil {
				c.log.Error("live: authorize event", "event", ev.ID, "error", err)
				// Skipping it would be a gap: end instead, so that the
				// client resumes from the last event it got.
				c.ended(s.id, "an internal error stopped the subscription; subscribe again with after set to the last seq you saw")
			}
			return errStop
		}
		if !ok {
			return nil
		}
		t := ev.Time
		out := api.LiveServerMessage{Type: "event", ID: s.id, Seq: strconv.FormatUint(ev.Seq, 10),
			Event: &api.LiveEvent{ID: ev.ID, Type: ev.Type, OrgID: ev.OrgID, ResourceID: ev.ResourceID, Time: &t}}
		if len(ev.Data) > 0 {
			out.Event.Data = ev.Data
		}
		if !c.send(out) {
			return errStop
		}
		return nil
	}
	if after != 0 && after < pos {
		if !c.replayOrg(ctx, s, view, after, pos, deliver) {
			return
		}
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.recheck:
			if !c.recheckOrg(ctx, s, view) {
				return
			}
		case <-f.signal:
			q, lost := f.take()
			for _, ev := range q {
				if deliver(ev) != nil {
					return
				}
			}
			if lost {
				if ctx.Err() == nil {
					c.ended(s.id, "the subscription fell behind the event stream; subscribe again with after set to the last seq you saw")
				}
				return
			}
		}
	}
}

// errStop ends a subscription's delivery (what to tell the client was
// told).
var errStop = errors.New("live: subscription ended")

// refuseResume answers a resume point the server cannot resume from.
// replayOrg sends the stored events of a resume (after, upTo] through
// deliver; false when the subscription ended (refused or stopped). A
// user's resumes replay a few at a time (maxReplaysPerUser): beyond that
// the subscription is refused with a 429 to retry.
func (c *conn) replayOrg(ctx context.Context, s *sub, view *tenancy.OrgView, after, upTo uint64, deliver func(events.Event) error) bool {
	release, ok := c.s.replays.Acquire(c.p.UserID)
	defer release()
	if !ok {
		c.refuse(ctx, s.id, httpapi.TooManyRequests(time.Second, fmt.Sprintf(
			"%d resumes of yours are replaying stored events already: subscribe again (with the same after) in a moment", c.s.replays.Max())))
		return false
	}
	evs, err := c.s.hub.replay(ctx, view.Org.ID, after, upTo)
	switch {
	case ctx.Err() != nil:
		return false
	case errors.Is(err, events.ErrResumeTooOld):
		c.refuseResume(ctx, s.id, after, err)
		return false
	case errors.Is(err, errReplayTooLong):
		c.refuse(ctx, s.id, resyncRequired(fmt.Sprintf("more than %d events happened after seq %d: read the current state again and subscribe without after", maxReplayEvents, after)))
		return false
	case err != nil:
		c.log.Warn("live: replay organization events", "error", err)
		c.ended(s.id, "the stored events could not be read; subscribe again with after set to the last seq you saw")
		return false
	}
	for _, ev := range evs {
		if err := deliver(ev); err != nil {
			return false
		}
	}
	return true
}

func (c *conn) refuseResume(ctx context.Context, id string, after uint64, err error) {
	if errors.Is(err, events.ErrResumeTooOld) {
		c.refuse(ctx, id, resyncRequired(fmt.Sprintf("the events after seq %d are no longer kept (or this server never sent it): read the current state again and subscribe without after", after)))
		return
	}
	c.refuse(ctx, id, err)
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
