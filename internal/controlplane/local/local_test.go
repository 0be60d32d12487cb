package local

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/hexabase/hexabase-ai/internal/controlplane"
	"github.com/hexabase/hexabase-ai/internal/store"
	"github.com/hexabase/hexabase-ai/internal/testutil"
)

// needBinaries is the first call of every test that runs the pinned
// binaries: it skips with -short and fails when they are missing (make
// test-e2e and make test build them first with `make k8s-bins`).
func needBinaries(t *testing.T) {
	t.Helper()
	dir, err := DefaultBinDir()
	if err != nil {
		t.Fatal(err)
	}
	testutil.NeedK8sBinaries(t, dir)
}

// newTestProvider runs the pinned binaries (see needBinaries).
// wantProcs checks that want processes run under dir; what names them.
func wantProcs(t *testing.T, dir string, want int, what string) {
	t.Helper()
	if n := len(testutil.ProcsUnder(t, dir)); n != want {
		t.Fatalf("%d processes of %s, want %d", n, what, want)
	}
}

func newTestProvider(t *testing.T, dataDir string) *Provider {
	t.Helper()
	needBinaries(t)
	var logw io.Writer = io.Discard
	if testing.Verbose() {
		logw = os.Stderr
	}
	p, err := New(Config{DataDir: dataDir, Logger: slog.New(slog.NewTextHandler(logw, nil))})
	if err != nil {
		t.Fatalf("%v (make test runs `make k8s-bins` first)", err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// testIssuer is an https issuer nobody serves: the API servers start
// without it (they only fail to authenticate its tokens).
var testIssuer = controlplane.IssuerTrust{URL: "https://127.0.0.1:1"}

func TestFindBinariesMissing(t *testing.T) {
	dir := t.TempDir()
	_, err := FindBinaries(dir)
	if !errors.Is(err, controlplane.ErrBinaryMissing) || !strings.Contains(err.Error(), "kube-apiserver not found in "+dir) ||
		!strings.Contains(err.Error(), "--k8s-bin-dir") {
		t.Fatalf("err = %v", err)
	}
	for _, b := range []string{"kube-apiserver", "kube-controller-manager", "kube-scheduler", "etcd"} {
		if err := os.WriteFile(filepath.Join(dir, b), []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := FindBinaries(dir); err == nil || !strings.Contains(err.Error(), "kwok not found") {
		t.Fatalf("err = %v, want kwok not found", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "kwok"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := FindBinaries(dir); err == nil || !strings.Contains(err.Error(), "not an executable") {
		t.Fatalf("err = %v, want not an executable", err)
	}
}

func TestBinariesKeyMatchesTools(t *testing.T) {
	mod, err := os.ReadFile("../../../tools/k8s/go.mod")
	if err != nil {
		t.Fatal(err)
	}
	kwokMod, err := os.ReadFile("../../../tools/k8s/kwok/go.mod")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"k8s.io/kubernetes " + KubernetesVersion, "go.etcd.io/etcd/server/v3 v3.6.16"} {
		t.Run(testutil.CaseName(want), func(t *testing.T) {
			if !bytes.Contains(mod, []byte(want)) {
				t.Errorf("tools/k8s/go.mod does not pin %q; update BinariesKey", want)
			}
		})
	}
	if !bytes.Contains(kwokMod, []byte("sigs.k8s.io/kwok v0.8.0")) {
		t.Error("tools/k8s/kwok/go.mod does not pin kwok v0.8.0; update BinariesKey")
	}
	if BinariesKey != "k8s-"+KubernetesVersion+"_etcd-v3.6.16_kwok-v0.8.0" {
		t.Errorf("BinariesKey %q does not name the pinned versions", BinariesKey)
	}
}

// TestWorkspaceLifecycle runs a real control plane: it becomes ready with
// its simulated nodes, runs a Deployment to its replicas, survives a
// provider restart with exactly one set of processes, and leaves nothing
// behind when deleted.
func TestWorkspaceLifecycle(t *testing.T) {
	needBinaries(t)
	dataDir := t.TempDir()
	if d := os.Getenv("HKS_TEST_KEEP_DIR"); d != "" {
		dataDir = d
	}
	p := newTestProvider(t, dataDir)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	id := store.NewID()
	spec := controlplane.Spec{WorkspaceID: id, OrgID: store.NewID(), Plan: controlplane.PlanShared, Issuer: testIssuer}
	start := time.Now()
	if err := p.Create(ctx, spec); err != nil {
		t.Fatal(err)
	}
	t.Logf("ready in %s", time.Since(start))
	wsDir := p.wsDir(id)
	wantProcs(t, wsDir, 4, "the workspace")
	// Create again: nothing new.
	if err := p.Create(ctx, spec); err != nil {
		t.Fatal(err)
	}
	wantProcs(t, wsDir, 4, "the workspace after a second Create")

	rc, err := p.AdminConfig(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	cs := kubernetes.NewForConfigOrDie(rc)
	var h controlplane.Health
	testutil.WaitFor(t, 60*time.Second, "healthy control plane", func() bool {
		h, _ = p.Health(ctx, id)
		return h.Ready
	})
	if h.Version != KubernetesVersion {
		t.Errorf("version %q", h.Version)
	}
	ep, err := p.Endpoint(ctx, id)
	if err != nil || ep.Server != rc.Host || !bytes.Contains(ep.CAPEM, []byte("BEGIN CERTIFICATE")) {
		t.Fatalf("endpoint %+v, %v", ep, err)
	}

	// A Deployment reaches its replicas on the simulated nodes.
	testutil.WaitFor(t, 60*time.Second, "default service account", func() bool {
		_, err := cs.CoreV1().ServiceAccounts("default").Get(ctx, "default", metav1.GetOptions{})
		return err == nil
	})
	two := int32(2)
	labels := map[string]string{"app": "web"}
	dep := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web"}, Spec: appsv1.DeploymentSpec{
		Replicas: &two, Selector: &metav1.LabelSelector{MatchLabels: labels},
		Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "nginx"}}}}}}
	if _, err := cs.AppsV1().Deployments("default").Create(ctx, dep, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 90*time.Second, "2 ready replicas", func() bool {
		d, err := cs.AppsV1().Deployments("default").Get(ctx, "web", metav1.GetOptions{})
		ok := err == nil && d.Status.ReadyReplicas == 2
		if !ok && testing.Verbose() {
			pods, _ := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{})
			for _, po := range pods.Items {
				t.Logf("pod %s node=%q phase=%s", po.Name, po.Spec.NodeName, po.Status.Phase)
			}
		}
		return ok
	})

	// A node as workspaces made before the kubelet endpoint have them
	// (another address, no kubelet port): the restart repoints it.
	old := []byte(`{"status":{"addresses":[{"type":"InternalIP","address":"192.168.64.10"},{"type":"Hostname","address":"hks-shared-0"}],"daemonEndpoints":{"kubeletEndpoint":{"Port":0}}}}`)
	if _, err := cs.CoreV1().Nodes().Patch(ctx, "hks-shared-0", types.MergePatchType, old, metav1.PatchOptions{}, "status"); err != nil {
		t.Fatal(err)
	}

	// A restarted hks (a new provider on the same data dir) replaces the
	// leftover processes: still exactly one set.
	p2 := newTestProvider(t, dataDir)
	p.mu.Lock()
	p.closed = true // the old provider must not restart what p2 kills
	p.mu.Unlock()
	for _, ws := range p.spaces {
		for _, pr := range ws.procs {
			pr.mu.Lock()
			pr.stopping = true
			pr.mu.Unlock()
		}
	}
	p.etcd.proc.mu.Lock()
	p.etcd.proc.stopping = true
	p.etcd.proc.mu.Unlock()
	if err := p2.Create(ctx, spec); err != nil {
		t.Fatal(err)
	}
	wantProcs(t, wsDir, 4, "the workspace after restart")
	wantProcs(t, filepath.Join(dataDir, "etcd", "data"), 1, "etcd after restart")
	cs2 := kubernetes.NewForConfigOrDie(mustAdmin(t, p2, id))
	if d, err := cs2.AppsV1().Deployments("default").Get(ctx, "web", metav1.GetOptions{}); err != nil || *d.Spec.Replicas != 2 {
		t.Fatalf("deployment after restart: %v", err)
	}
	n, err := cs2.CoreV1().Nodes().Get(ctx, "hks-shared-0", metav1.GetOptions{})
	kwokPort := p2.spaces[id].files.ports.Kwok
	if err != nil || n.Status.Addresses[0].Address != "127.0.0.1" || int(n.Status.DaemonEndpoints.KubeletEndpoint.Port) != kwokPort {
		t.Fatalf("node after restart: %v %v %v, want 127.0.0.1 and kubelet port %d", err, n.Status.Addresses, n.Status.DaemonEndpoints, kwokPort)
	}
	// The API server reaches kwok's kubelet endpoint (TLS verified) for
	// the logs of the pods.
	pods, err := cs2.CoreV1().Pods("default").List(ctx, metav1.ListOptions{})
	if err != nil || len(pods.Items) == 0 {
		t.Fatalf("pods: %v %v", pods, err)
	}
	for _, po := range pods.Items {
		b, err := cs2.CoreV1().Pods("default").GetLogs(po.Name, &corev1.PodLogOptions{}).DoRaw(ctx)
		if err != nil || !strings.HasPrefix(string(b), kwokContainerLogLines[0]) {
			t.Fatalf("logs of %s: %v %q", po.Name, err, b)
		}
	}

	// Delete: no process, no data, no keys.
	if err := p2.Delete(ctx, id); err != nil {
		t.Fatal(err)
	}
	if pids := testutil.ProcsUnder(t, wsDir); len(pids) != 0 {
		t.Fatalf("processes left after delete: %v", pids)
	}
	if _, err := os.Stat(wsDir); !os.IsNotExist(err) {
		t.Fatalf("workspace data left after delete: %v", err)
	}
	if _, err := p2.Health(ctx, id); !errors.Is(err, controlplane.ErrNotFound) {
		t.Fatalf("health after delete: %v", err)
	}
	if err := p2.Delete(ctx, id); err != nil {
		t.Fatalf("second delete: %v", err)
	}
	p2.Close()
	if pids := testutil.ProcsUnder(t, dataDir); len(pids) != 0 {
		t.Fatalf("processes left after Close: %v", pids)
	}
}

func mustAdmin(t *testing.T, p *Provider, id string) *rest.Config {
	t.Helper()
	rc, err := p.AdminConfig(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return rc
}
