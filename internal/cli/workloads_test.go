package cli

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hexabase/hexabase-ai/internal/api"
)

// recordedCall is one request the CLI sent: method, path with query, and
// the JSON body ("" without one).
type recordedCall struct{ Method, Path, Body string }

// workloadsAPI answers the application and CronJob routes with canned
// objects and records every request; the routes themselves are tested in
// test/e2e against a real cluster, the test here is what the CLI sends.
func workloadsAPI(t *testing.T) *[]recordedCall {
	t.Helper()
	var mu sync.Mutex
	calls := &[]recordedCall{}
	app := api.Application{Name: "web", Project: "frontend", Image: "nginx:1.27", ResourceVersion: "41",
		Spec: api.AppSpec{Image: "nginx:1.27", Replicas: ptr(int32(3)), Env: []api.EnvVar{{Name: "MODE", Value: "prod"}, {Name: "DEBUG", Value: "1"}},
			Ports: []api.Port{{Name: "p80", ContainerPort: 80, Protocol: "TCP"}}},
		Service: &api.ServiceInfo{Name: "web", ClusterIP: "10.96.0.10", Ports: []api.ServicePort{{Port: 80, Protocol: "TCP"}}},
		Status:  api.AppStatus{Replicas: 3, ReadyReplicas: 2, UpdatedReplicas: 3, AvailableReplicas: 2, Conditions: []api.Condition{}},
		Pods:    []api.Pod{{Name: "web-1", Phase: "Running", Ready: true, Node: "hks-shared-0"}}}
	cron := api.CronJob{Name: "tick", Project: "frontend", ResourceVersion: "7",
		Spec: api.CronJobSpec{Schedule: "*/5 * * * *", TimeZone: "Asia/Tokyo", Suspend: true, ConcurrencyPolicy: "Forbid",
			Labels: map[string]string{"team": "ops", "tier": "batch"},
			Template: api.JobTemplate{Image: "busybox:1.36", Command: []string{"date"},
				Env:       []api.EnvVar{{Name: "A", Value: "1"}, {Name: "B", Value: "1"}, {Name: "C", Value: "1"}},
				Resources: &api.Resources{Limits: api.ResourceList{Memory: "64Mi"}}, RestartPolicy: "Never", BackoffLimit: ptr(int32(2))}},
		Status: api.CronJobStatus{Active: []string{}, NextRuns: []time.Time{}}}
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	preview := api.Preview{Schedule: "*/15 9-17 * * 1-5", TimeZone: "Asia/Tokyo",
		NextRuns: []time.Time{at("2026-12-07T09:00:00+09:00"), at("2026-12-07T09:15:00+09:00")}}
	run := api.Run{ID: "r1", Job: "tick-manual-1", Trigger: "manual", Status: "running", StartedAt: at("2026-12-07T00:00:00Z"), DurationSeconds: 1.25}
	// problem answers a problem document with status.
	problem := func(w http.ResponseWriter, status int, title, detail string) {
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(api.Problem{Type: "about:blank", Title: title, Status: status, Detail: detail})
	}
	answer := func(w http.ResponseWriter, v any) { _ = json.NewEncoder(w).Encode(v) }
	busyPatches := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		*calls = append(*calls, recordedCall{r.Method, r.URL.RequestURI(), string(b)})
		mu.Unlock()
		if r.Header.Get("Authorization") != "Bearer access" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		proj := "/api/v1/organizations/" + testOrgID + "/workspaces/" + testWsID + "/projects/frontend"
		path := strings.TrimPrefix(r.URL.Path, proj)
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.Method == http.MethodDelete:
			w.WriteHeader(http.StatusNoContent)
		case path == "/applications/new":
			problem(w, http.StatusNotFound, "Not found", "application not found")
		case path == "/applications/busy" && r.Method == http.MethodPatch && busyPatches == 0:
			// Someone else changed it since it was read.
			busyPatches++
			problem(w, http.StatusPreconditionFailed, "Precondition failed", "changed")
		case path == "/applications/web/logs":
			w.Header().Set("Content-Type", "text/plain")
			io.WriteString(w, "line 1\nline 2\n")
		case strings.HasPrefix(path, "/applications"):
			if r.Method == http.MethodGet && path == "/applications" {
				answer(w, api.List[api.Application]{Items: []api.Application{app}})
				return
			}
			answer(w, app)
		case path == "/cronjobs/preview":
			answer(w, preview)
		case path == "/cronjobs/tick/trigger":
			answer(w, run)
		case strings.HasPrefix(path, "/cronjobs"):
			answer(w, cron)
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	t.Cleanup(srv.Close)
	signedInTo(t, srv.URL)
	return calls
}

// runIn runs the CLI with stdin; stdout and stderr are one buffer.
func runIn(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	root := newTestRoot()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetIn(strings.NewReader(stdin))
	root.SetArgs(args)
	err := root.Execute()
	return out.String(), err
}

// canonical re-encodes JSON with sorted keys, so bodies compare as values.
func canonical(t *testing.T, s string) string {
	t.Helper()
	if s == "" {
		return ""
	}
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("not JSON: %q", s)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func TestWorkloadCommandsSend(t *testing.T) {
	manifest := filepath.Join(t.TempDir(), "app.yaml")
	const deployment = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: %s\nspec: {}\n"
	scope := []string{"--org", testOrgID, "--workspace", testWsID, "--project", "frontend"}
	proj := "/api/v1/organizations/" + testOrgID + "/workspaces/" + testWsID + "/projects/frontend"
	apps, cjs := proj+"/applications", proj+"/cronjobs"
	setEnvBusy := body(t, api.PatchApplicationRequest{Env: &[]api.EnvVar{{Name: "MODE", Value: "dev"}, {Name: "DEBUG", Value: "1"}}, ResourceVersion: "41"})
	for _, tc := range []struct {
		name  string
		args  []string
		file  string // written to manifest
		want  []recordedCall
		out   string // a line the output has
		nopre bool   // args carry their own scope
	}{
		{name: "app create with every flag",
			args: []string{"app", "create", "web", "--image", "nginx:1.27", "--replicas", "2", "--port", "8080:80", "--port", "53/udp",
				"--env", "MODE=prod", "--env", "EMPTY=", "--env", "URL=a=b", "--cpu", "100m", "--memory-limit", "128Mi", "--label", "team=web",
				"--arg", "-v", "--", "nginx", "-g", "daemon off;"},
			want: []recordedCall{{"POST", apps, body(t, api.CreateApplicationRequest{Name: "web", AppSpec: api.AppSpec{
				Image: "nginx:1.27", Replicas: ptr(int32(2)), Command: []string{"nginx", "-g", "daemon off;"}, Args: []string{"-v"},
				Env:       []api.EnvVar{{Name: "MODE", Value: "prod"}, {Name: "EMPTY", Value: ""}, {Name: "URL", Value: "a=b"}},
				Ports:     []api.Port{{ContainerPort: 8080, ServicePort: 80}, {ContainerPort: 53, Protocol: "UDP"}},
				Resources: &api.Resources{Requests: api.ResourceList{CPU: "100m"}, Limits: api.ResourceList{Memory: "128Mi"}}, Labels: map[string]string{"team": "web"}}})}},
			out: "web   2/3    3           2          not ready  nginx:1.27  80/TCP"},
		{name: "app create with the defaults", args: []string{"app", "create", "web", "--image", "nginx"},
			want: []recordedCall{{"POST", apps, body(t, api.CreateApplicationRequest{Name: "web", AppSpec: api.AppSpec{Image: "nginx"}})}}},
		{name: "scope from the environment", nopre: true, args: []string{"apps", "list"},
			want: []recordedCall{{"GET", apps + "?limit=500", ""}}, out: "NAME  READY  UP-TO-DATE"},
		{name: "app get", args: []string{"app", "get", "web"}, want: []recordedCall{{"GET", apps + "/web", ""}}, out: "web-1  Running  yes"},
		{name: "app scale to zero", args: []string{"app", "scale", "web", "--replicas", "0"},
			want: []recordedCall{{"POST", apps + "/web/scale", body(t, api.ScaleRequest{Replicas: ptr(int32(0))})}}},
		{name: "app restart", args: []string{"app", "restart", "web"}, want: []recordedCall{{"POST", apps + "/web/restart", ""}}},
		{name: "app delete", args: []string{"app", "delete", "web"}, want: []recordedCall{{"DELETE", apps + "/web", ""}}, out: "application web deleted"},
		{name: "app pods", args: []string{"app", "pods", "web"}, want: []recordedCall{{"GET", apps + "/web/pods?limit=500", ""}}},
		{name: "app events", args: []string{"app", "events", "web"}, want: []recordedCall{{"GET", apps + "/web/events?limit=500", ""}}},
		{name: "app logs with every flag", args: []string{"app", "logs", "web", "-f", "--tail", "10", "--since", "5m", "-c", "app", "--pod", "web-1", "--timestamps"},
			want: []recordedCall{{"GET", apps + "/web/logs?pod=web-1&container=app&follow=true&tail_lines=10&since_seconds=300&timestamps=true", ""}}, out: "line 1\nline 2\n"},
		{name: "app logs", args: []string{"app", "logs", "web"}, want: []recordedCall{{"GET", apps + "/web/logs", ""}}},
		{name: "app update sends only what flags give", args: []string{"app", "update", "web", "--image", "nginx:1.28", "--port", "80", "--label", "team=web", "--label", "old-"},
			want: []recordedCall{{"PATCH", apps + "/web", body(t, api.PatchApplicationRequest{Image: ptr("nginx:1.28"), Ports: &[]api.Port{{ContainerPort: 80}},
				Labels: map[string]*string{"team": ptr("web"), "old": nil}})}}},
		{name: "app update with replicas", args: []string{"app", "update", "web", "--replicas", "1"},
			want: []recordedCall{{"PATCH", apps + "/web", body(t, api.PatchApplicationRequest{Replicas: ptr(int32(1))})}}},
		{name: "app update with env merges onto the env read, at its version", args: []string{"app", "update", "web", "--env", "DEBUG-", "--env", "NEW=1", "--cpu", "100m"},
			want: []recordedCall{{"GET", apps + "/web", ""}, {"PATCH", apps + "/web",
				body(t, api.PatchApplicationRequest{Env: &[]api.EnvVar{{Name: "MODE", Value: "prod"}, {Name: "NEW", Value: "1"}},
					Resources: &api.Resources{Requests: api.ResourceList{CPU: "100m"}}, ResourceVersion: "41"})}}},
		{name: "app set image", args: []string{"app", "set", "image", "web", "nginx:1.28"},
			want: []recordedCall{{"PATCH", apps + "/web", body(t, api.PatchApplicationRequest{Image: ptr("nginx:1.28")})}}, out: "web   2/3"},
		{name: "app set env reads again when someone changed the application meanwhile", args: []string{"app", "set", "env", "busy", "MODE=dev"},
			want: []recordedCall{{"GET", apps + "/busy", ""}, {"PATCH", apps + "/busy", setEnvBusy},
				{"GET", apps + "/busy", ""}, {"PATCH", apps + "/busy", setEnvBusy}}},
		{name: "app set replicas", args: []string{"app", "set", "replicas", "web", "0"},
			want: []recordedCall{{"PATCH", apps + "/web", body(t, api.PatchApplicationRequest{Replicas: ptr(int32(0))})}}},
		{name: "app set env", args: []string{"app", "set", "env", "web", "MODE=dev", "DEBUG-", "LOG=info"},
			want: []recordedCall{{"GET", apps + "/web", ""}, {"PATCH", apps + "/web",
				body(t, api.PatchApplicationRequest{Env: &[]api.EnvVar{{Name: "MODE", Value: "dev"}, {Name: "LOG", Value: "info"}}, ResourceVersion: "41"})}}},
		{name: "app apply of an existing application", args: []string{"app", "apply", "-f", manifest}, file: strings.Replace(deployment, "%s", "web", 1),
			want: []recordedCall{{"GET", apps + "/web", ""}, {"PUT", apps + "/web", body(t, api.UpdateApplicationRequest{Manifest: strings.Replace(deployment, "%s", "web", 1)})}}},
		{name: "app apply of a new application", args: []string{"app", "apply", "-f", manifest}, file: strings.Replace(deployment, "%s", "new", 1),
			want: []recordedCall{{"GET", apps + "/new", ""}, {"POST", apps, body(t, api.CreateApplicationRequest{Manifest: strings.Replace(deployment, "%s", "new", 1)})}}},
		{name: "app apply of a manifest the server must judge", args: []string{"app", "apply", "-f", manifest}, file: "{{{",
			want: []recordedCall{{"POST", apps, body(t, api.CreateApplicationRequest{Manifest: "{{{"})}}},
		{name: "cron create with every flag",
			args: []string{"cron", "create", "tick", "--schedule", "*/5 * * * *", "--tz", "Asia/Tokyo", "--image", "busybox:1.36", "--suspend",
				"--concurrency-policy", "Forbid", "--successful-jobs-history-limit", "0", "--failed-jobs-history-limit", "2", "--starting-deadline", "0s",
				"--active-deadline", "1h", "--backoff-limit", "0", "--restart-policy", "Never", "--service-account", "backup",
				"--env", "A=1", "--cpu", "50m", "--label", "team=ops", "--arg", "x", "--", "sh", "-c", "date"},
			want: []recordedCall{{"POST", cjs, body(t, api.CreateCronJobRequest{Name: "tick", CronJobSpec: api.CronJobSpec{
				Schedule: "*/5 * * * *", TimeZone: "Asia/Tokyo", Suspend: true, ConcurrencyPolicy: "Forbid",
				SuccessfulJobsHistoryLimit: ptr(int32(0)), FailedJobsHistoryLimit: ptr(int32(2)), StartingDeadlineSeconds: ptr(int64(0)), Labels: map[string]string{"team": "ops"},
				Template: api.JobTemplate{Image: "busybox:1.36", Command: []string{"sh", "-c", "date"}, Args: []string{"x"}, Env: []api.EnvVar{{Name: "A", Value: "1"}},
					Resources: &api.Resources{Requests: api.ResourceList{CPU: "50m"}}, ServiceAccount: "backup", RestartPolicy: "Never",
					BackoffLimit: ptr(int32(0)), ActiveDeadlineSeconds: ptr(int64(3600))}}})}},
			out: "tick  */5 * * * *  Asia/Tokyo  yes        0"},
		{name: "cron create with the defaults", args: []string{"cronjob", "create", "tick", "--schedule", "@hourly", "--image", "busybox"},
			want: []recordedCall{{"POST", cjs, body(t, api.CreateCronJobRequest{Name: "tick", CronJobSpec: api.CronJobSpec{Schedule: "@hourly", Template: api.JobTemplate{Image: "busybox"}}})}}},
		{name: "cron update changes only what flags give",
			args: []string{"cron", "update", "tick", "--schedule", "@hourly", "--env", "A-", "--env", "B=2", "--env", "D=4", "--cpu", "200m", "--label", "tier-", "--", "true"},
			want: []recordedCall{{"GET", cjs + "/tick", ""}, {"PATCH", cjs + "/tick", body(t, api.PatchCronJobRequest{Schedule: ptr("@hourly"), Labels: map[string]*string{"tier": nil},
				Template: &api.JobTemplatePatch{Command: &[]string{"true"}, Env: &[]api.EnvVar{{Name: "B", Value: "2"}, {Name: "C", Value: "1"}, {Name: "D", Value: "4"}},
					Resources: &api.Resources{Requests: api.ResourceList{CPU: "200m"}}}, ResourceVersion: "7"})}}},
		{name: "cron update without env reads nothing", args: []string{"cron", "update", "tick", "--image", "busybox:1.37", "--suspend=false", "--backoff-limit", "0"},
			want: []recordedCall{{"PATCH", cjs + "/tick", body(t, api.PatchCronJobRequest{Suspend: ptr(false), Template: &api.JobTemplatePatch{Image: ptr("busybox:1.37"), BackoffLimit: ptr(int32(0))}})}}},
		{name: "cron suspend", args: []string{"cron", "suspend", "tick"}, want: []recordedCall{{"POST", cjs + "/tick/suspend", ""}}},
		{name: "cron resume", args: []string{"cron", "resume", "tick"}, want: []recordedCall{{"POST", cjs + "/tick/resume", ""}}},
		{name: "cron trigger", args: []string{"cron", "trigger", "tick"}, want: []recordedCall{{"POST", cjs + "/tick/trigger", ""}},
			out: "tick-manual-1  manual   running  2026-12-07T00:00:00Z  1.3s"},
		{name: "cron history", args: []string{"cron", "history", "tick"}, want: []recordedCall{{"GET", cjs + "/tick/history?limit=500", ""}}},
		{name: "cron delete", args: []string{"cron", "delete", "tick"}, want: []recordedCall{{"DELETE", cjs + "/tick", ""}}, out: "cronjob tick deleted"},
		{name: "cron preview", args: []string{"cron", "preview", "*/15 9-17 * * 1-5", "--tz", "Asia/Tokyo", "--count", "2", "--since", "2026-12-04T08:50:00Z"},
			want: []recordedCall{{"GET", cjs + "/preview?schedule=%2A%2F15+9-17+%2A+%2A+1-5&time_zone=Asia%2FTokyo&count=2&since=2026-12-04T08%3A50%3A00Z", ""}},
			out:  "2026-12-07T09:00:00+09:00\n2026-12-07T09:15:00+09:00\n"},
		{name: "cron preview with the former --after", args: []string{"cron", "preview", "@hourly", "--after", "2026-12-04T08:50:00Z"},
			want: []recordedCall{{"GET", cjs + "/preview?schedule=%40hourly&count=5&since=2026-12-04T08%3A50%3A00Z", ""}},
			out:  "Flag --after has been deprecated, use --since\n"},
		{name: "app set replicas with flags after the arguments", args: []string{"app", "set", "replicas", "web", "2", "-o", "json", "--project", "frontend"},
			want: []recordedCall{{"PATCH", apps + "/web", body(t, api.PatchApplicationRequest{Replicas: ptr(int32(2))})}}, out: `"name": "web"`},
		{name: "app update with only a command", args: []string{"app", "update", "web", "--", "nginx", "-T"},
			want: []recordedCall{{"PATCH", apps + "/web", body(t, api.PatchApplicationRequest{Command: &[]string{"nginx", "-T"}})}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			calls := workloadsAPI(t)
			if tc.file != "" {
				if err := os.WriteFile(manifest, []byte(tc.file), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			args := tc.args
			if tc.nopre {
				t.Setenv("HKS_ORG", testOrgID)
				t.Setenv("HKS_WORKSPACE", testWsID)
				t.Setenv("HKS_PROJECT", "frontend")
			} else {
				args = append(append([]string{}, scope...), args...)
			}
			out, err := runIn(t, "", args...)
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			if len(*calls) != len(tc.want) {
				t.Fatalf("sent %+v\nwant %+v", *calls, tc.want)
			}
			for i, got := range *calls {
				w := tc.want[i]
				if got.Method != w.Method || got.Path != w.Path || canonical(t, got.Body) != canonical(t, w.Body) {
					t.Errorf("call %d:\n got %s %s %s\nwant %s %s %s", i, got.Method, got.Path, got.Body, w.Method, w.Path, canonical(t, w.Body))
				}
			}
			if !strings.Contains(out, tc.out) {
				t.Errorf("output:\n%s\nwant it to have %q", out, tc.out)
			}
		})
	}
}

// TestWorkloadCommandsRefuse: flags that are wrong on their face are
// refused with a message naming the flag, before any request.
func TestWorkloadCommandsRefuse(t *testing.T) {
	scope := []string{"--org", testOrgID, "--workspace", testWsID, "--project", "frontend"}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"app", "create", "web"}, `--image is required`},
		{[]string{"app", "create", "web", "--image", "nginx", "--replicas", "-1"}, "--replicas -1: must be 0 or more"},
		{[]string{"app", "create", "web", "--image", "nginx", "--env", "MODE"}, `--env "MODE": want NAME=VALUE`},
		{[]string{"app", "create", "web", "--image", "nginx", "--env", "=x"}, `--env "=x": want NAME=VALUE`},
		{[]string{"app", "create", "web", "--image", "nginx", "--label", "team"}, `--label "team": want NAME=VALUE`},
		{[]string{"app", "create", "web", "--image", "nginx", "--port", "0"}, `--port "0": want CONTAINER[:SERVICE][/PROTOCOL] with ports from 1 to 65535, e.g. 8080 or 8080:80/TCP`},
		{[]string{"app", "create", "web", "--image", "nginx", "--port", "80:http"}, `--port "80:http": want CONTAINER[:SERVICE][/PROTOCOL] with ports from 1 to 65535, e.g. 8080 or 8080:80/TCP`},
		{[]string{"app", "create", "web", "--image", "nginx", "--port", "80/http"}, `--port "80/http": the protocol must be TCP, UDP or SCTP`},
		{[]string{"app", "create", "web", "api", "--image", "nginx"}, "want one NAME before -- (the command comes after it), got 2"},
		{[]string{"app", "scale", "web"}, `--replicas is required`},
		{[]string{"app", "set", "replicas", "web", "--", "-1"}, "replicas -1: must be 0 or more"},
		{[]string{"app", "set", "replicas", "web", "-1"}, "replicas -1: must be 0 or more"},
		{[]string{"app", "set", "replicas", "web", "-1", "-o", "json"}, "replicas -1: must be 0 or more"},
		{[]string{"app", "set", "replicas", "web", "3", "4"}, "accepts 2 arg(s), received 3"},
		{[]string{"app", "set", "replicas", "web", "3", "--bogus"}, "unknown flag: --bogus"},
		{[]string{"app", "update", "web"}, "nothing to change: give at least one of --image, --env, --arg, --cpu, --memory, --cpu-limit, --memory-limit, --label, --replicas, --port, or a command after --"},
		{[]string{"cron", "update", "tick"}, "nothing to change: give at least one of --image, --env, --arg, --cpu, --memory, --cpu-limit, --memory-limit, --label, " +
			"--schedule, --tz, --suspend, --concurrency-policy, --successful-jobs-history-limit, --failed-jobs-history-limit, --starting-deadline, " +
			"--restart-policy, --backoff-limit, --active-deadline, --service-account, or a command after --"},
		{[]string{"app", "list", "--project", ""}, "--project must not be empty"},
		{[]string{"cron", "get", "tick", "--workspace", "", "--project", ""}, "--workspace must not be empty"},
		{[]string{"app", "get", "web", "--org", ""}, "--org must not be empty"},
		{[]string{"app", "set", "replicas", "web", "many"}, `replicas "many": want a whole number, 0 or more`},
		{[]string{"app", "set", "env", "web", "MODE"}, `"MODE": want NAME=VALUE (or NAME- to remove one)`},
		{[]string{"app", "set", "image", "web"}, "accepts 2 arg(s), received 1"},
		{[]string{"app", "update", "web", "--label", "team"}, `--label "team": want NAME=VALUE (or KEY- to remove one)`},
		{[]string{"app", "scale", "web", "--replicas", "-2"}, "--replicas -2: must be 0 or more"},
		{[]string{"app", "logs", "web", "--tail", "0"}, "--tail 0: want 1 or more lines"},
		{[]string{"app", "logs", "web", "--since", "1500ms"}, "--since 1.5s: want a positive whole number of seconds, e.g. 90s or 1h"},
		{[]string{"app", "apply"}, "-f FILE (or -f - for standard input) is required"},
		{[]string{"app", "apply", "-f", "-"}, "the manifest on standard input is empty"},
		{[]string{"cron", "create", "tick", "--image", "busybox"}, `--schedule is required`},
		{[]string{"cron", "create", "tick", "--schedule", "@hourly"}, `--image is required`},
		{[]string{"cron", "create", "tick", "--schedule", "@hourly", "--image", "busybox", "--env", "A-"}, `--env "A-": want NAME=VALUE`},
		{[]string{"cron", "create", "tick", "--schedule", "@hourly", "--image", "busybox", "--backoff-limit", "-1"}, "--backoff-limit -1: must be 0 or more"},
		{[]string{"cron", "create", "tick", "--schedule", "@hourly", "--image", "busybox", "--active-deadline", "0s"}, "--active-deadline 0s: want a positive whole number of seconds, e.g. 90s or 1h"},
		{[]string{"cron", "create", "tick", "--schedule", "@hourly", "--image", "busybox", "--starting-deadline", "-1m"}, "--starting-deadline -1m0s: want a non-negative whole number of seconds, e.g. 90s or 1h"},
		{[]string{"cron", "preview", "@hourly", "--count", "0"}, "--count 0: want 1 or more"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			calls := workloadsAPI(t)
			out, err := runIn(t, "", append(append([]string{}, scope...), tc.args...)...)
			if err == nil || err.Error() != tc.want {
				t.Fatalf("error %v (output %q), want %q", err, out, tc.want)
			}
			if len(*calls) != 0 {
				t.Errorf("sent %+v", *calls)
			}
		})
	}
	// The scope flags are checked in order, before anything is sent.
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"app", "list"}, "--org is required (or set HKS_ORG)"},
		{[]string{"cron", "list", "--org", testOrgID}, "--workspace is required (or set HKS_WORKSPACE)"},
		{[]string{"cron", "preview", "@daily", "--org", testOrgID, "--workspace", testWsID}, "--project is required (or set HKS_PROJECT)"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			calls := workloadsAPI(t)
			if _, err := runIn(t, "", tc.args...); err == nil || err.Error() != tc.want {
				t.Errorf("%v: error %v, want %q", tc.args, err, tc.want)
			}
			if len(*calls) != 0 {
				t.Errorf("%v: sent %+v", tc.args, *calls)
			}
		})
	}
}

func TestAPIErrorQuotesRequestID(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  APIError
		want string
	}{
		{"with request id", APIError{Status: 500, Detail: "an internal error occurred", RequestID: "r1"}, "an internal error occurred (HTTP 500, request id r1)"},
		{"no request id on 4xx", APIError{Status: 404, Detail: "application not found", RequestID: "r2"}, "application not found (HTTP 404)"},
		{"no detail", APIError{Status: 503}, "Service Unavailable (HTTP 503)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.err.Error(); got != tc.want {
				t.Errorf("%+v: %q, want %q", tc.err, got, tc.want)
			}
		})
	}
}

// TestAPIErrorSkipsFieldsThatRepeatTheDetail: the CLI prints a problem's
// detail once; an errors[] entry whose text is the detail (the manifest
// route's field, a single invalid field) is not printed again, the
// others are.
func TestAPIErrorSkipsFieldsThatRepeatTheDetail(t *testing.T) {
	type fe = struct {
		Field   string `json:"field"`
		Message string `json:"message"`
	}
	const detail = "document 1 (Deployment web): denied"
	for _, tc := range []struct {
		name string
		err  APIError
		want string
	}{
		{"manifest refusal", APIError{Status: 422, Detail: detail, Errors: []fe{{"manifest", detail}, {"", detail}}}, detail + " (HTTP 422)"},
		{"manifest refusal with a cause", APIError{Status: 422, Detail: detail, Errors: []fe{{"manifest", detail}, {"spec.replicas", "must be positive"}}},
			detail + " (spec.replicas: must be positive) (HTTP 422)"},
		{"one invalid field", APIError{Status: 422, Detail: "image: is required", Errors: []fe{{"image", "is required"}}}, "image: is required (HTTP 422)"},
		{"two invalid fields", APIError{Status: 422, Detail: "2 fields are invalid", Errors: []fe{{"image", "is required"}, {"name", "is required"}}},
			"2 fields are invalid (image: is required; name: is required) (HTTP 422)"},
		// A function's build error: the detail quotes the runtime's words.
		{"build error", APIError{Status: 422, Detail: "python: File \"handler.py\", line 1 SyntaxError: expected ':'",
			Errors: []fe{{"source", "File \"handler.py\", line 1 SyntaxError: expected ':'"}}},
			"python: File \"handler.py\", line 1 SyntaxError: expected ':' (HTTP 422)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.err.Error(); got != tc.want {
				t.Errorf("%q, want %q", got, tc.want)
			}
		})
	}
}
