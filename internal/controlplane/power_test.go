package controlplane

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/client-go/rest"

	"github.com/hexabase/hexabase-ai/internal/store"
	"github.com/hexabase/hexabase-ai/internal/store/sqlstore"
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
}

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
		pw: power{act: map[string]*activity{}, changed: map[string]chan struct{}{}, locks: map[string]*sync.Mutex{}}}
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
