package e2e

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/hexabase/hexabase-ai/internal/api"
)

// TestSpecAppDoesNotRewriteAnotherAppsService: a Service named like a
// spec-made application but made by another application's manifest (or
// with kubectl) is not the application's: a PATCH of its ports is a 409
// naming the Service, which keeps its ports and labels, and the
// application is unchanged; creating a spec application with ports whose
// Service name is taken is a 409 that leaves nothing behind.
func TestSpecAppDoesNotRewriteAnotherAppsService(t *testing.T) {
	w := newWorkloadsWorld(t)
	ctx := context.Background()
	apps := w.frontend + "/applications"
	kc, _ := userClient(t, w.s, w.a, w.wsPath)
	const ns = "frontend"

	// Application b's manifest makes a Service named a.
	b := "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: b}\nspec:\n  selector: {matchLabels: {app: b}}\n  template:\n    metadata: {labels: {app: b}}\n" +
		"    spec:\n      containers: [{name: c, image: 'busybox:1.36', command: [sleep, \"3600\"]}]\n---\napiVersion: v1\nkind: Service\nmetadata: {name: a}\nspec:\n  selector: {app: b}\n  ports: [{port: 80}]\n"
	w.a.must("POST", apps, api.CreateApplicationRequest{Manifest: b}, http.StatusCreated, nil)
	// Spec application a, without ports, does not show b's Service as its own.
	var a appOut
	w.a.must("POST", apps, map[string]any{"name": "a", "image": "nginx:1.27"}, http.StatusCreated, &a)
	w.a.must("GET", apps+"/a", nil, http.StatusOK, &a)
	if a.Service != nil {
		t.Errorf("application a shows Service %+v, which is b's", a.Service)
	}
	p := problem(t, w.a, "PATCH", apps+"/a", map[string]any{"ports": []map[string]any{{"container_port": 8080, "service_port": 9090}}, "labels": map[string]string{"team": "x"}}, http.StatusConflict)
	if !strings.Contains(p.Detail, `Service a exists and is not part of application "a"`) {
		t.Errorf("PATCH a's ports: %+v", p)
	}
	svc, err := kc.CoreV1().Services(ns).Get(ctx, "a", metav1.GetOptions{})
	if err != nil || len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].Port != 80 || svc.Labels["hks.io/app"] != "b" || svc.Labels["team"] != "" {
		t.Errorf("b's Service after the PATCH: %+v %v", svc, err)
	}
	d, err := kc.AppsV1().Deployments(ns).Get(ctx, "a", metav1.GetOptions{})
	if err != nil || len(d.Spec.Template.Spec.Containers[0].Ports) != 0 {
		t.Errorf("a's Deployment after the refused PATCH: %+v %v", d, err)
	}

	// A kubectl Service named like a new application with ports.
	if _, err := kc.CoreV1().Services(ns).Create(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "c"},
		Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80}}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	p = problem(t, w.a, "POST", apps, map[string]any{"name": "c", "image": "nginx:1.27", "ports": []map[string]any{{"container_port": 8080}}}, http.StatusConflict)
	if !strings.Contains(p.Detail, `Service c exists and is not part of application "c"`) {
		t.Errorf("create c: %+v", p)
	}
	if _, err := kc.AppsV1().Deployments(ns).Get(ctx, "c", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the refused create left Deployment c: %v", err)
	}
}

// TestSpecFormsInARestrictedProject: in a project whose Pod Security
// level is restricted, the application and CronJob forms make pods the
// level admits (runAsNonRoot, RuntimeDefault seccomp, no privilege
// escalation, all capabilities dropped) and they run; in a baseline
// project the form's pods are as before. A CronJob whose runs' pods the
// level would refuse (its template changed with kubectl) is refused on
// update, naming the template with the API server's text, and left as
// it was; the restricted-level warnings of a baseline project come back
// as Warning headers.
func TestSpecFormsInARestrictedProject(t *testing.T) {
	w := newWorkloadsWorld(t)
	ctx := context.Background()
	vaultID := w.admin.createProject(w.wsPath, map[string]any{"name": "vault", "pod_security": "restricted"})
	w.admin.grant(w.wsPath, "vault-devs", w.a, "developer", vaultID)
	vault := w.wsPath + "/projects/vault"
	eventually(t, time.Minute, func() (bool, string) {
		code, b, _ := w.a.call("GET", vault+"/applications", nil)
		return code == http.StatusOK, fmt.Sprintf("A lists vault's applications: %d %s", code, b)
	})
	kc, _ := userClient(t, w.s, w.a, w.wsPath)
	restricted := func(t *testing.T, what string, ps corev1.PodSpec) {
		t.Helper()
		psc, c := ps.SecurityContext, ps.Containers[0].SecurityContext
		if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault ||
			c == nil || c.AllowPrivilegeEscalation == nil || *c.AllowPrivilegeEscalation || c.Capabilities == nil || len(c.Capabilities.Drop) != 1 || c.Capabilities.Drop[0] != "ALL" {
			t.Errorf("%s: pod securityContext %+v, container securityContext %+v: want restricted", what, psc, c)
		}
	}

	t.Run("application", func(t *testing.T) {
		w.a.in(t).must("POST", vault+"/applications", map[string]any{"name": "web", "image": "nginx:1.27", "replicas": 2}, http.StatusCreated, nil)
		waitApp(t, w.a.in(t), vault+"/applications/web", 2)
		d, err := kc.AppsV1().Deployments("vault").Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		restricted(t, "Deployment web", d.Spec.Template.Spec)
		// A change of the template keeps it restricted.
		w.a.in(t).must("PATCH", vault+"/applications/web", map[string]any{"image": "nginx:1.28"}, http.StatusOK, nil)
		waitApp(t, w.a.in(t), vault+"/applications/web", 2)
		// In a baseline project the form's pods are as they were.
		w.a.in(t).must("POST", w.frontend+"/applications", map[string]any{"name": "plain", "image": "nginx:1.27"}, http.StatusCreated, nil)
		if d, err := kc.AppsV1().Deployments("frontend").Get(ctx, "plain", metav1.GetOptions{}); err != nil || d.Spec.Template.Spec.SecurityContext != nil && d.Spec.Template.Spec.SecurityContext.RunAsNonRoot != nil ||
			d.Spec.Template.Spec.Containers[0].SecurityContext != nil {
			t.Errorf("Deployment plain in a baseline project: %+v %v", d, err)
		}
	})

	t.Run("cronjob", func(t *testing.T) {
		cj := map[string]any{"name": "tick", "schedule": "@hourly", "template": map[string]any{"image": "busybox:1.36", "command": []string{"true"}}}
		w.a.in(t).must("POST", vault+"/cronjobs", cj, http.StatusCreated, nil)
		got, err := kc.BatchV1().CronJobs("vault").Get(ctx, "tick", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		restricted(t, "CronJob tick", got.Spec.JobTemplate.Spec.Template.Spec)
		// A run's pod is admitted.
		w.a.in(t).must("POST", vault+"/cronjobs/tick/trigger", nil, http.StatusCreated, nil)
		eventually(t, 2*time.Minute, func() (bool, string) {
			pods, err := kc.CoreV1().Pods("vault").List(ctx, metav1.ListOptions{LabelSelector: "hks.io/cronjob=tick"})
			if err != nil {
				return false, err.Error()
			}
			return len(pods.Items) > 0, "no pod of a run of tick"
		})

	})

	t.Run("cronjob whose runs the level would refuse", func(t *testing.T) {
		cj := map[string]any{"name": "tick", "schedule": "@hourly", "template": map[string]any{"image": "busybox:1.36", "command": []string{"true"}}}
		// In a baseline project: 201, the restricted warning as a header.
		code, h, body, err := w.a.in(t).callHeader("POST", w.frontend+"/cronjobs", cj)
		if err != nil || code != http.StatusCreated || !strings.Contains(strings.Join(h.Values("Warning"), "\n"), `would violate PodSecurity \"restricted:latest\"`) {
			t.Errorf("CronJob in a baseline project: %d %v %s, Warning %q", code, err, body, h.Values("Warning"))
		}
		// Its template given hostNetwork with kubectl (a CronJob is only
		// warned about): a change through the API is refused, naming the
		// template, with the API server's text.
		patch := `{"spec":{"jobTemplate":{"spec":{"template":{"spec":{"hostNetwork":true}}}}}}`
		if _, err := kc.BatchV1().CronJobs("frontend").Patch(ctx, "tick", types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
		p := problem(t, w.a.in(t), "PATCH", w.frontend+"/cronjobs/tick", map[string]any{"template": map[string]any{"image": "busybox:1.37"}}, http.StatusUnprocessableEntity)
		if len(p.Errors) != 1 || p.Errors[0].Field != "template" || !strings.Contains(p.Errors[0].Message, `PodSecurity "baseline:latest"`) ||
			!strings.Contains(p.Errors[0].Message, "hostNetwork=true") {
			t.Errorf("PATCH of a CronJob with hostNetwork: %+v", p)
		}
		if got, err := kc.BatchV1().CronJobs("frontend").Get(ctx, "tick", metav1.GetOptions{}); err != nil || got.Spec.JobTemplate.Spec.Template.Spec.Containers[0].Image != "busybox:1.36" {
			t.Errorf("the refused PATCH changed the CronJob: %v", err)
		}
	})
}
