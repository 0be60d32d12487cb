package controlplane

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/hexabase/hexabase-ai/internal/cronexpr"
	"github.com/hexabase/hexabase-ai/internal/gateway"
	"github.com/hexabase/hexabase-ai/internal/httpapi"
	"github.com/hexabase/hexabase-ai/internal/store"
	"github.com/hexabase/hexabase-ai/internal/tasks"
	"github.com/hexabase/hexabase-ai/internal/tenancy"
)

// Defaults of the sleep and wake settings (ServiceConfig).
const (
	DefaultWakeTimeout   = 60 * time.Second
	DefaultPowerInterval = 5 * time.Second
	DefaultWakeLead      = 20 * time.Second
	// windowIdle is how long a workspace woken inside a hibernation
	// window stays awake without requests when its sleep_after is never.
	windowIdle = 10 * time.Minute
	// cronListTimeout bounds the read of a workspace's CronJobs.
	cronListTimeout = 5 * time.Second
	// unknownWorkWake is when a workspace whose CronJobs could not be read
	// at sleep is woken to read them (and sleeps again once idle).
	unknownWorkWake = time.Minute
	// failedWakeRetry is when the schedule tries again to wake a workspace
	// whose wake failed for good.
	failedWakeRetry = 10 * time.Minute
	// wakeCooldown: after a wake failed for good, requests through the
	// gateway do not start another for this long (503 with Retry-After).
	wakeCooldown = time.Minute
	// stuckWaking is how long a workspace may stay waking before the
	// power loop gives up on that wake (its task died without a word).
	stuckWaking = 2 * createTimeout
	// cronCheckTTL is how long the read of a running workspace's CronJobs
	// (for the decision to let it sleep) is reused.
	cronCheckTTL = 15 * time.Second
	// powerParallelism bounds the workspaces whose CronJobs the power
	// loop reads at once.
	powerParallelism = 4
)

// Auditor records who woke a workspace (*audit.Log implements it).
type Auditor interface {
	Append(ctx context.Context, rec store.AuditRecord) error
}

// Caller is who made a request that wakes a workspace, for the audit log.
type Caller = gateway.Caller

var _ gateway.Waker = (*Service)(nil)

// activity is what the service knows of a workspace's use.
type activity struct {
	last     time.Time // the last request began or ended; or it woke
	inflight int       // requests through the gateway still open
}

// power is the sleep-and-wake state of the Service.
type power struct {
	mu       sync.Mutex
	act      map[string]*activity
	changed  map[string]chan struct{} // closed when a workspace's power state changes here
	locks    map[string]*sync.Mutex
	cron     map[string]cronCheck
	failed   map[string]failedWake // the last wake failed for good, until one succeeds
	lastTick time.Time
}

// failedWake is a wake that failed for good: requests do not start
// another before wakeCooldown has passed.
type failedWake struct {
	at     time.Time
	reason string
}

func (s *Service) powerLock(id string) func() {
	l := s.powerMutex(id)
	l.Lock()
	return l.Unlock
}

// tryPowerLock takes the workspace's power lock if it is free.
func (s *Service) tryPowerLock(id string) (unlock func(), ok bool) {
	l := s.powerMutex(id)
	if !l.TryLock() {
		return nil, false
	}
	return l.Unlock, true
}

func (s *Service) powerMutex(id string) *sync.Mutex {
	s.pw.mu.Lock()
	defer s.pw.mu.Unlock()
	l, ok := s.pw.locks[id]
	if !ok {
		l = &sync.Mutex{}
		s.pw.locks[id] = l
	}
	return l
}

// signal wakes whoever waits for a change of the workspace's status.
func (s *Service) signal(id string) {
	s.pw.mu.Lock()
	if ch, ok := s.pw.changed[id]; ok {
		close(ch)
		delete(s.pw.changed, id)
	}
	s.pw.mu.Unlock()
}

func (s *Service) changes(id string) <-chan struct{} {
	s.pw.mu.Lock()
	defer s.pw.mu.Unlock()
	ch, ok := s.pw.changed[id]
	if !ok {
		ch = make(chan struct{})
		s.pw.changed[id] = ch
	}
	return ch
}

// Touch records use of a workspace that is not a request through the
// gateway (a user's call of the platform's API that reaches its cluster).
func (s *Service) Touch(id string) {
	s.pw.mu.Lock()
	defer s.pw.mu.Unlock()
	a := s.pw.act[id]
	if a == nil {
		a = &activity{}
		s.pw.act[id] = a
	}
	a.last = s.cfg.Now()
}

// Begin records the start of a request through the gateway; the
// workspace does not sleep while one is open. end records its end.
func (s *Service) Begin(id string) (end func()) {
	s.pw.mu.Lock()
	a := s.pw.act[id]
	if a == nil {
		a = &activity{}
		s.pw.act[id] = a
	}
	a.last = s.cfg.Now()
	a.inflight++
	s.pw.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			s.pw.mu.Lock()
			a.inflight--
			a.last = s.cfg.Now()
			s.pw.mu.Unlock()
		})
	}
}

// idle is how long the workspace has gone without use, and whether a
// request is open.
func (s *Service) idle(id string, now time.Time) (time.Duration, bool) {
	s.pw.mu.Lock()
	defer s.pw.mu.Unlock()
	a := s.pw.act[id]
	if a == nil {
		// Unknown here (hks started, or it was created, since): count
		// from now.
		s.pw.act[id] = &activity{last: now}
		return 0, false
	}
	return now.Sub(a.last), a.inflight > 0
}

// EnsureAwake returns once the workspace is running, waking it if it
// sleeps: the caller's request is held, not refused. Concurrent callers
// share one wake. A wake that does not finish within WakeTimeout, or a
// workspace that cannot be woken, is an *httpapi.Error (503 with
// Retry-After, or 409).
func (s *Service) EnsureAwake(ctx context.Context, id string, c Caller) error {
	start := time.Now()
	deadline := time.NewTimer(s.cfg.WakeTimeout)
	defer deadline.Stop()
	woke := false
	for {
		changed := s.changes(id)
		ws, err := s.cfg.Store.GetWorkspace(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			return httpapi.NotFound("workspace") // deleted meanwhile
		}
		if err != nil {
			return fmt.Errorf("get workspace: %w", err)
		}
		switch ws.Status {
		case store.WorkspaceRunning:
			return nil
		case store.WorkspaceSleeping:
			if woke {
				// It went back to sleep without waking: the wake failed.
				return &httpapi.Error{Status: http.StatusServiceUnavailable, Type: "workspace-waking", Title: "Service unavailable",
					Detail: "the workspace could not be woken (" + ws.StatusReason + "); retry in a moment",
					Header: http.Header{"Retry-After": {"10"}}}
			}
			if err := s.wakeCooling(ws.ID); err != nil {
				return err
			}
			who := c.Email
			if who == "" {
				who = c.UserID
			}
			reason := "woken by a request of " + who
			_, err := s.pw0().RequestWake(ctx, ws, reason)
			if err == nil {
				woke = true
				s.audit(ctx, ws, c, reason)
			} else if !errors.Is(err, tenancy.ErrPowerState) {
				return fmt.Errorf("wake workspace: %w", err)
			}
			continue
		case store.WorkspaceWaking:
			woke = true
		default:
			return httpapi.Conflict("", "the workspace is "+ws.Status+": its cluster is not running")
		}
		notReady := func(within time.Duration) error {
			return &httpapi.Error{Status: http.StatusServiceUnavailable, Type: "workspace-waking", Title: "Service unavailable",
				Detail: "the workspace is waking up and was not ready within " + strconv.Itoa(int(within.Round(time.Second)/time.Second)) + " s; retry in a moment",
				Header: http.Header{"Retry-After": {"5"}}}
		}
		select {
		case <-changed:
		case <-time.After(time.Second): // another server may do the wake
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				// The request's own deadline (an API call's timeout) came first.
				return notReady(time.Since(start))
			}
			return ctx.Err()
		case <-deadline.C:
			return notReady(s.cfg.WakeTimeout)
		}
	}
}

func (s *Service) pw0() tenancy.Power {
	return tenancy.Power{Store: s.cfg.Store, Tasks: s.cfg.Tasks, Events: s.cfg.Events, Now: s.cfg.Now}
}

// audit records who woke a workspace.
func (s *Service) audit(ctx context.Context, ws store.Workspace, c Caller, detail string) {
	if s.cfg.Auditor == nil {
		return
	}
	rec := store.AuditRecord{ID: store.NewID(), Time: s.cfg.Now().UTC(), ActorID: c.UserID, ActorEmail: c.Email, OrgID: ws.OrgID,
		Action: "workspace.wake", TargetType: "workspace", TargetID: ws.ID, Result: store.AuditSuccess, Status: http.StatusAccepted,
		IP: c.IP, UserAgent: c.UserAgent, RequestID: c.RequestID, Detail: detail}
	if err := s.cfg.Auditor.Append(context.WithoutCancel(ctx), rec); err != nil {
		s.log.Warn("audit workspace wake", "workspace", ws.ID, "err", err)
	}
}

// powerStep takes the workspace's power lock and reads it. ok is false
// (and the lock released) when it is gone or not in status want: the
// step has nothing to do; err is then a failure to read it.
func (s *Service) powerStep(ctx context.Context, id, want string) (ws store.Workspace, unlock func(), ok bool, err error) {
	unlock = s.powerLock(id)
	ws, err = s.cfg.Store.GetWorkspace(ctx, id)
	if err != nil || ws.Status != want {
		unlock()
		if errors.Is(err, store.ErrNotFound) {
			err = nil
		}
		return ws, nil, false, err
	}
	return ws, unlock, true, nil
}

// sleep handles workspace.sleep: the control plane of a sleeping
// workspace stops, its data stays. Before, the earliest next run of its
// CronJobs is read, for the wake that runs it, and recorded with the
// time it fell asleep: a task that runs again after a crash (its control
// plane stopped, its CronJobs unreadable) keeps that plan.
func (s *Service) sleep(ctx context.Context, t store.Task, p tenancy.PowerTask) error {
	defer s.signal(p.WorkspaceID)
	ws, unlock, ok, err := s.powerStep(ctx, p.WorkspaceID, store.WorkspaceSleeping)
	if !ok {
		return err // gone, or woken meanwhile: nothing to do
	}
	defer unlock()
	if p.Auto {
		// A request may have begun since the idle check: it wins.
		if _, open := s.idle(ws.ID, s.cfg.Now()); open {
			if err := s.setStatus(ctx, ws, []string{store.WorkspaceSleeping}, store.WorkspaceRunning, ""); err != nil && !errors.Is(err, store.ErrConflict) {
				return err
			}
			return nil
		}
	}
	sleptAt, wakeAt, why := ws.SleptAt, ws.WakeAt, "planned before"
	if sleptAt == nil {
		// This sleep's plan (the record of an earlier one was cleared
		// when it woke).
		now := s.cfg.Now().UTC()
		sleptAt = &now
		wakeAt, why = s.nextWork(ctx, ws.ID, now)
		if err := s.cfg.Store.SetWorkspaceSleep(ctx, ws.ID, sleptAt, wakeAt); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return nil
			}
			return err
		}
	}
	s.cfg.Reconciler.Forget(ws.ID)
	if s.cfg.OnStop != nil {
		s.cfg.OnStop(ws.ID)
	}
	t0 := time.Now()
	if err := s.cfg.Provider.Stop(ctx, ws.ID); err != nil {
		s.log.ErrorContext(ctx, "stopping a workspace for its sleep failed", "workspace", ws.ID, "task", t.ID, "err", err)
		// The task's reason is shown to the workspace's members: the
		// stage only, the cause is in this log.
		if errors.Is(err, ErrBinaryMissing) {
			return tasks.Permanent(errors.New("stopping the control plane failed"))
		}
		return errors.New("stopping the control plane failed; retrying")
	}
	s.log.InfoContext(ctx, "workspace asleep", "workspace", ws.ID, "reason", p.Reason, "stop_s", time.Since(t0).Seconds(),
		"wake_at", wakeAt, "next_work", why)
	return nil
}

// wake handles workspace.wake: the control plane of a waking workspace
// starts again, then the workspace is running. After the last attempt
// fails it goes back to sleeping, with the reason.
func (s *Service) wake(ctx context.Context, t store.Task, p tenancy.PowerTask) error {
	defer s.signal(p.WorkspaceID)
	ws, unlock, ok, err := s.powerStep(ctx, p.WorkspaceID, store.WorkspaceWaking)
	if !ok {
		return err // gone, or no longer waking meanwhile: nothing to do
	}
	defer unlock()
	t0 := time.Now()
	cctx, cancel := context.WithTimeout(ctx, createTimeout)
	defer cancel()
	if err := s.cfg.Provider.Create(cctx, s.spec(ws)); err != nil {
		final := errors.Is(err, ErrBinaryMissing) || t.Attempts >= s.cfg.Tasks.MaxAttempts()
		s.log.ErrorContext(ctx, "waking the workspace failed", "workspace", ws.ID, "task", t.ID, "final", final, "err", err)
		if final {
			s.failWake(context.WithoutCancel(ctx), ws, publicReason(stageError{public: "waking failed", err: err}, t.ID))
			return tasks.Permanent(errors.New("starting the control plane failed"))
		}
		return errors.New("starting the control plane failed; retrying")
	}
	// Its sleep is over: its record goes, so that the next sleep is not
	// taken for finished (nor woken for this one's CronJob run) before its
	// own task records it. Cleared first: a crash in between leaves it
	// waking, which the restart finishes.
	if err := s.cfg.Store.SetWorkspaceSleep(ctx, ws.ID, nil, nil); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if err := s.setStatus(ctx, ws, []string{store.WorkspaceWaking}, store.WorkspaceRunning, ""); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return nil // deleted meanwhile; its task tears it down
		}
		return err
	}
	s.pw.mu.Lock()
	delete(s.pw.failed, ws.ID)
	s.pw.mu.Unlock()
	s.Touch(ws.ID) // the idle clock starts now
	s.wakeSeconds.Observe(time.Since(t0).Seconds())
	s.cfg.Reconciler.Trigger(ws.ID)
	s.log.InfoContext(ctx, "workspace awake", "workspace", ws.ID, "reason", p.Reason, "start_s", time.Since(t0).Seconds())
	return nil
}

// wakeCooling refuses a wake (503 with Retry-After) for wakeCooldown after
// one failed for good: a workspace that cannot start must not take a
// wake worker, shared by every tenant, on each request.
func (s *Service) wakeCooling(id string) error {
	s.pw.mu.Lock()
	f, ok := s.pw.failed[id]
	s.pw.mu.Unlock()
	if !ok {
		return nil
	}
	left := wakeCooldown - s.cfg.Now().Sub(f.at)
	if left <= 0 {
		s.pw.mu.Lock()
		if s.pw.failed[id] == f {
			delete(s.pw.failed, id)
		}
		s.pw.mu.Unlock()
		return nil
	}
	secs := strconv.Itoa(int((left + time.Second - 1) / time.Second))
	return &httpapi.Error{Status: http.StatusServiceUnavailable, Type: "workspace-waking", Title: "Service unavailable",
		Detail: "the workspace's last wake failed (" + f.reason + "); it can be woken again in " + secs + " s",
		Header: http.Header{"Retry-After": {secs}}}
}

// failWake puts a workspace whose wake failed for good back to sleep,
// with the reason, its processes stopped; the schedule tries again after
// failedWakeRetry (a request through the gateway tries at once).
func (s *Service) failWake(ctx context.Context, ws store.Workspace, reason string) {
	if err := s.cfg.Provider.Stop(ctx, ws.ID); err != nil {
		s.log.Error("stop after a failed wake", "workspace", ws.ID, "err", err)
	}
	now := s.cfg.Now().UTC()
	s.pw.mu.Lock()
	s.pw.failed[ws.ID] = failedWake{at: now, reason: reason}
	s.pw.mu.Unlock()
	retry := now.Add(failedWakeRetry)
	if err := s.cfg.Store.SetWorkspaceSleep(ctx, ws.ID, &now, &retry); err != nil && !errors.Is(err, store.ErrNotFound) {
		s.log.Error("record failed wake", "workspace", ws.ID, "err", err)
	}
	if err := s.setStatus(ctx, ws, []string{store.WorkspaceWaking}, store.WorkspaceSleeping, reason); err != nil && !errors.Is(err, store.ErrConflict) {
		s.log.Error("record failed wake", "workspace", ws.ID, "err", err)
	}
}

// nextWork is when scheduled work needs the workspace awake: the earliest
// next run of its CronJobs that are not suspended (nil when none), and
// what it is, for the log. When the CronJobs cannot be read, it wakes in
// unknownWorkWake to read them.
func (s *Service) nextWork(ctx context.Context, id string, now time.Time) (*time.Time, string) {
	next, what, err := s.earliestCronRun(ctx, id, now)
	if err != nil {
		s.log.Warn("cannot read the workspace's CronJobs before it sleeps; it wakes briefly to read them", "workspace", id, "err", err)
		at := now.Add(unknownWorkWake)
		return &at, "CronJobs unknown"
	}
	if next.IsZero() {
		return nil, ""
	}
	return &next, what
}

// earliestCronRun lists the workspace's CronJobs and returns the earliest
// next activation (zero when none), and whether a Job of one runs now.
func (s *Service) earliestCronRun(ctx context.Context, id string, now time.Time) (time.Time, string, error) {
	cfg, err := s.cfg.Provider.AdminConfig(ctx, id)
	if err != nil {
		return time.Time{}, "", err
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return time.Time{}, "", err
	}
	lctx, cancel := context.WithTimeout(ctx, cronListTimeout)
	defer cancel()
	var next time.Time
	what := ""
	cont := ""
	for {
		list, err := cs.BatchV1().CronJobs("").List(lctx, metav1.ListOptions{Limit: 500, Continue: cont})
		if err != nil {
			return time.Time{}, "", err
		}
		for _, cj := range list.Items {
			if len(cj.Status.Active) > 0 {
				return now, "CronJob " + cj.Namespace + "/" + cj.Name + " is running", nil
			}
			if cj.Spec.Suspend != nil && *cj.Spec.Suspend {
				continue
			}
			sched, err := cronexpr.Parse(cj.Spec.Schedule)
			if err != nil {
				continue // the controller does not run it either
			}
			loc := time.Local
			if cj.Spec.TimeZone != nil {
				if loc, err = cronexpr.LoadTimeZone(*cj.Spec.TimeZone); err != nil {
					continue
				}
			}
			if n := sched.Next(now.In(loc)); !n.IsZero() && (next.IsZero() || n.Before(next)) {
				next, what = n.UTC(), "CronJob "+cj.Namespace+"/"+cj.Name
			}
		}
		if cont = list.Continue; cont == "" {
			return next, what, nil
		}
	}
}

// RunPower puts idle workspaces to sleep and wakes sleeping ones for their
// scheduled work and hibernation ends, every PowerInterval until ctx ends.
func (s *Service) RunPower(ctx context.Context) error {
	t := time.NewTicker(s.cfg.PowerInterval)
	defer t.Stop()
	s.pw.mu.Lock()
	s.pw.lastTick = s.cfg.Now()
	s.pw.mu.Unlock()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		s.powerTick(ctx)
	}
}

func (s *Service) powerTick(ctx context.Context) {
	now := s.cfg.Now()
	s.pw.mu.Lock()
	last := s.pw.lastTick
	s.pw.lastTick = now
	s.pw.mu.Unlock()
	s.scheduledWakes(ctx, now)
	running, err := s.cfg.Store.ListWorkspacesByStatus(ctx, store.WorkspaceRunning)
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("list running workspaces", "err", err)
		}
		return
	}
	var wg sync.WaitGroup
	sem := make(chan struct{}, powerParallelism)
	for _, ws := range running {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			if reason := s.shouldSleep(ctx, ws, last, now); reason != "" {
				if _, err := s.pw0().RequestAutoSleep(ctx, ws, reason); err != nil && !errors.Is(err, tenancy.ErrPowerState) {
					s.log.Warn("put an idle workspace to sleep", "workspace", ws.ID, "err", err)
				}
			}
		})
	}
	wg.Wait()
	s.unstick(ctx, now)
}

// scheduledWakes wakes the sleeping workspaces whose scheduled work or
// hibernation end is due. It runs first in a tick: nothing another
// workspace does (a slow CronJob read, a long wake holding its lock) may
// delay it.
func (s *Service) scheduledWakes(ctx context.Context, now time.Time) {
	sleeping, err := s.cfg.Store.ListWorkspacesByStatus(ctx, store.WorkspaceSleeping)
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("list sleeping workspaces", "err", err)
		}
		return
	}
	for _, ws := range sleeping {
		if reason := s.shouldWake(ws, now); reason != "" {
			if _, err := s.pw0().RequestWake(ctx, ws, reason); err == nil {
				s.audit(ctx, ws, Caller{}, reason)
			} else if !errors.Is(err, tenancy.ErrPowerState) {
				s.log.Warn("wake a workspace for its schedule", "workspace", ws.ID, "err", err)
			}
		}
	}
}

// unstick gives up on wakes that went on for longer than any wake can
// (their task died without recording it): the workspace sleeps again, and
// the next request or schedule wakes it anew.
func (s *Service) unstick(ctx context.Context, now time.Time) {
	waking, err := s.cfg.Store.ListWorkspacesByStatus(ctx, store.WorkspaceWaking)
	if err != nil {
		return
	}
	for _, ws := range waking {
		if now.Sub(ws.UpdatedAt) < stuckWaking {
			continue
		}
		s.log.Warn("a wake went on too long; the workspace sleeps again", "workspace", ws.ID, "since", ws.UpdatedAt)
		// A wake that holds the lock still runs (and ends within
		// createTimeout): the next tick looks again.
		unlock, ok := s.tryPowerLock(ws.ID)
		if !ok {
			continue
		}
		if cur, err := s.cfg.Store.GetWorkspace(ctx, ws.ID); err == nil && cur.Status == store.WorkspaceWaking && now.Sub(cur.UpdatedAt) >= stuckWaking {
			s.failWake(ctx, cur, "waking did not finish; the next request wakes it again")
		}
		unlock()
		s.signal(ws.ID)
	}
}

// cronCheck is a cached read of a running workspace's CronJobs.
type cronCheck struct {
	at   time.Time
	next time.Time
	what string
}

// cronSoon reads (or reuses, for cronCheckTTL) the earliest CronJob run
// of a running workspace.
func (s *Service) cronSoon(ctx context.Context, id string, now time.Time) (time.Time, string, error) {
	s.pw.mu.Lock()
	c, ok := s.pw.cron[id]
	s.pw.mu.Unlock()
	if ok && now.Sub(c.at) < cronCheckTTL && (c.next.IsZero() || c.next.After(now)) {
		return c.next, c.what, nil
	}
	next, what, err := s.earliestCronRun(ctx, id, now)
	if err != nil {
		return next, what, err
	}
	s.pw.mu.Lock()
	s.pw.cron[id] = cronCheck{at: now, next: next, what: what}
	s.pw.mu.Unlock()
	return next, what, nil
}

// shouldSleep says why a running workspace should go to sleep now, or "".
func (s *Service) shouldSleep(ctx context.Context, ws store.Workspace, last, now time.Time) string {
	hs, err := tenancy.ParseHibernation(ws.Hibernation)
	if err != nil {
		s.log.Warn("unreadable hibernation schedules", "workspace", ws.ID, "err", err)
	}
	idleFor, open := s.idle(ws.ID, now)
	if open {
		return ""
	}
	after := tenancy.EffectiveSleepAfter(ws, s.cfg.SleepAfterDefault)
	reason := ""
	switch {
	case tenancy.StartBetween(hs, last, now):
		reason = "asleep: its hibernation schedule started"
	case tenancy.InWindow(hs, now):
		if after == 0 {
			after = windowIdle
		}
		if idleFor >= after {
			reason = "asleep: idle for " + after.String() + " inside its hibernation schedule"
		}
	case after > 0 && idleFor >= after:
		reason = "asleep: no requests for " + after.String()
	}
	if reason == "" {
		return ""
	}
	// Scheduled work that runs now or soon keeps it awake.
	next, what, err := s.cronSoon(ctx, ws.ID, now)
	if err != nil {
		return "" // try again at the next tick
	}
	if !next.IsZero() && next.Sub(now) < s.cfg.WakeLead+15*time.Second {
		s.log.Debug("workspace stays awake for scheduled work", "workspace", ws.ID, "work", what, "at", next)
		return ""
	}
	return reason
}

// shouldWake says why a sleeping workspace should wake now, or "".
func (s *Service) shouldWake(ws store.Workspace, now time.Time) string {
	if ws.SleptAt == nil {
		return "" // its sleep task has not recorded its plan yet
	}
	if ws.WakeAt != nil && !now.Before(ws.WakeAt.Add(-s.cfg.WakeLead)) {
		// Not the time: the reason is shown to every member, the CronJobs'
		// schedule (wake_at) only to workspace admins.
		return "woken for scheduled work"
	}
	hs, err := tenancy.ParseHibernation(ws.Hibernation)
	if err != nil || len(hs) == 0 {
		return ""
	}
	if tenancy.EndBetween(hs, *ws.SleptAt, now) && !tenancy.InWindow(hs, now) {
		return "woken: its hibernation schedule ended"
	}
	return ""
}

// planUnplannedSleep records a plan for a sleeping workspace that has none
// (hks died between its status change and its sleep task): without one
// no schedule would wake it. It wakes after unknownWorkWake to read its
// CronJobs, and sleeps again when idle.
func (s *Service) planUnplannedSleep(ctx context.Context, ws store.Workspace) {
	if ws.SleptAt != nil {
		return
	}
	now := s.cfg.Now().UTC()
	at := now.Add(unknownWorkWake)
	if err := s.cfg.Store.SetWorkspaceSleep(ctx, ws.ID, &now, &at); err != nil && !errors.Is(err, store.ErrNotFound) {
		s.log.Error("record the plan of a sleeping workspace", "workspace", ws.ID, "err", err)
	}
}
