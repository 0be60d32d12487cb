package e2e

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"sort"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestCrashRedeliversTasks is the acceptance test of the durable task
// queue: killing `hks server` with SIGKILL while workspace.delete tasks are
// queued and starting it again on the same data dir finishes every one of
// them, and nothing acknowledged before the kill is lost or redone.
func TestCrashRedeliversTasks(t *testing.T) {
	needBinary(t)
	t.Parallel()
	const n = 30
	dataDir := filepath.Join(t.TempDir(), "data")
	// No control planes: the provisioning tasks must stay queued.
	s := startServer(t, dataDir, "127.0.0.1:0", []string{noControlPlanes})
	a := setupAdmin(t, s, "admin@example.com", "correct-horse-battery")

	var org struct {
		ID string `json:"id"`
	}
	a.must("POST", "/api/v1/organizations", map[string]string{"name": "Crash Test"}, http.StatusCreated, &org)
	orgPath := "/api/v1/organizations/" + org.ID
	type workspace struct {
		ID     string `json:"id"`
		Status string `json:"status"`
		TaskID string `json:"task_id"`
	}
	wss := make([]workspace, n)
	provision := make([]string, n)
	for i := range wss {
		a.must("POST", orgPath+"/workspaces", map[string]string{"name": fmt.Sprintf("ws-%02d", i)}, http.StatusAccepted, &wss[i])
		if wss[i].TaskID == "" {
			t.Fatalf("workspace %s: no provisioning task id", wss[i].ID)
		}
		provision[i] = wss[i].TaskID
	}

	// Delete them all at once, then kill the server as soon as the last
	// DELETE has answered: the queue is still busy with most of them.
	deletes := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range wss {
		wg.Go(func() {
			code, b, err := a.call("DELETE", orgPath+"/workspaces/"+wss[i].ID, nil)
			var w workspace
			switch {
			case err != nil:
				errs[i] = err
			case code != http.StatusAccepted:
				errs[i] = fmt.Errorf("status %d: %s", code, b)
			case json.Unmarshal(b, &w) != nil || w.TaskID == "" || w.Status != "deleting":
				errs[i] = fmt.Errorf("answer without a task id or status deleting: %s", b)
			}
			deletes[i] = w.TaskID
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("delete workspaces: %v", err)
	}
	// The tasks acknowledged as done before the kill: their row says so.
	before, err := a.listTasks(org.ID)
	s.Signal(syscall.SIGKILL)
	if err != nil {
		t.Fatalf("tasks before the kill: %v", err)
	}
	var exitErr *exec.ExitError
	if err := s.Wait(30 * time.Second); !errors.As(err, &exitErr) || exitErr.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("hks server did not die of SIGKILL: %v", err)
	}
	acked := map[string]task{}
	counts := map[string]int{}
	for _, id := range deletes {
		tk, ok := before[id]
		if !ok {
			t.Fatalf("delete task %s not listed before the kill", id)
		}
		counts[tk.Status]++
		if tk.Status == "succeeded" {
			if tk.FinishedAt == nil {
				t.Fatalf("succeeded task %s has no finished_at", id)
			}
			acked[id] = tk
		}
	}
	t.Logf("delete tasks at the kill: %v", counts)
	if len(acked) == n {
		t.Log("every delete task had finished before the kill: redelivery was not exercised this time")
	}

	// Start again on the same data dir and port: the same issuer, so the
	// access token still works.
	s2 := startServer(t, dataDir, "127.0.0.1:"+s.Port(), []string{noControlPlanes})
	if s2.SetupToken != "" {
		t.Fatal("the restarted server printed a setup token again")
	}
	var after map[string]task
	// In-flight deliveries come back after the queue's 30s AckWait.
	eventually(t, 90*time.Second, func() (bool, string) {
		after, err = a.listTasks(org.ID)
		if err != nil {
			return false, err.Error()
		}
		var pending []string
		for _, id := range deletes {
			tk, ok := after[id]
			switch {
			case !ok:
				t.Fatalf("delete task %s lost in the crash", id)
			case tk.Status == "failed":
				t.Fatalf("delete task %s failed: %s", id, tk.Reason)
			case tk.Status != "succeeded":
				pending = append(pending, id+" "+tk.Status)
			}
		}
		sort.Strings(pending)
		return len(pending) == 0, fmt.Sprintf("%d delete tasks unfinished: %v", len(pending), pending)
	})

	for id, was := range acked {
		now := after[id]
		if !now.FinishedAt.Equal(*was.FinishedAt) || now.Attempts != was.Attempts {
			t.Errorf("task %s acknowledged before the kill ran again: finished_at %v attempts %d, was %v and %d",
				id, now.FinishedAt, now.Attempts, was.FinishedAt, was.Attempts)
		}
	}
	rerun := 0
	for _, id := range deletes {
		tk := after[id]
		if tk.Kind != "workspace.delete" || tk.FinishedAt == nil || tk.Attempts < 1 {
			t.Errorf("delete task %s: %+v", id, tk)
		}
		if tk.Attempts > 1 {
			rerun++
			t.Logf("task %s ran %d times; before the kill: %+v", id, tk.Attempts, before[id])
		}
	}
	t.Logf("%d of %d delete tasks finished after the restart, %d of them ran again", n-len(acked), n, rerun)
	for _, ws := range wss {
		if code, b, err := a.call("GET", orgPath+"/workspaces/"+ws.ID, nil); err != nil || code != http.StatusNotFound {
			t.Errorf("GET workspace %s after its deletion: %d %s %v", ws.ID, code, b, err)
		}
	}
	var list struct {
		Items []workspace `json:"items"`
	}
	a.must("GET", orgPath+"/workspaces", nil, http.StatusOK, &list)
	if len(list.Items) != 0 {
		t.Errorf("workspaces left: %+v", list.Items)
	}
	// workspace.provision has no handler yet: its tasks wait, not lost.
	for _, id := range provision {
		var tk task
		a.must("GET", orgPath+"/tasks/"+id, nil, http.StatusOK, &tk)
		if tk.Kind != "workspace.provision" || tk.Status != "queued" || tk.Attempts != 0 || tk.FinishedAt != nil {
			t.Errorf("provision task after the restart: %+v", tk)
		}
	}
}
