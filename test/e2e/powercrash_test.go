package e2e

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// powerWorld is a server with one running workspace and a kubectl that
// reaches it through the gateway as its admin.
type powerWorld struct {
	t            *testing.T
	s            *hksServer
	admin        *apiClient
	dataDir      string
	orgPath      string
	wsID, wsPath string
	kubectl      func(args ...string) (string, error)
}

func newPowerWorld(t *testing.T) *powerWorld {
	t.Helper()
	needBinary(t)
	kubectl := needKubectl(t)
	w := &powerWorld{t: t, dataDir: filepath.Join(t.TempDir(), "data")}
	w.s = startServer(t, w.dataDir, "127.0.0.1:0", nil)
	w.admin = setupAdmin(t, w.s, "admin@example.com", "correct-horse-battery")
	w.orgPath = w.admin.createOrg("Acme")
	var ws wsOut
	w.admin.must("POST", w.orgPath+"/workspaces", map[string]string{"name": "prod"}, http.StatusAccepted, &ws)
	w.wsID, w.wsPath = ws.ID, w.orgPath+"/workspaces/"+ws.ID
	waitStatus(t, w.admin, w.wsPath, "running", 3*time.Minute)
	kc, env := gatewayKubeconfig(t, w.s, w.admin, w.orgPath, ws.ID)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
	t.Cleanup(cancel)
	w.kubectl = func(args ...string) (string, error) {
		cmd := exec.CommandContext(ctx, kubectl, append([]string{"--kubeconfig", kc}, args...)...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	eventually(t, time.Minute, func() (bool, string) {
		out, err := w.kubectl("get", "namespaces")
		return err == nil, "kubectl get namespaces: " + out
	})
	// The controller manager makes the default ServiceAccount in moments.
	eventually(t, time.Minute, func() (bool, string) {
		out, err := w.kubectl("-n", "default", "run", "web", "--image=nginx:1.27", "--restart=Never")
		return err == nil, "kubectl run web: " + out
	})
	if p := workspaceProcs(t, w.dataDir, w.wsID); len(p) != 4 {
		t.Fatalf("a running workspace has %d processes %v, want 4", len(p), p)
	}
	return w
}

// kill ends the server with SIGKILL and checks that every process it
// started (any whose command line names its data directory: the shared
// etcd and the workspaces' processes) dies with it.
func (w *powerWorld) kill() {
	w.t.Helper()
	children := dataDirProcs(w.t, w.dataDir)
	w.s.Signal(syscall.SIGKILL)
	var exitErr *exec.ExitError
	if err := w.s.Wait(30 * time.Second); !errors.As(err, &exitErr) || exitErr.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		w.t.Fatalf("hks server did not die of SIGKILL: %v", err)
	}
	eventually(w.t, 30*time.Second, func() (bool, string) {
		var left []int
		for _, pid := range children {
			if alive(pid) {
				left = append(left, pid)
			}
		}
		if now := dataDirProcs(w.t, w.dataDir); len(now) > 0 {
			left = append(left, now...)
		}
		return len(left) == 0, fmt.Sprintf("processes of the killed hks left: %v (it had %v)", left, children)
	})
}

// restart starts the server again on the same data directory and port.
func (w *powerWorld) restart() {
	w.t.Helper()
	w.s = startServer(w.t, w.dataDir, "127.0.0.1:"+w.s.Port(), nil)
}

// workspace is the workspace as the API shows it now.
func (w *powerWorld) workspace() (status string, sleptAt *time.Time) {
	w.t.Helper()
	var ws struct {
		Status  string     `json:"status"`
		SleptAt *time.Time `json:"slept_at"`
	}
	w.admin.must("GET", w.wsPath, nil, http.StatusOK, &ws)
	return ws.Status, ws.SleptAt
}

// waitTask waits until the task with id has succeeded.
func (w *powerWorld) waitTask(id string, timeout time.Duration) task {
	w.t.Helper()
	var tk task
	eventually(w.t, timeout, func() (bool, string) {
		tk = task{}
		w.admin.must("GET", w.orgPath+"/tasks/"+id, nil, http.StatusOK, &tk)
		if tk.Status == "failed" {
			w.t.Fatalf("task %s failed: %s", id, tk.Reason)
		}
		return tk.Status == "succeeded", fmt.Sprintf("task %s %s: %s", tk.Kind, tk.Status, tk.Reason)
	})
	return tk
}

// wakesByKubectl runs kubectl, which wakes the sleeping workspace and
// succeeds without a retry; then exactly one set of its processes runs.
func (w *powerWorld) wakesByKubectl() {
	w.t.Helper()
	start := time.Now()
	out, err := w.kubectl("-n", "default", "get", "pods", "-o", "name")
	w.t.Logf("kubectl get pods through the wake: %.1fs", time.Since(start).Seconds())
	if err != nil || !strings.Contains(out, "pod/web") {
		w.t.Fatalf("kubectl get pods: %v %s", err, out)
	}
	w.oneSetOfProcesses()
}

// oneSetOfProcesses waits until the workspace runs with its 4 processes,
// and checks that no second set appears.
func (w *powerWorld) oneSetOfProcesses() {
	w.t.Helper()
	waitStatus(w.t, w.admin, w.wsPath, "running", time.Minute)
	var procs []int
	eventually(w.t, 30*time.Second, func() (bool, string) {
		procs = workspaceProcs(w.t, w.dataDir, w.wsID)
		return len(procs) == 4, fmt.Sprintf("processes: %v", procs)
	})
	time.Sleep(2 * time.Second) // not a synchronization: a second set would show by now
	if again := workspaceProcs(w.t, w.dataDir, w.wsID); !slices.Equal(again, procs) {
		w.t.Errorf("processes changed: %v then %v", procs, again)
	}
}

// TestSleepSurvivesSIGKILL (issue 12, point 4): hks killed with SIGKILL
// right after a sleep was accepted, while its workspace.sleep task runs,
// and started again on the same data dir: the workspace ends asleep, its
// task finished, and no process of it starts; then the next kubectl
// request wakes it and succeeds, with exactly one set of processes.
func TestSleepSurvivesSIGKILL(t *testing.T) {
	w := newPowerWorld(t)
	var slept struct {
		Status string `json:"status"`
		TaskID string `json:"task_id"`
	}
	w.admin.must("POST", w.wsPath+"/sleep", nil, http.StatusAccepted, &slept)
	// Kill it once the task has begun to stop the processes.
	var procsAtKill []int
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(5 * time.Millisecond) {
		if procsAtKill = workspaceProcs(t, w.dataDir, w.wsID); len(procsAtKill) < 4 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the sleep task stopped no process within a minute: %v", procsAtKill)
		}
	}
	w.kill()
	t.Logf("killed with %d of the workspace's processes running", len(procsAtKill))
	if len(procsAtKill) == 0 {
		t.Log("the task had stopped every process before the kill: the restart did not find it half asleep this time")
	}
	if slept.Status != "sleeping" || slept.TaskID == "" {
		t.Fatalf("sleep answered %+v", slept)
	}

	w.restart()
	if st, _ := w.workspace(); st != "sleeping" {
		t.Fatalf("after the restart the workspace is %s", st)
	}
	// Its sleep task runs again (redelivered) and finishes; nothing of the
	// workspace runs meanwhile.
	eventually(t, 2*time.Minute, func() (bool, string) {
		if p := workspaceProcs(t, w.dataDir, w.wsID); len(p) > 0 {
			t.Fatalf("a sleeping workspace has processes after the restart: %v", p)
		}
		var tk task
		w.admin.must("GET", w.orgPath+"/tasks/"+slept.TaskID, nil, http.StatusOK, &tk)
		st, sleptAt := w.workspace()
		if st != "sleeping" {
			t.Fatalf("the workspace became %s", st)
		}
		return tk.Status == "succeeded" && sleptAt != nil, fmt.Sprintf("sleep task %s (attempts %d), slept_at %v", tk.Status, tk.Attempts, sleptAt)
	})
	// It stays asleep: nothing wakes it (the restart lost none of its
	// settings; the idle workspace has no scheduled work).
	watchAsleep(t, w, 90*time.Second)
	w.wakesByKubectl()
}

// watchAsleep checks for d that the workspace stays asleep without a
// process.
func watchAsleep(t *testing.T, w *powerWorld, d time.Duration) {
	t.Helper()
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(time.Second) {
		if st, _ := w.workspace(); st != "sleeping" {
			t.Fatalf("the sleeping workspace became %s", st)
		}
		if p := workspaceProcs(t, w.dataDir, w.wsID); len(p) > 0 {
			t.Fatalf("a sleeping workspace has processes: %v", p)
		}
	}
}

// TestWakeSurvivesSIGKILL (issue 12, point 4): hks killed with SIGKILL
// while a wake is under way (its first process started, the workspace
// still waking) and started again: no process of the killed hks is left,
// the workspace finishes waking with exactly one set of processes, and
// kubectl works.
func TestWakeSurvivesSIGKILL(t *testing.T) {
	w := newPowerWorld(t)
	w.admin.must("POST", w.wsPath+"/sleep", nil, http.StatusAccepted, nil)
	eventually(t, time.Minute, func() (bool, string) {
		st, sleptAt := w.workspace()
		p := workspaceProcs(t, w.dataDir, w.wsID)
		return st == "sleeping" && sleptAt != nil && len(p) == 0, fmt.Sprintf("status %s slept_at %v processes %v", st, sleptAt, p)
	})

	var woke struct {
		Status string `json:"status"`
		TaskID string `json:"task_id"`
	}
	w.admin.must("POST", w.wsPath+"/wake", nil, http.StatusAccepted, &woke)
	if woke.Status != "waking" || woke.TaskID == "" {
		t.Fatalf("wake answered %+v", woke)
	}
	// Kill it once the wake has started a process of the workspace.
	eventually(t, time.Minute, func() (bool, string) {
		p := workspaceProcs(t, w.dataDir, w.wsID)
		return len(p) > 0, "the wake to start a process"
	})
	procsAtKill := workspaceProcs(t, w.dataDir, w.wsID)
	st, _ := w.workspace()
	w.kill()
	t.Logf("killed with %d of the workspace's processes running; status %s", len(procsAtKill), st)
	if st != "waking" {
		t.Logf("the wake had finished just before the kill: the restart did not find it half woken this time")
	}

	w.restart()
	w.oneSetOfProcesses()
	out, err := w.kubectl("-n", "default", "get", "pods", "-o", "name")
	if err != nil || !strings.Contains(out, "pod/web") {
		t.Fatalf("kubectl get pods after the restart: %v %s", err, out)
	}
	tk := w.waitTask(woke.TaskID, 2*time.Minute)
	t.Logf("wake task: attempts %d", tk.Attempts)
	// Nothing changed meanwhile (the task ran again or found it awake).
	if p := workspaceProcs(t, w.dataDir, w.wsID); len(p) != 4 {
		t.Errorf("processes after the wake task finished: %v", p)
	}
}
