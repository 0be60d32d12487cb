package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// workspaceProcs are the pids of the processes whose command line names
// the workspace's data directory (its API server, controller manager,
// scheduler and kwok), read from /proc.
func workspaceProcs(t *testing.T, dataDir, wsID string) []int {
	t.Helper()
	return dataDirProcs(t, filepath.Join(dataDir, "workspaces", wsID))
}

// dataDirProcs are the pids of the processes whose command line names
// dir (a file or directory under it).
func dataDirProcs(t *testing.T, dir string) []int {
	t.Helper()
	prefix := []byte(dir + "/")
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !bytes.Contains(b, prefix) {
			continue
		}
		if st, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat")); err == nil {
			// A zombie is no process any more.
			if f := strings.Fields(string(st[bytes.LastIndexByte(st, ')')+1:])); len(f) > 0 && f[0] == "Z" {
				continue
			}
		}
		pids = append(pids, pid)
	}
	slices.Sort(pids)
	return pids
}

func alive(pid int) bool {
	st, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return false
	}
	f := strings.Fields(string(st[bytes.LastIndexByte(st, ')')+1:]))
	return len(f) > 0 && f[0] != "Z"
}

// TestSleepAndWakeThroughTheGateway (issue 12, acceptance 1 and 2): a
// workspace put to sleep has no process left (checked by pid), refusals
// at the gateway (no token, a platform access token, another
// workspace's token) do not wake it, and the first kubectl request wakes
// it and succeeds without retrying, as does a second one running at the
// same time; afterwards exactly one set of processes runs, and the audit
// log says who woke it.
func TestSleepAndWakeThroughTheGateway(t *testing.T) {
	needBinary(t)
	kubectl := needKubectl(t)
	dataDir := filepath.Join(t.TempDir(), "data")
	s := startServer(t, dataDir, "127.0.0.1:0", nil)
	admin := setupAdmin(t, s, "admin@example.com", "correct-horse-battery")
	orgPath := admin.createOrg("Acme")
	var ws, other wsOut
	admin.must("POST", orgPath+"/workspaces", map[string]string{"name": "prod"}, http.StatusAccepted, &ws)
	admin.must("POST", orgPath+"/workspaces", map[string]string{"name": "other"}, http.StatusAccepted, &other)
	wsPath := orgPath + "/workspaces/" + ws.ID
	frontendID := admin.createProject(wsPath, map[string]any{"name": "frontend"})
	dev := createUser(t, s, "dev@example.com", "password-of-dev")
	admin.invite(orgPath, dev)
	admin.grant(wsPath, "frontend-devs", dev, "developer", frontendID)
	waitStatus(t, admin, wsPath, "running", 3*time.Minute)
	waitStatus(t, admin, orgPath+"/workspaces/"+other.ID, "running", 3*time.Minute)

	devKC, devEnv := gatewayKubeconfig(t, s, dev, orgPath, ws.ID)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	kubectlRun := func(args ...string) (string, error) {
		cmd := exec.CommandContext(ctx, kubectl, append([]string{"--kubeconfig", devKC}, args...)...)
		cmd.Env = devEnv
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	eventually(t, time.Minute, func() (bool, string) {
		out, err := kubectlRun("-n", "frontend", "get", "pods")
		return err == nil, "dev: kubectl get pods -n frontend: " + out
	})
	if out, err := kubectlRun("-n", "frontend", "run", "web", "--image=nginx:1.27", "--restart=Never"); err != nil {
		t.Fatalf("kubectl run web: %v %s", err, out)
	}
	before := workspaceProcs(t, dataDir, ws.ID)
	if len(before) != 4 {
		t.Fatalf("a running workspace has %d processes %v, want 4", len(before), before)
	}

	// A developer may not put it to sleep; its admin may.
	if code, b, _ := dev.call("POST", wsPath+"/sleep", nil); code != http.StatusForbidden {
		t.Errorf("developer's sleep: %d %s, want 403", code, b)
	}
	// The admin puts it to sleep with the CLI (the built binary).
	_, adminEnv := gatewayKubeconfig(t, s, admin, orgPath, ws.ID)
	org := strings.TrimPrefix(orgPath, "/api/v1/organizations/")
	if out := mustHKS(t, adminEnv, "", "workspace", "sleep", "prod", "--org", org); !strings.Contains(out, "sleeping") {
		t.Fatalf("hks workspace sleep: %s", out)
	}
	eventually(t, time.Minute, func() (bool, string) {
		for _, pid := range before {
			if alive(pid) {
				return false, fmt.Sprintf("process %d still runs", pid)
			}
		}
		left := workspaceProcs(t, dataDir, ws.ID)
		return len(left) == 0, fmt.Sprintf("processes left: %v", left)
	})
	// Its data stays.
	for _, f := range []string{"pki/ca.crt", "ports.json", "authentication.yaml"} {
		if _, err := os.Stat(filepath.Join(dataDir, "workspaces", ws.ID, f)); err != nil {
			t.Errorf("asleep: %v", err)
		}
	}
	eventually(t, 30*time.Second, func() (bool, string) {
		var w struct {
			Status  string     `json:"status"`
			SleptAt *time.Time `json:"slept_at"`
		}
		admin.must("GET", wsPath, nil, http.StatusOK, &w)
		return w.Status == "sleeping" && w.SleptAt != nil, fmt.Sprintf("status %s slept_at %v", w.Status, w.SleptAt)
	})

	if out := mustHKS(t, adminEnv, "", "workspace", "get", "prod", "--org", org); !strings.Contains(out, "sleeping") || !strings.Contains(out, "Asleep since:") {
		t.Errorf("hks workspace get of a sleeping workspace:\n%s", out)
	}

	// Refusals at the gateway wake nothing.
	var otherTok struct {
		Token string `json:"token"`
	}
	admin.must("POST", orgPath+"/workspaces/"+other.ID+"/token", nil, http.StatusOK, &otherTok)
	for _, tc := range []struct{ name, tok string }{{"no token", ""}, {"platform access token", admin.token}, {"another workspace's token", otherTok.Token}} {
		req, _ := http.NewRequest("GET", s.URL+"/k8s/"+ws.ID+"/api/v1/namespaces", nil)
		if tc.tok != "" {
			req.Header.Set("Authorization", "Bearer "+tc.tok)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 401 || resp.Header.Get("Content-Type") != "application/problem+json" {
			t.Errorf("%s: %d %s, want 401 problem+json", tc.name, resp.StatusCode, b)
		}
	}
	if w := waitStatus(t, admin, wsPath, "sleeping", time.Second); w.Status != "sleeping" {
		t.Fatalf("after the refusals: status %s", w.Status)
	}
	if left := workspaceProcs(t, dataDir, ws.ID); len(left) != 0 {
		t.Fatalf("the refusals started processes %v", left)
	}

	// Two kubectl requests at once: the first wakes it, both are held
	// and answered, neither retries (kubectl would print the error).
	var wg sync.WaitGroup
	outs := make([]string, 2)
	errs := make([]error, 2)
	start := time.Now()
	for i := range 2 {
		wg.Go(func() {
			outs[i], errs[i] = kubectlRun("-n", "frontend", "get", "pods", "-o", "name")
		})
	}
	wg.Wait()
	t.Logf("two kubectl get pods through a wake: %.1fs", time.Since(start).Seconds())
	for i := range 2 {
		if errs[i] != nil || !strings.Contains(outs[i], "pod/web") {
			t.Errorf("kubectl %d during the wake: %v %s", i, errs[i], outs[i])
		}
	}
	waitStatus(t, admin, wsPath, "running", time.Minute)
	// Exactly one set of processes.
	var after []int
	eventually(t, 30*time.Second, func() (bool, string) {
		after = workspaceProcs(t, dataDir, ws.ID)
		return len(after) == 4, fmt.Sprintf("processes after the wake: %v", after)
	})
	time.Sleep(2 * time.Second) // not a synchronization: a second set would show by now
	if again := workspaceProcs(t, dataDir, ws.ID); !slices.Equal(again, after) {
		t.Errorf("processes changed after the wake: %v then %v", after, again)
	}
	// The workload kept its spec and runs again.
	eventually(t, time.Minute, func() (bool, string) {
		out, _ := kubectlRun("-n", "frontend", "get", "pod", "web", "-o", "jsonpath={.spec.containers[0].image} {.status.phase}")
		if out == "nginx:1.27 Running" {
			return true, ""
		}
		y, _ := kubectlRun("-n", "frontend", "get", "pod", "web", "-o", "yaml")
		kl, _ := os.ReadFile(filepath.Join(dataDir, "workspaces", ws.ID, "logs", "kwok.log"))
		return false, "pod web: " + out + "\n" + y + "\nkwok.log:\n" + tail(string(kl), 60)
	})
	// The audit log names who woke it.
	eventually(t, 10*time.Second, func() (bool, string) {
		code, b, err := admin.call("GET", orgPath+"/audit?action=workspace.wake", nil)
		if err != nil || code != 200 {
			return false, fmt.Sprintf("audit: %d %s %v", code, b, err)
		}
		var l struct {
			Items []struct {
				ActorEmail string `json:"actor_email"`
				TargetID   string `json:"target_id"`
			} `json:"items"`
		}
		_ = json.Unmarshal(b, &l)
		for _, it := range l.Items {
			if it.ActorEmail == "dev@example.com" && it.TargetID == ws.ID {
				return true, ""
			}
		}
		return false, "no wake record of dev: " + string(b)
	})
}
