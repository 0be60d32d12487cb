package triggers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/hexabase/hexabase-ai/internal/api"
	"github.com/hexabase/hexabase-ai/internal/functions/engine"
	"github.com/hexabase/hexabase-ai/internal/required"
	"github.com/hexabase/hexabase-ai/internal/store"
	"github.com/hexabase/hexabase-ai/internal/tasks"
	"github.com/hexabase/hexabase-ai/internal/tenancy"
)

// Ref is a function as the triggers address it (the fields of package
// functions' Ref).
type Ref struct{ ID, OrgID, WorkspaceID, ProjectID, Name string }

// Functions is what the triggers need of the functions service.
type Functions interface {
	// FunctionByName finds a project's function; store.ErrNotFound when
	// there is none.
	FunctionByName(ctx context.Context, projectID, name string) (Ref, error)
	// InvokeAs runs the function as a trigger ("cron", "event") under
	// invocationID, idempotently: an id already recorded as finished
	// returns its record and runs nothing. A failed handler is a recorded
	// invocation with Status "failed"; err is for calls that never ran
	// (store.ErrNotFound when the function is gone).
	InvokeAs(ctx context.Context, ref Ref, alias, trigger, invocationID string, req engine.Request) (api.Invocation, error)
}

// Scopes resolves the project of a request for its caller (package
// tenancy's Service).
type Scopes interface {
	ResolveProject(r *http.Request) (tenancy.ProjectScope, error)
}

// Defaults.
const (
	DefaultTickInterval      = 5 * time.Second
	DefaultStartingDeadline  = 5 * time.Minute
	DefaultRecoverAfter      = 30 * time.Second
	DefaultReconcileInterval = 30 * time.Second
	DefaultEventMaxAge       = 24 * time.Hour
	DefaultAckWait           = 30 * time.Second
	DefaultMaxAttempts       = 3
	// DefaultStreamMaxBytes bounds the event stream's storage.
	DefaultStreamMaxBytes = 1 << 30
	// MaxEventBytes bounds a published event's body.
	MaxEventBytes = 256 << 10
	// MaxTriggersPerFunction bounds a function's triggers.
	MaxTriggersPerFunction = 20
	// MaxCronTriggersPerFunction bounds a function's cron triggers (each
	// fires on its own schedule: more would multiply its runs).
	MaxCronTriggersPerFunction = 10
	// TaskKindCron is the kind of the task that runs one cron fire.
	TaskKindCron = "function.cron"
	// StreamName is the JetStream stream of published events.
	StreamName = "FNEVENTS"
	// SubjectPrefix starts every event subject:
	// fnevents.<project id>.<topic>.
	SubjectPrefix = "fnevents"
	// Trigger names an invocation's trigger.
	TriggerCron  = "cron"
	TriggerEvent = "event"
	// fireRetention is how long fires are kept for deduplication; it
	// must exceed StartingDeadline by far.
	fireRetention = 7 * 24 * time.Hour
	dueBatch      = 100
)

// Config carries the triggers' dependencies and tuning.
type Config struct {
	Store     store.Store
	JS        jetstream.JetStream
	Tasks     *tasks.Queue
	Functions Functions
	Scopes    Scopes
	Logger    *slog.Logger
	Now       func() time.Time

	// TickInterval is how often the scheduler looks for due fires
	// (default 5s).
	TickInterval time.Duration
	// StartingDeadline is the missed-fire policy. After downtime (or a
	// scheduler that fell behind) only the most recent scheduled time that
	// is at most StartingDeadline old runs; older missed times are skipped
	// and the skip is logged, as a CronJob with startingDeadlineSeconds
	// does. Default 5 minutes.
	StartingDeadline time.Duration
	// RecoverAfter is how old a recorded fire without a task must be
	// before the recovery sweep enqueues it (default 30s): younger ones may
	// still be enqueued by the scheduler that recorded them.
	RecoverAfter time.Duration
	// ReconcileInterval is how often event consumers are reconciled with
	// the store (default 30s); the first reconcile runs when Run starts.
	ReconcileInterval time.Duration
	// EventMaxAge is how long an event stays in the stream (default 24h).
	EventMaxAge time.Duration
	// AckWait bounds how long a crashed event handler holds its event
	// (default 30s); running handlers keep their message alive.
	AckWait time.Duration
	// MaxAttempts is how many times an event is tried per trigger
	// (default 3) before it becomes a dead letter.
	MaxAttempts int
	// Backoff is the delay before attempt+1 of an event after attempt
	// failed (default 5s, 25s, …).
	Backoff func(attempt int) time.Duration
	// Replicas of the stream on a NATS cluster (default 1).
	Replicas int
	// StreamMaxBytes bounds the storage of the event stream, all projects
	// together (default 1 GiB). When it is full the oldest events are
	// dropped (DiscardOld) to make room, delivered or not, as events older
	// than EventMaxAge are.
	StreamMaxBytes int64
}

// Service serves the trigger API and runs the scheduler and the event
// consumers.
type Service struct {
	cfg Config
	st  store.Store
	js  jetstream.JetStream
	fns Functions
	log *slog.Logger

	mu        sync.Mutex
	runCtx    context.Context // set by Run; nil before
	consumers map[string]*consumerLoop
	lastPrune time.Time

	// afterRecord, when set (tests), runs between recording a fire and
	// enqueueing its task; an error stops the fire there, as a crash would.
	afterRecord func() error
}

// New checks cfg, creates or updates the FNEVENTS stream and registers the
// "function.cron" task handler on cfg.Tasks, so it must be called before
// the queue's Run.
func New(ctx context.Context, cfg Config) (*Service, error) {
	if err := required.Fields("triggers", cfg, "Store", "JS", "Tasks", "Functions", "Scopes", "Logger", "Now"); err != nil {
		return nil, err
	}
	if cfg.TickInterval < 0 || cfg.StartingDeadline < 0 || cfg.RecoverAfter < 0 || cfg.ReconcileInterval < 0 ||
		cfg.EventMaxAge < 0 || cfg.AckWait < 0 || cfg.MaxAttempts < 0 || cfg.Replicas < 0 || cfg.StreamMaxBytes < 0 {
		return nil, errors.New("triggers: durations, MaxAttempts, Replicas and StreamMaxBytes must not be negative")
	}
	cfg.TickInterval = orDefault(cfg.TickInterval, DefaultTickInterval)
	cfg.StartingDeadline = orDefault(cfg.StartingDeadline, DefaultStartingDeadline)
	cfg.RecoverAfter = orDefault(cfg.RecoverAfter, DefaultRecoverAfter)
	cfg.ReconcileInterval = orDefault(cfg.ReconcileInterval, DefaultReconcileInterval)
	cfg.EventMaxAge = orDefault(cfg.EventMaxAge, DefaultEventMaxAge)
	cfg.AckWait = orDefault(cfg.AckWait, DefaultAckWait)
	cfg.MaxAttempts = orDefault(cfg.MaxAttempts, DefaultMaxAttempts)
	cfg.Replicas = orDefault(cfg.Replicas, 1)
	cfg.StreamMaxBytes = orDefault(cfg.StreamMaxBytes, DefaultStreamMaxBytes)
	if cfg.Backoff == nil {
		cfg.Backoff = DefaultBackoff
	}
	s := &Service{cfg: cfg, st: cfg.Store, js: cfg.JS, fns: cfg.Functions, log: cfg.Logger.With("component", "fn-triggers"),
		consumers: map[string]*consumerLoop{}}
	if _, err := cfg.JS.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        StreamName,
		Description: "hks function events: fnevents.<project id>.<topic>",
		Subjects:    []string{SubjectPrefix + ".>"},
		Retention:   jetstream.LimitsPolicy,
		Storage:     jetstream.FileStorage,
		MaxAge:      cfg.EventMaxAge,
		// Full: the oldest events go (delivered or not) to make room.
		MaxBytes: cfg.StreamMaxBytes,
		// The payload and its headers (topic, event id, message id).
		MaxMsgSize: MaxEventBytes + 4096,
		Discard:    jetstream.DiscardOld,
		Duplicates: 2 * time.Minute,
		Replicas:   cfg.Replicas,
	}); err != nil {
		return nil, fmt.Errorf("create stream %s: %w", StreamName, err)
	}
	if err := tasks.Register(cfg.Tasks, TaskKindCron, s.runFire); err != nil {
		return nil, fmt.Errorf("register %s tasks: %w", TaskKindCron, err)
	}
	return s, nil
}

func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// DefaultBackoff waits 5s after the first failed attempt of an event, then
// five times longer each time, at most 10 minutes.
func DefaultBackoff(attempt int) time.Duration {
	d := 5 * time.Second
	for i := 1; i < attempt && d < 10*time.Minute; i++ {
		d *= 5
	}
	return min(d, 10*time.Minute)
}

// Run runs the cron scheduler (with its recovery sweep) and the event
// consumers until ctx ends. One scheduler per process: the fires' primary
// key makes several processes (or a restart) safe without leader election,
// which the embedded default, a single process, does not need anyway.
func (s *Service) Run(ctx context.Context) error {
	s.mu.Lock()
	if s.runCtx != nil {
		s.mu.Unlock()
		return errors.New("triggers: Run called twice")
	}
	s.runCtx = ctx
	s.mu.Unlock()

	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			if err := s.reconcile(ctx); err != nil && ctx.Err() == nil {
				s.log.Warn("reconcile event consumers", "err", err)
			}
			if !sleep(ctx, s.cfg.ReconcileInterval) {
				return
			}
		}
	})
	wg.Go(func() {
		for {
			if err := s.tick(ctx, s.cfg.Now()); err != nil && ctx.Err() == nil {
				s.log.Warn("cron tick", "err", err)
			}
			if !sleep(ctx, s.cfg.TickInterval) {
				return
			}
		}
	})
	s.log.Info("function triggers running")
	<-ctx.Done()
	wg.Wait()
	s.stopConsumers()
	s.log.Info("function triggers stopped")
	return nil
}

// sleep waits d or until ctx ends; false when ctx ended.
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

// RefFields is the shape of a function reference: package functions' Ref
// has it, so Adapt takes the service's methods without this package
// importing the service.
type RefFields interface {
	~struct{ ID, OrgID, WorkspaceID, ProjectID, Name string }
}

// Adapt makes the Functions the triggers need of the functions service's
// methods (Adapt(svc.FunctionByName, svc.InvokeAs)).
func Adapt[R RefFields](byName func(ctx context.Context, projectID, name string) (R, error),
	invoke func(ctx context.Context, ref R, alias, trigger, invocationID string, req engine.Request) (api.Invocation, error)) Functions {
	return adapted[R]{byName: byName, invoke: invoke}
}

type adapted[R RefFields] struct {
	byName func(ctx context.Context, projectID, name string) (R, error)
	invoke func(ctx context.Context, ref R, alias, trigger, invocationID string, req engine.Request) (api.Invocation, error)
}

func (a adapted[R]) FunctionByName(ctx context.Context, projectID, name string) (Ref, error) {
	r, err := a.byName(ctx, projectID, name)
	return Ref(r), err
}

func (a adapted[R]) InvokeAs(ctx context.Context, ref Ref, alias, trigger, invocationID string, req engine.Request) (api.Invocation, error) {
	return a.invoke(ctx, R(ref), alias, trigger, invocationID, req)
}
