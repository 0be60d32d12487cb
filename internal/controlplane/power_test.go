package controlplane

import (
	"testing"
	"time"

	"github.com/hexabase/hexabase-ai/internal/store"
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
