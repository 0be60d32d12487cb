package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
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

	"github.com/hexabase/hexabase-ai/internal/testutil"
)

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
	orgPath := admin.createOrg("Acme")
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

	frontendID := admin.createProject(wsPath, map[string]any{"name": "frontend", "quota": map[string]any{"cpu": "4", "memory": "8Gi", "pods": 20}})
	admin.createProject(wsPath, map[string]any{"name": "backend"})

	// Users A and B join the organization; C has an organization of
	// its own.
	a := createUser(t, s, "a@example.com", "password-of-a")
	b := createUser(t, s, "b@example.com", "password-of-b")
	cc := createUser(t, s, "c@example.com", "password-of-c")
	admin.invite(orgPath, a)
	admin.invite(orgPath, b)
	admin.grant(wsPath, "frontend-devs", a, "developer", frontendID)
	admin.grant(wsPath, "viewers", b, "viewer", "")

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	csA, kubeconfigA := userClient(t, s, a, wsPath)
	csB, _ := userClient(t, s, b, wsPath)

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
	waitDeployment(t, csA, "frontend", "web", 3, 2*time.Minute)
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
	// kubectl sees the same through the same kubeconfig.
	out, err := exec.CommandContext(ctx, needKubectl(t), "--kubeconfig", kubeconfigA, "-n", "frontend", "get", "deployment", "web", "-o", "jsonpath={.status.readyReplicas}").CombinedOutput()
	if err != nil || string(out) != "3" {
		t.Errorf("kubectl get deployment as A: %v: %s", err, out)
	}
	// C, of another organization, gets no token for the workspace on
	// either path.
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
		left := testutil.ProcsUnder(t, dataDir)
		return len(left) == 0, fmt.Sprintf("processes left after SIGKILL of hks: %v", left)
	})
	s = startServer(t, dataDir, s.Addr, nil)
	admin.url = s.URL
	waitStatus(t, admin, ws2Path, "running", 3*time.Minute)
	eventually(t, time.Minute, func() (bool, string) {
		n1, n2 := len(testutil.ProcsUnder(t, ws1Dir)), len(testutil.ProcsUnder(t, ws2Dir))
		return n1 == 4 && n2 == 4, fmt.Sprintf("processes: %d of the first workspace, %d of the second (want 4 each)", n1, n2)
	})
	if n := len(testutil.ProcsUnder(t, filepath.Join(dataDir, "etcd", "data"))); n != 1 {
		t.Errorf("%d etcd processes, want 1", n)
	}
	// The first workspace kept its objects and A's access.
	csA2, _ := userClient(t, s, a, wsPath)
	waitDeployment(t, csA2, "frontend", "web", 3, time.Minute)

	// The dedicated workspace steers pods to its own tainted nodes.
	csAdmin2, _ := userClient(t, s, admin, ws2Path)
	dep.Name = "batch"
	if _, err := csAdmin2.AppsV1().Deployments("default").Create(ctx, dep, metav1.CreateOptions{}); err != nil {
		t.Fatalf("admin creates a Deployment in the dedicated workspace: %v", err)
	}
	waitDeployment(t, csAdmin2, "default", "batch", 3, 2*time.Minute)
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
	portsJSON, err := os.ReadFile(filepath.Join(ws2Dir, "ports.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(portsJSON, &ports); err != nil || len(ports) == 0 {
		t.Fatalf("ports.json: %s %v", portsJSON, err)
	}
	admin.must("DELETE", ws2Path, nil, http.StatusAccepted, nil)
	eventually(t, 2*time.Minute, func() (bool, string) {
		code, _, _ := admin.call("GET", ws2Path, nil)
		return code == http.StatusNotFound, fmt.Sprintf("GET deleted workspace: %d", code)
	})
	if left := testutil.ProcsUnder(t, ws2Dir); len(left) != 0 {
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
