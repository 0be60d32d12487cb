package cli

import (
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden files of testdata")

// TestWorkloadOutput prints every kind of answer of the application and
// CronJob routes in each format; the output must stay as the golden file
// has it, byte for byte.
func TestWorkloadOutput(t *testing.T) {
	app := `{"name":"web","project":"frontend","image":"nginx:1.27","labels":{"team":"web"},"resource_version":"41","created_at":"2026-12-01T10:00:00.5+09:00",` +
		`"spec":{"image":"nginx:1.27","replicas":3,"env":[{"name":"MODE","value":"prod"}],"ports":[{"name":"p80","container_port":80,"protocol":"TCP"},{"name":"p53","container_port":53,"protocol":"UDP","service_port":5353}],"resources":{"requests":{"cpu":"100m"},"limits":{}}},` +
		`"service":{"name":"web","cluster_ip":"10.96.0.10","ports":[{"name":"p80","port":80,"protocol":"TCP"},{"name":"p53","port":5353,"protocol":"UDP"}]},` +
		`"status":{"replicas":3,"ready_replicas":3,"updated_replicas":3,"available_replicas":3,"ready":true,"conditions":[{"type":"Available","status":"True","reason":"MinimumReplicasAvailable","message":"Deployment has minimum availability."}]},` +
		`"pods":[{"name":"web-1","phase":"Running","ready":true,"restarts":2,"node":"hks-shared-0","ip":"10.244.0.5","started_at":"2026-12-01T01:00:00Z"},{"name":"web-2","phase":"Pending","ready":false,"restarts":0,"reason":"ContainerCreating"}]}`
	bare := `{"name":"worker","project":"frontend","resource_version":"2","created_at":"2026-12-01T00:00:00Z","spec":{"image":"busybox"},"status":{"replicas":1,"ready_replicas":0,"updated_replicas":1,"available_replicas":0,"ready":false,"conditions":null}}`
	pods := `{"items":[{"name":"web-1","phase":"Running","ready":true,"restarts":1234567,"node":"hks-shared-0","ip":"10.244.0.5"}]}`
	events := `{"items":[{"type":"Warning","reason":"BackOff","message":"Back-off restarting","object":"Pod/web-1","count":3,"last_seen":"2026-12-01T01:02:03Z"}]}`
	cron := `{"name":"tick","project":"frontend","resource_version":"7","created_at":"2026-12-01T00:00:00Z","spec":{"schedule":"*/5 * * * *","time_zone":"Asia/Tokyo","concurrency_policy":"Forbid",` +
		`"successful_jobs_history_limit":2,"starting_deadline_seconds":120,"labels":{"team":"ops"},` +
		`"template":{"image":"busybox:1.36","command":["sh","-c","date; echo \"hi\""],"args":["x"],"env":[{"name":"A","value":"1"},{"name":"B","value":""}],` +
		`"resources":{"requests":{},"limits":{"memory":"64Mi"}},"restart_policy":"Never","backoff_limit":2,"active_deadline_seconds":3600}},` +
		`"status":{"active":["tick-1","tick-2"],"last_schedule_time":"2026-12-07T08:55:00+09:00","next_runs":["2026-12-07T09:00:00+09:00","2026-12-07T09:05:00+09:00"]}}`
	suspended := `{"name":"idle","project":"frontend","resource_version":"1","created_at":"2026-12-01T00:00:00Z","spec":{"schedule":"@daily","suspend":true,"template":{"image":"busybox"}},"status":{"active":[],"next_runs":[]}}`
	runs := `{"items":[{"id":"r2","job":"tick-2","trigger":"schedule","status":"succeeded","started_at":"2026-12-07T00:00:00Z","completed_at":"2026-12-07T00:00:12Z","duration_seconds":12.04},` +
		`{"id":"r1","job":"tick-1","trigger":"manual","status":"failed","message":"BackoffLimitExceeded","started_at":"2026-12-06T00:00:00Z","duration_seconds":0.05}]}`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		proj := "/api/v1/organizations/" + testOrgID + "/workspaces/" + testWsID + "/projects/frontend"
		w.Header().Set("Content-Type", "application/json")
		body, ok := map[string]string{
			"/applications":             `{"items":[` + app + `,` + bare + `]}`,
			"/applications/web":         app,
			"/applications/worker":      bare,
			"/applications/web/pods":    pods,
			"/applications/web/events":  events,
			"/applications/web/restart": app,
			"/cronjobs":                 `{"items":[` + cron + `,` + suspended + `]}`,
			"/cronjobs/tick":            cron,
			"/cronjobs/idle":            suspended,
			"/cronjobs/tick/history":    runs,
			"/cronjobs/tick/trigger":    `{"id":"r3","job":"tick-manual-3","trigger":"manual","status":"running","started_at":"2026-12-07T00:00:00Z","duration_seconds":1.25}`,
			"/cronjobs/preview":         `{"schedule":"@hourly","time_zone":"Asia/Tokyo","next_runs":["2026-12-07T09:00:00+09:00","2026-12-07T10:00:00+09:00"]}`,
		}[strings.TrimPrefix(r.URL.Path, proj)]
		if !ok {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		io.WriteString(w, body)
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
