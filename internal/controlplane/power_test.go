package controlplane

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"k8s.io/client-go/rest"

	"github.com/hexabase/hexabase-ai/internal/messaging"
	"github.com/hexabase/hexabase-ai/internal/messaging/messagingtest"
	"github.com/hexabase/hexabase-ai/internal/store"
	"github.com/hexabase/hexabase-ai/internal/store/sqlstore"
	"github.com/hexabase/hexabase-ai/internal/tasks"
	"github.com/hexabase/hexabase-ai/internal/tenancy"
)

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

// providerDouble is a test double of a Provider whose control planes
// start and stop at once; its AdminConfig points at an API server double
// that has no CronJobs.
type providerDouble struct {
	Provider
	url string
}

func (providerDouble) Create(context.Context, Spec) error { return nil }
func (providerDouble) Stop(context.Context, string) error { return nil }
func (p providerDouble) AdminConfig(context.Context, string) (*rest.Config, error) {
	return &rest.Config{Host: p.url}, nil
}

type notifyNothing struct{}

func (notifyNothing) Notify(context.Context, string, string, string, any) {}

// powerHarness is a Service over a real SQLite store and task queue with
// providerDouble, and one organization.
func powerHarness(t *testing.T) (*Service, store.Store, store.Organization) {
	t.Helper()
	ctx := t.Context()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	dir := t.TempDir()
	st, err := sqlstore.Open(ctx, filepath.Join(dir, "hks.db"), log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	nc := messagingtest.Start(t, messaging.EmbeddedConfig{StoreDir: filepath.Join(dir, "nats"), Logger: log})
	q, err := tasks.New(ctx, tasks.Config{JS: nc.JetStream(), Store: st, Events: notifyNothing{}, Logger: log, Now: time.Now})
	if err != nil {
		t.Fatal(err)
	}
	apiDouble := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"kind":"CronJobList","apiVersion":"batch/v1","metadata":{},"items":[]}`)
	}))
	t.Cleanup(apiDouble.Close)
	prov := providerDouble{url: apiDouble.URL}
	rec, err := NewReconciler(ReconcilerConfig{Store: st, Provider: prov, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewService(ServiceConfig{Provider: prov, Reconciler: rec, Store: st, Tasks: q, Events: notifyNothing{}, Logger: log, Now: time.Now})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	u := store.User{ID: store.NewID(), Email: "owner@example.com", PasswordHash: "x", CreatedAt: now, UpdatedAt: now}
	o := store.Organization{ID: store.NewID(), Name: "Acme", Slug: "acme", CreatedAt: now, UpdatedAt: now, Version: 1}
	if err := st.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateOrganization(ctx, o, store.OrgMember{OrgID: o.ID, UserID: u.ID, Role: store.RoleOwner, CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	return s, st, o
}

// TestWokenForACronJobSleepsAgain: a workspace woken for a CronJob run
// (its wake_at then in the past) goes back to sleep once idle and stays
// asleep: the wake cleared what the last sleep recorded. (Before, the
// past wake_at woke it again in the very tick that put it to sleep.)
func TestWokenForACronJobSleepsAgain(t *testing.T) {
	s, st, o := powerHarness(t)
	ctx := t.Context()
	now := time.Now().UTC().Truncate(time.Microsecond)
	ws := store.Workspace{ID: store.NewID(), OrgID: o.ID, Name: "w", Plan: store.PlanShared, Status: store.WorkspaceWaking,
		CreatedAt: now, UpdatedAt: now, Version: 1, SleepAfter: 10}
	if err := st.CreateWorkspace(ctx, ws); err != nil {
		t.Fatal(err)
	}
	slept, due := now.Add(-2*time.Minute), now.Add(-10*time.Second)
	if err := st.SetWorkspaceSleep(ctx, ws.ID, &slept, &due); err != nil {
		t.Fatal(err)
	}
	if err := s.wake(ctx, store.Task{ID: "t1", Attempts: 1}, tenancy.PowerTask{WorkspaceID: ws.ID}); err != nil {
		t.Fatal(err)
	}
	got, _ := st.GetWorkspace(ctx, ws.ID)
	if got.Status != store.WorkspaceRunning || got.SleptAt != nil || got.WakeAt != nil {
		t.Fatalf("after the wake: %s slept_at %v wake_at %v", got.Status, got.SleptAt, got.WakeAt)
	}
	// Idle for longer than its sleep_after (10 s).
	s.pw.mu.Lock()
	s.pw.act[ws.ID].last = time.Now().Add(-time.Minute)
	s.pw.lastTick = time.Now().Add(-5 * time.Second)
	s.pw.mu.Unlock()
	s.powerTick(ctx)
	s.powerTick(ctx)
	got, _ = st.GetWorkspace(ctx, ws.ID)
	if got.Status != store.WorkspaceSleeping {
		t.Fatalf("idle after a CronJob wake: %s (%s), want sleeping", got.Status, got.StatusReason)
	}
}
