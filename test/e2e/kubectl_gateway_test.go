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

	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	adminKC, adminEnv := gatewayKubeconfig(t, s, admin, orgPath, ws.ID)
	devKC, devEnv := gatewayKubeconfig(t, s, dev, orgPath, ws.ID)
	run := func(kubeconfig string, env []string, args ...string) (string, error) {
		return runKubectl(ctx, kubectl, kubeconfig, env, args...)
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
	watch := startKubectl(ctx, t, kubectl, devKC, devEnv, "-n", "frontend", "get", "pods", "-w", "-o", "name")
	next := func(want string) {
		t.Helper()
		watch.waitLine(t, func(l string) bool { return l == want }, want)
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

// gatewayKubeconfig signs a in with the CLI and writes its kubeconfig of
// workspace wsID with `hks kubeconfig` (kubectl runs the test's hks binary
// for tokens). It checks that the kubeconfig names only the gateway on the
// https loopback listener with its CA, never the workspace API server's
// own port.
func gatewayKubeconfig(t *testing.T, s *hksServer, a *apiClient, orgPath, wsID string) (path string, env []string) {
	t.Helper()
	// The API server's own port, from the local provider's state.
	var ports struct {
		APIServer int `json:"apiserver"`
	}
	if b, err := os.ReadFile(filepath.Join(s.DataDir, "workspaces", wsID, "ports.json")); err != nil || json.Unmarshal(b, &ports) != nil || ports.APIServer == 0 {
		t.Fatalf("ports.json: %s %v", b, err)
	}
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
	if strings.Contains(string(b), ":"+strconv.Itoa(ports.APIServer)) {
		t.Fatalf("the kubeconfig names the workspace API server's port %d:\n%s", ports.APIServer, b)
	}
	return path, env
}

// runKubectl runs kubectl with kubeconfig and env and returns its output
// (stdout and stderr).
func runKubectl(ctx context.Context, kubectl, kubeconfig string, env []string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, kubectl, append([]string{"--kubeconfig", kubeconfig}, args...)...)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// kubectlStream is a kubectl left running (a watch, logs -f, attach,
// port-forward), its stdout read line by line.
type kubectlStream struct {
	ctx    context.Context
	lines  chan string
	stderr *strings.Builder
}

// startKubectl starts kubectl; it is killed when the test ends.
func startKubectl(ctx context.Context, t *testing.T, kubectl, kubeconfig string, env []string, args ...string) *kubectlStream {
	t.Helper()
	cmd := exec.CommandContext(ctx, kubectl, append([]string{"--kubeconfig", kubeconfig}, args...)...)
	cmd.Env = env
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	k := &kubectlStream{ctx: ctx, lines: make(chan string), stderr: &strings.Builder{}}
	cmd.Stderr = k.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	go func() {
		defer close(k.lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			select {
			case k.lines <- sc.Text():
			case <-ctx.Done():
				return
			}
		}
	}()
	return k
}

// waitLine reads lines until one matches; what names it in the failure.
func (k *kubectlStream) waitLine(t *testing.T, match func(string) bool, what string) string {
	t.Helper()
	for {
		select {
		case l, ok := <-k.lines:
			if !ok {
				t.Fatalf("kubectl ended before %s: %s", what, k.stderr.String())
			}
			if match(l) {
				return l
			}
		case <-k.ctx.Done():
			t.Fatalf("no %s from kubectl: %s", what, k.stderr.String())
		}
	}
}
