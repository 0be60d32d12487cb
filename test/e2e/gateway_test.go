package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestGatewayKubectl is the acceptance of the workspace API gateway (issue
// 12, point 1) with the real kubectl: the kubeconfig from `hks kubeconfig`
// names only <server>/k8s/<workspace id>, never the API server's own
// port; kubectl reads, writes and watches through it; a developer's RBAC
// holds; the gateway refuses no token, a platform access token and
// another workspace's token with 401; an upgrade request (exec,
// port-forward) reaches the API server.
func TestGatewayKubectl(t *testing.T) {
	needBinary(t)
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		t.Skip("kubectl not installed")
	}
	dataDir := filepath.Join(t.TempDir(), "data")
	s := startServer(t, dataDir, "127.0.0.1:0", []string{"HKS_LOG_LEVEL=debug"})
	admin := setupAdmin(t, s, "admin@example.com", "correct-horse-battery")
	orgPath := admin.createOrg("Acme")
	var ws, other wsOut
	admin.must("POST", orgPath+"/workspaces", map[string]string{"name": "prod"}, http.StatusAccepted, &ws)
	wsPath := orgPath + "/workspaces/" + ws.ID
	waitStatus(t, admin, wsPath, "running", 3*time.Minute)
	frontendID := admin.createProject(wsPath, map[string]any{"name": "frontend"})
	admin.createProject(wsPath, map[string]any{"name": "backend"})
	dev := createUser(t, s, "dev@example.com", "password-of-dev")
	admin.invite(orgPath, dev)
	admin.grant(wsPath, "frontend-devs", dev, "developer", frontendID)

	// The kubeconfig `hks kubeconfig` writes names the gateway and no port
	// of the workspace's own processes.
	cfgDir := t.TempDir()
	env := baseEnv("HKS_CONFIG_DIR=" + cfgDir)
	mustHKS(t, env, admin.password+"\n", "login", "--server", s.URL, "--email", admin.email, "--password-stdin")
	kcFile := filepath.Join(cfgDir, "hks-kubeconfig")
	mustHKS(t, env, "", "kubeconfig", "--org", "acme", "--workspace", "prod", "--output-file", kcFile)
	kc, err := os.ReadFile(kcFile)
	if err != nil {
		t.Fatal(err)
	}
	gatewayURL := s.URL + "/k8s/" + ws.ID
	if !strings.Contains(string(kc), "server: "+gatewayURL+"\n") {
		t.Errorf("hks kubeconfig does not name the gateway %s:\n%s", gatewayURL, kc)
	}
	var ports map[string]int
	if b, err := os.ReadFile(filepath.Join(dataDir, "workspaces", ws.ID, "ports.json")); err != nil || json.Unmarshal(b, &ports) != nil || len(ports) == 0 {
		t.Fatalf("ports.json: %s %v", b, err)
	}
	for name, p := range ports {
		if strings.Contains(string(kc), ":"+strconv.Itoa(p)) {
			t.Errorf("the kubeconfig names the port %d of %s:\n%s", p, name, kc)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	_, kcAdmin := userClient(t, s, admin, wsPath)
	_, kcDev := userClient(t, s, dev, wsPath)
	run := func(kubeconfig string, args ...string) (string, error) {
		out, err := exec.CommandContext(ctx, kubectl, append([]string{"--kubeconfig", kubeconfig}, args...)...).CombinedOutput()
		return string(out), err
	}
	// kubectl runs with the API's kubeconfig of each user (the same
	// document, its exec plugin pointed at the test's hks binary).
	eventually(t, 30*time.Second, func() (bool, string) {
		out, err := run(kcAdmin, "get", "ns", "-o", "name")
		return err == nil && strings.Contains(out, "namespace/frontend") && strings.Contains(out, "namespace/backend"),
			fmt.Sprintf("kubectl get ns as admin: %v %s", err, out)
	})
	if out, err := run(kcDev, "-n", "frontend", "get", "pods"); err != nil {
		t.Fatalf("kubectl get pods as the developer: %v %s", err, out)
	}
	// RBAC holds through the gateway: the API server refuses, not the
	// gateway.
	if out, err := run(kcDev, "-n", "backend", "get", "pods"); err == nil || !strings.Contains(out, `User "oidc:dev@example.com" cannot list resource "pods"`) {
		t.Errorf("kubectl get pods in backend as the developer: %v %s, want forbidden by RBAC", err, out)
	}
	if out, err := run(kcDev, "-n", "frontend", "run", "first", "--image=nginx:1.27"); err != nil {
		t.Fatalf("kubectl run as the developer: %v %s", err, out)
	}

	// kubectl get -w receives an event that happens after it started:
	// once it printed the pod of its first list, it is watching.
	w := exec.CommandContext(ctx, kubectl, "--kubeconfig", kcDev, "-n", "frontend", "get", "pods", "-w", "-o", "name")
	stdout, err := w.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	w.Stderr = os.Stderr
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = w.Process.Kill(); _ = w.Wait() }()
	var (
		mu    sync.Mutex
		lines []string
	)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			mu.Lock()
			lines = append(lines, sc.Text())
			mu.Unlock()
		}
	}()
	seen := func(line string) (bool, string) {
		mu.Lock()
		defer mu.Unlock()
		for _, l := range lines {
			if l == line {
				return true, ""
			}
		}
		return false, fmt.Sprintf("kubectl get -w printed %q, waiting for %q", lines, line)
	}
	eventually(t, 30*time.Second, func() (bool, string) { return seen("pod/first") })
	if out, err := run(kcDev, "-n", "frontend", "run", "second", "--image=nginx:1.27"); err != nil {
		t.Fatalf("kubectl run as the developer: %v %s", err, out)
	}
	eventually(t, 30*time.Second, func() (bool, string) { return seen("pod/second") })

	// Upgraded connections: exec and port-forward reach the API server
	// through the gateway. A kwok node has no kubelet, so they cannot
	// complete; the refusal must come from the API server's side.
	eventually(t, time.Minute, func() (bool, string) {
		out, _ := run(kcDev, "-n", "frontend", "get", "pod", "first", "-o", "jsonpath={.status.phase}")
		return out == "Running", "pod first phase " + out
	})
	execOut, execErr := run(kcDev, "-n", "frontend", "exec", "first", "--", "true")
	pfOut, pfErr := run(kcDev, "-n", "frontend", "port-forward", "pod/first", "18080:80")
	t.Logf("kubectl exec: %v %s", execErr, execOut)
	t.Logf("kubectl port-forward: %v %s", pfErr, pfOut)
	for name, out := range map[string]string{"exec": execOut, "port-forward": pfOut} {
		if strings.Contains(out, "problem") || strings.Contains(out, "Unauthorized") || strings.Contains(out, "workspace token") {
			t.Errorf("kubectl %s was refused by the gateway: %s", name, out)
		}
	}
	if m := metricsText(t, s); !strings.Contains(m, `hks_gateway_requests_total{code="`) || !strings.Contains(m, `verb="upgrade",workspace="`+ws.ID+`"`) ||
		!strings.Contains(m, `verb="watch",workspace="`+ws.ID+`"`) {
		t.Errorf("gateway metrics lack the workspace's watch and upgrade requests:\n%s", grepLines(m, "hks_gateway_requests_total"))
	}

	// Refused at the gateway with 401: no token, a platform access token,
	// a token for another workspace.
	admin.must("POST", orgPath+"/workspaces", map[string]string{"name": "other"}, http.StatusAccepted, &other)
	var otherTok struct {
		Token string `json:"token"`
	}
	admin.must("POST", orgPath+"/workspaces/"+other.ID+"/token", nil, http.StatusOK, &otherTok)
	var ownTok struct {
		Token string `json:"token"`
	}
	admin.must("POST", wsPath+"/token", nil, http.StatusOK, &ownTok)
	for _, tc := range []struct {
		name, token string
		want        int
	}{
		{"no token", "", http.StatusUnauthorized},
		{"platform access token", admin.token, http.StatusUnauthorized},
		{"another workspace's token", otherTok.Token, http.StatusUnauthorized},
		{"this workspace's token (control)", ownTok.Token, http.StatusOK},
	} {
		req, _ := http.NewRequest(http.MethodGet, gatewayURL+"/api/v1/namespaces", nil)
		if tc.token != "" {
			req.Header.Set("Authorization", "Bearer "+tc.token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("%s: %d %s, want %d", tc.name, resp.StatusCode, b, tc.want)
		} else if tc.want == http.StatusUnauthorized && resp.Header.Get("Content-Type") != "application/problem+json" {
			t.Errorf("%s: Content-Type %q, want problem+json from the gateway: %s", tc.name, resp.Header.Get("Content-Type"), b)
		}
	}
}

// grepLines are the lines of s that contain sub.
func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
