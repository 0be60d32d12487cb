package live

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/hexabase/hexabase-ai/internal/api"
	"github.com/hexabase/hexabase-ai/internal/httpapi"
	"github.com/hexabase/hexabase-ai/internal/identity"
)

// conn is one WebSocket connection and its subscriptions.
type conn struct {
	s   *Service
	r   *http.Request // the upgrade request: its context carries the request id and logger
	p   httpapi.Principal
	ws  *websocket.Conn
	log *slog.Logger

	ctx    context.Context // ends when the connection closes
	cancel context.CancelFunc

	// The outbound queue, capped by bytes (Limits.OutboundBytes).
	qmu    sync.Mutex
	q      [][]byte
	qbytes int
	more   chan struct{} // poked when the queue grows
	room   chan struct{} // poked when it shrinks

	// listing lets one watch at a time hold a page of its first list.
	listing chan struct{}
	// subscribes limits the rate of subscribe messages.
	subscribes bucket

	closeOnce sync.Once

	mu   sync.Mutex
	subs map[string]*sub
}

// sub is one open subscription.
type sub struct {
	id      string
	cancel  context.CancelFunc
	done    chan struct{}
	recheck chan struct{} // poked to check the caller's access again
}

// poke asks the subscription to check access again (without blocking).
func (s *sub) poke() {
	select {
	case s.recheck <- struct{}{}:
	default:
	}
}

func newConn(s *Service, r *http.Request, p httpapi.Principal, ws *websocket.Conn) *conn {
	ctx, cancel := context.WithCancel(r.Context())
	ws.SetReadLimit(s.cfg.Limits.MaxMessageBytes)
	l := s.cfg.Limits
	return &conn{s: s, r: r, p: p, ws: ws, log: httpapi.Logger(r.Context()), ctx: ctx, cancel: cancel,
		more: make(chan struct{}, 1), room: make(chan struct{}, 1), listing: make(chan struct{}, 1),
		subscribes: bucket{rate: l.SubscribeRate, burst: float64(l.SubscribeBurst), tokens: float64(l.SubscribeBurst), last: time.Now()},
		subs:       map[string]*sub{}}
}

// serve runs the connection: a writer, a heartbeat, the periodic checks,
// and the reader here, until one of them ends it.
func (c *conn) serve() {
	defer c.endSubs()
	var wg sync.WaitGroup
	defer wg.Wait()
	defer c.cancel()
	wg.Add(3)
	go func() { defer wg.Done(); c.writer() }()
	go func() { defer wg.Done(); c.heartbeat() }()
	go func() { defer wg.Done(); c.checks() }()
	go func() {
		// The server shuts down (EndStreams) or the request ends.
		<-c.ctx.Done()
		if c.r.Context().Err() != nil {
			c.close(websocket.StatusGoingAway, "the server is shutting down; reconnect in a moment")
		}
	}()
	c.reader()
}

// close ends the connection with code and reason (once).
func (c *conn) close(code websocket.StatusCode, reason string) {
	c.closeOnce.Do(func() {
		c.cancel()
		go func() {
			// Close waits for the client's answer (5 s at most); CloseNow
			// frees everything should it not come.
			_ = c.ws.Close(code, reason)
			_ = c.ws.CloseNow()
		}()
	})
}

func (c *conn) endSubs() {
	c.mu.Lock()
	subs := c.subs
	c.subs = map[string]*sub{}
	c.mu.Unlock()
	for _, s := range subs {
		s.cancel()
	}
	for _, s := range subs {
		<-s.done
	}
}

// reader reads and answers the client's messages until the connection
// ends.
func (c *conn) reader() {
	for {
		// Not c.ctx: a canceled context makes Read close the connection
		// at once, before close has sent its code. Read returns when the
		// connection closes.
		typ, b, err := c.ws.Read(context.Background())
		if err != nil {
			// The client left, the message was too big (Read closed the
			// connection with 1009), or the connection was closed.
			c.close(websocket.StatusNormalClosure, "")
			return
		}
		if typ != websocket.MessageText {
			c.sendError("", httpapi.BadRequest("messages are JSON text frames, not binary ones"))
			continue
		}
		c.handle(b)
	}
}

// writer writes the queued messages. A write that does not finish within
// Limits.WriteTimeout (a client that stopped reading, its buffers full)
// closes the connection with CloseTooSlow.
func (c *conn) writer() {
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-c.more:
		}
		for c.ctx.Err() == nil {
			b := c.pop()
			if b == nil {
				break
			}
			// Not c.ctx, for the reason reader gives; and not a context
			// with a deadline either: one that expires mid-write closes
			// the connection without a close frame. The watchdog closes
			// it with CloseTooSlow instead, whose frame reaches a client
			// that reads again within 5 s.
			t := time.AfterFunc(c.s.cfg.Limits.WriteTimeout, func() {
				c.tooSlow(fmt.Sprintf("a message could not be written within %s", c.s.cfg.Limits.WriteTimeout))
			})
			err := c.ws.Write(context.Background(), websocket.MessageText, b)
			t.Stop()
			if err != nil {
				c.close(websocket.StatusNormalClosure, "")
				return
			}
		}
	}
}

// pop takes the first queued message (nil when none).
func (c *conn) pop() []byte {
	c.qmu.Lock()
	defer c.qmu.Unlock()
	if len(c.q) == 0 {
		return nil
	}
	b := c.q[0]
	c.q[0] = nil
	c.q = c.q[1:]
	c.qbytes -= len(b)
	poke(c.room)
	return b
}

func poke(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// tooSlow closes the connection with CloseTooSlow.
func (c *conn) tooSlow(why string) {
	if c.ctx.Err() != nil {
		return
	}
	c.s.tooSlow.Add(1)
	c.log.Info("live connection: client too slow", "why", why)
	// A close reason holds at most 123 bytes: the why goes to the log.
	c.close(CloseTooSlow, "the client did not read its messages in time; reconnect and resume")
}

// heartbeat pings the client; one that does not answer is disconnected.
func (c *conn) heartbeat() {
	t := time.NewTicker(c.s.cfg.Ping)
	defer t.Stop()
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), c.s.cfg.Ping)
			err := c.ws.Ping(ctx)
			cancel()
			if err != nil {
				if c.ctx.Err() == nil {
					c.log.Info("live connection: no answer to a ping", "error", err)
					c.close(websocket.StatusPolicyViolation, "no answer to a ping")
				}
				return
			}
		}
	}
}

// checks checks the session and, through the subscriptions, the caller's
// access every Recheck.
func (c *conn) checks() {
	t := time.NewTicker(c.s.cfg.Recheck)
	defer t.Stop()
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-t.C:
			if !c.sessionAlive() {
				return
			}
			c.mu.Lock()
			for _, s := range c.subs {
				s.poke()
			}
			c.mu.Unlock()
		}
	}
}

// sessionAlive checks the caller's session, closing the connection with
// CloseSessionEnded when it ended; a store failure keeps it (the next
// check asks again).
func (c *conn) sessionAlive() bool {
	err := c.s.cfg.Sessions.CheckSession(c.ctx, c.p.SessionID, c.p.UserID)
	switch {
	case err == nil:
		return true
	case errors.Is(err, identity.ErrInvalidToken):
		c.close(CloseSessionEnded, "the session ended (signed out, revoked or expired): sign in again")
		return false
	case c.ctx.Err() != nil:
		return false
	}
	c.log.Warn("live connection: check session", "error", err)
	return true
}

// send queues m for the client. The queue holds at most
// Limits.OutboundBytes (a single larger message when it is empty); when
// m does not fit for SlowClientTimeout the connection is closed
// (CloseTooSlow) rather than the message dropped. It returns false once
// the connection is ending.
func (c *conn) send(m api.LiveServerMessage) bool {
	b, err := json.Marshal(m)
	if err != nil {
		c.log.Error("live connection: encode message", "error", err)
		c.close(websocket.StatusInternalError, "internal error")
		return false
	}
	var t *time.Timer
	for {
		if c.ctx.Err() != nil {
			return false
		}
		c.qmu.Lock()
		if c.qbytes == 0 || c.qbytes+len(b) <= c.s.cfg.Limits.OutboundBytes {
			c.q = append(c.q, b)
			c.qbytes += len(b)
			c.s.noteQueued(c.qbytes)
			c.qmu.Unlock()
			poke(c.more)
			return true
		}
		c.qmu.Unlock()
		if t == nil {
			t = time.NewTimer(c.s.cfg.Limits.SlowClientTimeout)
			defer t.Stop()
		}
		select {
		case <-c.room:
		case <-c.ctx.Done():
			return false
		case <-t.C:
			c.tooSlow(fmt.Sprintf("%d bytes waiting", c.s.cfg.Limits.OutboundBytes))
			return false
		}
	}
}

// sendError sends the problem+json the API would answer for err.
func (c *conn) sendError(id string, err error) bool {
	p := httpapi.ProblemFor(c.r, err)
	return c.send(api.LiveServerMessage{Type: "error", ID: id, Problem: &p})
}

// start registers subscription id (checked free and within the limit by
// the caller) and runs run in its own goroutine; the subscription is
// removed when run returns.
func (c *conn) start(id string, run func(ctx context.Context, s *sub)) {
	ctx, cancel := context.WithCancel(c.ctx)
	s := &sub{id: id, cancel: cancel, done: make(chan struct{}), recheck: make(chan struct{}, 1)}
	c.mu.Lock()
	c.subs[id] = s
	c.mu.Unlock()
	go func() {
		defer close(s.done)
		defer cancel()
		defer c.remove(s)
		run(ctx, s)
	}()
}

func (c *conn) remove(s *sub) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.subs[s.id] == s {
		delete(c.subs, s.id)
	}
}

// unsubscribe ends subscription id and waits for it (an unknown id is no
// error: it may have ended just now).
func (c *conn) unsubscribe(id string) {
	c.mu.Lock()
	s := c.subs[id]
	delete(c.subs, id)
	c.mu.Unlock()
	if s != nil {
		s.cancel()
		<-s.done
	}
}

// admit checks that id is free (else inUse) and the connection below its
// limit.
func (c *conn) admit(id string) (inUse bool, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.subs[id]; ok {
		return true, httpapi.Conflict("id", "a subscription with this id is open; unsubscribe first or choose another id")
	}
	if n := c.s.cfg.Limits.SubscriptionsPerConnection; len(c.subs) >= n {
		return false, &httpapi.Error{Status: http.StatusTooManyRequests, Type: "too-many-subscriptions", Title: "Too many subscriptions",
			Detail: fmt.Sprintf("a connection holds at most %d subscriptions; unsubscribe from one first", n)}
	}
	return false, nil
}

// bucket is a token bucket: rate tokens a second, at most burst.
type bucket struct {
	rate, burst, tokens float64
	last                time.Time
}

// take takes a token, or tells how long until one is there.
func (b *bucket) take(now time.Time) (ok bool, wait time.Duration) {
	b.tokens = min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.rate)
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	return false, time.Duration((1 - b.tokens) / b.rate * float64(time.Second))
}
