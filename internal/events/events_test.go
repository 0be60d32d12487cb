package events

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/hexabase/hexabase-ai/internal/messaging"
	"github.com/hexabase/hexabase-ai/internal/messaging/messagingtest"
	"github.com/hexabase/hexabase-ai/internal/store"
	"github.com/hexabase/hexabase-ai/internal/testutil"
)

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelInfo}))
}

func newPublisher(t *testing.T) *Publisher {
	t.Helper()
	log := testLogger(t)
	nc := messagingtest.Start(t, messaging.EmbeddedConfig{StoreDir: t.TempDir(), Logger: log})
	p, err := New(t.Context(), Config{JS: nc.JetStream(), Logger: log, Now: time.Now})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func subscribe(t *testing.T, p *Publisher, f Filter) *Subscription {
	t.Helper()
	s, err := p.Subscribe(t.Context(), f)
	if err != nil {
		t.Fatalf("Subscribe(%+v): %v", f, err)
	}
	t.Cleanup(s.Close)
	return s
}

// next returns the next event or fails after a deadline.
func next(t *testing.T, s *Subscription) Event {
	t.Helper()
	select {
	case ev, ok := <-s.Events():
		if !ok {
			t.Fatalf("subscription closed: %v", s.Err())
		}
		return ev
	case <-time.After(10 * time.Second):
		t.Fatal("no event within 10s")
	}
	return Event{}
}

// expectNext asserts the type and resource of the next event.
func expectNext(t *testing.T, s *Subscription, wantType, wantResource string) Event {
	t.Helper()
	ev := next(t, s)
	if ev.Type != wantType || ev.ResourceID != wantResource {
		t.Fatalf("got event %s/%s, want %s/%s", ev.Type, ev.ResourceID, wantType, wantResource)
	}
	return ev
}

func TestPublishAndFollowPerOrg(t *testing.T) {
	ctx := t.Context()
	p := newPublisher(t)
	orgA, orgB := store.NewID(), store.NewID()

	subA := subscribe(t, p, Filter{OrgID: orgA})
	subB := subscribe(t, p, Filter{OrgID: orgB})
	subPlatform := subscribe(t, p, Filter{})

	evA, err := p.Publish(ctx, orgA, "workspace.status", "ws-1", map[string]string{"status": "running"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Publish(ctx, orgB, "workspace.status", "ws-2", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Publish(ctx, "", "node.ready", "n-1", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Publish(ctx, orgA, "task.status", "t-1", json.RawMessage(`{"status":"queued"}`)); err != nil {
		t.Fatal(err)
	}

	got := expectNext(t, subA, "workspace.status", "ws-1")
	if got.ID != evA.ID || got.OrgID != orgA || !got.Time.Equal(evA.Time) || string(got.Data) != `{"status":"running"}` {
		t.Fatalf("org A got %+v, want %+v", got, evA)
	}
	if got := expectNext(t, subA, "task.status", "t-1"); string(got.Data) != `{"status":"queued"}` {
		t.Fatalf("raw data = %s", got.Data)
	}
	// Org B sees only its own event; the platform follower only platform
	// events: the next event each gets is its own.
	expectNext(t, subB, "workspace.status", "ws-2")
	if got := expectNext(t, subPlatform, "node.ready", "n-1"); got.OrgID != "" {
		t.Fatalf("platform event org = %q", got.OrgID)
	}
	if _, err := p.Publish(ctx, orgB, "marker", "m", nil); err != nil {
		t.Fatal(err)
	}
	expectNext(t, subB, "marker", "m")
	if _, err := p.Publish(ctx, "", "marker", "m", nil); err != nil {
		t.Fatal(err)
	}
	expectNext(t, subPlatform, "marker", "m")
}

func TestFollowAllOrgs(t *testing.T) {
	ctx := t.Context()
	p := newPublisher(t)
	orgA, orgB := store.NewID(), store.NewID()
	all := subscribe(t, p, Filter{AllOrgs: true, Types: []string{"project.>", "workspace.status"}})
	for _, e := range []struct{ org, typ, res string }{
		{orgA, "project.created", "p-1"},
		{orgB, "task.status", "t-1"}, // type not followed
		{orgB, "workspace.status", "ws-2"},
		{"", "project.deleted", "p-2"},
	} {
		if _, err := p.Publish(ctx, e.org, e.typ, e.res, nil); err != nil {
			t.Fatal(err)
		}
	}
	if got := expectNext(t, all, "project.created", "p-1"); got.OrgID != orgA {
		t.Fatalf("org = %q, want %q", got.OrgID, orgA)
	}
	if got := expectNext(t, all, "workspace.status", "ws-2"); got.OrgID != orgB {
		t.Fatalf("org = %q, want %q", got.OrgID, orgB)
	}
	expectNext(t, all, "project.deleted", "p-2")

	if _, err := p.Subscribe(ctx, Filter{AllOrgs: true, OrgID: orgA}); err == nil {
		t.Fatal("Subscribe with OrgID and AllOrgs: no error")
	}
}

func TestReplaySinceAndFilters(t *testing.T) {
	ctx := t.Context()
	p := newPublisher(t)
	org := store.NewID()
	before := time.Now().Add(-time.Second)

	publish := func(typ, res string) {
		t.Helper()
		if _, err := p.Publish(ctx, org, typ, res, nil); err != nil {
			t.Fatal(err)
		}
	}
	publish("workspace.status", "ws-1")
	publish("task.status", "t-1")
	publish("workspace.deleted", "ws-1")
	publish("task.status", "t-2")

	all := subscribe(t, p, Filter{OrgID: org, Since: before})
	expectNext(t, all, "workspace.status", "ws-1")
	expectNext(t, all, "task.status", "t-1")
	expectNext(t, all, "workspace.deleted", "ws-1")
	expectNext(t, all, "task.status", "t-2")

	tasks := subscribe(t, p, Filter{OrgID: org, Since: before, Types: []string{"task.status"}})
	expectNext(t, tasks, "task.status", "t-1")
	expectNext(t, tasks, "task.status", "t-2")

	ws := subscribe(t, p, Filter{OrgID: org, Since: before, Types: []string{"workspace.>"}})
	expectNext(t, ws, "workspace.status", "ws-1")
	expectNext(t, ws, "workspace.deleted", "ws-1")

	one := subscribe(t, p, Filter{OrgID: org, Since: before, ResourceID: "t-2"})
	expectNext(t, one, "task.status", "t-2")

	// Without Since only new events arrive.
	fresh := subscribe(t, p, Filter{OrgID: org})
	publish("task.status", "t-3")
	expectNext(t, fresh, "task.status", "t-3")
}

func TestSubscriptionEndsWithContext(t *testing.T) {
	p := newPublisher(t)
	ctx, cancel := context.WithCancel(t.Context())
	s, err := p.Subscribe(ctx, Filter{OrgID: store.NewID()})
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	select {
	case _, ok := <-s.Events():
		if ok {
			t.Fatal("got an event, want the channel closed")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("channel not closed 10s after the context ended")
	}
	if err := s.Err(); err != nil {
		t.Fatalf("Err = %v, want nil", err)
	}
}

func TestSubjectValidation(t *testing.T) {
	org := "0190c5a2-7e7b-7cc3-8d1e-2f0a3b4c5d6e"
	good := []struct{ org, typ, want string }{
		{org, "workspace.status", "hks.events." + org + ".workspace.status"},
		{"", "task.status", "hks.events._platform.task.status"},
	}
	for _, tc := range good {
		t.Run(fmt.Sprintf("%q %q", tc.org, tc.typ), func(t *testing.T) {
			got, err := Subject(tc.org, tc.typ)
			if err != nil || got != tc.want {
				t.Errorf("Subject(%q, %q) = %q, %v; want %q", tc.org, tc.typ, got, err, tc.want)
			}
		})
	}
	bad := []struct{ org, typ string }{
		{"a.b", "x"}, {"*", "x"}, {">", "x"}, {"a b", "x"}, {"a\tb", "x"}, {"a\n", "x"}, {"_platform", "x"},
		{org, ""}, {org, "a..b"}, {org, "a.*"}, {org, "a.>"}, {org, ">"}, {org, "a b"}, {org, ".a"},
	}
	for _, tc := range bad {
		t.Run(fmt.Sprintf("bad %q %q", tc.org, tc.typ), func(t *testing.T) {
			if got, err := Subject(tc.org, tc.typ); !errors.Is(err, messaging.ErrInvalidToken) {
				t.Errorf("Subject(%q, %q) = %q, %v; want ErrInvalidToken", tc.org, tc.typ, got, err)
			}
		})
	}
}

func TestRefusesBadTokens(t *testing.T) {
	ctx := t.Context()
	p := newPublisher(t)
	if _, err := p.Publish(ctx, "org.*", "task.status", "r", nil); !errors.Is(err, messaging.ErrInvalidToken) {
		t.Errorf("Publish to org %q: %v, want ErrInvalidToken", "org.*", err)
	}
	for _, tc := range []struct {
		name string
		f    Filter
	}{
		{"org wildcard", Filter{OrgID: ">"}},
		{"org with a space", Filter{OrgID: "a b"}},
		{"type *", Filter{OrgID: store.NewID(), Types: []string{"*"}}},
		{"type >", Filter{OrgID: store.NewID(), Types: []string{">"}}},
		{"type with * inside", Filter{OrgID: store.NewID(), Types: []string{"a.*.b"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := p.Subscribe(ctx, tc.f); !errors.Is(err, messaging.ErrInvalidToken) {
				t.Errorf("Subscribe(%+v) = %v, want ErrInvalidToken", tc.f, err)
			}
		})
	}
}

func TestConfigErrors(t *testing.T) {
	log := testLogger(t)
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"no js", Config{Logger: log, Now: time.Now}, "events: JS is required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(t.Context(), tc.cfg)
			if err == nil || err.Error() != tc.want {
				t.Fatalf("New error = %v, want %q", err, tc.want)
			}
		})
	}
	nc := messagingtest.Start(t, messaging.EmbeddedConfig{StoreDir: t.TempDir(), Logger: log})
	js := nc.JetStream()
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"no logger", Config{JS: js, Now: time.Now}, "events: Logger is required"},
		{"no clock", Config{JS: js, Logger: log}, "events: Now is required"},
		{"negative", Config{JS: js, Logger: log, Now: time.Now, MaxAge: -1}, "events: MaxAge, MaxBytes and Replicas must not be negative"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(t.Context(), tc.cfg)
			if err == nil || err.Error() != tc.want {
				t.Fatalf("New error = %v, want %q", err, tc.want)
			}
		})
	}
}

// TestResumeAfterSeq: a follower that remembers the Seq of the last event
// it saw gets exactly the events stored after it, in order, then new ones.
func TestResumeAfterSeq(t *testing.T) {
	ctx := t.Context()
	p := newPublisher(t)
	org, other := store.NewID(), store.NewID()
	live := subscribe(t, p, Filter{OrgID: org})
	for i := range 5 {
		if _, err := p.Publish(ctx, org, "task.status", fmt.Sprintf("t-%d", i), nil); err != nil {
			t.Fatal(err)
		}
		// Another organization's events take sequence numbers in between.
		if _, err := p.Publish(ctx, other, "task.status", "x", nil); err != nil {
			t.Fatal(err)
		}
	}
	var seqs []uint64
	for i := range 5 {
		ev := expectNext(t, live, "task.status", fmt.Sprintf("t-%d", i))
		if ev.Seq == 0 || (len(seqs) > 0 && ev.Seq <= seqs[len(seqs)-1]) {
			t.Fatalf("event %d has Seq %d after %v: want increasing, not 0", i, ev.Seq, seqs)
		}
		seqs = append(seqs, ev.Seq)
	}
	if last, err := p.LastSeq(ctx); err != nil || last != seqs[4]+1 {
		t.Fatalf("LastSeq = %d, %v; want %d (the other organization's last event)", last, err, seqs[4]+1)
	}
	resumed := subscribe(t, p, Filter{OrgID: org, AfterSeq: seqs[2]})
	for i := 3; i < 5; i++ {
		if ev := expectNext(t, resumed, "task.status", fmt.Sprintf("t-%d", i)); ev.Seq != seqs[i] {
			t.Fatalf("replayed t-%d with Seq %d, live it had %d", i, ev.Seq, seqs[i])
		}
	}
	if _, err := p.Publish(ctx, org, "task.status", "t-5", nil); err != nil {
		t.Fatal(err)
	}
	expectNext(t, resumed, "task.status", "t-5")

	// Resuming from the last event replays nothing and follows new ones.
	last := expectNext(t, live, "task.status", "t-5")
	tail := subscribe(t, p, Filter{OrgID: org, AfterSeq: last.Seq})
	if _, err := p.Publish(ctx, org, "task.status", "t-6", nil); err != nil {
		t.Fatal(err)
	}
	expectNext(t, tail, "task.status", "t-6")
}

// TestResumeTooOld: a sequence the stream no longer holds everything
// after (discarded events), or never handed out, cannot be resumed from.
func TestResumeTooOld(t *testing.T) {
	ctx := t.Context()
	log := testLogger(t)
	nc := messagingtest.Start(t, messaging.EmbeddedConfig{StoreDir: t.TempDir(), Logger: log})
	p, err := New(ctx, Config{JS: nc.JetStream(), Logger: log, Now: time.Now})
	if err != nil {
		t.Fatal(err)
	}
	org := store.NewID()
	live := subscribe(t, p, Filter{OrgID: org})
	for i := range 3 {
		if _, err := p.Publish(ctx, org, "task.status", fmt.Sprintf("t-%d", i), nil); err != nil {
			t.Fatal(err)
		}
	}
	first := next(t, live)
	if _, err := p.Subscribe(ctx, Filter{OrgID: org, AfterSeq: first.Seq + 1000}); !errors.Is(err, ErrResumeTooOld) {
		t.Fatalf("resume from a sequence never handed out: %v, want ErrResumeTooOld", err)
	}
	if _, err := p.Subscribe(ctx, Filter{OrgID: org, AfterSeq: first.Seq, Since: time.Now()}); err == nil {
		t.Fatal("Since with AfterSeq: want an error")
	}
	// The stream drops its oldest events (as MaxAge and MaxBytes do).
	st, err := nc.JetStream().Stream(ctx, StreamName)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Purge(ctx, jetstream.WithPurgeSequence(first.Seq+2)); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Subscribe(ctx, Filter{OrgID: org, AfterSeq: first.Seq}); !errors.Is(err, ErrResumeTooOld) {
		t.Fatalf("resume after discarded events: %v, want ErrResumeTooOld", err)
	}
	// From the last discarded one on, nothing is missing.
	s := subscribe(t, p, Filter{OrgID: org, AfterSeq: first.Seq + 1})
	expectNext(t, s, "task.status", "t-2")
}

func streamConsumers(t *testing.T, p *Publisher) int {
	t.Helper()
	st, err := p.js.Stream(t.Context(), StreamName)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Consumers
}

// TestStoppedFollowerLeavesNoConsumer: the consumer of a closed
// Subscription goes within InactiveThreshold (JetStream's default for
// ordered consumers, 5 minutes, let stopped followers fill the stream's
// consumer limit).
func TestStoppedFollowerLeavesNoConsumer(t *testing.T) {
	p := newPublisher(t)
	s, err := p.Subscribe(t.Context(), Filter{OrgID: store.NewID()})
	if err != nil {
		t.Fatal(err)
	}
	if n := streamConsumers(t, p); n != 1 {
		t.Fatalf("%d consumers, want 1", n)
	}
	s.Close()
	testutil.WaitFor(t, 30*time.Second, "the stopped follower's consumer to go", func() bool { return streamConsumers(t, p) == 0 })
}

// TestReplay: Replay gives the stored events of the filter after AfterSeq
// up to upTo, in order, and leaves no consumer behind.
func TestReplay(t *testing.T) {
	ctx := t.Context()
	p := newPublisher(t)
	a, b := store.NewID(), store.NewID()
	var seqs []uint64
	for i := range 10 {
		if _, err := p.Publish(ctx, b, "workspace.status", "other", nil); err != nil {
			t.Fatal(err)
		}
		if _, err := p.Publish(ctx, a, "workspace.status", fmt.Sprint(i), nil); err != nil {
			t.Fatal(err)
		}
		last, err := p.LastSeq(ctx)
		if err != nil {
			t.Fatal(err)
		}
		seqs = append(seqs, last)
	}
	var got []string
	err := p.Replay(ctx, Filter{OrgID: a, AfterSeq: seqs[2]}, seqs[6], func(ev Event) error {
		got = append(got, ev.ResourceID)
		return nil
	})
	if err != nil || fmt.Sprint(got) != "[3 4 5 6]" {
		t.Fatalf("Replay: %v %v, want [3 4 5 6]", got, err)
	}
	// Up to a point past the org's last event: stops at the end.
	got = nil
	if err := p.Replay(ctx, Filter{OrgID: a, AfterSeq: seqs[8]}, seqs[9]+1, func(ev Event) error { got = append(got, ev.ResourceID); return nil }); err != nil || fmt.Sprint(got) != "[9]" {
		t.Fatalf("Replay to the end: %v %v", got, err)
	}
	if err := p.Replay(ctx, Filter{OrgID: a, AfterSeq: seqs[9] + 5}, seqs[9]+6, func(Event) error { return nil }); !errors.Is(err, ErrResumeTooOld) {
		t.Fatalf("Replay after the last seq: %v, want ErrResumeTooOld", err)
	}
	if n := streamConsumers(t, p); n != 0 {
		t.Fatalf("%d consumers left after Replay", n)
	}
}
