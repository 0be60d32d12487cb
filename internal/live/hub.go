package live

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/hexabase/hexabase-ai/internal/events"
)

// hub is the process's one follower of the EVENTS stream: a single
// subscription of every organization's events, fanned out in memory to
// the subscriptions of each organization (topic org, and the access
// re-check triggers of watches). A subscription thus costs no JetStream
// consumer; only a resume with after reads the stored events, with a
// short-lived consumer (events.Publisher.Replay), up to the hub's
// position, and continues from what the hub buffered for it meanwhile.
type hub struct {
	ev  Events
	log *slog.Logger

	mu    sync.Mutex
	ready chan struct{} // closed once pos is known and events flow
	pos   uint64        // the seq of the last event fanned out (or the start)
	orgs  map[string]map[*follower]struct{}
	// replays bounds the short-lived replay consumers open at once.
	replays chan struct{}
}

// Bounds of the hub.
const (
	// followerQueue is how many events wait for one subscription; a
	// subscription that falls that far behind ends (the client resumes
	// from its last seq) rather than hold the hub or grow without bound.
	followerQueue = 4096
	// maxReplays is how many resumes read the stored events at once in
	// the process (each with a short-lived consumer).
	maxReplays = 16
	// maxReplayEvents is the most events one resume replays; a client
	// further behind reads the current state again (resync-required).
	maxReplayEvents = 4096
	// maxReplaysPerUser is how many resumes of one user replay at once
	// (each holds its events in memory while it sends them); beyond it,
	// 429 and the client subscribes again a moment later.
	maxReplaysPerUser = 4
	hubRetry          = time.Second
)

// follower is one subscription's place in the hub.
type follower struct {
	org string
	// trigger, if set, is called (under the hub's lock: it must not
	// block) for each event instead of queueing it.
	trigger func(events.Event)

	mu     sync.Mutex
	q      []events.Event
	lost   bool          // the queue overflowed, or the hub lost its place
	signal chan struct{} // poked when q grows or lost is set
}

func newHub(ev Events, log *slog.Logger) *hub {
	return &hub{ev: ev, log: log, ready: make(chan struct{}), orgs: map[string]map[*follower]struct{}{}, replays: make(chan struct{}, maxReplays)}
}

// run follows every organization's events until ctx ends, starting after
// the last stored one; a failed subscription is made again from the
// hub's position, so the followers see neither gap nor duplicate.
func (h *hub) run(ctx context.Context) error {
	started := false
	for ctx.Err() == nil {
		if !started {
			pos, err := h.ev.LastSeq(ctx)
			if err != nil {
				h.log.Warn("live hub: read the stream's position", "error", err)
				if !sleep(ctx, hubRetry) {
					break
				}
				continue
			}
			h.mu.Lock()
			h.pos = pos
			close(h.ready)
			h.mu.Unlock()
			started = true
		}
		h.mu.Lock()
		f := events.Filter{AllOrgs: true, AfterSeq: h.pos}
		h.mu.Unlock()
		if f.AfterSeq == 0 {
			f.Since = time.Unix(1, 0) // nothing stored yet: everything from now on
		}
		es, err := h.ev.Subscribe(ctx, f)
		if errors.Is(err, events.ErrResumeTooOld) {
			// The stream lost the events after our place (recreated):
			// every follower must read the state again.
			h.log.Error("live hub: lost its place in the event stream; ending every organization subscription", "error", err)
			// Under one lock: a register in between would take the old
			// position and not be marked lost.
			h.mu.Lock()
			h.loseAllLocked()
			h.ready = make(chan struct{})
			h.mu.Unlock()
			started = false
			continue
		}
		if err != nil {
			h.log.Warn("live hub: subscribe to the events", "error", err)
			if !sleep(ctx, hubRetry) {
				break
			}
			continue
		}
		for e := range es.Events() {
			h.fanOut(e)
		}
		if err := es.Err(); err != nil {
			h.log.Warn("live hub: the event stream ended; following again", "error", err)
			sleep(ctx, hubRetry)
		}
		es.Close()
	}
	h.loseAll()
	return nil
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

func (h *hub) fanOut(e events.Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if e.Seq <= h.pos {
		return // already fanned out (a re-subscription's overlap)
	}
	h.pos = e.Seq
	for f := range h.orgs[e.OrgID] {
		if f.trigger != nil {
			f.trigger(e)
			continue
		}
		f.push(e)
	}
}

func (f *follower) push(e events.Event) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.lost {
		return
	}
	if len(f.q) >= followerQueue {
		f.lost, f.q = true, nil
	} else {
		f.q = append(f.q, e)
	}
	select {
	case f.signal <- struct{}{}:
	default:
	}
}

// take returns the queued events, and whether the follower lost events.
func (f *follower) take() ([]events.Event, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	q := f.q
	f.q = nil
	return q, f.lost
}

func (h *hub) loseAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.loseAllLocked()
}

// loseAllLocked marks every organization follower lost; h.mu is held.
func (h *hub) loseAllLocked() {
	for _, fs := range h.orgs {
		for f := range fs {
			if f.trigger == nil {
				f.mu.Lock()
				f.lost, f.q = true, nil
				select {
				case f.signal <- struct{}{}:
				default:
				}
				f.mu.Unlock()
			}
		}
	}
}

// register adds a follower of org's events once the hub runs, and
// returns it with the hub's position: every event after pos is queued for
// (or triggers) it until unregister.
func (h *hub) register(ctx context.Context, org string, trigger func(events.Event)) (*follower, uint64, error) {
	for {
		h.mu.Lock()
		ready := h.ready
		h.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil, 0, ctx.Err()
		case <-ready:
		}
		h.mu.Lock()
		if h.ready != ready {
			h.mu.Unlock()
			continue // restarting
		}
		f := &follower{org: org, trigger: trigger, signal: make(chan struct{}, 1)}
		if h.orgs[org] == nil {
			h.orgs[org] = map[*follower]struct{}{}
		}
		h.orgs[org][f] = struct{}{}
		pos := h.pos
		h.mu.Unlock()
		return f, pos, nil
	}
}

func (h *hub) unregister(f *follower) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if fs := h.orgs[f.org]; fs != nil {
		delete(fs, f)
		if len(fs) == 0 {
			delete(h.orgs, f.org)
		}
	}
}

// replay returns org's stored events after after up to upTo, with at
// most maxReplays replays reading at once in the process. The events are
// read into memory and the slot freed before the caller sends them, so
// that a client that reads slowly holds no slot (and cannot keep other
// organizations' resumes waiting); more than maxReplayEvents events is
// errReplayTooLong (the client reads the current state instead).
func (h *hub) replay(ctx context.Context, org string, after, upTo uint64) ([]events.Event, error) {
	select {
	case h.replays <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-h.replays }()
	var out []events.Event
	err := h.ev.Replay(ctx, events.Filter{OrgID: org, AfterSeq: after}, upTo, func(ev events.Event) error {
		if len(out) >= maxReplayEvents {
			return errReplayTooLong
		}
		out = append(out, ev)
		return nil
	})
	return out, err
}

// errReplayTooLong: more events than maxReplayEvents to replay.
var errReplayTooLong = errors.New("live: too many events to replay")
