package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/tools/clientcmd"
)

// TestKubectlThroughTheGateway (issue 12, point 1) runs the real kubectl
// with the kubeconfig `hks kubeconfig` writes, on the default plain-http
// platform: the kubeconfig names only the gateway on the workspace issuer
// endpoint's https loopback listener (never the API server's own port),
// reads pass through, a watch outlives the listener's 30 s server
// timeouts and receives an event created after it started, and a
// developer of one project is forbidden in another.
func TestKubectlThroughTheGateway(t *testing.T) {
	needBinary(t)
	kubectl := needKubectl(t)
	s := startServer(t, filepath.Join(t.TempDir(), "data"), "127.0.0.1:0", nil)
	admin := setupAdmin(t, s, "admin@example.com", "correct-horse-battery")
	orgPath := admin.createOrg("Acme")
	var ws wsOut
	admin.must("POST", orgPath+"/workspaces", map[string]string{"name": "prod"}, http.StatusAccepted, &ws)
	wsPath := orgPath + "/workspaces/" + ws.ID
	frontendID := admin.createProject(wsPath, map[string]any{"name": "frontend"})
	admin.createProject(wsPath, map[string]any{"name": "backend"})
	dev := createUser(t, s, "dev@example.com", "password-of-dev")
	admin.invite(orgPath, dev)
	admin.grant(wsPath, "frontend-devs", dev, "developer", frontendID)
	waitStatus(t, admin, wsPath, "running", 3*time.Minute)

	apiServerPort := apiServerPortOf(t, s, ws.ID)

	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	kubeconfigOf := func(a *apiClient) (string, []string) {
		return gatewayKubeconfig(t, s, a, orgPath, ws.ID, apiServerPort)
	}
	adminKC, adminEnv := kubeconfigOf(admin)
	devKC, devEnv := kubeconfigOf(dev)
	run := func(kubeconfig string, env []string, args ...string) (string, error) {
		cmd := exec.CommandContext(ctx, kubectl, append([]string{"--kubeconfig", kubeconfig}, args...)...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		return string(out), err
	}

	// Reads pass through; the API server's RBAC decides (the reconciler
	// makes the namespaces and bindings within seconds).
	eventually(t, time.Minute, func() (bool, string) {
		out, err := run(adminKC, adminEnv, "get", "ns", "-o", "name")
		return err == nil && strings.Contains(out, "namespace/frontend") && strings.Contains(out, "namespace/backend"), "admin: kubectl get ns: " + out
	})
	eventually(t, time.Minute, func() (bool, string) {
		out, err := run(devKC, devEnv, "-n", "frontend", "get", "pods")
		return err == nil, "dev: kubectl get pods -n frontend: " + out
	})
	if out, err := run(devKC, devEnv, "-n", "backend", "get", "pods"); err == nil || !strings.Contains(out, "Forbidden") {
		t.Errorf("dev: kubectl get pods -n backend: %v %s, want Forbidden", err, out)
	}
	if out, err := run(devKC, devEnv, "-n", "backend", "run", "intruder", "--image=nginx:1.27", "--restart=Never"); err == nil || !strings.Contains(out, "Forbidden") {
		t.Errorf("dev: kubectl run in backend: %v %s, want Forbidden", err, out)
	}

	// A watch: its first line is the pod that existed when it started;
	// it outlives the listener's 30 s read and write timeouts, and then
	// receives the pod created after.
	if out, err := run(devKC, devEnv, "-n", "frontend", "run", "early", "--image=nginx:1.27", "--restart=Never"); err != nil {
		t.Fatalf("kubectl run early: %v %s", err, out)
	}
	watch := exec.CommandContext(ctx, kubectl, "--kubeconfig", devKC, "-n", "frontend", "get", "pods", "-w", "-o", "name")
	watch.Env = devEnv
	stdout, err := watch.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	watch.Stderr = &stderr
	if err := watch.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = watch.Process.Kill(); _ = watch.Wait() }()
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	next := func(want string) {
		t.Helper()
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("the watch ended before %s: %s", want, stderr.String())
				}
				if l == want {
					return
				}
			case <-ctx.Done():
				t.Fatalf("no %s from the watch: %s", want, stderr.String())
			}
		}
	}
	next("pod/early")
	// Not a synchronization: the watch must stay open past the
	// listener's ReadTimeout and WriteTimeout (30 s).
	time.Sleep(35 * time.Second)
	if out, err := run(devKC, devEnv, "-n", "frontend", "run", "late", "--image=nginx:1.27", "--restart=Never"); err != nil {
		t.Fatalf("kubectl run late: %v %s", err, out)
	}
	next("pod/late")
}

// gatewayKubeconfig signs a in with the CLI (its own config dir) and
// writes its kubeconfig of workspace wsID with `hks kubeconfig`; kubectl
// runs the test's hks binary for tokens. The kubeconfig must name only
// the gateway on the loopback https listener, never the plain-http API
// listener or the API server's own port.
func gatewayKubeconfig(t *testing.T, s *hksServer, a *apiClient, orgPath, wsID, apiServerPort string) (path string, env []string) {
	t.Helper()
	cfgDir := t.TempDir()
	env = baseEnv("HKS_CONFIG_DIR=" + cfgDir)
	mustHKS(t, env, a.password+"\n", "login", "--server", s.URL, "--email", a.email, "--password-stdin")
	path = filepath.Join(cfgDir, "kubeconfig")
	mustHKS(t, env, "", "kubeconfig", "--org", strings.TrimPrefix(orgPath, "/api/v1/organizations/"), "--workspace", wsID,
		"--output-file", path, "--hks-command", hksBin)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := clientcmd.Load(b)
	if err != nil || len(cfg.Clusters) != 1 {
		t.Fatalf("kubeconfig: %v\n%s", err, b)
	}
	for _, c := range cfg.Clusters {
		u, err := url.Parse(c.Server)
		if err != nil || u.Scheme != "https" || u.Path != "/k8s/"+wsID || u.Hostname() != "127.0.0.1" || len(c.CertificateAuthorityData) == 0 {
			t.Fatalf("cluster server %q (CA %d bytes): want the gateway on the loopback https listener with its CA", c.Server, len(c.CertificateAuthorityData))
		}
		if u.Host == s.Addr {
			t.Fatalf("cluster server %q is the plain-http API listener", c.Server)
		}
	}
	if strings.Contains(string(b), ":"+apiServerPort) {
		t.Fatalf("the kubeconfig names the workspace API server's port %s:\n%s", apiServerPort, b)
	}
	return path, env
}

// apiServerPortOf is the workspace API server's own loopback port, from
// the local provider's state.
func apiServerPortOf(t *testing.T, s *hksServer, wsID string) string {
	t.Helper()
	var ports struct {
		APIServer int `json:"apiserver"`
	}
	if b, err := os.ReadFile(filepath.Join(s.DataDir, "workspaces", wsID, "ports.json")); err != nil || json.Unmarshal(b, &ports) != nil || ports.APIServer == 0 {
		t.Fatalf("ports.json: %s %v", b, err)
	}
	return strconv.Itoa(ports.APIServer)
}
