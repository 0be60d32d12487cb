package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/hexabase/hexabase-ai/internal/testutil"
)

// TestPodSecurityInWorkspace is the red-team's list run again through
// kubectl with the real kubeconfig of a developer with edit on one
// project of a shared workspace: each escape is refused by the workspace
// API server with its own message, a service-account token is capped at
// 24 hours, and ordinary work still runs; a restricted project refuses a
// baseline-only pod; a workspace-admin cannot relabel a namespace; the
// platform still manages its objects (and a privileged label that lands
// while a workspace-admin has the label policies deleted admits no pod
// and is removed); the application manifest route is held to the same
// rules.
func TestPodSecurityInWorkspace(t *testing.T) {
	needBinary(t)
	kubectl := needKubectl(t)
	s := startServer(t, filepath.Join(t.TempDir(), "data"), "127.0.0.1:0", nil)
	admin := setupAdmin(t, s, "admin@example.com", "correct-horse-battery")
	orgPath := admin.createOrg("Acme")
	// The workspace takes over the warm pool's spare API server, so the
	// spare's flags and admission configuration are the ones checked.
	var spareID string
	eventually(t, 2*time.Minute, func() (bool, string) {
		marks, _ := filepath.Glob(filepath.Join(s.DataDir, "workspaces", "*", "spare"))
		if len(marks) != 1 || !strings.Contains(metricsText(t, s), "hks_controlplane_spares_ready 1") {
			return false, fmt.Sprintf("spare markers %v; want one ready spare", marks)
		}
		spareID = filepath.Base(filepath.Dir(marks[0]))
		return true, ""
	})
	var ws wsOut
	admin.must("POST", orgPath+"/workspaces", map[string]string{"name": "prod"}, http.StatusAccepted, &ws)
	if ws.ID != spareID {
		t.Fatalf("workspace ID %s, want the spare's %s", ws.ID, spareID)
	}
	wsPath := orgPath + "/workspaces/" + ws.ID
	frontendID := admin.createProject(wsPath, map[string]any{"name": "frontend", "quota": map[string]any{"pods": 20}})
	vaultID := admin.createProject(wsPath, map[string]any{"name": "vault", "pod_security": "restricted"})
	a := createUser(t, s, "a@example.com", "password-of-a")
	admin.invite(orgPath, a)
	admin.grant(wsPath, "frontend-devs", a, "developer", frontendID)
	admin.grant(wsPath, "vault-devs", a, "developer", vaultID)
	waitStatus(t, admin, wsPath, "running", 3*time.Minute)

	csA, kubeconfigA := userClient(t, s, a, wsPath)
	csAdmin, kubeconfigAdmin := userClient(t, s, admin, wsPath)
	ctx, cancel := context.WithTimeout(t.Context(), 8*time.Minute)
	defer cancel()
	run := func(kubeconfig, stdin string, args ...string) (string, error) {
		cmd := exec.CommandContext(ctx, kubectl, append([]string{"--kubeconfig", kubeconfig}, args...)...)
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	service := func(name, spec string) string {
		return "apiVersion: v1\nkind: Service\nmetadata:\n  name: " + name + "\nspec:\n  ports: [{port: 80}]\n  selector: {app: x}\n" + spec
	}
	// The reconciler makes the namespaces, labels and policies within
	// seconds, the controller manager aggregates the edit role, and the
	// API server loads the policies (the last one applied is the
	// namespace-label policy's binding: a server-side dry run probes it).
	eventually(t, time.Minute, func() (bool, string) {
		out, err := run(kubeconfigA, "", "auth", "can-i", "create", "pods", "-n", "vault")
		if err != nil || strings.TrimSpace(out) != "yes" {
			return false, "A may create pods in vault: " + out
		}
		out, _ = run(kubeconfigAdmin, "", "label", "namespace", "default", "pod-security.kubernetes.io/warn=baseline", "--dry-run=server")
		return strings.Contains(out, "hks-pod-security-labels"), "namespace-label policy not in effect: " + out
	})

	const container = "  containers:\n  - name: c\n    image: nginx\n"
	pod := func(name, spec string) string {
		return "apiVersion: v1\nkind: Pod\nmetadata:\n  name: " + name + "\nspec:\n" + spec
	}
	refusals := []struct {
		name, manifest, ns, want string
	}{
		{"hostPath /", pod("hostpath", "  volumes:\n  - name: root\n    hostPath: {path: /}\n"+container), "frontend",
			`violates PodSecurity "baseline:latest": hostPath volumes (volume "root")`},
		{"hostNetwork", pod("hostnet", "  hostNetwork: true\n"+container), "frontend", "host namespaces (hostNetwork=true)"},
		{"hostPID", pod("hostpid", "  hostPID: true\n"+container), "frontend", "host namespaces (hostPID=true)"},
		{"hostIPC", pod("hostipc", "  hostIPC: true\n"+container), "frontend", "host namespaces (hostIPC=true)"},
		{"added capabilities", pod("caps", container+"    securityContext: {capabilities: {add: [SYS_ADMIN, NET_ADMIN]}}\n"), "frontend",
			`non-default capabilities (container "c" must not include "NET_ADMIN", "SYS_ADMIN"`},
		{"hostPort", pod("hostport", container+"    ports: [{containerPort: 80, hostPort: 80}]\n"), "frontend",
			`hostPort (container "c" uses hostPort 80)`},
		{"privileged", pod("priv", container+"    securityContext: {privileged: true}\n"), "frontend",
			"privileged: Forbidden: disallowed by cluster policy"}, // refused before this change too (no --allow-privileged)
		{"pinned nodeName", pod("pinned", "  nodeName: hks-shared-0\n"+container), "frontend",
			"spec.nodeName is not allowed: pods are placed by the scheduler"},
		{"externalIPs", service("intercept", "  externalIPs: [8.8.8.8]\n"), "frontend",
			"spec.externalIPs is not allowed in this workspace"},
		{"NodePort on shared", service("nodeport", "  type: NodePort\n"), "frontend",
			"Services of type NodePort and LoadBalancer are not allowed on the shared plan"},
		{"legacy service-account token Secret", "apiVersion: v1\nkind: Secret\nmetadata:\n  name: legacy\n  annotations: {kubernetes.io/service-account.name: default}\ntype: kubernetes.io/service-account-token\n", "frontend",
			"Secrets of type kubernetes.io/service-account-token are not allowed"},
		{"baseline-only pod in a restricted project", pod("plain", container), "vault",
			`violates PodSecurity "restricted:latest"`},
	}
	for _, tc := range refusals {
		t.Run(tc.name, func(t *testing.T) {
			out, err := run(kubeconfigA, tc.manifest, "-n", tc.ns, "create", "-f", "-")
			if err == nil || !strings.Contains(out, tc.want) {
				t.Errorf("kubectl create as a developer: %v\n%s\nwant a refusal with %q", err, out, tc.want)
			}
			if strings.Contains(out, ": : ") {
				t.Errorf("kubectl shows a refusal with an empty field: %s", out)
			}
		})
	}

	// A TokenRequest for ten years gets a token of at most 24 hours.
	t.Run("token for 87600h", func(t *testing.T) {
		if out, err := run(kubeconfigA, "", "-n", "frontend", "create", "serviceaccount", "robot"); err != nil {
			t.Fatalf("create serviceaccount: %v %s", err, out)
		}
		cmd := exec.CommandContext(ctx, kubectl, "--kubeconfig", kubeconfigA, "-n", "frontend", "create", "token", "robot", "--duration=87600h")
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("create token: %v %s", err, out)
		}
		if life := testutil.JWTLifetime(t, strings.TrimSpace(string(out))); life > 24*time.Hour || life <= 0 {
			t.Errorf("token lives %s, want at most 24h", life)
		}
	})

	// A workspace-admin cannot relabel a namespace privileged, nor label
	// one that has no Pod Security labels.
	for _, ns := range []string{"frontend", "default"} {
		t.Run("workspace-admin relabels "+ns, func(t *testing.T) {
			out, err := run(kubeconfigAdmin, "", "label", "namespace", ns, "pod-security.kubernetes.io/enforce=privileged", "--overwrite")
			if err == nil || !refusedByLabelPolicy(out) {
				t.Errorf("kubectl label as workspace-admin: %v %s", err, out)
			}
		})
	}

	// Nor through the namespace's status subresource, nor by impersonating
	// the platform (which passes the platform-only policy but not the one
	// on the values, which exempts nobody).
	t.Run("workspace-admin relabels through namespaces/status", func(t *testing.T) {
		out, err := run(kubeconfigAdmin, "", "patch", "namespace", "frontend", "--subresource=status", "--type=merge",
			"-p", `{"metadata":{"labels":{"pod-security.kubernetes.io/enforce":"privileged"}}}`)
		if err == nil || !refusedByLabelPolicy(out) {
			t.Errorf("kubectl patch --subresource=status as workspace-admin: %v %s", err, out)
		}
	})
	t.Run("workspace-admin impersonates the platform", func(t *testing.T) {
		eventually(t, time.Minute, func() (bool, string) {
			out, err := run(kubeconfigAdmin, "", "--as=hks:platform", "--as-group=system:masters",
				"label", "namespace", "default", "pod-security.kubernetes.io/enforce=privileged", "--overwrite")
			return err != nil && strings.Contains(out, "hks-pod-security-levels"), fmt.Sprintf("kubectl label --as=hks:platform: %v %s", err, out)
		})
	})

	// A workspace-admin deletes the two label policies and creates a
	// privileged namespace until one create lands before the reconciler
	// has them back: its pods are refused all the same (by
	// hks-pod-security-floor, or by baseline once the reconciler has
	// removed the label, which it does within seconds).
	t.Run("workspace-admin races the reconciler for a privileged namespace", func(t *testing.T) {
		const ns = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: pwn\n  labels: {pod-security.kubernetes.io/enforce: privileged}\n"
		eventually(t, 2*time.Minute, func() (bool, string) {
			_, _ = run(kubeconfigAdmin, "", "delete", "validatingadmissionpolicybinding", "hks-pod-security-levels", "hks-pod-security-labels", "--ignore-not-found")
			out, err := run(kubeconfigAdmin, ns, "create", "-f", "-")
			return err == nil || strings.Contains(out, "AlreadyExists"), "create namespace pwn: " + out
		})
		out, err := run(kubeconfigAdmin, pod("hostpid", "  hostPID: true\n"+container), "-n", "pwn", "create", "-f", "-")
		if err == nil || !(strings.Contains(out, "ValidatingAdmissionPolicy 'hks-pod-security-floor'") || strings.Contains(out, `violates PodSecurity "baseline:latest"`)) {
			t.Errorf("hostPID pod in pwn: %v %s; want a refusal by hks-pod-security-floor or baseline", err, out)
		}
		eventually(t, time.Minute, func() (bool, string) {
			n, err := csAdmin.CoreV1().Namespaces().Get(ctx, "pwn", metav1.GetOptions{})
			if err != nil {
				return false, err.Error()
			}
			_, ok := n.Labels["pod-security.kubernetes.io/enforce"]
			return !ok, fmt.Sprintf("pwn labels %v", n.Labels)
		})
	})

	// A plain Deployment still runs on the simulated nodes.
	if out, err := run(kubeconfigA, "", "-n", "frontend", "create", "deployment", "web", "--image=nginx:1.27", "--replicas=2"); err != nil {
		t.Fatalf("create deployment: %v %s", err, out)
	}
	waitDeployment(t, csA, "frontend", "web", 2, 2*time.Minute)

	// The platform still manages its objects: a quota changed by the
	// workspace-admin is restored, and a project's new level reaches its
	// namespace.
	if out, err := run(kubeconfigAdmin, "", "-n", "frontend", "patch", "resourcequota", "hks-quota", "--type=merge", "-p", `{"spec":{"hard":{"pods":"999"}}}`); err != nil {
		t.Fatalf("patch quota: %v %s", err, out)
	}
	eventually(t, time.Minute, func() (bool, string) {
		q, err := csAdmin.CoreV1().ResourceQuotas("frontend").Get(ctx, "hks-quota", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		pods := q.Spec.Hard["pods"]
		return pods.String() == "20", "quota pods " + pods.String()
	})
	// An application from the simple form in a restricted project is
	// made restricted-compliant, so it is admitted (TestSpecFormsInARestrictedProject
	// checks its pods).
	admin.must("POST", wsPath+"/projects/vault/applications", map[string]any{"name": "web", "image": "nginx"}, http.StatusCreated, nil)
	admin.must("PATCH", wsPath+"/projects/vault", map[string]string{"pod_security": "baseline"}, http.StatusOK, nil)
	eventually(t, time.Minute, func() (bool, string) {
		n, err := csAdmin.CoreV1().Namespaces().Get(ctx, "vault", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		return n.Labels["pod-security.kubernetes.io/enforce"] == "baseline", fmt.Sprintf("vault labels %v", n.Labels)
	})

	// The application routes refuse what the project's level would
	// refuse of the pods (Pod Security only warns about a Deployment),
	// with the API server's text and nothing left behind, and pass its
	// other warnings on.
	apps := wsPath + "/projects/frontend/applications"
	deployment := func(name, spec string) string {
		return "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: " + name + "\nspec:\n  selector:\n    matchLabels: {app: " + name +
			"}\n  template:\n    metadata:\n      labels: {app: " + name + "}\n    spec:\n    " + strings.ReplaceAll(strings.TrimSuffix(spec, "\n"), "\n", "\n    ") + "\n"
	}
	restrictedWarning := func(h http.Header) bool {
		for _, v := range h.Values("Warning") {
			if strings.HasPrefix(v, `299 - "would violate PodSecurity \"restricted:latest\"`) {
				return true
			}
		}
		return false
	}
	t.Run("simple form", func(t *testing.T) {
		code, h, b, err := a.in(t).callHeader("POST", apps, map[string]any{"name": "simple", "image": "nginx"})
		if err != nil || code != http.StatusCreated || !restrictedWarning(h) {
			t.Errorf("simple form: %d %v %s, Warning %q; want 201 with the restricted warning", code, err, b, h.Values("Warning"))
		}
	})
	t.Run("manifest Deployment with hostPath", func(t *testing.T) {
		manifest := deployment("rooted", "  volumes:\n  - name: root\n    hostPath: {path: /}\n"+container) + "---\n" + service("rooted", "")
		p := problem(t, a.in(t), "POST", apps, map[string]string{"manifest": manifest}, http.StatusUnprocessableEntity)
		if len(p.Errors) == 0 || p.Errors[0].Field != "manifest" || !strings.Contains(p.Errors[0].Message, "document 1 (Deployment rooted)") ||
			!strings.Contains(p.Errors[0].Message, `violates PodSecurity "baseline:latest": hostPath volumes (volume "root")`) {
			t.Errorf("manifest refusal: %+v", p)
		}
		if _, err := csA.AppsV1().Deployments("frontend").Get(ctx, "rooted", metav1.GetOptions{}); err == nil {
			t.Error("the refused manifest left its Deployment")
		}
		if _, err := csA.CoreV1().Services("frontend").Get(ctx, "rooted", metav1.GetOptions{}); err == nil {
			t.Error("the refused manifest left its Service")
		}
	})
	t.Run("manifest with restricted-level warnings only", func(t *testing.T) {
		code, h, b, err := a.in(t).callHeader("POST", apps, map[string]string{"manifest": deployment("plain", container)})
		if err != nil || code != http.StatusCreated || !restrictedWarning(h) {
			t.Errorf("plain manifest: %d %v %s, Warning %q; want 201 with the restricted warning", code, err, b, h.Values("Warning"))
		}
		env := baseEnv("HKS_CONFIG_DIR="+filepath.Join(t.TempDir(), "cfg"), "HKS_ORG="+strings.TrimPrefix(orgPath, "/api/v1/organizations/"), "HKS_WORKSPACE="+ws.ID, "HKS_PROJECT=frontend")
		mustHKS(t, env, "password-of-a\n", "login", "--server", s.URL, "--email", "a@example.com", "--password-stdin")
		r := runHKS(t, env, deployment("plain-cli", container), "app", "apply", "-f", "-")
		if r.Code != 0 || !strings.Contains(r.Stderr, `Warning: would violate PodSecurity "restricted:latest": `) || strings.Contains(r.Stdout, "Warning") {
			t.Errorf("hks app apply: %s\nwant the warning on stderr", r)
		}
	})
	t.Run("kubectl apply of a Deployment with a template nodeName", func(t *testing.T) {
		out, err := run(kubeconfigA, deployment("pinned", "  nodeName: hks-shared-0\n"+container), "-n", "frontend", "apply", "-f", "-")
		if err == nil || !strings.Contains(out, "spec.template.spec.nodeName is not allowed") {
			t.Errorf("kubectl apply: %v\n%s\nwant the nodeName policy's refusal", err, out)
		}
	})
}

// refusedByLabelPolicy: kubectl's output is the refusal of one of the two
// policies on Pod Security labels (both refuse a privileged label; which
// one answers first is not fixed).
func refusedByLabelPolicy(out string) bool {
	return strings.Contains(out, "ValidatingAdmissionPolicy 'hks-pod-security-labels'") ||
		strings.Contains(out, "ValidatingAdmissionPolicy 'hks-pod-security-levels'")
}
