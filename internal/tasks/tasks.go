package tasks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/hexabase/hexabase-ai/internal/events"
	"github.com/hexabase/hexabase-ai/internal/messaging"
	"github.com/hexabase/hexabase-ai/internal/required"
	"github.com/hexabase/hexabase-ai/internal/store"
)

const (
	// StreamName is the JetStream work-queue stream holding task messages.
	StreamName = "TASKS"
	// SubjectPrefix starts every task subject: hks.tasks.<kind>.<task id>.
	SubjectPrefix = "hks.tasks"
	// EventTaskStatus is the type of the event published on every status change.
	EventTaskStatus = events.TaskStatus

	DefaultMaxAttempts   = 8
	DefaultAckWait       = 30 * time.Second
	DefaultConcurrency   = 4
	DefaultStopTimeout   = 30 * time.Second
	DefaultSweepInterval = time.Minute

	fetchWait    = 5 * time.Second // long-poll of one pull request
	storeRetry   = 5 * time.Second // redelivery delay when the database fails
	sweepLimit   = 10000
	maxReasonLen = 4000
	// jsStreamStoreFailed is the JetStream error code of a refused store,
	// here: the task already has its message in the stream.
	jsStreamStoreFailed jetstream.ErrorCode = 10077
)

// Notifier publishes state-change events (package events implements it).
type Notifier interface {
	Notify(ctx context.Context, orgID, eventType, resourceID string, data any)
}

// Handler does the work of one task. It must be idempotent: a task may be
// delivered again after a crash. Its error text becomes the task's reason,
// shown to people; wrap it with Permanent when retrying cannot help.
type Handler func(ctx context.Context, task store.Task) error

// Config carries the queue's dependencies and tuning.
type Config struct {
	JS     jetstream.JetStream
	Store  store.Store
	Events Notifier
	Logger *slog.Logger
	Now    func() time.Time

	// MaxAttempts is how many times a handler runs before the task fails
	// (default 8).
	MaxAttempts int
	// Backoff is the delay before attempt+1 after attempt failed (default
	// DefaultBackoff).
	Backoff func(attempt int) time.Duration
	// AckWait is how long a delivered message may go without news before
	// JetStream redelivers it (default 30s). Running handlers keep their
	// message alive, so this only bounds redelivery after a crash.
	AckWait time.Duration
	// Concurrency is how many tasks of one kind run at once in this
	// process (default 4).
	Concurrency int
	// StopTimeout is how long Run waits for running handlers once its
	// context ends, before canceling their context (default 30s).
	StopTimeout time.Duration
	// SweepInterval is how often rows left queued or running are
	// re-published (default 1m); the first sweep runs when Run starts.
	SweepInterval time.Duration
	// Replicas of the stream on a NATS cluster (default 1).
	Replicas int
}

// Queue is the durable task queue.
type Queue struct {
	js            jetstream.JetStream
	st            store.Store
	events        Notifier
	log           *slog.Logger
	now           func() time.Time
	maxAttempts   int
	backoff       func(int) time.Duration
	ackWait       time.Duration
	concurrency   int
	stopTimeout   time.Duration
	sweepInterval time.Duration

	mu       sync.Mutex
	handlers map[string]Handler
	started  bool
	inflight map[string]struct{} // ids of tasks whose handler runs here
}

// New creates or updates the TASKS stream and returns a Queue. Register
// handlers, then call Run; Enqueue works with or without Run.
func New(ctx context.Context, cfg Config) (*Queue, error) {
	if err := required.Fields("tasks", cfg, "JS", "Store", "Events", "Logger", "Now"); err != nil {
		return nil, err
	}
	switch {
	case cfg.MaxAttempts < 0, cfg.AckWait < 0, cfg.Concurrency < 0, cfg.StopTimeout < 0, cfg.SweepInterval < 0, cfg.Replicas < 0:
		return nil, errors.New("tasks: MaxAttempts, AckWait, Concurrency, StopTimeout, SweepInterval and Replicas must not be negative")
	}
	q := &Queue{
		js:            cfg.JS,
		st:            cfg.Store,
		events:        cfg.Events,
		log:           cfg.Logger.With("component", "tasks"),
		now:           cfg.Now,
		maxAttempts:   orDefault(cfg.MaxAttempts, DefaultMaxAttempts),
		backoff:       cfg.Backoff,
		ackWait:       orDefault(cfg.AckWait, DefaultAckWait),
		concurrency:   orDefault(cfg.Concurrency, DefaultConcurrency),
		stopTimeout:   orDefault(cfg.StopTimeout, DefaultStopTimeout),
		sweepInterval: orDefault(cfg.SweepInterval, DefaultSweepInterval),
		handlers:      map[string]Handler{},
		inflight:      map[string]struct{}{},
	}
	if q.backoff == nil {
		q.backoff = DefaultBackoff
	}
	_, err := cfg.JS.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        StreamName,
		Description: "hks durable tasks; the database holds their state",
		Subjects:    []string{SubjectPrefix + ".>"},
		Retention:   jetstream.WorkQueuePolicy,
		Storage:     jetstream.FileStorage,
		// One message per task at most: publishing a task whose message
		// is still in the stream is refused, so re-publishing (the
		// recovery sweep) never makes two deliveries of one task race.
		MaxMsgsPerSubject:    1,
		Discard:              jetstream.DiscardNew,
		DiscardNewPerSubject: true,
		Duplicates:           2 * time.Minute,
		Replicas:             orDefault(cfg.Replicas, 1),
	})
	if err != nil {
		return nil, fmt.Errorf("create stream %s: %w", StreamName, err)
	}
	return q, nil
}

func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// DefaultBackoff waits 1s after the first failure, doubling up to 5m, with
// jitter (each delay is between half and all of its nominal value).
func DefaultBackoff(attempt int) time.Duration {
	d := 5 * time.Minute
	if attempt < 1 {
		attempt = 1
	}
	if attempt <= 9 { // 1s<<8 = 256s < 5m
		d = time.Second << (attempt - 1)
	}
	return d/2 + rand.N(d/2+1)
}

// ValidKind reports whether kind can name a task kind: dot-separated
// tokens of lowercase letters, digits and '-' ("workspace.provision").
func ValidKind(kind string) error {
	if err := messaging.ValidPath(kind); err != nil {
		return fmt.Errorf("task kind: %w", err)
	}
	if strings.ContainsFunc(kind, func(r rune) bool { return r == '_' || r >= 'A' && r <= 'Z' }) {
		return fmt.Errorf("task kind: %w: %q must be lowercase letters, digits, '-' and '.'", messaging.ErrInvalidToken, kind)
	}
	return nil
}

func subject(kind, id string) string { return SubjectPrefix + "." + kind + "." + id }

func consumerName(kind string) string { return "tasks_" + strings.ReplaceAll(kind, ".", "_") }

// Handle registers the handler of kind. It must be called before Run.
func (q *Queue) Handle(kind string, h Handler) error {
	if err := ValidKind(kind); err != nil {
		return err
	}
	if h == nil {
		return errors.New("tasks: nil handler")
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.started {
		return fmt.Errorf("tasks: handler for %s registered after Run", kind)
	}
	if _, dup := q.handlers[kind]; dup {
		return fmt.Errorf("tasks: handler for %s registered twice", kind)
	}
	q.handlers[kind] = h
	return nil
}

// Register registers a handler of kind whose payload is JSON decoded into a
// P. A payload that does not decode fails the task at once.
func Register[P any](q *Queue, kind string, h func(ctx context.Context, task store.Task, p P) error) error {
	if h == nil {
		return errors.New("tasks: nil handler")
	}
	return q.Handle(kind, func(ctx context.Context, t store.Task) error {
		var p P
		if len(t.Payload) > 0 {
			if err := json.Unmarshal(t.Payload, &p); err != nil {
				return Permanent(fmt.Errorf("invalid %s task payload: %w", kind, err))
			}
		}
		return h(ctx, t, p)
	})
}

type permanentError struct{ err error }

func (e permanentError) Error() string { return e.err.Error() }
func (e permanentError) Unwrap() error { return e.err }

// Permanent marks err as one that retrying cannot fix: the task fails at
// once with err's text as its reason. Permanent(nil) is nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanentError{err: err}
}

// IsPermanent reports whether err, or an error it wraps, was marked with
// Permanent.
func IsPermanent(err error) bool {
	var p permanentError
	return errors.As(err, &p)
}

// MaxAttempts is how many times a handler runs before its task fails.
func (q *Queue) MaxAttempts() int { return q.maxAttempts }

func (q *Queue) clock() time.Time { return q.now().UTC().Truncate(time.Microsecond) }

// Enqueue records a queued task of kind with payload (marshalled to JSON
// unless it is a json.RawMessage) and publishes it. Once the row is
// written the task is durable: if publishing fails, Enqueue still succeeds
// and the recovery sweep publishes the task later.
func (q *Queue) Enqueue(ctx context.Context, kind, orgID string, payload any) (store.Task, error) {
	if err := ValidKind(kind); err != nil {
		return store.Task{}, err
	}
	var body []byte
	switch p := payload.(type) {
	case json.RawMessage:
		body = p
	default:
		b, err := json.Marshal(p)
		if err != nil {
			return store.Task{}, fmt.Errorf("marshal %s task payload: %w", kind, err)
		}
		body = b
	}
	now := q.clock()
	t := store.Task{
		ID:        store.NewID(),
		Kind:      kind,
		OrgID:     orgID,
		Payload:   body,
		Status:    store.TaskQueued,
		CreatedAt: now,
		UpdatedAt: now,
	}
	if err := q.st.CreateTask(ctx, t); err != nil {
		return store.Task{}, fmt.Errorf("create task: %w", err)
	}
	q.notify(ctx, t)
	if err := q.publish(ctx, t); err != nil {
		q.log.WarnContext(ctx, "publish task failed; the recovery sweep will retry", "task", t.ID, "kind", kind, "err", err)
	}
	return t, nil
}

// publish puts the task's message in the stream. The message id is the
// task id, so a publish retried within the duplicate window is dropped,
// and a task whose message is still in the stream is refused (and that is
// success here).
func (q *Queue) publish(ctx context.Context, t store.Task) error {
	if err := messaging.ValidToken(t.ID); err != nil {
		return fmt.Errorf("task id: %w", err)
	}
	if err := ValidKind(t.Kind); err != nil {
		return err
	}
	msg := &nats.Msg{Subject: subject(t.Kind, t.ID), Data: []byte(t.ID)}
	_, err := q.js.PublishMsg(ctx, msg, jetstream.WithMsgID(t.ID), jetstream.WithExpectStream(StreamName))
	if err != nil && !alreadyInStream(err) {
		return fmt.Errorf("publish task %s: %w", t.ID, err)
	}
	return nil
}

func alreadyInStream(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode == jsStreamStoreFailed &&
		strings.Contains(apiErr.Description, "per subject")
}

func (q *Queue) notify(ctx context.Context, t store.Task) {
	q.events.Notify(ctx, t.OrgID, EventTaskStatus, t.ID, events.TaskStatusData{Kind: t.Kind, Status: t.Status, Attempts: t.Attempts, Reason: t.Reason})
}

// Sweep re-publishes tasks left queued or running (a crash between writing
// the row and publishing, a publish that failed). Tasks whose message is
// still in the stream are untouched. It returns how many were examined.
// Run sweeps at start and every SweepInterval; calling it by hand is safe.
func (q *Queue) Sweep(ctx context.Context) (int, error) {
	rows, err := q.st.ListTasksByStatus(ctx, []string{store.TaskQueued, store.TaskRunning}, sweepLimit)
	if err != nil {
		return 0, fmt.Errorf("list unfinished tasks: %w", err)
	}
	var errs []error
	for _, t := range rows {
		if err := q.publish(ctx, t); err != nil {
			errs = append(errs, err)
			if ctx.Err() != nil {
				break
			}
		}
	}
	if len(errs) > 0 {
		return len(rows), fmt.Errorf("sweep: %d of %d tasks not published: %w", len(errs), len(rows), errs[0])
	}
	return len(rows), nil
}

// Run processes tasks of every registered kind until ctx ends: one durable
// pull consumer per kind, up to Concurrency handlers per kind. When ctx
// ends it stops fetching and waits up to StopTimeout for running handlers,
// then cancels their context. It returns nil after a clean stop.
func (q *Queue) Run(ctx context.Context) error {
	q.mu.Lock()
	if q.started {
		q.mu.Unlock()
		return errors.New("tasks: Run called twice")
	}
	q.started = true
	handlers := maps.Clone(q.handlers)
	q.mu.Unlock()

	consumers := make(map[string]jetstream.Consumer, len(handlers))
	for kind := range handlers {
		c, err := q.js.CreateOrUpdateConsumer(ctx, StreamName, jetstream.ConsumerConfig{
			Durable:       consumerName(kind),
			Description:   "hks handlers of " + kind + " tasks",
			FilterSubject: SubjectPrefix + "." + kind + ".*",
			AckPolicy:     jetstream.AckExplicitPolicy,
			AckWait:       q.ackWait,
			// Attempts are counted in the database; JetStream must never
			// give up on a message by itself.
			MaxDeliver:    -1,
			DeliverPolicy: jetstream.DeliverAllPolicy,
		})
		if err != nil {
			if ctx.Err() != nil {
				return nil // stopped before it started
			}
			return fmt.Errorf("create consumer for %s: %w", kind, err)
		}
		consumers[kind] = c
	}

	// Handlers outlive ctx by up to StopTimeout.
	hctx, hcancel := context.WithCancel(context.WithoutCancel(ctx))
	defer hcancel()
	var handlersWG, loopsWG sync.WaitGroup
	for kind, c := range consumers {
		loopsWG.Go(func() { q.consume(ctx, hctx, kind, c, handlers[kind], &handlersWG) })
	}
	loopsWG.Go(func() {
		for {
			if n, err := q.Sweep(ctx); err != nil && ctx.Err() == nil {
				q.log.Warn("task sweep failed", "err", err)
			} else if n > 0 {
				q.log.Debug("task sweep", "unfinished", n)
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(q.sweepInterval):
			}
		}
	})
	q.log.Info("task queue running", "kinds", len(handlers))

	<-ctx.Done()
	loopsWG.Wait()
	done := make(chan struct{})
	go func() { handlersWG.Wait(); close(done) }()
	select {
	case <-done:
		q.log.Info("task queue stopped")
		return nil
	case <-time.After(q.stopTimeout):
	}
	q.log.Warn("task handlers still running at the stop deadline; canceling them", "stop_timeout", q.stopTimeout)
	hcancel()
	select {
	case <-done:
		q.log.Info("task queue stopped")
		return nil
	case <-time.After(5 * time.Second):
		return fmt.Errorf("tasks: handlers still running 5s after they were canceled at the %s stop deadline", q.stopTimeout)
	}
}

// consume fetches messages of one kind, never more than there are free
// handler slots, so no message waits unprocessed in this process.
func (q *Queue) consume(ctx, hctx context.Context, kind string, c jetstream.Consumer, h Handler, wg *sync.WaitGroup) {
	slots := make(chan struct{}, q.concurrency)
	release := func(n int) {
		for range n {
			<-slots
		}
	}
	for {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return
		}
		n := 1
	reserve:
		for n < q.concurrency {
			select {
			case slots <- struct{}{}:
				n++
			default:
				break reserve
			}
		}
		// The pull request expires shortly before fctx; canceling ctx
		// abandons it at once.
		fctx, cancel := context.WithTimeout(ctx, fetchWait)
		batch, err := c.Fetch(n, jetstream.FetchContext(fctx))
		if err != nil {
			cancel()
			release(n)
			if ctx.Err() != nil {
				return
			}
			q.log.Warn("fetch tasks failed", "kind", kind, "err", err)
			sleep(ctx, time.Second)
			continue
		}
		used := 0
		for msg := range batch.Messages() {
			if ctx.Err() != nil {
				// Stopping: hand the message back at once.
				_ = msg.Nak()
				continue
			}
			used++
			wg.Go(func() {
				defer release(1)
				q.handle(hctx, kind, h, msg)
			})
		}
		cancel()
		release(n - used)
		if err := batch.Error(); err != nil && ctx.Err() == nil && !errors.Is(err, context.DeadlineExceeded) {
			q.log.Warn("fetch tasks failed", "kind", kind, "err", err)
			sleep(ctx, time.Second)
		}
	}
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

func (q *Queue) claim(id string) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if _, busy := q.inflight[id]; busy {
		return false
	}
	q.inflight[id] = struct{}{}
	return true
}

func (q *Queue) unclaim(id string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	delete(q.inflight, id)
}

// handle processes one delivery. ctx is canceled only when a stop outlasts
// StopTimeout.
func (q *Queue) handle(ctx context.Context, kind string, h Handler, msg jetstream.Msg) {
	id := string(msg.Data())
	log := q.log.With("task", id, "kind", kind)
	if err := messaging.ValidToken(id); err != nil || !strings.HasSuffix(msg.Subject(), "."+id) {
		log.Error("dropping malformed task message", "subject", msg.Subject())
		_ = msg.Term()
		return
	}
	if !q.claim(id) {
		// Redelivered while its handler still runs here (it kept the
		// message alive too late); that handler settles the message.
		log.Debug("task already running here")
		return
	}
	defer q.unclaim(id)

	t, err := q.st.GetTask(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		log.Warn("dropping message of a task that has no row")
		_ = msg.Term()
		return
	}
	if err != nil {
		log.Error("load task", "err", err)
		_ = msg.NakWithDelay(storeRetry)
		return
	}
	if t.Status == store.TaskSucceeded || t.Status == store.TaskFailed {
		log.Debug("task already finished; acknowledging redelivery", "status", t.Status)
		q.ack(ctx, msg, log)
		return
	}

	t.Status = store.TaskRunning
	t.Attempts++
	t.UpdatedAt = q.clock()
	if err := q.st.UpdateTask(ctx, t); err != nil {
		log.Error("mark task running", "err", err)
		_ = msg.NakWithDelay(storeRetry)
		return
	}
	q.notify(ctx, t)

	stopKeepAlive := q.keepAlive(msg, log)
	herr := call(ctx, h, t, log)
	stopKeepAlive()

	now := q.clock()
	t.UpdatedAt = now
	switch {
	case herr == nil:
		t.Status, t.Reason, t.FinishedAt = store.TaskSucceeded, "", &now
	case ctx.Err() != nil:
		// Cut short by a stop that outlasted StopTimeout: not the
		// handler's fault, the attempt does not count.
		t.Status, t.Reason = store.TaskQueued, "interrupted by shutdown"
		t.Attempts--
	case IsPermanent(herr) || t.Attempts >= q.maxAttempts:
		t.Status, t.Reason, t.FinishedAt = store.TaskFailed, reason(herr), &now
	default:
		t.Status, t.Reason = store.TaskQueued, reason(herr)
	}
	// The outcome is written even if ctx is canceled.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := q.st.UpdateTask(wctx, t); err != nil {
		// The message comes back and the handler runs again: handlers
		// are idempotent.
		log.Error("record task outcome", "status", t.Status, "err", err)
		_ = msg.NakWithDelay(storeRetry)
		return
	}
	q.notify(wctx, t)
	switch t.Status {
	case store.TaskSucceeded:
		log.Info("task succeeded", "attempts", t.Attempts)
		q.ack(wctx, msg, log)
	case store.TaskFailed:
		log.Warn("task failed", "attempts", t.Attempts, "reason", t.Reason)
		if err := msg.Term(); err != nil {
			log.Warn("terminate task message", "err", err)
		}
	default:
		delay := time.Duration(0)
		if ctx.Err() == nil {
			delay = q.backoff(t.Attempts)
		}
		log.Info("task will be retried", "attempts", t.Attempts, "in", delay, "reason", t.Reason)
		if err := msg.NakWithDelay(delay); err != nil {
			log.Warn("requeue task message", "err", err)
		}
	}
}

// ack acknowledges and waits for JetStream to confirm it.
func (q *Queue) ack(ctx context.Context, msg jetstream.Msg, log *slog.Logger) {
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := msg.DoubleAck(actx); err != nil {
		// Redelivered later and acknowledged then: the row is final.
		log.Warn("acknowledge task message", "err", err)
	}
}

// keepAlive tells JetStream the message is being worked on every third of
// AckWait until the returned function is called.
func (q *Queue) keepAlive(msg jetstream.Msg, log *slog.Logger) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(max(q.ackWait/3, 10*time.Millisecond))
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				if err := msg.InProgress(); err != nil {
					log.Warn("extend task message deadline", "err", err)
				}
			}
		}
	})
	return func() { close(done); wg.Wait() }
}

// call runs h, turning a panic into an error.
func call(ctx context.Context, h Handler, t store.Task, log *slog.Logger) (err error) {
	defer func() {
		if r := recover(); r != nil {
			log.Error("task handler panicked", "panic", r, "stack", string(debug.Stack()))
			err = fmt.Errorf("internal error: the %s handler panicked: %v", t.Kind, r)
		}
	}()
	return h(ctx, t)
}

func reason(err error) string {
	s := err.Error()
	if len(s) > maxReasonLen {
		s = strings.ToValidUTF8(s[:maxReasonLen], "") + "…"
	}
	return s
}
