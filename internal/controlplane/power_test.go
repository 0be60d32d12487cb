package controlplane

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/client-go/rest"

	"github.com/hexabase/hexabase-ai/internal/httpapi"
	"github.com/hexabase/hexabase-ai/internal/messaging"
	"github.com/hexabase/hexabase-ai/internal/messaging/messagingtest"
	"github.com/hexabase/hexabase-ai/internal/store"
	"github.com/hexabase/hexabase-ai/internal/store/sqlstore"
	"github.com/hexabase/hexabase-ai/internal/tasks"
	"github.com/hexabase/hexabase-ai/internal/tenancy"
)

// powerProvider is a control plane that starts and stops at once; while
// it runs, its API server (an httptest server) lists one CronJob that
// runs every day at 03:00 UTC.
type powerProvider struct {
	Provider
	api     *httptest.Server
	mu      sync.Mutex
	running bool
	stops   int
	listed  []string // what List returns
}

func (p *powerProvider) List(context.Context) ([]string, error) { return p.listed, nil }

func (p *powerProvider) Create(context.Context, Spec) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.running = true
	return nil
}

func (p *powerProvider) Stop(context.Context, string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.running, p.stops = false, p.stops+1
	return nil
}

func (p *powerProvider) AdminConfig(context.Context, string) (*rest.Config, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.running {
		return nil, ErrNotFound
	}
	return &rest.Config{Host: p.api.URL}, nil
}

type noEvents struct{}

func (noEvents) Notify(context.Context, string, string, string, any) {}

// powerWorld is a Service on a real store with one workspace whose
// control plane runs, at a fixed time (Tuesday 10:00 UTC).
func newPowerTest(t *testing.T) (*Service, *powerProvider, store.Store, store.Workspace, time.Time) {
	t.Helper()
	ctx := t.Context()
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/apis/batch/v1/cronjobs" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"kind":"CronJobList","apiVersion":"batch/v1","metadata":{},"items":[{"metadata":{"name":"nightly","namespace":"jobs"},` +
			`"spec":{"schedule":"0 3 * * *","timeZone":"UTC","jobTemplate":{"spec":{"template":{"spec":{"containers":[]}}}}}}]}`))
	}))
	t.Cleanup(api.Close)
	log := slog.New(slog.NewTextHandler(t.Output(), nil))
	st, err := sqlstore.Open(ctx, filepath.Join(t.TempDir(), "hks.db"), log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	now := time.Date(2026, 12, 8, 10, 0, 0, 0, time.UTC)
	u := store.User{ID: store.NewID(), Email: "owner@example.com", CreatedAt: now, UpdatedAt: now}
	org := store.Organization{ID: store.NewID(), Name: "Org", Slug: "org", CreatedAt: now, UpdatedAt: now}
	ws := store.Workspace{ID: store.NewID(), OrgID: org.ID, Name: "ws", Plan: store.PlanShared, Status: store.WorkspaceRunning,
		CreatedBy: u.ID, CreatedAt: now, UpdatedAt: now, SleepAfter: store.SleepAfterDefault}
	for _, err := range []error{st.CreateUser(ctx, u),
		st.CreateOrganization(ctx, org, store.OrgMember{OrgID: org.ID, UserID: u.ID, Role: store.RoleOwner, CreatedAt: now}),
		st.CreateWorkspace(ctx, ws)} {
		if err != nil {
			t.Fatal(err)
		}
	}
	p := &powerProvider{api: api, running: true}
	r, err := NewReconciler(ReconcilerConfig{Store: st, Provider: p, Logger: log, Resync: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	s := &Service{cfg: ServiceConfig{Provider: p, Reconciler: r, Store: st, Events: noEvents{}, Logger: log,
		Now: func() time.Time { return now }, WakeLead: DefaultWakeLead},
		log: log, started: map[string]time.Time{}, wakeSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "wake"}),
		pw: power{act: map[string]*activity{}, changed: map[string]chan struct{}{}, locks: map[string]*sync.Mutex{}, failed: map[string]failedWake{}}}
	return s, p, st, ws, now
}

func setStatus(t *testing.T, st store.Store, ws store.Workspace, from, to string, now time.Time) store.Workspace {
	t.Helper()
	if err := st.SetWorkspaceStatus(t.Context(), ws.ID, []string{from}, to, "test", now); err != nil {
		t.Fatal(err)
	}
	ws, err := st.GetWorkspace(t.Context(), ws.ID)
	if err != nil {
		t.Fatal(err)
	}
	return ws
}

// TestTheNextSleepIsNotWokenForTheLastOnesRun: a workspace woken for its
// CronJob's run, put to sleep again, is not woken at once for that past
// run while its new sleep task has not recorded the next one (it was:
// every automatic sleep after the first turned straight into a wake, so
// the workspace never slept again).
func TestTheNextSleepIsNotWokenForTheLastOnesRun(t *testing.T) {
	s, _, st, ws, now := newPowerTest(t)
	ctx := t.Context()
	ws = setStatus(t, st, ws, store.WorkspaceRunning, store.WorkspaceSleeping, now)
	if err := s.sleep(ctx, store.Task{ID: "t1", Attempts: 1}, tenancy.PowerTask{WorkspaceID: ws.ID}); err != nil {
		t.Fatal(err)
	}
	ws, _ = st.GetWorkspace(ctx, ws.ID)
	if ws.SleptAt == nil || ws.WakeAt == nil || !ws.WakeAt.Equal(time.Date(2026, 12, 9, 3, 0, 0, 0, time.UTC)) {
		t.Fatalf("asleep: slept_at %v wake_at %v, want the CronJob's next run", ws.SleptAt, ws.WakeAt)
	}
	later := ws.WakeAt.Add(-s.cfg.WakeLead)
	if why := s.shouldWake(ws, later); why == "" {
		t.Fatal("not woken for its CronJob's run")
	} else if strings.Contains(why, "03:00") {
		// The reason goes to every member; the schedule only to admins.
		t.Fatalf("the wake reason %q shows the CronJob's time", why)
	}
	ws = setStatus(t, st, ws, store.WorkspaceSleeping, store.WorkspaceWaking, later)
	if err := s.wake(ctx, store.Task{ID: "t2", Attempts: 1}, tenancy.PowerTask{WorkspaceID: ws.ID}); err != nil {
		t.Fatal(err)
	}
	// Idle again after the run: put to sleep; its task has not run yet.
	ws = setStatus(t, st, ws, store.WorkspaceRunning, store.WorkspaceSleeping, later.Add(time.Minute))
	if why := s.shouldWake(ws, later.Add(time.Minute)); why != "" {
		t.Fatalf("a workspace put to sleep again is woken before its sleep task ran: %q (slept_at %v wake_at %v)", why, ws.SleptAt, ws.WakeAt)
	}
}

// TestSleepRedeliveredAfterACrashKeepsItsPlan: a workspace.sleep task
// that runs again after hks died in the middle of it (its control plane
// stopped meanwhile, so its CronJobs cannot be read) keeps the wake it
// planned before the crash, instead of waking the workspace a minute
// later to read them (which kept it awake for its sleep_after).
func TestSleepRedeliveredAfterACrashKeepsItsPlan(t *testing.T) {
	s, p, st, ws, now := newPowerTest(t)
	ctx := t.Context()
	ws = setStatus(t, st, ws, store.WorkspaceRunning, store.WorkspaceSleeping, now)
	// The first attempt recorded its plan and stopped the control plane
	// when hks died; the restart stopped what was left (Adopt).
	s.cfg.Provider = &crashingStop{powerProvider: p}
	if err := s.sleep(ctx, store.Task{ID: "t1", Attempts: 1}, tenancy.PowerTask{WorkspaceID: ws.ID}); err == nil {
		t.Fatal("the crashing stop did not fail the task")
	}
	s.cfg.Provider = p
	if err := p.Stop(ctx, ws.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.sleep(ctx, store.Task{ID: "t1", Attempts: 2}, tenancy.PowerTask{WorkspaceID: ws.ID}); err != nil {
		t.Fatal(err)
	}
	ws, _ = st.GetWorkspace(ctx, ws.ID)
	if want := time.Date(2026, 12, 9, 3, 0, 0, 0, time.UTC); ws.SleptAt == nil || ws.WakeAt == nil || !ws.WakeAt.Equal(want) {
		t.Fatalf("after the redelivery: slept_at %v wake_at %v, want the CronJob's run at %v", ws.SleptAt, ws.WakeAt, want)
	}
	if why := s.shouldWake(ws, now.Add(10*time.Minute)); why != "" {
		t.Fatalf("woken 10 minutes after the crash: %q", why)
	}
}

// crashingStop is a provider whose Stop dies halfway: the processes end,
// the call fails (as hks killed in the middle of it would never return).
type crashingStop struct{ *powerProvider }

func (c *crashingStop) Stop(ctx context.Context, id string) error {
	_ = c.powerProvider.Stop(ctx, id)
	return context.Canceled
}

// TestShouldWake: a sleeping workspace wakes WakeLead before its next
// CronJob run, and at the end of a hibernation window that began after
// it fell asleep; never while its sleep task has not finished.
func TestShouldWake(t *testing.T) {
	s := &Service{cfg: ServiceConfig{WakeLead: 20 * time.Second}}
	t0 := time.Date(2026, 12, 7, 18, 0, 0, 0, time.UTC) // a Monday
	at := func(d time.Duration) *time.Time { v := t0.Add(d); return &v }
	window := `[{"start":"0 19 * * *","end":"0 7 * * *"}]`
	for _, tc := range []struct {
		name string
		ws   store.Workspace
		now  time.Time
		wake bool
	}{
		{"sleep task not done", store.Workspace{WakeAt: at(time.Minute)}, t0.Add(time.Minute), false},
		{"cron run far away", store.Workspace{SleptAt: at(0), WakeAt: at(time.Minute)}, t0, false},
		{"cron run within the lead", store.Workspace{SleptAt: at(0), WakeAt: at(time.Minute)}, t0.Add(41 * time.Second), true},
		{"cron run passed", store.Workspace{SleptAt: at(0), WakeAt: at(time.Minute)}, t0.Add(time.Hour), true},
		{"no work", store.Workspace{SleptAt: at(0)}, t0.Add(time.Hour), false},
		{"inside the window", store.Workspace{SleptAt: at(time.Hour), Hibernation: window}, t0.Add(5 * time.Hour), false},
		{"window ended", store.Workspace{SleptAt: at(time.Hour), Hibernation: window}, t0.Add(13*time.Hour + time.Second), true},
		{"slept after the window ended", store.Workspace{SleptAt: at(14 * time.Hour), Hibernation: window}, t0.Add(15 * time.Hour), false},
	} {
		if got := s.shouldWake(tc.ws, tc.now) != ""; got != tc.wake {
			t.Errorf("%s: wake %v, want %v", tc.name, got, tc.wake)
		}
	}
}

// withTasks gives s a real task queue (embedded NATS), so that wakes can be
// requested; nothing runs its tasks.
func withTasks(t *testing.T, s *Service) {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	nc := messagingtest.Start(t, messaging.EmbeddedConfig{StoreDir: filepath.Join(t.TempDir(), "nats"), Logger: log})
	q, err := tasks.New(t.Context(), tasks.Config{JS: nc.JetStream(), Store: s.cfg.Store, Events: noEvents{}, Logger: log, Now: time.Now})
	if err != nil {
		t.Fatal(err)
	}
	s.cfg.Tasks = q
}

// failingCreate is a control plane that cannot start.
type failingCreate struct{ *powerProvider }

func (failingCreate) Create(context.Context, Spec) error { return ErrBinaryMissing }

// TestAFailedWakeCoolsDown: after a wake failed for good, requests through
// the gateway get 503 with Retry-After for wakeCooldown instead of
// starting another wake each (every one took a wake worker, shared by
// all tenants, for up to its eight attempts); after the cooldown one
// wakes it again.
func TestAFailedWakeCoolsDown(t *testing.T) {
	s, p, st, ws, now := newPowerTest(t)
	withTasks(t, s)
	ctx := t.Context()
	s.cfg.Provider = failingCreate{p}
	ws = setStatus(t, st, ws, store.WorkspaceRunning, store.WorkspaceWaking, now)
	if err := s.wake(ctx, store.Task{ID: "t1", Attempts: 1}, tenancy.PowerTask{WorkspaceID: ws.ID}); !tasks.IsPermanent(err) {
		t.Fatalf("wake with a missing binary: %v, want a permanent failure", err)
	}
	if cur, _ := st.GetWorkspace(ctx, ws.ID); cur.Status != store.WorkspaceSleeping {
		t.Fatalf("after the failed wake: %s, want sleeping", cur.Status)
	}
	err := s.EnsureAwake(ctx, ws.ID, Caller{Email: "dev@example.com"})
	var he *httpapi.Error
	if !errors.As(err, &he) || he.Status != http.StatusServiceUnavailable || he.Header.Get("Retry-After") != "60" ||
		!strings.Contains(he.Detail, "last wake failed") {
		t.Fatalf("a request right after the failed wake: %v, want 503 with Retry-After 60", err)
	}
	if cur, _ := st.GetWorkspace(ctx, ws.ID); cur.Status != store.WorkspaceSleeping {
		t.Fatalf("the refused request started a wake: %s", cur.Status)
	}
	now = now.Add(wakeCooldown)
	s.cfg.Now = func() time.Time { return now }
	wctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	_ = s.EnsureAwake(wctx, ws.ID, Caller{Email: "dev@example.com"}) // held, then its deadline
	if cur, _ := st.GetWorkspace(ctx, ws.ID); cur.Status != store.WorkspaceWaking {
		t.Fatalf("a request after the cooldown: %s, want waking", cur.Status)
	}
}

// TestAHeldLockDoesNotDelayScheduledWakes: a wake that holds its
// workspace's lock (it can for minutes) keeps neither the power loop nor
// another workspace's scheduled wake waiting (unstick waited for the lock,
// and the scheduled wakes came after it).
func TestAHeldLockDoesNotDelayScheduledWakes(t *testing.T) {
	s, _, st, stuck, now := newPowerTest(t)
	withTasks(t, s)
	ctx := t.Context()
	stuck = setStatus(t, st, stuck, store.WorkspaceRunning, store.WorkspaceWaking, now.Add(-2*stuckWaking))
	due := store.Workspace{ID: store.NewID(), OrgID: stuck.OrgID, Name: "due", Plan: store.PlanShared, Status: store.WorkspaceSleeping,
		CreatedBy: stuck.CreatedBy, CreatedAt: now, UpdatedAt: now, SleepAfter: store.SleepAfterDefault}
	if err := st.CreateWorkspace(ctx, due); err != nil {
		t.Fatal(err)
	}
	slept, wakeAt := now.Add(-time.Hour), now.Add(time.Second)
	if err := st.SetWorkspaceSleep(ctx, due.ID, &slept, &wakeAt); err != nil {
		t.Fatal(err)
	}
	unlock := s.powerLock(stuck.ID) // its wake still runs
	defer unlock()
	done := make(chan struct{})
	go func() { s.powerTick(ctx); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the power tick waited for a lock held by a running wake")
	}
	if cur, _ := st.GetWorkspace(ctx, due.ID); cur.Status != store.WorkspaceWaking {
		t.Fatalf("the due workspace: %s, want waking", cur.Status)
	}
	if cur, _ := st.GetWorkspace(ctx, stuck.ID); cur.Status != store.WorkspaceWaking {
		t.Fatalf("the workspace whose wake holds the lock: %s, want still waking", cur.Status)
	}
}

// TestAdoptPlansAnUnplannedSleep: hks died after a workspace's status
// became sleeping and before its sleep task recorded a plan; the restart
// records one (wake in unknownWorkWake to read its CronJobs), or no
// schedule would ever wake it.
func TestAdoptPlansAnUnplannedSleep(t *testing.T) {
	s, p, st, ws, now := newPowerTest(t)
	ctx := t.Context()
	p.listed = []string{ws.ID}
	ws = setStatus(t, st, ws, store.WorkspaceRunning, store.WorkspaceSleeping, now)
	if err := s.Adopt(ctx); err != nil {
		t.Fatal(err)
	}
	ws, _ = st.GetWorkspace(ctx, ws.ID)
	if ws.SleptAt == nil || ws.WakeAt == nil || !ws.WakeAt.Equal(now.Add(unknownWorkWake)) {
		t.Fatalf("after the restart: slept_at %v wake_at %v, want a wake in %s", ws.SleptAt, ws.WakeAt, unknownWorkWake)
	}
	if p.running {
		t.Fatal("the sleeping workspace runs after the restart")
	}
}

// TestProvisionRedeliveredToASleepingWorkspace: a provision task
// redelivered after the workspace was put to sleep starts nothing.
func TestProvisionRedeliveredToASleepingWorkspace(t *testing.T) {
	s, p, st, ws, now := newPowerTest(t)
	ws = setStatus(t, st, ws, store.WorkspaceRunning, store.WorkspaceSleeping, now)
	if err := p.Stop(t.Context(), ws.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.provision(t.Context(), store.Task{ID: "t1", Attempts: 2}, tenancy.WorkspaceTask{WorkspaceID: ws.ID}); err != nil {
		t.Fatal(err)
	}
	if p.running {
		t.Fatal("a redelivered provision task started a sleeping workspace")
	}
}

// TestEnsureAwakeOfAWorkspaceDeletedMeanwhile: 404, not a 500.
func TestEnsureAwakeOfAWorkspaceDeletedMeanwhile(t *testing.T) {
	s, _, _, _, _ := newPowerTest(t)
	var he *httpapi.Error
	if err := s.EnsureAwake(t.Context(), store.NewID(), Caller{}); !errors.As(err, &he) || he.Status != http.StatusNotFound {
		t.Fatalf("EnsureAwake of a workspace that is gone: %v, want 404", err)
	}
}
