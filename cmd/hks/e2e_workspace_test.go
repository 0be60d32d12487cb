package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// wsOut is a workspace as the API shows it.
type wsOut struct {
	ID           string `json:"id"`
	Status       string `json:"status"`
	StatusReason string `json:"status_reason"`
	ControlPlane *struct {
		Ready      bool   `json:"ready"`
		Version    string `json:"version"`
		Components []struct {
			Name    string `json:"name"`
			Healthy bool   `json:"healthy"`
		} `json:"components"`
	} `json:"control_plane"`
}

// waitStatus polls the workspace until it has status want.
func waitStatus(t *testing.T, a *apiClient, wsPath, want string, timeout time.Duration) wsOut {
	t.Helper()
	var w wsOut
	eventually(t, timeout, func() (bool, string) {
		code, b, err := a.call("GET", wsPath, nil)
		if err != nil || code != http.StatusOK {
			return false, fmt.Sprintf("GET %s: %d %s %v", wsPath, code, b, err)
		}
		w = wsOut{}
		_ = json.Unmarshal(b, &w)
		if w.Status == "failed" && want != "failed" {
			t.Fatalf("workspace failed: %s", w.StatusReason)
		}
		return w.Status == want, "status " + w.Status + " " + w.StatusReason
	})
	return w
}

// procsUnder lists live processes whose command line mentions dir.
func procsUnder(t *testing.T, dir string) []int {
	t.Helper()
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
		b, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err != nil || !bytes.Contains(b, []byte(dir)) {
			continue
		}
		if stat, err := os.ReadFile("/proc/" + e.Name() + "/stat"); err == nil {
			if i := bytes.LastIndexByte(stat, ')'); i >= 0 && i+2 < len(stat) && stat[i+2] == 'Z' {
				continue
			}
		}
		pids = append(pids, pid)
	}
	return pids
}

// userClient signs a user in with the CLI (its own config dir) and returns
// a client-go clientset built from the workspace kubeconfig the API hands
// out to that user: kubectl-token with the user's own identity.
func userClient(t *testing.T, s *hksServer, a *apiClient, wsPath, email, password string) (*kubernetes.Clientset, string) {
	t.Helper()
	cfgDir := t.TempDir()
	env := baseEnv("HKS_CONFIG_DIR=" + cfgDir)
	mustHKS(t, env, password+"\n", "login", "--server", s.URL, "--email", email, "--password-stdin")
	code, b, err := a.call("GET", wsPath+"/kubeconfig", nil)
	if err != nil || code != http.StatusOK {
		t.Fatalf("GET kubeconfig as %s: %d %s %v", email, code, b, err)
	}
	if bytes.Contains(b, []byte("client-certificate")) || bytes.Contains(b, []byte("client-key")) || bytes.Contains(b, []byte("token:")) {
		t.Fatalf("the kubeconfig carries a credential:\n%s", b)
	}
	cfg, err := clientcmd.Load(b)
	if err != nil {
		t.Fatalf("parse kubeconfig: %v\n%s", err, b)
	}
	ctxName := cfg.CurrentContext
	ai := cfg.AuthInfos[cfg.Contexts[ctxName].AuthInfo]
	if ai == nil || ai.Exec == nil || len(ai.Exec.Args) == 0 || ai.Exec.Args[0] != "kubectl-token" {
		t.Fatalf("kubeconfig user is not the hks exec plugin:\n%s", b)
	}
	// The test's binary, signed in as this user.
	ai.Exec.Command = hksBin
	ai.Exec.Env = append(ai.Exec.Env, clientcmdapi.ExecEnvVar{Name: "HKS_CONFIG_DIR", Value: cfgDir})
	path := filepath.Join(cfgDir, "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	rc, err := clientcmd.NewNonInteractiveClientConfig(*cfg, ctxName, &clientcmd.ConfigOverrides{}, nil).ClientConfig()
	if err != nil {
		t.Fatal(err)
	}
	return kubernetes.NewForConfigOrDie(rc), path
}

// TestWorkspaceClusterAcceptance is the control-plane issue's acceptance
// run on the real binaries: a workspace becomes a Kubernetes cluster its
// members reach with their own identity, projects are namespaces, groups
// are RBAC; a SIGKILL during provisioning converges to one set of
// processes; deletion leaves nothing behind.
func TestWorkspaceClusterAcceptance(t *testing.T) {
	needBinary(t)
	dataDir := filepath.Join(t.TempDir(), "data")
	s := startServer(t, dataDir, "127.0.0.1:0", nil)
	admin := setupAdmin(t, s, "admin@example.com", "correct-horse-battery")
	var org struct {
		ID string `json:"id"`
	}
	admin.must("POST", "/api/v1/organizations", map[string]string{"name": "Acme"}, http.StatusCreated, &org)
	orgPath := "/api/v1/organizations/" + org.ID
	// The server keeps one spare API server (--warm-pool 1 by default):
	// a workspace directory marked "spare", not a workspace. The first
	// shared workspace is created with its ID and takes it over.
	var spareID string
	eventually(t, 2*time.Minute, func() (bool, string) {
		marks, _ := filepath.Glob(filepath.Join(dataDir, "workspaces", "*", "spare"))
		if len(marks) != 1 || !strings.Contains(metricsText(t, s), "hks_controlplane_spares_ready 1") {
			return false, fmt.Sprintf("spare markers %v; want one ready spare", marks)
		}
		spareID = filepath.Base(filepath.Dir(marks[0]))
		return true, ""
	})
	var ws wsOut
	created := time.Now()
	admin.must("POST", orgPath+"/workspaces", map[string]string{"name": "prod"}, http.StatusAccepted, &ws)
	if ws.ID != spareID {
		t.Errorf("workspace ID %s, want the spare's %s", ws.ID, spareID)
	}
	wsPath := orgPath + "/workspaces/" + ws.ID
	waitStatus(t, admin, wsPath, "running", 3*time.Minute)
	t.Logf("workspace running %s after create", time.Since(created).Round(time.Millisecond))
	eventually(t, 30*time.Second, func() (bool, string) {
		var w wsOut
		admin.must("GET", wsPath, nil, http.StatusOK, &w)
		if w.ControlPlane == nil {
			return false, "no control_plane in the workspace"
		}
		return w.ControlPlane.Ready && w.ControlPlane.Version == "v1.35.4" && len(w.ControlPlane.Components) == 5,
			fmt.Sprintf("control plane %+v", *w.ControlPlane)
	})

	type idOut struct {
		ID    string `json:"id"`
		Token string `json:"token"`
	}
	var frontend, backend idOut
	admin.must("POST", wsPath+"/projects", map[string]any{"name": "frontend", "quota": map[string]any{"cpu": "4", "memory": "8Gi", "pods": 20}}, http.StatusCreated, &frontend)
	admin.must("POST", wsPath+"/projects", map[string]any{"name": "backend"}, http.StatusCreated, &backend)

	// Users A and B join the organization; C has an organization of
	// its own.
	env := baseEnv()
	users := map[string]string{"a@example.com": "password-of-a", "b@example.com": "password-of-b", "c@example.com": "password-of-c"}
	clients := map[string]*apiClient{}
	for email, pw := range users {
		mustHKS(t, env, pw+"\n", "admin", "create-user", "--data-dir", dataDir, "--email", email, "--password-stdin")
		clients[email] = newAPI(t, s.URL)
		clients[email].login(email, pw)
	}
	for _, email := range []string{"a@example.com", "b@example.com"} {
		var inv idOut
		admin.must("POST", orgPath+"/invitations", map[string]string{"email": email}, http.StatusCreated, &inv)
		clients[email].must("POST", "/api/v1/invitations/accept", map[string]string{"token": inv.Token}, http.StatusOK, nil)
	}
	var devs, viewers idOut
	admin.must("POST", wsPath+"/groups", map[string]string{"name": "frontend-devs"}, http.StatusCreated, &devs)
	admin.must("POST", wsPath+"/groups/"+devs.ID+"/members", map[string]string{"email": "a@example.com"}, http.StatusCreated, nil)
	admin.must("POST", wsPath+"/rolebindings", map[string]string{"group_id": devs.ID, "role": "developer", "project_id": frontend.ID}, http.StatusCreated, nil)
	admin.must("POST", wsPath+"/groups", map[string]string{"name": "viewers"}, http.StatusCreated, &viewers)
	admin.must("POST", wsPath+"/groups/"+viewers.ID+"/members", map[string]string{"email": "b@example.com"}, http.StatusCreated, nil)
	admin.must("POST", wsPath+"/rolebindings", map[string]string{"group_id": viewers.ID, "role": "viewer"}, http.StatusCreated, nil)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	csA, kubeconfigA := userClient(t, s, clients["a@example.com"], wsPath, "a@example.com", users["a@example.com"])
	csB, _ := userClient(t, s, clients["b@example.com"], wsPath, "b@example.com", users["b@example.com"])

	// The projects are namespaces (the reconciler creates them within
	// seconds), with the quota.
	eventually(t, 30*time.Second, func() (bool, string) {
		_, err := csA.CoreV1().ResourceQuotas("frontend").List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, "list quotas in frontend as A: " + err.Error()
		}
		_, err = csB.CoreV1().Namespaces().Get(ctx, "backend", metav1.GetOptions{})
		if err != nil && !apierrors.IsForbidden(err) {
			return false, "backend namespace: " + err.Error()
		}
		return true, ""
	})

	// A deploys in frontend and the Deployment reaches its replicas on
	// the simulated nodes.
	three := int32(3)
	labels := map[string]string{"app": "web"}
	dep := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web"}, Spec: appsv1.DeploymentSpec{
		Replicas: &three, Selector: &metav1.LabelSelector{MatchLabels: labels},
		Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "nginx:1.27"}}}}}}
	if _, err := csA.AppsV1().Deployments("frontend").Create(ctx, dep, metav1.CreateOptions{}); err != nil {
		t.Fatalf("A creates a Deployment in frontend: %v", err)
	}
	eventually(t, 2*time.Minute, func() (bool, string) {
		d, err := csA.AppsV1().Deployments("frontend").Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		return d.Status.ReadyReplicas == 3, fmt.Sprintf("ready replicas %d/3", d.Status.ReadyReplicas)
	})
	pods, err := csA.CoreV1().Pods("frontend").List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pods.Items {
		if !strings.HasPrefix(p.Spec.NodeName, "hks-shared-") || p.Status.Phase != corev1.PodRunning {
			t.Errorf("pod %s on %q in phase %s", p.Name, p.Spec.NodeName, p.Status.Phase)
		}
	}
	// A is forbidden in backend.
	dep.ResourceVersion = ""
	if _, err := csA.AppsV1().Deployments("backend").Create(ctx, dep, metav1.CreateOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("A creates in backend: %v, want forbidden", err)
	}
	if _, err := csA.CoreV1().Pods("backend").List(ctx, metav1.ListOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("A lists pods in backend: %v, want forbidden", err)
	}
	// B can list but not create.
	if l, err := csB.AppsV1().Deployments("frontend").List(ctx, metav1.ListOptions{}); err != nil || len(l.Items) != 1 {
		t.Errorf("B lists deployments in frontend: %v", err)
	}
	dep.Name = "b-was-here"
	if _, err := csB.AppsV1().Deployments("frontend").Create(ctx, dep, metav1.CreateOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("B creates in frontend: %v, want forbidden", err)
	}
	// kubectl, when installed, sees the same through the same kubeconfig.
	if kubectl, err := exec.LookPath("kubectl"); err == nil {
		out, err := exec.CommandContext(ctx, kubectl, "--kubeconfig", kubeconfigA, "-n", "frontend", "get", "deployment", "web", "-o", "jsonpath={.status.readyReplicas}").CombinedOutput()
		if err != nil || string(out) != "3" {
			t.Errorf("kubectl get deployment as A: %v: %s", err, out)
		}
	} else {
		t.Log("kubectl not installed: checked with client-go only")
	}
	// C, of another organization, gets no token for the workspace on
	// either path.
	cc := clients["c@example.com"]
	if code, b, _ := cc.call("POST", wsPath+"/token", nil); code != http.StatusNotFound {
		t.Errorf("C asks for a workspace token: %d %s", code, b)
	}
	form := url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:token-exchange"}, "subject_token": {cc.token},
		"subject_token_type": {"urn:ietf:params:oauth:token-type:access_token"}, "audience": {ws.ID}}
	resp, err := http.PostForm(s.URL+"/auth/token", form)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode < 400 || resp.StatusCode >= 500 {
		t.Errorf("C exchanges a token for the workspace: %d", resp.StatusCode)
	}

	// SIGKILL during provisioning; the restarted server finishes it with
	// exactly one set of processes per workspace.
	var ws2 wsOut
	admin.must("POST", orgPath+"/workspaces", map[string]string{"name": "staging", "plan": "dedicated"}, http.StatusAccepted, &ws2)
	ws2Path := orgPath + "/workspaces/" + ws2.ID
	waitStatus(t, admin, ws2Path, "provisioning", time.Minute)
	s.Signal(syscall.SIGKILL)
	var exitErr *exec.ExitError
	if err := s.Wait(30 * time.Second); !errors.As(err, &exitErr) {
		t.Fatalf("server after SIGKILL: %v", err)
	}
	ws1Dir := filepath.Join(dataDir, "workspaces", ws.ID)
	ws2Dir := filepath.Join(dataDir, "workspaces", ws2.ID)
	eventually(t, 15*time.Second, func() (bool, string) {
		left := procsUnder(t, dataDir)
		return len(left) == 0, fmt.Sprintf("processes left after SIGKILL of hks: %v", left)
	})
	s = startServer(t, dataDir, s.Addr, nil)
	admin.url = s.URL
	waitStatus(t, admin, ws2Path, "running", 3*time.Minute)
	eventually(t, time.Minute, func() (bool, string) {
		n1, n2 := len(procsUnder(t, ws1Dir)), len(procsUnder(t, ws2Dir))
		return n1 == 4 && n2 == 4, fmt.Sprintf("processes: %d of the first workspace, %d of the second (want 4 each)", n1, n2)
	})
	if n := len(procsUnder(t, filepath.Join(dataDir, "etcd", "data"))); n != 1 {
		t.Errorf("%d etcd processes, want 1", n)
	}
	// The first workspace kept its objects and A's access.
	csA2, _ := userClient(t, s, clients["a@example.com"], wsPath, "a@example.com", users["a@example.com"])
	eventually(t, time.Minute, func() (bool, string) {
		d, err := csA2.AppsV1().Deployments("frontend").Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			return false, "the first workspace after restart: " + err.Error()
		}
		return d.Status.ReadyReplicas == 3, fmt.Sprintf("ready replicas after restart %d/3", d.Status.ReadyReplicas)
	})

	// The dedicated workspace steers pods to its own tainted nodes.
	csAdmin2, _ := userClient(t, s, admin, ws2Path, "admin@example.com", "correct-horse-battery")
	dep.Name = "batch"
	if _, err := csAdmin2.AppsV1().Deployments("default").Create(ctx, dep, metav1.CreateOptions{}); err != nil {
		t.Fatalf("admin creates a Deployment in the dedicated workspace: %v", err)
	}
	eventually(t, 2*time.Minute, func() (bool, string) {
		d, err := csAdmin2.AppsV1().Deployments("default").Get(ctx, "batch", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		return d.Status.ReadyReplicas == 3, fmt.Sprintf("dedicated: ready replicas %d/3", d.Status.ReadyReplicas)
	})
	pods, err = csAdmin2.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pods.Items {
		if !strings.HasPrefix(p.Spec.NodeName, "hks-dedicated-") {
			t.Errorf("dedicated workspace: pod %s on node %q", p.Name, p.Spec.NodeName)
		}
	}

	// Deleting a workspace leaves no process, port or data behind.
	var ports map[string]int
	b, err := os.ReadFile(filepath.Join(ws2Dir, "ports.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &ports); err != nil || len(ports) == 0 {
		t.Fatalf("ports.json: %s %v", b, err)
	}
	admin.must("DELETE", ws2Path, nil, http.StatusAccepted, nil)
	eventually(t, 2*time.Minute, func() (bool, string) {
		code, _, _ := admin.call("GET", ws2Path, nil)
		return code == http.StatusNotFound, fmt.Sprintf("GET deleted workspace: %d", code)
	})
	if left := procsUnder(t, ws2Dir); len(left) != 0 {
		t.Errorf("processes left after delete: %v", left)
	}
	if _, err := os.Stat(ws2Dir); !os.IsNotExist(err) {
		t.Errorf("data left after delete: %v", err)
	}
	for name, p := range ports {
		if err := portFree("127.0.0.1:" + strconv.Itoa(p)); err != nil {
			t.Errorf("port %d of %s still in use after delete: %v", p, name, err)
		}
	}
}

// TestServerMissingK8sBinary: a server whose Kubernetes binaries are
// missing refuses to start and says how to get them.
func TestServerMissingK8sBinary(t *testing.T) {
	needBinary(t)
	dir := t.TempDir()
	r := runHKS(t, baseEnv(), "", "server", "--data-dir", filepath.Join(dir, "data"), "--listen", "127.0.0.1:0", "--k8s-bin-dir", dir)
	if r.Code == 0 || !strings.Contains(r.Stderr, "kube-apiserver not found in "+dir) || !strings.Contains(r.Stderr, "--k8s-bin-dir") {
		t.Fatalf("server without binaries: %s", r)
	}
}

// metricsText is the server's /metrics page.
func metricsText(t *testing.T, s *hksServer) string {
	t.Helper()
	resp, err := http.Get(s.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
