package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// appOut is an application as the API shows it.
type appOut struct {
	Name    string `json:"name"`
	Image   string `json:"image"`
	Service *struct {
		Name  string `json:"name"`
		Ports []struct {
			Port int32 `json:"port"`
		} `json:"ports"`
	} `json:"service"`
	Status struct {
		Replicas      int32 `json:"replicas"`
		ReadyReplicas int32 `json:"ready_replicas"`
		Ready         bool  `json:"ready"`
	} `json:"status"`
	Pods []struct {
		Name  string `json:"name"`
		Phase string `json:"phase"`
		Ready bool   `json:"ready"`
		Node  string `json:"node"`
	} `json:"pods"`
}

type problemOut struct {
	Type   string `json:"type"`
	Detail string `json:"detail"`
	Errors []struct {
		Field   string `json:"field"`
		Message string `json:"message"`
	} `json:"errors"`
}

// workloadsWorld is a running workspace with projects frontend and backend
// and four users: admin; A, developer in frontend; B, viewer of the whole
// workspace; D, developer in backend only.
type workloadsWorld struct {
	s              *hksServer
	admin, a, b, d *apiClient
	wsPath         string
	frontend       string // …/projects/frontend
	backend        string
	frontendID     string
	orgPath        string
}

func newWorkloadsWorld(t *testing.T) *workloadsWorld {
	t.Helper()
	return newWorkloadsWorldWith(t)
}

// newWorkloadsWorldWith is newWorkloadsWorld with server arguments.
func newWorkloadsWorldWith(t *testing.T, args ...string) *workloadsWorld {
	t.Helper()
	needBinary(t)
	w := &workloadsWorld{}
	w.s = startServer(t, filepath.Join(t.TempDir(), "data"), "127.0.0.1:0", nil, args...)
	w.admin = setupAdmin(t, w.s, "admin@example.com", "correct-horse-battery")
	w.orgPath = w.admin.createOrg("Acme")
	var ws struct {
		ID string `json:"id"`
	}
	w.admin.must("POST", w.orgPath+"/workspaces", map[string]string{"name": "prod"}, http.StatusAccepted, &ws)
	w.wsPath = w.orgPath + "/workspaces/" + ws.ID
	w.frontendID = w.admin.createProject(w.wsPath, map[string]any{"name": "frontend", "quota": map[string]any{"cpu": "8", "memory": "16Gi", "pods": 40}})
	backendID := w.admin.createProject(w.wsPath, map[string]any{"name": "backend"})
	w.frontend = w.wsPath + "/projects/frontend"
	w.backend = w.wsPath + "/projects/backend"
	w.a = createUser(t, w.s, "a@example.com", "password-of-a")
	w.b = createUser(t, w.s, "b@example.com", "password-of-b")
	w.d = createUser(t, w.s, "d@example.com", "password-of-d")
	for _, c := range []*apiClient{w.a, w.b, w.d} {
		w.admin.invite(w.orgPath, c)
	}
	w.admin.grant(w.wsPath, "frontend-devs", w.a, "developer", w.frontendID)
	w.admin.grant(w.wsPath, "viewers", w.b, "viewer", "")
	w.admin.grant(w.wsPath, "backend-devs", w.d, "developer", backendID)
	waitStatus(t, w.admin, w.wsPath, "running", 3*time.Minute)
	// The reconciler makes the namespaces and bindings within seconds.
	eventually(t, 30*time.Second, func() (bool, string) {
		code, b, _ := w.a.call("GET", w.frontend+"/applications", nil)
		return code == http.StatusOK, fmt.Sprintf("A lists frontend's applications: %d %s", code, b)
	})
	return w
}

// problem calls and wants a problem with status want.
func problem(t *testing.T, c *apiClient, method, path string, in any, want int) problemOut {
	t.Helper()
	code, b, err := c.call(method, path, in)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	if code != want {
		t.Fatalf("%s %s: status %d, want %d: %s", method, path, code, want, b)
	}
	var p problemOut
	if err := json.Unmarshal(b, &p); err != nil || p.Type == "" {
		t.Fatalf("%s %s: not a problem: %s", method, path, b)
	}
	return p
}

func waitApp(t *testing.T, c *apiClient, path string, replicas int32) appOut {
	t.Helper()
	var a appOut
	eventually(t, 2*time.Minute, func() (bool, string) {
		a = appOut{}
		c.must("GET", path, nil, http.StatusOK, &a)
		running := 0
		for _, p := range a.Pods {
			if p.Phase == "Running" && p.Ready && strings.HasPrefix(p.Node, "hks-") {
				running++
			}
		}
		return a.Status.Ready && a.Status.ReadyReplicas == replicas && running == int(replicas),
			fmt.Sprintf("ready %v %d/%d, %d pods running on kwok nodes of %d", a.Status.Ready, a.Status.ReadyReplicas, replicas, running, len(a.Pods))
	})
	return a
}

func TestApplicationsAcceptance(t *testing.T) {
	w := newWorkloadsWorld(t)
	apps := w.frontend + "/applications"

	// A creates an application with a port: a Deployment and a Service.
	spec := map[string]any{"name": "web", "image": "nginx:1.27", "replicas": 2,
		"env":       []map[string]string{{"name": "MODE", "value": "prod"}},
		"ports":     []map[string]any{{"container_port": 8080, "service_port": 80}},
		"resources": map[string]any{"requests": map[string]string{"cpu": "100m", "memory": "64Mi"}, "limits": map[string]string{"cpu": "200m", "memory": "128Mi"}}}
	var created appOut
	w.a.must("POST", apps, spec, http.StatusCreated, &created)
	if created.Service == nil || len(created.Service.Ports) != 1 || created.Service.Ports[0].Port != 80 {
		t.Fatalf("created application has no Service on port 80: %+v", created)
	}
	problem(t, w.a, "POST", apps, spec, http.StatusConflict)
	waitApp(t, w.a, apps+"/web", 2)

	// Scale and restart.
	w.a.must("POST", apps+"/web/scale", map[string]any{"replicas": 3}, http.StatusOK, nil)
	before := waitApp(t, w.a, apps+"/web", 3)
	w.a.must("POST", apps+"/web/restart", nil, http.StatusAccepted, nil)
	eventually(t, 2*time.Minute, func() (bool, string) {
		after := waitApp(t, w.a, apps+"/web", 3)
		for _, p := range after.Pods {
			for _, q := range before.Pods {
				if p.Name == q.Name {
					return false, "pod " + p.Name + " is still there after the restart"
				}
			}
		}
		return true, ""
	})
	// A rolling update of the image.
	spec["image"] = "nginx:1.28"
	spec["replicas"] = 3
	delete(spec, "name")
	var updated appOut
	w.a.must("PUT", apps+"/web", spec, http.StatusOK, &updated)
	if updated.Image != "nginx:1.28" {
		t.Fatalf("image after update: %q", updated.Image)
	}
	waitApp(t, w.a, apps+"/web", 3)

	// The list, the pods and the events.
	var list struct {
		Items []appOut `json:"items"`
	}
	w.b.must("GET", apps, nil, http.StatusOK, &list)
	if len(list.Items) != 1 || list.Items[0].Name != "web" {
		t.Fatalf("B's list: %+v", list.Items)
	}
	var events struct {
		Items []struct {
			Reason string `json:"reason"`
			Object string `json:"object"`
		} `json:"items"`
	}
	w.a.must("GET", apps+"/web/events", nil, http.StatusOK, &events)
	if len(events.Items) == 0 {
		t.Fatal("no events for the application")
	}
	// Pods and events come in pages too: one at a time, every one once.
	for _, what := range []string{"pods", "events"} {
		t.Run(what, func(t *testing.T) {
			seen := map[string]bool{}
			cursor, pages := "", 0
			for {
				var page struct {
					Items      []map[string]any `json:"items"`
					NextCursor string           `json:"next_cursor"`
				}
				w.a.in(t).must("GET", apps+"/web/"+what+"?limit=1&cursor="+url.QueryEscape(cursor), nil, http.StatusOK, &page)
				if len(page.Items) > 1 {
					t.Fatalf("%s: %d items on a page of 1", what, len(page.Items))
				}
				for _, it := range page.Items {
					k := fmt.Sprint(it)
					if seen[k] {
						t.Fatalf("%s: %v twice", what, it)
					}
					seen[k] = true
				}
				pages++
				if cursor = page.NextCursor; cursor == "" {
					break
				}
			}
			if len(seen) == 0 || len(seen) < pages-1 {
				t.Errorf("%s: %d in %d pages", what, len(seen), pages)
			}
		})
	}
	problem(t, w.a, "GET", apps+"/web/pods?cursor=bogus", nil, http.StatusBadRequest)

	// B (viewer) reads but is refused writes by the cluster.
	w.b.must("GET", apps+"/web", nil, http.StatusOK, nil)
	for _, c := range []struct {
		who          string
		cl           *apiClient
		method, path string
		body         any
	}{
		{"viewer create", w.b, "POST", apps, map[string]any{"name": "b-app", "image": "nginx"}},
		{"viewer scale", w.b, "POST", apps + "/web/scale", map[string]any{"replicas": 1}},
		{"viewer delete", w.b, "DELETE", apps + "/web", nil},
	} {
		t.Run(c.who, func(t *testing.T) {
			p := problem(t, c.cl, c.method, c.path, c.body, http.StatusForbidden)
			if !strings.Contains(p.Detail, "forbidden") {
				t.Errorf("%s: the 403 does not carry the cluster's reason: %q", c.who, p.Detail)
			}
		})
	}
	// D (developer of backend only) does not see frontend: the platform
	// answers as for a project that does not exist, before the cluster
	// (whose 403 would name the namespace) is asked.
	unknown := problem(t, w.d, "GET", w.wsPath+"/projects/no-such-project/applications/web", nil, http.StatusNotFound)
	for _, c := range []struct {
		who          string
		method, path string
		body         any
	}{
		{"other project's developer create", "POST", apps, map[string]any{"name": "d-app", "image": "nginx"}},
		{"other project's developer get", "GET", apps + "/web", nil},
		{"other project's developer by id", "GET", w.wsPath + "/projects/" + w.frontendID + "/applications", nil},
	} {
		t.Run(c.who, func(t *testing.T) {
			if p := problem(t, w.d, c.method, c.path, c.body, http.StatusNotFound); !reflect.DeepEqual(p, unknown) {
				t.Errorf("%s: %+v, want what an unknown project answers: %+v", c.who, p, unknown)
			}
		})
	}
	// D works in their own project.
	w.d.must("POST", w.backend+"/applications", map[string]any{"name": "api", "image": "busybox", "command": []string{"sleep", "3600"}}, http.StatusCreated, nil)

	// Manifests: refused ones create nothing.
	bad := []struct {
		name, manifest string
		status         int
		want           string
	}{
		{"unknown field", "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: bad1\nspec:\n  replicas: 1\n  bogusField: 1\n  selector:\n    matchLabels: {app: bad1}\n  template:\n    metadata:\n      labels: {app: bad1}\n    spec:\n      containers: [{name: c, image: nginx}]\n",
			http.StatusBadRequest, `unknown field "spec.bogusField"`},
		{"unknown kind", "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: bad2\nspec:\n  selector:\n    matchLabels: {app: bad2}\n  template:\n    metadata:\n      labels: {app: bad2}\n    spec:\n      containers: [{name: c, image: nginx}]\n---\napiVersion: example.com/v1\nkind: Gadget\nmetadata:\n  name: g\n",
			http.StatusUnprocessableEntity, `no kind "Gadget"`},
		{"invalid object", `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"bad3"},"spec":{"selector":{"matchLabels":{"app":"x"}},"template":{"metadata":{"labels":{"app":"y"}},"spec":{"containers":[{"name":"c","image":"nginx"}]}}}}`,
			http.StatusUnprocessableEntity, "does not match template `labels`"},
		{"other namespace", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  namespace: backend\n", http.StatusUnprocessableEntity, `not this project's namespace`},
		{"not yaml", "{{{", http.StatusUnprocessableEntity, "not YAML or JSON"},
	}
	for _, c := range bad {
		t.Run("manifest "+c.name, func(t *testing.T) {
			p := problem(t, w.a, "POST", apps, map[string]string{"manifest": c.manifest}, c.status)
			if !strings.Contains(p.Detail, c.want) {
				t.Errorf("manifest %s: detail %q does not say %q", c.name, p.Detail, c.want)
			}
		})
	}
	w.a.must("GET", apps, nil, http.StatusOK, &list)
	if len(list.Items) != 1 {
		t.Fatalf("a refused manifest left something: %+v", list.Items)
	}
	manifest := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: api-config\ndata:\n  k: v\n---\n" +
		"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api\nspec:\n  replicas: 2\n  selector:\n    matchLabels: {app: api}\n  template:\n    metadata:\n      labels: {app: api}\n    spec:\n      containers: [{name: c, image: 'busybox:1.36'}]\n"
	w.a.must("POST", apps, map[string]string{"manifest": manifest}, http.StatusCreated, nil)
	waitApp(t, w.a, apps+"/api", 2)

	// Usage: the quota's pods and the counts.
	var usage struct {
		Quota  map[string]struct{ Used, Hard string } `json:"quota"`
		Counts struct {
			Applications int `json:"applications"`
			Pods         int `json:"pods"`
		} `json:"counts"`
	}
	eventually(t, 30*time.Second, func() (bool, string) {
		w.a.must("GET", w.frontend+"/usage", nil, http.StatusOK, &usage)
		return usage.Quota["pods"].Used == "5" && usage.Quota["pods"].Hard == "40" && usage.Counts.Applications == 2,
			fmt.Sprintf("usage %+v", usage)
	})
	w.admin.must("GET", w.wsPath+"/usage", nil, http.StatusOK, &usage)
	if usage.Counts.Applications != 3 {
		t.Fatalf("workspace usage counts %+v, want 3 applications", usage.Counts)
	}

	// Delete: the application, its Service and pods go.
	w.a.must("DELETE", apps+"/web", nil, http.StatusNoContent, nil)
	problem(t, w.a, "GET", apps+"/web", nil, http.StatusNotFound)
	eventually(t, time.Minute, func() (bool, string) {
		w.a.must("GET", w.frontend+"/usage", nil, http.StatusOK, &usage)
		return usage.Counts.Pods == 2, fmt.Sprintf("%d pods left, want the 2 of api", usage.Counts.Pods)
	})
}

// runOut is a CronJob run as the API shows it.
type runOut struct {
	Job             string  `json:"job"`
	Trigger         string  `json:"trigger"`
	Status          string  `json:"status"`
	CompletedAt     *string `json:"completed_at"`
	DurationSeconds float64 `json:"duration_seconds"`
}

func TestCronJobsAcceptance(t *testing.T) {
	w := newWorkloadsWorld(t)
	cjs := w.frontend + "/cronjobs"
	tmpl := map[string]any{"image": "busybox:1.36", "command": []string{"sh", "-c", "date"}, "restart_policy": "Never"}

	// Bad schedules are refused before anything reaches the cluster, and
	// the answer names the problem.
	for _, c := range []struct{ schedule, zone, field, want string }{
		{"61 * * * *", "", "schedule", `minute "61": 61 is above the maximum 59`},
		{"* * *", "", "schedule", "expected 5 fields"},
		{"@every", "", "schedule", "@every is not supported"},
		{"@every 5m", "", "schedule", "@every is not supported"},
		{"* * * * * *", "", "schedule", "seconds are not supported"},
		{"*/5 * * * *", "Mars/Olympus", "time_zone", `"Mars/Olympus"`},
		{"0 0 31 2 *", "", "schedule", ""},
	} {
		t.Run(strings.TrimSpace(c.schedule+" "+c.zone), func(t *testing.T) {
			p := problem(t, w.a, "POST", cjs, map[string]any{"name": "bad", "schedule": c.schedule, "time_zone": c.zone, "template": tmpl}, http.StatusUnprocessableEntity)
			found := false
			for _, e := range p.Errors {
				found = found || (e.Field == c.field && strings.Contains(e.Message, c.want))
			}
			if !found {
				t.Errorf("schedule %q zone %q: %+v does not name %s with %q", c.schedule, c.zone, p.Errors, c.field, c.want)
			}
			pv := problem(t, w.b, "GET", cjs+"/preview?schedule="+url.QueryEscape(c.schedule)+"&timeZone="+url.QueryEscape(c.zone), nil, http.StatusUnprocessableEntity)
			if len(pv.Errors) == 0 {
				t.Errorf("preview of %q: no field errors", c.schedule)
			}
		})
	}
	var list struct {
		Items []struct {
			Name string `json:"name"`
		} `json:"items"`
	}
	w.a.must("GET", cjs, nil, http.StatusOK, &list)
	if len(list.Items) != 0 {
		t.Fatalf("refused CronJobs left something: %+v", list.Items)
	}

	// Preview: office hours in Tokyo, as the viewer.
	var pv struct {
		TimeZone string   `json:"time_zone"`
		NextRuns []string `json:"next_runs"`
	}
	w.b.must("GET", cjs+"/preview?schedule="+url.QueryEscape("*/15 9-17 * * 1-5")+"&timeZone=Asia/Tokyo&count=5&after=2026-12-04T08:50:00Z", nil, http.StatusOK, &pv)
	want := []string{"2026-12-07T09:00:00+09:00", "2026-12-07T09:15:00+09:00", "2026-12-07T09:30:00+09:00", "2026-12-07T09:45:00+09:00", "2026-12-07T10:00:00+09:00"}
	if fmt.Sprint(pv.NextRuns) != fmt.Sprint(want) || pv.TimeZone != "Asia/Tokyo" {
		t.Fatalf("preview: %+v, want %v", pv, want)
	}

	// A CronJob every minute whose successful Jobs the cluster does not
	// keep: the platform's history still has them.
	var cj struct {
		Name   string `json:"name"`
		Status struct {
			NextRuns []string `json:"next_runs"`
		} `json:"status"`
	}
	w.a.must("POST", cjs, map[string]any{"name": "tick", "schedule": "* * * * *", "time_zone": "Europe/Berlin", "concurrency_policy": "Forbid",
		"successful_jobs_history_limit": 0, "failed_jobs_history_limit": 1, "template": tmpl}, http.StatusCreated, &cj)
	if len(cj.Status.NextRuns) != 3 {
		t.Fatalf("next runs of a new CronJob: %+v", cj.Status)
	}
	problem(t, w.a, "POST", cjs, map[string]any{"name": "tick", "schedule": "* * * * *", "template": tmpl}, http.StatusConflict)

	// B may not create or trigger (the cluster refuses); D, who does
	// not see frontend, gets what an unknown project answers.
	problem(t, w.b, "POST", cjs, map[string]any{"name": "b-cron", "schedule": "@hourly", "template": tmpl}, http.StatusForbidden)
	problem(t, w.b, "POST", cjs+"/tick/trigger", nil, http.StatusForbidden)
	unknown := problem(t, w.d, "GET", w.wsPath+"/projects/no-such-project/cronjobs/tick/history", nil, http.StatusNotFound)
	for _, c := range []struct {
		method, path string
		body         any
	}{
		{"POST", cjs, map[string]any{"name": "d-cron", "schedule": "@hourly", "template": tmpl}},
		{"GET", cjs + "/tick/history", nil},
		{"DELETE", cjs + "/tick", nil},
	} {
		if p := problem(t, w.d, c.method, c.path, c.body, http.StatusNotFound); !reflect.DeepEqual(p, unknown) {
			t.Errorf("D: %s %s: %+v, want what an unknown project answers: %+v", c.method, c.path, p, unknown)
		}
	}
	w.b.must("GET", cjs+"/tick", nil, http.StatusOK, nil)
	w.b.must("GET", cjs+"/tick/history", nil, http.StatusOK, nil)

	// A manual run starts at once.
	var manual runOut
	w.a.must("POST", cjs+"/tick/trigger", nil, http.StatusCreated, &manual)
	if manual.Trigger != "manual" || manual.Status != "running" {
		t.Fatalf("triggered run: %+v", manual)
	}
	var hist struct {
		Items []runOut `json:"items"`
	}
	has := func(trigger string) bool {
		for _, r := range hist.Items {
			if r.Trigger == trigger && r.Status == "succeeded" && r.CompletedAt != nil && r.DurationSeconds > 0 {
				return true
			}
		}
		return false
	}
	eventually(t, time.Minute, func() (bool, string) {
		w.b.must("GET", cjs+"/tick/history", nil, http.StatusOK, &hist)
		return has("manual"), fmt.Sprintf("history %+v", hist.Items)
	})
	// The schedule runs it within a minute or two.
	eventually(t, 3*time.Minute, func() (bool, string) {
		w.a.must("GET", cjs+"/tick/history", nil, http.StatusOK, &hist)
		return has("schedule"), fmt.Sprintf("history %+v", hist.Items)
	})
	// The cluster has removed the successful Jobs (history limit 0).
	csA, _ := userClient(t, w.s, w.a, w.wsPath)
	eventually(t, time.Minute, func() (bool, string) {
		jobs, err := csA.BatchV1().Jobs("frontend").List(t.Context(), metav1.ListOptions{LabelSelector: "hks.io/cronjob=tick"})
		if err != nil {
			return false, err.Error()
		}
		done := 0
		for _, j := range jobs.Items {
			if j.Status.Succeeded > 0 {
				done++
			}
		}
		return done == 0, fmt.Sprintf("%d succeeded Jobs still in the cluster", done)
	})
	w.a.must("GET", cjs+"/tick/history", nil, http.StatusOK, &hist)
	if !has("manual") || !has("schedule") {
		t.Fatalf("history lost runs the cluster removed: %+v", hist.Items)
	}

	// Suspend, resume, update, delete.
	var got struct {
		Spec struct {
			Suspend  bool   `json:"suspend"`
			Schedule string `json:"schedule"`
		} `json:"spec"`
		Status struct {
			NextRuns []string `json:"next_runs"`
		} `json:"status"`
	}
	w.a.must("POST", cjs+"/tick/suspend", nil, http.StatusOK, &got)
	if !got.Spec.Suspend || len(got.Status.NextRuns) != 0 {
		t.Fatalf("suspended: %+v", got)
	}
	got.Spec.Suspend = false
	w.a.must("POST", cjs+"/tick/resume", nil, http.StatusOK, &got)
	if got.Spec.Suspend || len(got.Status.NextRuns) != 3 {
		t.Fatalf("after resume: %+v", got)
	}
	w.a.must("PUT", cjs+"/tick", map[string]any{"schedule": "@hourly", "template": tmpl}, http.StatusOK, &got)
	if got.Spec.Schedule != "@hourly" {
		t.Fatalf("schedule after update: %q", got.Spec.Schedule)
	}
	problem(t, w.a, "PUT", cjs+"/tick", map[string]any{"schedule": "0 25 * * *", "template": tmpl}, http.StatusUnprocessableEntity)
	w.a.must("DELETE", cjs+"/tick", nil, http.StatusNoContent, nil)
	problem(t, w.a, "GET", cjs+"/tick", nil, http.StatusNotFound)
}
