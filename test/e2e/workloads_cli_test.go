package e2e

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestAppAndCronCLI drives `hks app` and `hks cron` against a running
// workspace: A (developer in frontend) works through the commands with
// the scope from the environment, B (viewer) with flags is refused by the
// cluster, and the errors a user sees are the API's.
func TestAppAndCronCLI(t *testing.T) {
	w := newWorkloadsWorld(t)
	login := func(email, password string, extra ...string) []string {
		t.Helper()
		env := baseEnv(append([]string{"HKS_CONFIG_DIR=" + filepath.Join(t.TempDir(), "cfg")}, extra...)...)
		mustHKS(t, env, password+"\n", "login", "--server", w.s.URL, "--email", email, "--password-stdin")
		return env
	}
	a := login("a@example.com", "password-of-a", "HKS_ORG=acme", "HKS_WORKSPACE=prod", "HKS_PROJECT=frontend")
	b := login("b@example.com", "password-of-b")
	hks := func(args ...string) string { t.Helper(); return mustHKS(t, a, "", args...) }
	// fails runs a command of A that must exit 1 with exactly want on stderr.
	fails := func(want string, args ...string) {
		t.Helper()
		if r := runHKS(t, a, "", args...); r.Code != 1 || r.Stderr != want {
			t.Errorf("hks %s: %s\nwant exit 1 and stderr %q", strings.Join(args, " "), r, want)
		}
	}
	// row is the first row of a table that may have more after a blank line.
	row := func(out string) map[string]string {
		t.Helper()
		head, _, _ := strings.Cut(out, "\n\n")
		rows := parseTable(t, head)
		if len(rows) != 1 {
			t.Fatalf("want one row in %q", out)
		}
		return rows[0]
	}

	// An application with a Service, until both pods are ready.
	if r := row(hks("app", "create", "web", "--image", "nginx", "--replicas", "2", "--port", "80")); r["NAME"] != "web" || r["PORTS"] != "80/TCP" || r["IMAGE"] != "nginx" {
		t.Fatalf("app create: %v", r)
	}
	var out string
	eventually(t, 2*time.Minute, func() (bool, string) {
		out = hks("app", "get", "web")
		r := row(out)
		return r["READY"] == "2/2" && r["STATUS"] == "ready", out
	})
	sections := strings.Split(strings.TrimSuffix(out, "\n"), "\n\n")
	pods := parseTable(t, sections[len(sections)-1])
	if len(pods) != 2 || pods[0]["PHASE"] != "Running" || pods[1]["READY"] != "yes" || !strings.HasPrefix(pods[0]["NODE"], "hks-") {
		t.Errorf("app get: pods %v in\n%s", pods, out)
	}
	if !strings.Contains(out, "\nService web: ") {
		t.Errorf("app get shows no Service:\n%s", out)
	}
	if r := row(hks("app", "scale", "web", "--replicas", "3")); !strings.HasSuffix(r["READY"], "/3") {
		t.Errorf("app scale: %v", r)
	}
	var apps []appOut
	if err := json.Unmarshal([]byte(hks("app", "list", "-o", "json")), &apps); err != nil || len(apps) != 1 || apps[0].Name != "web" || apps[0].Status.Replicas != 3 {
		t.Errorf("app list -o json: %+v %v", apps, err)
	}
	fails("error: --env \"MODE\": want NAME=VALUE\n", "app", "create", "bad", "--image", "nginx", "--env", "MODE")
	fails("error: --replicas -1: must be 0 or more\n", "app", "scale", "web", "--replicas", "-1")
	fails("error: image: must be an image reference without spaces, at most 512 characters (HTTP 422)\n", "app", "create", "bad", "--image", "ngi nx")

	// The viewer reads, and the cluster refuses their writes.
	in := []string{"--org", "acme", "--workspace", "prod", "--project", "frontend"}
	if r := row(mustHKS(t, b, "", append([]string{"app", "get", "web"}, in...)...)); r["NAME"] != "web" {
		t.Errorf("viewer's app get: %v", r)
	}
	if r := runHKS(t, b, "", append([]string{"app", "create", "b-app", "--image", "nginx"}, in...)...); r.Code != 1 ||
		!strings.HasPrefix(r.Stderr, `error: the workspace cluster refused: deployments.apps is forbidden: User "oidc:b@example.com" cannot create resource "deployments"`) ||
		!strings.HasSuffix(r.Stderr, "(HTTP 403)\n") {
		t.Errorf("viewer's app create: %s", r)
	}

	// A manifest from standard input: created, then applied again.
	manifest := "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api\nspec:\n  replicas: %d\n  selector:\n    matchLabels: {app: api}\n" +
		"  template:\n    metadata:\n      labels: {app: api}\n    spec:\n      containers: [{name: c, image: 'busybox:1.36'}]\n"
	if r := row(mustHKS(t, a, fmt.Sprintf(manifest, 1), "app", "apply", "-f", "-")); r["NAME"] != "api" || !strings.HasSuffix(r["READY"], "/1") {
		t.Errorf("app apply (create): %v", r)
	}
	if r := row(mustHKS(t, a, fmt.Sprintf(manifest, 2), "app", "apply", "-f", "-")); r["NAME"] != "api" || !strings.HasSuffix(r["READY"], "/2") {
		t.Errorf("app apply (update): %v", r)
	}
	if usage := hks("project", "usage", "frontend"); !strings.Contains(usage, "\npods ") || !strings.Contains(usage, "APPLICATIONS") {
		t.Errorf("project usage:\n%s", usage)
	}
	if out := hks("app", "delete", "web"); out != "application web deleted\n" {
		t.Errorf("app delete: %q", out)
	}
	fails("error: application not found (HTTP 404)\n", "app", "get", "web")
	// kwok's nodes serve the platform's notice as every pod's log; a pod
	// that is not the application's is the API's own answer.
	if r := runHKS(t, a, "", "app", "logs", "api", "--tail", "5"); r.Code != 0 ||
		!strings.Contains(r.Stdout, "hks: this pod runs on a simulated node (kwok)") {
		t.Errorf("hks app logs on a kwok pod: %s", r)
	}
	fails("error: pod \"nope\" of the application not found (HTTP 404)\n", "app", "logs", "api", "--pod", "nope", "--tail", "5")

	// A CronJob: a manual run in the history, suspend and resume, an update
	// that keeps what it does not name.
	if r := row(hks("cron", "create", "tick", "--schedule", "*/1 * * * *", "--image", "busybox", "--", "date")); r["NAME"] != "tick" || r["SUSPENDED"] != "no" || r["NEXT-RUN"] == "" {
		t.Fatalf("cron create: %v", r)
	}
	if r := row(hks("cron", "trigger", "tick")); r["TRIGGER"] != "manual" || r["STATUS"] != "running" || !strings.HasPrefix(r["JOB"], "tick-manual-") {
		t.Errorf("cron trigger: %v", r)
	}
	manual := false
	for _, r := range parseTable(t, hks("cron", "history", "tick")) {
		manual = manual || (r["TRIGGER"] == "manual" && strings.HasPrefix(r["JOB"], "tick-manual-"))
	}
	if !manual {
		t.Errorf("cron history has no manual run")
	}
	if r := row(hks("cron", "suspend", "tick")); r["SUSPENDED"] != "yes" || r["NEXT-RUN"] != "" {
		t.Errorf("cron suspend: %v", r)
	}
	if out := hks("cron", "get", "tick"); !strings.Contains(out, "Next runs:   none (suspended)") || !strings.Contains(out, `Command:     "date"`) {
		t.Errorf("cron get of a suspended CronJob:\n%s", out)
	}
	if r := row(hks("cron", "resume", "tick")); r["SUSPENDED"] != "no" || r["NEXT-RUN"] == "" {
		t.Errorf("cron resume: %v", r)
	}
	hks("cron", "update", "tick", "--schedule", "@hourly", "--env", "MODE=test")
	var cj struct {
		Spec struct {
			Schedule string `json:"schedule"`
			Template struct {
				Image   string   `json:"image"`
				Command []string `json:"command"`
				Env     []struct{ Name, Value string }
			} `json:"template"`
		} `json:"spec"`
	}
	if err := json.Unmarshal([]byte(hks("cron", "get", "tick", "-o", "json")), &cj); err != nil || cj.Spec.Schedule != "@hourly" ||
		cj.Spec.Template.Image != "busybox" || fmt.Sprint(cj.Spec.Template.Command) != "[date]" || len(cj.Spec.Template.Env) != 1 {
		t.Errorf("cron update: %+v %v", cj, err)
	}
	fails("error: schedule: schedule \"61 * * * *\": minute \"61\": 61 is above the maximum 59 (HTTP 422)\n",
		"cron", "create", "bad", "--schedule", "61 * * * *", "--image", "busybox")
	fails("error: --schedule is required\n", "cron", "create", "bad", "--image", "busybox")

	// Preview: office hours in Tokyo, as the viewer.
	lines := strings.Split(strings.TrimSuffix(mustHKS(t, b, "", append([]string{"cron", "preview", "*/15 9-17 * * 1-5", "--tz", "Asia/Tokyo", "--count", "3"}, in...)...), "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("cron preview: %q", lines)
	}
	for _, l := range lines {
		at, err := time.Parse(time.RFC3339, l)
		if err != nil || !strings.HasSuffix(l, "+09:00") || at.Minute()%15 != 0 || at.Hour() < 9 || at.Hour() > 17 ||
			at.Weekday() == time.Saturday || at.Weekday() == time.Sunday {
			t.Errorf("cron preview: %q is not a quarter hour of office hours in Tokyo (%v)", l, err)
		}
	}
	if out := hks("cron", "delete", "tick"); out != "cronjob tick deleted\n" {
		t.Errorf("cron delete: %q", out)
	}
	fails("error: cronjob not found (HTTP 404)\n", "cron", "get", "tick")
}
