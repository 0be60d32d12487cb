package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestCronJobRunsThroughSleep (issue 12, point 2): a CronJob that runs
// every minute in a workspace with a sleep_after of 20 s runs every minute
// for 5 minutes, while the workspace sleeps in between: nothing goes
// through the gateway meanwhile, the platform wakes it for each run. The
// runs are counted in the platform's history (the Job names carry their
// scheduled minute), the sleeps by polling the workspace's status.
func TestCronJobRunsThroughSleep(t *testing.T) {
	needBinary(t)
	dataDir := filepath.Join(t.TempDir(), "data")
	s := startServer(t, dataDir, "127.0.0.1:0", nil, "--log-level", "debug")
	admin := setupAdmin(t, s, "admin@example.com", "correct-horse-battery")
	orgPath := admin.createOrg("Acme")
	var ws wsOut
	admin.must("POST", orgPath+"/workspaces", map[string]string{"name": "cron"}, http.StatusAccepted, &ws)
	wsPath := orgPath + "/workspaces/" + ws.ID
	waitStatus(t, admin, wsPath, "running", 3*time.Minute)
	admin.createProject(wsPath, map[string]any{"name": "jobs"})
	var upd struct {
		SleepAfter string `json:"sleep_after"`
	}
	admin.must("PATCH", wsPath, map[string]string{"sleep_after": "20s"}, http.StatusOK, &upd)
	if upd.SleepAfter != "20s" {
		t.Fatalf("sleep_after after the update: %q", upd.SleepAfter)
	}
	cjs := wsPath + "/projects/jobs/cronjobs"
	// The reconciler makes the project's namespace within seconds.
	eventually(t, time.Minute, func() (bool, string) {
		code, b, err := admin.call("POST", cjs, map[string]any{"name": "tick", "schedule": "* * * * *",
			"template": map[string]any{"image": "busybox:1.37", "command": []string{"sh", "-c", "date"}, "restart_policy": "Never"}})
		return err == nil && code == http.StatusCreated, fmt.Sprintf("create the CronJob: %d %s %v", code, b, err)
	})

	// Observe for 5 minutes and a half, by the platform's API only (it
	// does not count as use of the workspace): a status poll a second.
	const observe = 5*time.Minute + 30*time.Second
	start := time.Now()
	type change struct {
		at     time.Time
		status string
	}
	var changes []change
	last := ""
	for time.Since(start) < observe {
		code, b, err := admin.call("GET", wsPath, nil)
		if err != nil || code != http.StatusOK {
			t.Fatalf("GET the workspace: %d %s %v", code, b, err)
		}
		var w wsOut
		if err := json.Unmarshal(b, &w); err != nil {
			t.Fatal(err)
		}
		if w.Status != last {
			changes = append(changes, change{time.Now(), w.Status})
			last = w.Status
		}
		time.Sleep(time.Second) // the poll's period, not a synchronization
	}
	end := time.Now()
	sleeps := 0
	var log []string
	var wakes []string
	for i, c := range changes {
		log = append(log, fmt.Sprintf("%s %s", c.at.Format("15:04:05"), c.status))
		if c.status == "sleeping" {
			sleeps++
		}
		if c.status == "running" && i > 0 && changes[i-1].status == "waking" {
			wakes = append(wakes, fmt.Sprintf("%.0fs", c.at.Sub(changes[i-1].at).Seconds()))
		}
	}
	t.Logf("status changes: %s", strings.Join(log, ", "))
	t.Logf("wakes (waking to running as polled): %v", wakes)

	// The runs, from the platform's history (this request wakes it).
	var hist struct {
		Items []struct {
			runOut
			Message string `json:"message"`
		} `json:"items"`
	}
	admin.must("GET", cjs+"/tick/history?limit=100", nil, http.StatusOK, &hist)
	var minutes []int64 // the scheduled minutes of the runs inside the observation
	var runs []string
	for _, r := range hist.Items {
		i := strings.LastIndexByte(r.Job, '-')
		m, err := strconv.ParseInt(r.Job[i+1:], 10, 64)
		if r.Trigger != "schedule" || i < 0 || err != nil {
			t.Errorf("a run that is not the CronJob's scheduled one: %+v", r)
			continue
		}
		at := time.Unix(m*60, 0)
		runs = append(runs, fmt.Sprintf("%s %s", at.Format("15:04"), r.Status))
		if at.Before(start) || at.After(end) {
			continue
		}
		// The run of the observation's last minute may still run.
		if r.Status != "succeeded" && end.Sub(at) > 45*time.Second {
			t.Errorf("run %s (scheduled %s): %s %s", r.Job, at.Format("15:04:05"), r.Status, r.Message)
		}
		minutes = append(minutes, m)
	}
	slices.Sort(minutes)
	t.Logf("runs: %v", runs)
	first, lastMin := start.Unix()/60+1, end.Unix()/60
	for m := first; m <= lastMin; m++ {
		if !slices.Contains(minutes, m) {
			t.Errorf("no run scheduled at %s (observed %s to %s)", time.Unix(m*60, 0).Format("15:04"),
				start.Format("15:04:05"), end.Format("15:04:05"))
		}
	}
	if len(minutes) < 5 {
		t.Errorf("%d runs during the observation, want at least 5", len(minutes))
	}
	if sleeps < 4 {
		t.Errorf("the workspace slept %d times during the observation, want at least 4", sleeps)
	}
	if t.Failed() {
		t.Logf("server log:\n%s", tail(grepLines(s.Logs(), "workspace asleep", "workspace awake", "stays awake", "woken", "error", "warn"), 80))
	}
}

// grepLines are the lines of s that contain one of words.
func grepLines(s string, words ...string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		for _, w := range words {
			if strings.Contains(l, w) {
				out = append(out, l)
				break
			}
		}
	}
	return strings.Join(out, "\n")
}
