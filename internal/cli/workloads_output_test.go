package cli

import (
	"encoding/json"
	"flag"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hexabase/hexabase-ai/internal/api"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden files of testdata")

// TestWorkloadOutput prints every kind of answer of the application and
// CronJob routes in each format; the output must stay as the golden file
// has it, byte for byte.
func TestWorkloadOutput(t *testing.T) {
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	started := at("2026-12-01T01:00:00Z")
	app := api.Application{Name: "web", Project: "frontend", Image: "nginx:1.27", Labels: map[string]string{"team": "web"}, ResourceVersion: "41",
		CreatedAt: at("2026-12-01T10:00:00.5+09:00"),
		Spec: api.AppSpec{Image: "nginx:1.27", Replicas: ptr(int32(3)), Env: []api.EnvVar{{Name: "MODE", Value: "prod"}},
			Ports:     []api.Port{{Name: "p80", ContainerPort: 80, Protocol: "TCP"}, {Name: "p53", ContainerPort: 53, Protocol: "UDP", ServicePort: 5353}},
			Resources: &api.Resources{Requests: api.ResourceList{CPU: "100m"}}},
		Service: &api.ServiceInfo{Name: "web", ClusterIP: "10.96.0.10", Ports: []api.ServicePort{{Name: "p80", Port: 80, Protocol: "TCP"}, {Name: "p53", Port: 5353, Protocol: "UDP"}}},
		Status: api.AppStatus{Replicas: 3, ReadyReplicas: 3, UpdatedReplicas: 3, AvailableReplicas: 3, Ready: true,
			Conditions: []api.Condition{{Type: "Available", Status: "True", Reason: "MinimumReplicasAvailable", Message: "Deployment has minimum availability."}}},
		Pods: []api.Pod{{Name: "web-1", Phase: "Running", Ready: true, Restarts: 2, Node: "hks-shared-0", IP: "10.244.0.5", StartedAt: &started},
			{Name: "web-2", Phase: "Pending", Reason: "ContainerCreating"}}}
	bare := api.Application{Name: "worker", Project: "frontend", ResourceVersion: "2", CreatedAt: at("2026-12-01T00:00:00Z"), Spec: api.AppSpec{Image: "busybox"},
		Status: api.AppStatus{Replicas: 1, UpdatedReplicas: 1}}
	pods := api.List[api.Pod]{Items: []api.Pod{{Name: "web-1", Phase: "Running", Ready: true, Restarts: 1234567, Node: "hks-shared-0", IP: "10.244.0.5"}}}
	events := api.List[api.Event]{Items: []api.Event{{Type: "Warning", Reason: "BackOff", Message: "Back-off restarting", Object: "Pod/web-1", Count: 3, LastSeen: at("2026-12-01T01:02:03Z")}}}
	last := at("2026-12-07T08:55:00+09:00")
	cron := api.CronJob{Name: "tick", Project: "frontend", ResourceVersion: "7", CreatedAt: at("2026-12-01T00:00:00Z"),
		Spec: api.CronJobSpec{Schedule: "*/5 * * * *", TimeZone: "Asia/Tokyo", ConcurrencyPolicy: "Forbid", SuccessfulJobsHistoryLimit: ptr(int32(2)),
			StartingDeadlineSeconds: ptr(int64(120)), Labels: map[string]string{"team": "ops"},
			Template: api.JobTemplate{Image: "busybox:1.36", Command: []string{"sh", "-c", `date; echo "hi"`}, Args: []string{"x"},
				Env: []api.EnvVar{{Name: "A", Value: "1"}, {Name: "B"}}, Resources: &api.Resources{Limits: api.ResourceList{Memory: "64Mi"}},
				RestartPolicy: "Never", BackoffLimit: ptr(int32(2)), ActiveDeadlineSeconds: ptr(int64(3600))}},
		Status: api.CronJobStatus{Active: []string{"tick-1", "tick-2"}, LastScheduleTime: &last,
			NextRuns: []time.Time{at("2026-12-07T09:00:00+09:00"), at("2026-12-07T09:05:00+09:00")}}}
	suspended := api.CronJob{Name: "idle", Project: "frontend", ResourceVersion: "1", CreatedAt: at("2026-12-01T00:00:00Z"),
		Spec:   api.CronJobSpec{Schedule: "@daily", Suspend: true, Template: api.JobTemplate{Image: "busybox"}},
		Status: api.CronJobStatus{Active: []string{}, NextRuns: []time.Time{}}}
	completed := at("2026-12-07T00:00:12Z")
	runs := api.List[api.Run]{Items: []api.Run{
		{ID: "r2", Job: "tick-2", Trigger: "schedule", Status: "succeeded", StartedAt: at("2026-12-07T00:00:00Z"), CompletedAt: &completed, DurationSeconds: 12.04},
		{ID: "r1", Job: "tick-1", Trigger: "manual", Status: "failed", Message: "BackoffLimitExceeded", StartedAt: at("2026-12-06T00:00:00Z"), DurationSeconds: 0.05}}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		proj := "/api/v1/organizations/" + testOrgID + "/workspaces/" + testWsID + "/projects/frontend"
		w.Header().Set("Content-Type", "application/json")
		body, ok := map[string]any{
			"/applications":             api.List[api.Application]{Items: []api.Application{app, bare}},
			"/applications/web":         app,
			"/applications/worker":      bare,
			"/applications/web/pods":    pods,
			"/applications/web/events":  events,
			"/applications/web/restart": app,
			"/cronjobs":                 api.List[api.CronJob]{Items: []api.CronJob{cron, suspended}},
			"/cronjobs/tick":            cron,
			"/cronjobs/idle":            suspended,
			"/cronjobs/tick/history":    runs,
			"/cronjobs/tick/trigger":    api.Run{ID: "r3", Job: "tick-manual-3", Trigger: "manual", Status: "running", StartedAt: at("2026-12-07T00:00:00Z"), DurationSeconds: 1.25},
			"/cronjobs/preview":         api.Preview{Schedule: "@hourly", TimeZone: "Asia/Tokyo", NextRuns: []time.Time{at("2026-12-07T09:00:00+09:00"), at("2026-12-07T10:00:00+09:00")}},
		}[strings.TrimPrefix(r.URL.Path, proj)]
		if !ok {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		_ = json.NewEncoder(w).Encode(body)
	}))
	t.Cleanup(srv.Close)
	signedInTo(t, srv.URL)
	scope := []string{"--org", testOrgID, "--workspace", testWsID, "--project", "frontend"}
	var all strings.Builder
	for _, cmd := range []string{"app list", "app get web", "app get worker", "app pods web", "app events web", "app restart web",
		"cron list", "cron get tick", "cron get idle", "cron history tick", "cron trigger tick", "cron preview @hourly"} {
		for _, format := range []string{"table", "json", "yaml"} {
			args := append(append(append([]string{}, scope...), strings.Fields(cmd)...), "-o", format)
			out, err := runIn(t, "", args...)
			if err != nil {
				t.Fatalf("%s -o %s: %v\n%s", cmd, format, err, out)
			}
			all.WriteString("=== hks " + cmd + " -o " + format + "\n" + out)
		}
	}
	golden := filepath.Join("testdata", "workload_output.golden")
	if *updateGolden {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, []byte(all.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if all.String() != string(want) {
		t.Errorf("output differs from %s:\n%s", golden, all.String())
	}
}

func ptr[T any](v T) *T { return &v }
