package tools

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"testing"
	"time"

	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/hexabase/hexabase-ai/internal/kube"
	"github.com/hexabase/hexabase-ai/internal/store"
)

// TestCronJobRunsAsTheCaller: cronjob_runs reads the CronJob as the
// caller before the platform's run history, as the REST history route
// does: a caller the cluster does not let read it gets the cluster's 403
// and none of the history; one who may read it gets the history, and so
// does anyone for a CronJob gone from the cluster (what was recorded is
// still there).
func TestCronJobRunsAsTheCaller(t *testing.T) {
	cronJob(t, "shop", "runs-nightly")
	reg, err := NewRegistry(Builtin()...)
	if err != nil {
		t.Fatal(err)
	}
	withRuns := func(tgt *Target, asked *bool) *Target {
		tgt.Runs = func(_ context.Context, ns, name string) ([]store.CronJobRun, error) {
			*asked = true
			return []store.CronJobRun{{Namespace: ns, CronJob: name, Job: name + "-1", Trigger: store.TriggerSchedule, Status: store.RunSucceeded, StartedAt: time.Now().Add(-time.Hour)}}, nil
		}
		return tgt
	}
	// The viewer as the platform sees them (View in shop) with no group
	// in the cluster: RBAC there refuses them everything in shop.
	denied := target(t, "viewer", "shop", nil)
	cfg := rest.CopyConfig(denied.Client.Config)
	cfg.Impersonate.Groups = []string{"system:authenticated"}
	denied.Client = &kube.Client{Kube: kubernetes.NewForConfigOrDie(cfg), Dynamic: dynamic.NewForConfigOrDie(cfg), Config: cfg, Warnings: denied.Client.Warnings}

	cases := []struct {
		name   string
		tgt    *Target
		cron   string
		status int // 0: the history
	}{
		{"viewer", target(t, "viewer", "shop", nil), "runs-nightly", 0},
		{"refused by the cluster", denied, "runs-nightly", http.StatusForbidden},
		{"refused by the cluster, no such cronjob", denied, "runs-gone", http.StatusForbidden},
		{"gone from the cluster", target(t, "viewer", "shop", nil), "runs-gone", 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			asked := false
			res, err := reg.Call(context.Background(), withRuns(c.tgt, &asked), "cronjob_runs", json.RawMessage(`{"name":"`+c.cron+`"}`))
			if c.status == 0 {
				if err != nil {
					t.Fatal(err)
				}
				if err := contains(res.Text, "runs of cronjob "+c.cron+" in project shop", c.cron+"-1"); err != nil {
					t.Error(err)
				}
				return
			}
			var ce *ClusterError
			if !errors.As(err, &ce) || ce.Status != c.status {
				t.Fatalf("cronjob_runs: %v (%+v), want the cluster's %d", err, res, c.status)
			}
			if asked {
				t.Error("the run history was read for a caller the cluster refused")
			}
		})
	}
}
