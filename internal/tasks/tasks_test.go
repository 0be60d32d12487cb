package tasks_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hexabase/hexabase-ai/internal/events"
	"github.com/hexabase/hexabase-ai/internal/messaging"
	"github.com/hexabase/hexabase-ai/internal/messaging/messagingtest"
	"github.com/hexabase/hexabase-ai/internal/store"
	"github.com/hexabase/hexabase-ai/internal/store/sqlstore"
	"github.com/hexabase/hexabase-ai/internal/tasks"
	"github.com/hexabase/hexabase-ai/internal/testutil"
)

const waitFor = 15 * time.Second

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// env is a real embedded NATS and a real SQLite store in a temp dir.
type env struct {
	t  testing.TB
	nc *messaging.Conn
	st *sqlstore.Store
	ev *events.Publisher
	q  *tasks.Queue
}

func fastBackoff(int) time.Duration { return 10 * time.Millisecond }

// newEnv builds a queue; zero fields of cfg get test defaults.
func newEnv(t testing.TB, cfg tasks.Config) *env {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	log := testLogger(t)
	nc := messagingtest.Start(t, messaging.EmbeddedConfig{StoreDir: filepath.Join(dir, "nats"), Logger: log})
	st, err := sqlstore.Open(ctx, filepath.Join(dir, "hks.db"), log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	ev, err := events.New(ctx, events.Config{JS: nc.JetStream(), Logger: log, Now: time.Now})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.JS == nil {
		cfg.JS = nc.JetStream()
	}
	if cfg.Store == nil {
		cfg.Store = st
	}
	if cfg.Events == nil {
		cfg.Events = ev
	}
	if cfg.Logger == nil {
		cfg.Logger = log
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Backoff == nil {
		cfg.Backoff = fastBackoff
	}
	q, err := tasks.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, nc: nc, st: st, ev: ev, q: q}
}

// run starts the queue; the test's cleanup stops it and checks Run's result.
func (e *env) run() {
	e.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.q.Run(ctx) }()
	e.t.Cleanup(func() {
		cancel()
		e.waitRun(done, "after its context ended")
	})
}

// handle registers fn for kind and returns the count of its calls; fn
// gets the number of its call, from 1.
func (e *env) handle(kind string, fn func(ctx context.Context, call int32) error) *atomic.Int32 {
	e.t.Helper()
	var calls atomic.Int32
	if err := e.q.Handle(kind, func(ctx context.Context, _ store.Task) error {
		return fn(ctx, calls.Add(1))
	}); err != nil {
		e.t.Fatal(err)
	}
	return &calls
}

// stopDuringHandler registers handler for kind, runs the queue, enqueues
// a task of kind and stops the queue once the handler has started. It
// returns the task and the channel on which Run's result arrives.
func (e *env) stopDuringHandler(kind string, handler func(ctx context.Context) error) (store.Task, <-chan error) {
	e.t.Helper()
	started := make(chan struct{})
	if err := e.q.Handle(kind, func(ctx context.Context, _ store.Task) error {
		close(started)
		return handler(ctx)
	}); err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.q.Run(ctx) }()
	task := e.enqueue(kind, "", nil)
	select {
	case <-started:
	case <-time.After(waitFor):
		cancel()
		e.t.Fatal("handler not started")
	}
	cancel()
	return task, done
}

// waitRun waits for Run, stopped, to return nil; when names the moment.
func (e *env) waitRun(done <-chan error, when string) {
	e.t.Helper()
	select {
	case err := <-done:
		if err != nil {
			e.t.Fatalf("Run = %v, want nil", err)
		}
	case <-time.After(waitFor):
		e.t.Fatalf("Run did not return %s", when)
	}
}

func (e *env) enqueue(kind, org string, payload any) store.Task {
	e.t.Helper()
	task, err := e.q.Enqueue(context.Background(), kind, org, payload)
	if err != nil {
		e.t.Fatalf("Enqueue: %v", err)
	}
	return task
}

// waitStatus polls the task's row until it has one of statuses.
func (e *env) waitStatus(id string, statuses ...string) store.Task {
	e.t.Helper()
	deadline := time.Now().Add(waitFor)
	var last store.Task
	for time.Now().Before(deadline) {
		t, err := e.st.GetTask(context.Background(), id)
		if err != nil {
			e.t.Fatalf("GetTask: %v", err)
		}
		if slices.Contains(statuses, t.Status) {
			return t
		}
		last = t
		time.Sleep(5 * time.Millisecond)
	}
	e.t.Fatalf("task %s still %s (attempts %d, reason %q) after %s, want %v", id, last.Status, last.Attempts, last.Reason, waitFor, statuses)
	return store.Task{}
}

// streamMsgs waits until the TASKS stream holds want messages.
func (e *env) waitStreamMsgs(want uint64) {
	e.t.Helper()
	deadline := time.Now().Add(waitFor)
	var got uint64
	for time.Now().Before(deadline) {
		s, err := e.nc.JetStream().Stream(context.Background(), tasks.StreamName)
		if err != nil {
			e.t.Fatal(err)
		}
		got = s.CachedInfo().State.Msgs
		if got == want {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	e.t.Fatalf("TASKS stream holds %d messages, want %d", got, want)
}

func (e *env) follow(org string) *events.Subscription {
	e.t.Helper()
	s, err := e.ev.Subscribe(context.Background(), events.Filter{OrgID: org, Types: []string{tasks.EventTaskStatus}})
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(s.Close)
	return s
}

type statusEvent struct {
	Kind     string `json:"kind"`
	Status   string `json:"status"`
	Attempts int    `json:"attempts"`
	Reason   string `json:"reason"`
}

// statuses reads task.status events of id until one has a final status.
func statuses(t *testing.T, s *events.Subscription, id string) []string {
	t.Helper()
	var got []string
	timeout := time.After(waitFor)
	for {
		select {
		case ev, ok := <-s.Events():
			if !ok {
				t.Fatalf("subscription closed: %v", s.Err())
			}
			if ev.ResourceID != id {
				continue
			}
			var d statusEvent
			if err := json.Unmarshal(ev.Data, &d); err != nil {
				t.Fatal(err)
			}
			got = append(got, fmt.Sprintf("%s/%d", d.Status, d.Attempts))
			if d.Status == store.TaskSucceeded || d.Status == store.TaskFailed {
				return got
			}
		case <-timeout:
			t.Fatalf("no final task.status event for %s; got %v", id, got)
		}
	}
}

func TestRetryWithBackoffThenSuccess(t *testing.T) {
	var mu sync.Mutex
	var backoffs []int
	e := newEnv(t, tasks.Config{
		MaxAttempts: 5,
		Backoff: func(attempt int) time.Duration {
			mu.Lock()
			backoffs = append(backoffs, attempt)
			mu.Unlock()
			return 20 * time.Millisecond
		},
	})
	e.handle("test.flaky", func(ctx context.Context, call int32) error {
		if call <= 2 {
			return errors.New("registry not reachable yet")
		}
		return nil
	})
	org := store.NewID()
	sub := e.follow(org)
	e.run()
	task := e.enqueue("test.flaky", org, nil)

	got := e.waitStatus(task.ID, store.TaskSucceeded)
	if got.Attempts != 3 || got.Reason != "" || got.FinishedAt == nil || got.OrgID != org || got.Kind != "test.flaky" {
		t.Fatalf("task = %+v, want succeeded after 3 attempts with no reason", got)
	}
	want := []string{"queued/0", "running/1", "queued/1", "running/2", "queued/2", "running/3", "succeeded/3"}
	if evs := statuses(t, sub, task.ID); !slices.Equal(evs, want) {
		t.Fatalf("task.status events = %v, want %v", evs, want)
	}
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(backoffs, []int{1, 2}) {
		t.Fatalf("Backoff called with %v, want [1 2]", backoffs)
	}
	e.waitStreamMsgs(0)
}

func TestFailsAfterMaxAttemptsWithReason(t *testing.T) {
	e := newEnv(t, tasks.Config{MaxAttempts: 3})
	calls := e.handle("test.broken", func(ctx context.Context, call int32) error {
		return fmt.Errorf("create namespace: %w", errors.New("quota exceeded in project \"web\""))
	})
	org := store.NewID()
	sub := e.follow(org)
	e.run()
	task := e.enqueue("test.broken", org, map[string]string{"workspace_id": "w"})

	got := e.waitStatus(task.ID, store.TaskFailed)
	if got.Attempts != 3 || got.Reason != `create namespace: quota exceeded in project "web"` || got.FinishedAt == nil {
		t.Fatalf("task = %+v, want failed after 3 attempts with the handler's error as reason", got)
	}
	evs := statuses(t, sub, task.ID)
	if last := evs[len(evs)-1]; last != "failed/3" {
		t.Fatalf("last event %s, want failed/3 (all: %v)", last, evs)
	}
	e.waitStreamMsgs(0) // terminated messages leave the work queue
	if n := calls.Load(); n != 3 {
		t.Fatalf("handler ran %d times, want 3", n)
	}
}

func TestPermanentErrorFailsAtOnce(t *testing.T) {
	e := newEnv(t, tasks.Config{MaxAttempts: 8})
	type payload struct {
		Name string `json:"name"`
	}
	var seen atomic.Value
	if err := tasks.Register(e.q, "test.permanent", func(ctx context.Context, task store.Task, p payload) error {
		seen.Store(p.Name)
		return tasks.Permanent(fmt.Errorf("workspace name %q is taken", p.Name))
	}); err != nil {
		t.Fatal(err)
	}
	if err := tasks.Register(e.q, "test.typed", func(ctx context.Context, task store.Task, p payload) error {
		t.Error("handler called with an undecodable payload")
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	e.run()

	task := e.enqueue("test.permanent", "", payload{Name: "dev"})
	got := e.waitStatus(task.ID, store.TaskFailed)
	if got.Attempts != 1 || got.Reason != `workspace name "dev" is taken` {
		t.Fatalf("task = %+v, want failed after 1 attempt", got)
	}
	if seen.Load() != "dev" {
		t.Fatalf("handler saw payload name %v, want dev", seen.Load())
	}

	bad := e.enqueue("test.typed", "", json.RawMessage(`["not", "an", "object"]`))
	got = e.waitStatus(bad.ID, store.TaskFailed)
	if got.Attempts != 1 || !strings.HasPrefix(got.Reason, "invalid test.typed task payload: ") {
		t.Fatalf("task = %+v, want failed at once for its payload", got)
	}
	if !tasks.IsPermanent(fmt.Errorf("wrapped: %w", tasks.Permanent(errors.New("x")))) || tasks.IsPermanent(errors.New("x")) || tasks.Permanent(nil) != nil {
		t.Fatal("IsPermanent/Permanent misbehave")
	}
}

// A task whose row is already final when its message is delivered (a crash
// after the outcome was recorded, before the ack) is acknowledged without
// running its handler again.
func TestRedeliveredFinishedTaskIsSkipped(t *testing.T) {
	e := newEnv(t, tasks.Config{})
	calls := e.handle("test.once", func(ctx context.Context, call int32) error {
		return nil
	})
	ctx := context.Background()
	var ids []string
	for _, final := range []string{store.TaskSucceeded, store.TaskFailed} {
		task := e.enqueue("test.once", "", nil)
		finished := time.Now().UTC().Truncate(time.Microsecond)
		task.Status, task.Attempts, task.FinishedAt, task.UpdatedAt = final, 1, &finished, finished
		if final == store.TaskFailed {
			task.Reason = "gave up"
		}
		if err := e.st.UpdateTask(ctx, task); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, task.ID)
	}
	e.waitStreamMsgs(2)
	e.run()
	e.waitStreamMsgs(0)
	if n := calls.Load(); n != 0 {
		t.Fatalf("handler ran %d times, want 0", n)
	}
	for _, id := range ids {
		got, err := e.st.GetTask(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if got.Attempts != 1 {
			t.Fatalf("task %s attempts = %d, want 1 (untouched)", id, got.Attempts)
		}
	}
}

func TestHandlerPanicIsRecovered(t *testing.T) {
	e := newEnv(t, tasks.Config{MaxAttempts: 2})
	e.handle("test.panic-once", func(ctx context.Context, call int32) error {
		if call == 1 {
			panic("nil map")
		}
		return nil
	})
	if err := e.q.Handle("test.panic-always", func(ctx context.Context, task store.Task) error {
		var m map[string]int
		m["boom"]++
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	e.run()
	once := e.enqueue("test.panic-once", "", nil)
	always := e.enqueue("test.panic-always", "", nil)

	if got := e.waitStatus(once.ID, store.TaskSucceeded); got.Attempts != 2 {
		t.Fatalf("panic-once task = %+v, want succeeded on attempt 2", got)
	}
	got := e.waitStatus(always.ID, store.TaskFailed)
	if got.Attempts != 2 || got.Reason != "internal error: the test.panic-always handler panicked: assignment to entry in nil map" {
		t.Fatalf("panic-always task = %+v", got)
	}
}

// Rows left queued without a message (a publish that failed, a crash
// between the insert and the publish) are published by the sweep, and
// sweeping again never puts a second message of a task in the stream.
func TestSweepPublishesOrphanedRows(t *testing.T) {
	e := newEnv(t, tasks.Config{})
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Microsecond)
	orphan := store.Task{ID: store.NewID(), Kind: "test.orphan", Payload: []byte(`{}`), Status: store.TaskQueued, CreatedAt: now, UpdatedAt: now}
	if err := e.st.CreateTask(ctx, orphan); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if n, err := e.q.Sweep(ctx); err != nil || n != 1 {
			t.Fatalf("Sweep = %d, %v; want 1, nil", n, err)
		}
	}
	e.waitStreamMsgs(1)

	calls := e.handle("test.orphan", func(ctx context.Context, call int32) error {
		return nil
	})
	e.run()
	e.waitStatus(orphan.ID, store.TaskSucceeded)
	e.waitStreamMsgs(0)
	if n := calls.Load(); n != 1 {
		t.Fatalf("handler ran %d times, want 1", n)
	}
}

func TestUnhandledKindStaysQueued(t *testing.T) {
	e := newEnv(t, tasks.Config{})
	if err := e.q.Handle("test.handled", func(ctx context.Context, task store.Task) error { return nil }); err != nil {
		t.Fatal(err)
	}
	e.run()
	unhandled := e.enqueue("test.unhandled", "", nil)
	handled := e.enqueue("test.handled", "", nil)
	e.waitStatus(handled.ID, store.TaskSucceeded)
	e.waitStreamMsgs(1)
	got, err := e.st.GetTask(context.Background(), unhandled.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != store.TaskQueued || got.Attempts != 0 {
		t.Fatalf("unhandled task = %+v, want queued", got)
	}
}

func TestStopWaitsForRunningHandlers(t *testing.T) {
	e := newEnv(t, tasks.Config{StopTimeout: 10 * time.Second})
	release := make(chan struct{})
	task, done := e.stopDuringHandler("test.slow", func(context.Context) error {
		<-release
		return nil
	})
	select {
	case err := <-done:
		t.Fatalf("Run returned %v while a handler was running", err)
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	e.waitRun(done, "after the handler finished")
	if got := e.waitStatus(task.ID, store.TaskSucceeded); got.Attempts != 1 {
		t.Fatalf("task = %+v", got)
	}
}

func TestStopTimeoutInterruptsHandlers(t *testing.T) {
	e := newEnv(t, tasks.Config{StopTimeout: 50 * time.Millisecond, MaxAttempts: 1})
	task, done := e.stopDuringHandler("test.stuck", func(ctx context.Context) error {
		<-ctx.Done()
		return fmt.Errorf("provision: %w", ctx.Err())
	})
	e.waitRun(done, "after the stop timeout")
	// The interrupted attempt does not count, even with MaxAttempts 1.
	got := e.waitStatus(task.ID, store.TaskQueued)
	if got.Attempts != 0 || got.Reason != "interrupted by shutdown" {
		t.Fatalf("task = %+v, want queued, 0 attempts, interrupted", got)
	}
	e.waitStreamMsgs(1)
}

func TestHandleAndEnqueueValidation(t *testing.T) {
	e := newEnv(t, tasks.Config{})
	noop := func(context.Context, store.Task) error { return nil }
	for _, kind := range []string{"", "a..b", "a.*", "a.>", "A.b", "a_b", "a b", "x."} {
		t.Run(testutil.CaseName(kind), func(t *testing.T) {
			if err := e.q.Handle(kind, noop); !errors.Is(err, messaging.ErrInvalidToken) {
				t.Errorf("Handle(%q) = %v, want ErrInvalidToken", kind, err)
			}
			if _, err := e.q.Enqueue(context.Background(), kind, "", nil); !errors.Is(err, messaging.ErrInvalidToken) {
				t.Errorf("Enqueue(%q) = %v, want ErrInvalidToken", kind, err)
			}
		})
	}
	if err := e.q.Handle("workspace.provision", noop); err != nil {
		t.Fatal(err)
	}
	if err := e.q.Handle("workspace.provision", noop); err == nil || err.Error() != "tasks: handler for workspace.provision registered twice" {
		t.Fatalf("second Handle = %v", err)
	}
	e.run()
	deadline := time.Now().Add(waitFor)
	for {
		err := e.q.Handle("late.kind", noop)
		if err != nil && err.Error() == "tasks: handler for late.kind registered after Run" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Handle after Run = %v", err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestConfigErrors(t *testing.T) {
	e := newEnv(t, tasks.Config{})
	log := testLogger(t)
	base := tasks.Config{JS: e.nc.JetStream(), Store: e.st, Events: e.ev, Logger: log, Now: time.Now}
	for _, tc := range []struct {
		name   string
		modify func(*tasks.Config)
		want   string
	}{
		{"no js", func(c *tasks.Config) { c.JS = nil }, "tasks: JS is required"},
		{"no store", func(c *tasks.Config) { c.Store = nil }, "tasks: Store is required"},
		{"no events", func(c *tasks.Config) { c.Events = nil }, "tasks: Events is required"},
		{"no logger", func(c *tasks.Config) { c.Logger = nil }, "tasks: Logger is required"},
		{"no clock", func(c *tasks.Config) { c.Now = nil }, "tasks: Now is required"},
		{"negative", func(c *tasks.Config) { c.AckWait = -time.Second }, "tasks: MaxAttempts, AckWait, Concurrency, StopTimeout, SweepInterval and Replicas must not be negative"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := base
			tc.modify(&cfg)
			_, err := tasks.New(context.Background(), cfg)
			if err == nil || err.Error() != tc.want {
				t.Fatalf("New error = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestDefaultBackoff(t *testing.T) {
	for attempt, nominal := range map[int]time.Duration{
		1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second, 9: 256 * time.Second,
		10: 5 * time.Minute, 50: 5 * time.Minute, 1000: 5 * time.Minute,
	} {
		for range 100 {
			d := tasks.DefaultBackoff(attempt)
			if d < nominal/2 || d > nominal {
				t.Fatalf("DefaultBackoff(%d) = %s, want within [%s, %s]", attempt, d, nominal/2, nominal)
			}
		}
	}
}

func BenchmarkEnqueueProcess(b *testing.B) {
	e := newEnv(b, tasks.Config{Concurrency: 16, Logger: slog.New(slog.DiscardHandler)})
	if err := e.q.Handle("bench.noop", func(context.Context, store.Task) error { return nil }); err != nil {
		b.Fatal(err)
	}
	e.run()
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		if _, err := e.q.Enqueue(ctx, "bench.noop", "", map[string]int{"i": i}); err != nil {
			b.Fatal(err)
		}
	}
	for {
		left, err := e.st.ListTasksByStatus(ctx, []string{store.TaskQueued, store.TaskRunning}, 1)
		if err != nil {
			b.Fatal(err)
		}
		if len(left) == 0 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "tasks/s")
}

// A handler that runs longer than AckWait keeps its message: it is not
// redelivered meanwhile, and the task runs once.
func TestLongHandlerKeepsItsMessage(t *testing.T) {
	e := newEnv(t, tasks.Config{AckWait: 300 * time.Millisecond})
	calls := e.handle("test.long", func(ctx context.Context, call int32) error {
		select {
		case <-time.After(1200 * time.Millisecond): // four AckWaits
		case <-ctx.Done():
		}
		return nil
	})
	e.run()
	task := e.enqueue("test.long", "", nil)
	if got := e.waitStatus(task.ID, store.TaskSucceeded); got.Attempts != 1 {
		t.Fatalf("task = %+v, want succeeded on attempt 1", got)
	}
	if n := calls.Load(); n != 1 {
		t.Fatalf("handler ran %d times, want 1", n)
	}
	e.waitStreamMsgs(0)
	c, err := e.nc.JetStream().Consumer(context.Background(), tasks.StreamName, "tasks_test_long")
	if err != nil {
		t.Fatal(err)
	}
	if n := c.CachedInfo().Delivered.Consumer; n != 1 {
		t.Fatalf("message delivered %d times, want once", n)
	}
}

var _ tasks.Notifier = (*events.Publisher)(nil)
