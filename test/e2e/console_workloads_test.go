package e2e

import (
	"net/http"
	"slices"
	"testing"
)

// TestApplicationDryRunAndProjectAccess: the console's two calls. A
// create with ?dry_run=true is checked by the cluster as the caller and
// creates nothing (a bad name is a 422 naming the field, a refusal is the
// cluster's 403); GET …/access says what the caller may do, as the
// cluster's RBAC decides: a viewer may create nothing, a developer may
// create in their own project only, and a project they cannot see is 404.
func TestApplicationDryRunAndProjectAccess(t *testing.T) {
	w := newWorkloadsWorld(t)
	apps := w.frontend + "/applications"

	// Dry run: checked, not created.
	p := problem(t, w.a, "POST", apps+"?dry_run=true", map[string]any{"name": "Bad_Name", "image": "nginx:1.27"}, http.StatusUnprocessableEntity)
	if len(p.Errors) == 0 || p.Errors[0].Field != "name" {
		t.Errorf("dry run of a bad name: %+v, want the field name", p)
	}
	var dry appOut
	w.a.must("POST", apps+"?dry_run=true", map[string]any{"name": "web", "image": "nginx:1.27", "replicas": 2, "ports": []map[string]any{{"container_port": 80}}}, http.StatusOK, &dry)
	if dry.Name != "web" || dry.Image != "nginx:1.27" || dry.Status.Replicas != 2 || dry.Service == nil {
		t.Errorf("dry run answered %+v", dry)
	}
	problem(t, w.a, "GET", apps+"/web", nil, http.StatusNotFound)
	var dryManifest appOut
	w.a.must("POST", apps+"?dry_run=1", map[string]any{"manifest": "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: fromyaml}\nspec:\n  replicas: 1\n  selector: {matchLabels: {app: fromyaml}}\n  template:\n    metadata: {labels: {app: fromyaml}}\n    spec: {containers: [{name: c, image: nginx}]}\n"}, http.StatusOK, &dryManifest)
	if dryManifest.Name != "fromyaml" {
		t.Errorf("manifest dry run answered %+v", dryManifest)
	}
	problem(t, w.a, "GET", apps+"/fromyaml", nil, http.StatusNotFound)
	if p := problem(t, w.a, "POST", apps+"?dry_run=maybe", map[string]any{"name": "web", "image": "nginx"}, http.StatusUnprocessableEntity); len(p.Errors) == 0 || p.Errors[0].Field != "dry_run" {
		t.Errorf("dry_run=maybe: %+v", p)
	}
	// The viewer's dry run is refused by the cluster, as a create would be.
	problem(t, w.b, "POST", apps+"?dry_run=true", map[string]any{"name": "web", "image": "nginx:1.27"}, http.StatusForbidden)
	// Then the real create.
	w.a.must("POST", apps, map[string]any{"name": "web", "image": "nginx:1.27"}, http.StatusCreated, nil)
	// The audit log tells the checks from the create: the two dry runs
	// that passed are application.create.dry_run, the create is one
	// application.create.
	for action, want := range map[string]int{"application.create": 1, "application.create.dry_run": 2} {
		var log struct {
			Items []struct{ Action, Result string }
		}
		w.admin.must("GET", w.orgPath+"/audit?action="+action+"&result=success", nil, http.StatusOK, &log)
		if len(log.Items) != want {
			t.Errorf("audit %s: %d successful records %+v, want %d", action, len(log.Items), log.Items, want)
		}
	}

	type access struct {
		Resources map[string][]string `json:"resources"`
	}
	can := func(c *apiClient, project, resource, verb string) bool {
		t.Helper()
		var a access
		c.must("GET", project+"/access", nil, http.StatusOK, &a)
		verbs, ok := a.Resources[resource]
		if !ok {
			t.Fatalf("access has no %q: %v", resource, a.Resources)
		}
		return slices.Contains(verbs, verb)
	}
	for _, tc := range []struct {
		who            string
		c              *apiClient
		project        string
		resource, verb string
		want           bool
	}{
		{"developer A creates applications in frontend", w.a, w.frontend, "deployments", "create", true},
		{"developer A scales in frontend", w.a, w.frontend, "deployments/scale", "update", true},
		{"developer A creates CronJobs in frontend", w.a, w.frontend, "cronjobs", "create", true},
		{"developer A reads logs in frontend", w.a, w.frontend, "pods/log", "get", true},
		{"viewer B creates no application", w.b, w.frontend, "deployments", "create", false},
		{"viewer B deletes no application", w.b, w.frontend, "deployments", "delete", false},
		{"viewer B scales nothing", w.b, w.frontend, "deployments/scale", "update", false},
		{"viewer B creates no CronJob", w.b, w.frontend, "cronjobs", "create", false},
		{"viewer B creates no Job", w.b, w.frontend, "jobs", "create", false},
		{"viewer B lists applications", w.b, w.frontend, "deployments", "list", true},
		{"developer D creates in backend", w.d, w.backend, "deployments", "create", true},
	} {
		if got := can(tc.c, tc.project, tc.resource, tc.verb); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.who, got, tc.want)
		}
	}
	// D is a developer of backend only: frontend is not theirs to see.
	problem(t, w.d, "GET", w.frontend+"/access", nil, http.StatusNotFound)
}
