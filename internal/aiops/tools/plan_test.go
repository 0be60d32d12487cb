package tools

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hexabase/hexabase-ai/internal/testutil"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// propose runs write tool name as tgt's user, then Prepare.
func propose(t *testing.T, tgt *Target, name, args string) Prepared {
	t.Helper()
	r, err := NewRegistry(Builtin()...)
	if err != nil {
		t.Fatal(err)
	}
	// The object's controllers may write its status between the read and
	// the dry run (a 409 as stale): read it again, as the service does.
	var pr Prepared
	testutil.WaitFor(t, time.Minute, "a plan of "+name+" not overtaken by the object's controllers", func() bool {
		p, err := r.Propose(context.Background(), tgt, name, json.RawMessage(args))
		if err != nil {
			t.Fatalf("%s(%s): %v", name, args, err)
		}
		pr, err = Prepare(context.Background(), tgt, p)
		if errors.Is(err, ErrStale) {
			return false
		}
		if err != nil {
			t.Fatalf("Prepare(%s(%s)): %v", name, args, err)
		}
		return true
	})
	return pr
}

func execute(t *testing.T, tgt *Target, pr Prepared) Result {
	t.Helper()
	res, err := Execute(context.Background(), tgt, planOf(pr))
	if err != nil {
		t.Fatalf("Execute(%s): %v", pr.Summary, err)
	}
	return res
}

func wantStale(t *testing.T, err error, what string) {
	t.Helper()
	if !errors.Is(err, ErrStale) {
		t.Fatalf("%s: %v, want ErrStale", what, err)
	}
}

func wantCluster(t *testing.T, err error, status int, what string) *ClusterError {
	t.Helper()
	var ce *ClusterError
	if !errors.As(err, &ce) || ce.Status != status {
		t.Fatalf("%s: %v, want a ClusterError %d", what, err, status)
	}
	return ce
}

func replicas(t *testing.T, ns, name string) int32 {
	t.Helper()
	d, err := env.kube.AppsV1().Deployments(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return *d.Spec.Replicas
}

func scaleAsAdmin(t *testing.T, ns, name string, n int32) {
	t.Helper()
	patch := fmt.Appendf(nil, `{"spec":{"replicas":%d}}`, n)
	if _, err := env.kube.AppsV1().Deployments(ns).Patch(context.Background(), name, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	settled(t, ns, name)
}

// TestScalePlan: a developer's plan to scale shows the change, executes
// once as them, and a plan made before a change in between is stale (by
// the platform's guard, and by the API server's precondition when the
// change lands after the guard); a viewer's plan is refused by the
// cluster (403) at its dry run and when confirmed, and nothing changes.
func TestScalePlan(t *testing.T) {
	startCluster(t)
	ctx := context.Background()
	deployment(t, "shop", "scale-web", 2)
	dev := target(t, "developer", "shop", nil)

	pr := propose(t, dev, "scale", `{"name":"scale-web","replicas":5}`)
	if pr.Summary != "scale deployment scale-web in shop from 2 to 5 replicas" {
		t.Errorf("summary %q", pr.Summary)
	}
	if err := contains(pr.Diff, "-  replicas: 2\n", "+  replicas: 5\n", "--- before\n+++ after\n"); err != nil {
		t.Error(err)
	}
	for _, noise := range []string{"resourceVersion", "managedFields", "uid:", "creationTimestamp", "generation", "status:"} {
		if strings.Contains(pr.Diff, noise) || strings.Contains(pr.AfterYAML, noise) {
			t.Errorf("the plan shows %s:\n%s", noise, pr.Diff)
		}
	}
	if pr.Method != http.MethodPut || pr.GuardResourceVersion == "" || pr.Hash != Hash(pr.Method, pr.Path, pr.Body) {
		t.Errorf("plan %s %s guard %q hash %s", pr.Method, pr.Path, pr.GuardResourceVersion, pr.Hash)
	}
	if n := replicas(t, "shop", "scale-web"); n != 2 {
		t.Fatalf("after Prepare: %d replicas, want 2 (a dry run)", n)
	}
	res := execute(t, dev, pr)
	settled(t, "shop", "scale-web")
	if n := replicas(t, "shop", "scale-web"); n != 5 {
		t.Fatalf("after Execute: %d replicas, want 5", n)
	}
	if !strings.HasPrefix(res.Text, "done: scale deployment scale-web") {
		t.Errorf("Execute: %q", res.Text)
	}

	t.Run("executed twice", func(t *testing.T) {
		_, err := Execute(ctx, dev, planOf(pr))
		wantStale(t, err, "the second Execute")
	})
	t.Run("a change in between", func(t *testing.T) {
		pr := propose(t, dev, "scale", `{"name":"scale-web","replicas":3}`)
		scaleAsAdmin(t, "shop", "scale-web", 4)
		_, err := Execute(ctx, dev, planOf(pr))
		wantStale(t, err, "Execute after a change")
		settled(t, "shop", "scale-web")
		if n := replicas(t, "shop", "scale-web"); n != 4 {
			t.Errorf("%d replicas, want 4 (the change in between)", n)
		}
	})
	t.Run("a change after the guard: the API server's 409", func(t *testing.T) {
		pr := propose(t, dev, "scale", `{"name":"scale-web","replicas":6}`)
		scaleAsAdmin(t, "shop", "scale-web", 7)
		pl := planOf(pr)
		pl.GuardPath = "" // as if the change landed between the guard's GET and the PUT
		_, err := Execute(ctx, dev, pl)
		wantStale(t, err, "Execute of a stale PUT")
		if n := replicas(t, "shop", "scale-web"); n != 7 {
			t.Errorf("%d replicas, want 7", n)
		}
	})
	t.Run("a plan whose request was altered", func(t *testing.T) {
		pr := propose(t, dev, "scale", `{"name":"scale-web","replicas":1}`)
		pl := planOf(pr)
		pl.Body = strings.Replace(pl.Body, `"replicas":1`, `"replicas":9`, 1)
		if _, err := Execute(ctx, dev, pl); err == nil || errors.Is(err, ErrStale) {
			t.Fatalf("Execute of an altered plan: %v", err)
		}
		if n := replicas(t, "shop", "scale-web"); n != 7 {
			t.Errorf("%d replicas, want 7", n)
		}
	})
	t.Run("viewer", func(t *testing.T) {
		viewer := target(t, "viewer", "shop", nil)
		r, _ := NewRegistry(Builtin()...)
		p, err := r.Propose(ctx, viewer, "scale", json.RawMessage(`{"name":"scale-web","replicas":2}`))
		if err != nil {
			t.Fatalf("the viewer's proposal (reads only): %v", err)
		}
		_, err = Prepare(ctx, viewer, p)
		ce := wantCluster(t, err, http.StatusForbidden, "the viewer's Prepare")
		if !strings.Contains(ce.Message, "viewer@example.com") {
			t.Errorf("the refusal does not name the caller: %q", ce.Message)
		}
		// The developer's plan confirmed by the viewer: the cluster
		// refuses the request as them.
		pr := propose(t, dev, "scale", `{"name":"scale-web","replicas":2}`)
		_, err = Execute(ctx, viewer, planOf(pr))
		wantCluster(t, err, http.StatusForbidden, "the viewer's Execute")
		if n := replicas(t, "shop", "scale-web"); n != 7 {
			t.Errorf("%d replicas after the viewer, want 7", n)
		}
	})
}

// TestWritePlans: each write tool's plan shows its change, executes as
// the developer, and is stale once its object changed; the viewer's dry
// run of each is refused by the cluster and changes nothing.
func TestWritePlans(t *testing.T) {
	startCluster(t)
	ctx := context.Background()
	dev := target(t, "developer", "shop", nil)
	admin := env.kube

	t.Run("restart", func(t *testing.T) {
		deployment(t, "shop", "restart-web", 1)
		pr := propose(t, dev, "restart", `{"name":"restart-web"}`)
		if err := contains(pr.Diff, "+        kubectl.kubernetes.io/restartedAt: "); err != nil {
			t.Error(err)
		}
		execute(t, dev, pr)
		d, err := admin.AppsV1().Deployments("shop").Get(ctx, "restart-web", metav1.GetOptions{})
		if err != nil || d.Spec.Template.Annotations[annotationRestartedAt] == "" {
			t.Fatalf("after Execute: %v %v", d.Spec.Template.Annotations, err)
		}
		_, err = Execute(ctx, dev, planOf(pr))
		wantStale(t, err, "the second Execute")
	})
	t.Run("set_image", func(t *testing.T) {
		deployment(t, "shop", "image-web", 1)
		pr := propose(t, dev, "set_image", `{"name":"image-web","image":"busybox:1.37"}`)
		if err := contains(pr.Diff, "-      - image: busybox:1.36\n", "+      - image: busybox:1.37\n"); err != nil {
			t.Error(err)
		}
		if pr.Summary != "set the image of container app of deployment image-web in shop from busybox:1.36 to busybox:1.37" {
			t.Errorf("summary %q", pr.Summary)
		}
		execute(t, dev, pr)
		d, err := admin.AppsV1().Deployments("shop").Get(ctx, "image-web", metav1.GetOptions{})
		if err != nil || d.Spec.Template.Spec.Containers[0].Image != "busybox:1.37" {
			t.Fatalf("after Execute: %v", err)
		}
	})
	t.Run("cronjob_create", func(t *testing.T) {
		pr := propose(t, dev, "cronjob_create", `{"name":"created-job","schedule":"*/5 * * * *","time_zone":"Asia/Tokyo","image":"busybox:1.36","command":["date"]}`)
		if pr.BeforeYAML != "" || pr.Before != nil || pr.GuardPath != "" {
			t.Errorf("a create has a before: %q %q", pr.BeforeYAML, pr.GuardPath)
		}
		if err := contains(pr.Diff, "@@ -0,0 +1,", "+  schedule: '*/5 * * * *'\n", "+  timeZone: Asia/Tokyo\n", "+kind: CronJob\n"); err != nil {
			t.Error(err)
		}
		execute(t, dev, pr)
		cj, err := admin.BatchV1().CronJobs("shop").Get(ctx, "created-job", metav1.GetOptions{})
		if err != nil || cj.Spec.Schedule != "*/5 * * * *" || cj.Labels["app.kubernetes.io/managed-by"] != "hks" {
			t.Fatalf("after Execute: %+v %v", cj, err)
		}
		if cj.ManagedFields[0].Manager != FieldManager {
			t.Errorf("field manager %q, want %q", cj.ManagedFields[0].Manager, FieldManager)
		}
		// Again: the cluster says it exists (a refusal, not a stale plan).
		_, err = Execute(ctx, dev, planOf(pr))
		ce := wantCluster(t, err, http.StatusConflict, "the second create")
		if ce.Reason != "AlreadyExists" {
			t.Errorf("reason %q", ce.Reason)
		}
	})
	t.Run("cronjob_create in a restricted project", func(t *testing.T) {
		pr := propose(t, dev, "cronjob_create", `{"name":"secure-job","schedule":"@daily","image":"busybox:1.36","project":"secure"}`)
		if err := contains(pr.AfterYAML, "runAsNonRoot: true", "- ALL", "allowPrivilegeEscalation: false", "type: RuntimeDefault"); err != nil {
			t.Error(err)
		}
	})
	t.Run("a pod template the project's pod security refuses", func(t *testing.T) {
		// No security context: baseline admits it, restricted refuses its pods
		// (Pod Security only warns about the Deployment itself).
		d := appsv1.Deployment{TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"}, ObjectMeta: metav1.ObjectMeta{Name: "privileged", Namespace: "secure"},
			Spec: appsv1.DeploymentSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "p"}}, Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "p"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}}}
		body, _ := json.Marshal(d)
		_, err := Prepare(ctx, dev, Proposal{Summary: "create", Method: "POST", Path: "/apis/apps/v1/namespaces/secure/deployments", Body: body})
		ce := wantCluster(t, err, http.StatusUnprocessableEntity, "Prepare of a deployment whose pods a restricted project refuses")
		if !strings.Contains(ce.Message, "pod security") {
			t.Errorf("message %q", ce.Message)
		}
	})
	t.Run("cronjob_suspend", func(t *testing.T) {
		cronJob(t, "shop", "suspend-job")
		pr := propose(t, dev, "cronjob_suspend", `{"name":"suspend-job","suspend":true}`)
		if err := contains(pr.Diff, "-  suspend: false\n", "+  suspend: true\n"); err != nil {
			t.Error(err)
		}
		execute(t, dev, pr)
		cj, err := admin.BatchV1().CronJobs("shop").Get(ctx, "suspend-job", metav1.GetOptions{})
		if err != nil || !*cj.Spec.Suspend {
			t.Fatalf("after Execute: %v", err)
		}
		_, err = Execute(ctx, dev, planOf(pr))
		wantStale(t, err, "the second Execute")
		resume := propose(t, dev, "cronjob_suspend", `{"name":"suspend-job","suspend":false}`)
		if resume.Summary != "resume cronjob suspend-job in shop" {
			t.Errorf("summary %q", resume.Summary)
		}
	})
	t.Run("cronjob_trigger", func(t *testing.T) {
		cj := cronJob(t, "shop", "trigger-job")
		pr := propose(t, dev, "cronjob_trigger", `{"name":"trigger-job"}`)
		if err := contains(pr.Diff, "+kind: Job\n", "cronjob.kubernetes.io/instantiate: manual", "+  - apiVersion: batch/v1\n", "kind: CronJob", "name: trigger-job"); err != nil {
			t.Error(err)
		}
		if pr.GuardPath != "/apis/batch/v1/namespaces/shop/cronjobs/trigger-job" || pr.GuardResourceVersion != cj.ResourceVersion {
			t.Errorf("guard %s %s", pr.GuardPath, pr.GuardResourceVersion)
		}
		execute(t, dev, pr)
		jobs, err := admin.BatchV1().Jobs("shop").List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var found int
		for _, j := range jobs.Items {
			if strings.HasPrefix(j.Name, "trigger-job-manual-") && len(j.OwnerReferences) == 1 && j.OwnerReferences[0].UID == cj.UID {
				found++
			}
		}
		if found != 1 {
			t.Fatalf("%d manual jobs of trigger-job, want 1", found)
		}
		// A plan made before the CronJob changed is stale.
		pr2 := propose(t, dev, "cronjob_trigger", `{"name":"trigger-job"}`)
		if _, err := admin.BatchV1().CronJobs("shop").Patch(ctx, "trigger-job", types.MergePatchType, []byte(`{"spec":{"schedule":"0 4 * * *"}}`), metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
		_, err = Execute(ctx, dev, planOf(pr2))
		wantStale(t, err, "Execute after the CronJob changed")
	})
	t.Run("delete", func(t *testing.T) {
		deployment(t, "shop", "delete-web", 1)
		pr := propose(t, dev, "delete", `{"kind":"deploy","name":"delete-web"}`)
		if pr.AfterYAML != "" || pr.After != nil || pr.Method != http.MethodDelete {
			t.Errorf("a delete's after: %q", pr.AfterYAML)
		}
		if err := contains(pr.Diff, "@@ -1,", "+0,0 @@", "-kind: Deployment\n", "-  name: delete-web\n"); err != nil {
			t.Error(err)
		}
		if _, err := admin.AppsV1().Deployments("shop").Get(ctx, "delete-web", metav1.GetOptions{}); err != nil {
			t.Fatalf("after Prepare (a dry run): %v", err)
		}
		execute(t, dev, pr)
		if _, err := admin.AppsV1().Deployments("shop").Get(ctx, "delete-web", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Fatalf("after Execute: %v", err)
		}
		_, err := Execute(ctx, dev, planOf(pr))
		wantStale(t, err, "the second delete")

		// Changed in between: stale by the guard, and by the API
		// server's preconditions when the change lands after the guard.
		deployment(t, "shop", "delete-web-2", 1)
		pr = propose(t, dev, "delete", `{"kind":"Deployment","name":"delete-web-2"}`)
		scaleAsAdmin(t, "shop", "delete-web-2", 3)
		_, err = Execute(ctx, dev, planOf(pr))
		wantStale(t, err, "Execute after a change")
		pl := planOf(pr)
		pl.GuardPath = ""
		_, err = Execute(ctx, dev, pl)
		wantStale(t, err, "Execute against the preconditions")
		if n := replicas(t, "shop", "delete-web-2"); n != 3 {
			t.Errorf("delete-web-2: %d replicas, want 3", n)
		}
	})
	t.Run("delete refuses projects and the platform's objects", func(t *testing.T) {
		r, _ := NewRegistry(Builtin()...)
		dev := target(t, "admin", "shop", nil) // may read RoleBindings
		for args, field := range map[string]string{
			`{"kind":"namespace","name":"shop"}`:       "kind",
			`{"kind":"rolebinding","name":"hks:edit"}`: "name",
			`{"kind":"frobnicators","name":"x"}`:       "kind",
		} {
			_, err := r.Propose(ctx, dev, "delete", json.RawMessage(args))
			var ae *ArgError
			if !errors.As(err, &ae) || ae.Field != field {
				t.Errorf("delete %s: %v, want an ArgError on %s", args, err, field)
			}
		}
	})
	t.Run("viewer", func(t *testing.T) {
		deployment(t, "shop", "viewer-web", 1)
		cronJob(t, "shop", "viewer-job")
		viewer := target(t, "viewer", "shop", nil)
		r, _ := NewRegistry(Builtin()...)
		cases := map[string]string{
			"scale":           `{"name":"viewer-web","replicas":3}`,
			"restart":         `{"name":"viewer-web"}`,
			"set_image":       `{"name":"viewer-web","image":"busybox:1.37"}`,
			"cronjob_create":  `{"name":"viewer-new","schedule":"@daily","image":"busybox:1.36"}`,
			"cronjob_suspend": `{"name":"viewer-job","suspend":true}`,
			"cronjob_trigger": `{"name":"viewer-job"}`,
			"delete":          `{"kind":"deployment","name":"viewer-web"}`,
		}
		for _, tool := range r.List() {
			if tool.Effect != Write {
				continue
			}
			args, ok := cases[tool.Name]
			if !ok {
				t.Errorf("write tool %s has no viewer case", tool.Name)
				continue
			}
			p, err := r.Propose(ctx, viewer, tool.Name, json.RawMessage(args))
			if err != nil {
				t.Errorf("the viewer's %s proposal: %v", tool.Name, err)
				continue
			}
			_, err = Prepare(ctx, viewer, p)
			var ce *ClusterError
			if !errors.As(err, &ce) || ce.Status != http.StatusForbidden {
				t.Errorf("the viewer's %s dry run: %v, want a 403", tool.Name, err)
			}
		}
		d, err := admin.AppsV1().Deployments("shop").Get(ctx, "viewer-web", metav1.GetOptions{})
		if err != nil || *d.Spec.Replicas != 1 || d.Generation != 1 {
			t.Errorf("viewer-web after the viewer: %v", err)
		}
		cj, err := admin.BatchV1().CronJobs("shop").Get(ctx, "viewer-job", metav1.GetOptions{})
		if err != nil || cj.Generation != 1 {
			t.Errorf("viewer-job after the viewer: %v", err)
		}
	})
}
