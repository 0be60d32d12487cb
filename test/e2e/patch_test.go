package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/hexabase/hexabase-ai/internal/api"
)

// sendWith is a request of c with extra headers; it answers the status,
// the headers and the body.
func sendWith(t *testing.T, c *apiClient, method, path string, in any, header http.Header) (int, http.Header, []byte) {
	t.Helper()
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			t.Fatal(err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.url+path, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header = header.Clone()
	if req.Header == nil {
		req.Header = http.Header{}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := c.hc.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

// concurrently sends the requests at once and fails unless every one
// answers 200.
func concurrently(t *testing.T, c *apiClient, method, path string, docs ...any) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make([]string, len(docs))
	for i, doc := range docs {
		wg.Go(func() {
			code, b, err := c.call(method, path, doc)
			if err != nil || code != http.StatusOK {
				errs[i] = fmt.Sprintf("%s %s %+v: %d %s %v", method, path, doc, code, b, err)
			}
		})
	}
	wg.Wait()
	for _, e := range errs {
		if e != "" {
			t.Fatal(e)
		}
	}
}

// wantPrecondition sends a write and wants 412 with the precondition
// problem.
func wantPrecondition(t *testing.T, c *apiClient, method, path string, in any, header http.Header) {
	t.Helper()
	code, _, b := sendWith(t, c, method, path, in, header)
	var p problemOut
	if code != http.StatusPreconditionFailed || json.Unmarshal(b, &p) != nil || !bytes.HasSuffix([]byte(p.Type), []byte("precondition-failed")) {
		t.Fatalf("%s %s with a stale version: %d %s, want 412 precondition-failed", method, path, code, b)
	}
}

func ifMatch(rv string) http.Header { return http.Header{"If-Match": {`"` + rv + `"`}} }

// TestPatchAndPreconditions: PATCH of applications and CronJobs changes
// only what it names, on the live objects: `hks app set` keeps the
// replicas, env and a sidecar a manifest added; two concurrent PATCHes of
// different fields both survive; a PUT or PATCH with a stale version
// (If-Match or resource_version) is refused with 412; a CronJob PUT keeps
// a sidecar.
func TestPatchAndPreconditions(t *testing.T) {
	w := newWorkloadsWorld(t)
	ctx := context.Background()
	apps, cjs := w.frontend+"/applications", w.frontend+"/cronjobs"
	kc, _ := userClient(t, w.s, w.a, w.wsPath)
	env := baseEnv("HKS_CONFIG_DIR="+filepath.Join(t.TempDir(), "cfg"), "HKS_ORG=acme", "HKS_WORKSPACE=prod", "HKS_PROJECT=frontend")
	mustHKS(t, env, "password-of-a\n", "login", "--server", w.s.URL, "--email", "a@example.com", "--password-stdin")

	// An application with a sidecar, from a manifest.
	manifest := `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: app
        image: nginx:1.27
        env: [{name: MODE, value: prod}]
      - name: sidecar
        image: busybox:1.36
        command: [sleep, "3600"]
`
	w.a.must("POST", apps, api.CreateApplicationRequest{Manifest: manifest}, http.StatusCreated, nil)
	// A PUT of web with a manifest of another Deployment is refused, and
	// that other Deployment is not created or changed on the way.
	other := strings.ReplaceAll(manifest, "web", "other")
	if p := problem(t, w.a, "PUT", apps+"/web", api.UpdateApplicationRequest{Manifest: other}, http.StatusUnprocessableEntity); len(p.Errors) != 1 || p.Errors[0].Field != "manifest" {
		t.Fatalf("PUT web with a manifest of other: %+v", p)
	}
	if _, err := kc.AppsV1().Deployments("frontend").Get(ctx, "other", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("a refused PUT left Deployment other behind: %v", err)
	}
	deployment := func() (image string, replicas int32, env []string, containers []string) {
		t.Helper()
		d, err := kc.AppsV1().Deployments("frontend").Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		cs := d.Spec.Template.Spec.Containers
		for _, e := range cs[0].Env {
			env = append(env, e.Name+"="+e.Value)
		}
		for _, c := range cs {
			containers = append(containers, c.Name+"="+c.Image)
		}
		return cs[0].Image, *d.Spec.Replicas, env, containers
	}
	check := func(step, wantImage string, wantReplicas int32, wantEnv []string) {
		t.Helper()
		image, replicas, env, containers := deployment()
		if image != wantImage || replicas != wantReplicas || !slices.Equal(env, wantEnv) ||
			len(containers) != 2 || containers[1] != "sidecar=busybox:1.36" {
			t.Fatalf("after %s: image %s replicas %d env %v containers %v; want %s, %d, %v and the sidecar",
				step, image, replicas, env, containers, wantImage, wantReplicas, wantEnv)
		}
	}

	mustHKS(t, env, "", "app", "set", "image", "web", "nginx:1.28")
	check("hks app set image", "nginx:1.28", 2, []string{"MODE=prod"})
	mustHKS(t, env, "", "app", "set", "env", "web", "LOG=debug")
	check("hks app set env", "nginx:1.28", 2, []string{"MODE=prod", "LOG=debug"})
	mustHKS(t, env, "", "app", "set", "replicas", "web", "3")
	check("hks app set replicas", "nginx:1.28", 3, []string{"MODE=prod", "LOG=debug"})
	mustHKS(t, env, "", "app", "update", "web", "--env", "LOG-", "--cpu", "50m")
	check("hks app update --env LOG-", "nginx:1.28", 3, []string{"MODE=prod"})

	// Two concurrent PATCHes of different fields both survive.
	for i := range 4 {
		image, replicas := fmt.Sprintf("nginx:1.%d", 20+i), int32(1+i%3)
		concurrently(t, w.a, "PATCH", apps+"/web", api.PatchApplicationRequest{Image: &image}, api.PatchApplicationRequest{Replicas: &replicas})
		check(fmt.Sprintf("concurrent patches %d", i), image, replicas, []string{"MODE=prod"})
	}

	// Versions: the ETag is the resource_version; a stale one is a 412.
	var cur api.Application
	code, h, b := sendWith(t, w.a, "GET", apps+"/web", nil, nil)
	if code != http.StatusOK || json.Unmarshal(b, &cur) != nil || cur.ResourceVersion == "" || h.Get("ETag") != `"`+cur.ResourceVersion+`"` {
		t.Fatalf("GET: %d ETag %q resource_version %q", code, h.Get("ETag"), cur.ResourceVersion)
	}
	stale := cur.ResourceVersion
	two := int32(2)
	var patched api.Application
	w.a.must("PATCH", apps+"/web", api.PatchApplicationRequest{Replicas: &two, ResourceVersion: stale}, http.StatusOK, &patched)
	if patched.ResourceVersion == stale {
		t.Fatal("the resource_version did not change")
	}
	put := api.UpdateApplicationRequest{AppSpec: cur.Spec}
	wantPrecondition(t, w.a, "PUT", apps+"/web", put, ifMatch(stale))
	put.ResourceVersion = stale
	wantPrecondition(t, w.a, "PUT", apps+"/web", put, nil)
	wantPrecondition(t, w.a, "PATCH", apps+"/web", api.PatchApplicationRequest{ResourceVersion: stale}, nil)
	wantPrecondition(t, w.a, "PATCH", apps+"/web", api.PatchApplicationRequest{}, ifMatch(stale))
	put.ResourceVersion = patched.ResourceVersion
	if code, _, b := sendWith(t, w.a, "PUT", apps+"/web", put, ifMatch(patched.ResourceVersion)); code != http.StatusOK {
		t.Fatalf("PUT at the current version: %d %s", code, b)
	}
	// The PUT replaced what the simple spec describes and kept the sidecar.
	check("PUT", cur.Spec.Image, *cur.Spec.Replicas, []string{"MODE=prod"})

	// A CronJob whose runs get a sidecar outside the platform.
	w.a.must("POST", cjs, api.CreateCronJobRequest{Name: "nightly", CronJobSpec: api.CronJobSpec{Schedule: "30 2 * * *",
		Template: api.JobTemplate{Image: "busybox:1.36", Command: []string{"date"}, Env: []api.EnvVar{{Name: "MODE", Value: "prod"}}}}}, http.StatusCreated, nil)
	cron := func() *batchv1.CronJob {
		t.Helper()
		cj, err := kc.BatchV1().CronJobs("frontend").Get(ctx, "nightly", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return cj
	}
	addSidecar(t, kc)
	checkCron := func(step, schedule, image string) {
		t.Helper()
		cj := cron()
		cs := cj.Spec.JobTemplate.Spec.Template.Spec.Containers
		if cj.Spec.Schedule != schedule || cs[0].Image != image || len(cs[0].Env) != 1 || len(cs) != 2 || cs[1].Name != "sidecar" {
			t.Fatalf("after %s: schedule %q containers %+v; want %q, image %s with its env, and the sidecar", step, cj.Spec.Schedule, cs, schedule, image)
		}
	}
	var cj api.CronJob
	w.a.must("GET", cjs+"/nightly", nil, http.StatusOK, &cj)
	cj.Spec.Schedule = "0 3 * * *"
	w.a.must("PUT", cjs+"/nightly", api.UpdateCronJobRequest{CronJobSpec: cj.Spec, ResourceVersion: cj.ResourceVersion}, http.StatusOK, nil)
	checkCron("PUT", "0 3 * * *", "busybox:1.36")
	wantPrecondition(t, w.a, "PUT", cjs+"/nightly", api.UpdateCronJobRequest{CronJobSpec: cj.Spec, ResourceVersion: cj.ResourceVersion}, nil)
	wantPrecondition(t, w.a, "PATCH", cjs+"/nightly", api.PatchCronJobRequest{}, ifMatch(cj.ResourceVersion))
	mustHKS(t, env, "", "cron", "update", "nightly", "--schedule", "@daily")
	checkCron("hks cron update", "@daily", "busybox:1.36")
	for i := range 3 {
		schedule, image := fmt.Sprintf("%d 4 * * *", i), fmt.Sprintf("busybox:1.3%d", i)
		concurrently(t, w.a, "PATCH", cjs+"/nightly", api.PatchCronJobRequest{Schedule: &schedule},
			api.PatchCronJobRequest{Template: &api.JobTemplatePatch{Image: &image}})
		checkCron(fmt.Sprintf("concurrent patches %d", i), schedule, image)
	}
}

// addSidecar adds a container to the runs of CronJob nightly, as a user's
// kubectl would.
func addSidecar(t *testing.T, kc kubernetes.Interface) {
	t.Helper()
	ctx := context.Background()
	cj, err := kc.BatchV1().CronJobs("frontend").Get(ctx, "nightly", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pod := &cj.Spec.JobTemplate.Spec.Template.Spec
	pod.Containers = append(pod.Containers, corev1.Container{Name: "sidecar", Image: "envoy:1.30"})
	if _, err := kc.BatchV1().CronJobs("frontend").Update(ctx, cj, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}
