package tools

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/hexabase/hexabase-ai/internal/api"
	"github.com/hexabase/hexabase-ai/internal/store"
)

// TestReadToolsNeverWrite is the review issue 14 asks for (kubectl-ai
// misclassified `rollout history` as a write, #393; a read-only mode of
// kubernetes-mcp-server handed out a kubeconfig, #1415): every tool of
// Builtin() is called with valid arguments against a real workspace
// cluster through a client that records the requests it sends. A read
// tool, and a write tool's Propose, may only GET; Prepare may send other
// verbs only with dryRun=All. Nothing in the cluster changed after. A
// tool added to Builtin() without a case here fails the test. The
// functions tools (FunctionTools()) are reviewed the same way against the
// platform's API (the test double fnAPI until the functions service
// lands): reads and proposals GET only, Prepare sends a write only with
// dry_run=true, and no function was deployed, invoked or deleted.
func TestReadToolsNeverWrite(t *testing.T) {
	admin := startCluster(t)
	ctx := context.Background()
	deployment(t, "shop", "review-web", 2)
	cronJob(t, "shop", "review-nightly")
	victim := deployment(t, "shop", "review-victim", 1)
	pod := runningPod(t, "shop", "review-web")

	cases := map[string]string{
		"list_resources":  `{"kind":"deploy","label_selector":"app=review-web","limit":10}`,
		"get_resource":    `{"kind":"Deployment","name":"review-web"}`,
		"describe":        `{"kind":"pods","name":"` + pod.Name + `"}`,
		"pod_logs":        `{"pod":"` + pod.Name + `","tail_lines":5}`,
		"events":          `{"warnings_only":false}`,
		"diagnose":        `{}`,
		"list_projects":   `{}`,
		"cronjob_runs":    `{"name":"review-nightly"}`,
		"scale":           `{"name":"review-web","replicas":5}`,
		"restart":         `{"name":"review-web"}`,
		"set_image":       `{"name":"review-web","image":"busybox:1.37"}`,
		"cronjob_create":  `{"name":"review-new","schedule":"*/5 * * * *","image":"busybox:1.36","command":["date"]}`,
		"cronjob_suspend": `{"name":"review-nightly","suspend":true}`,
		"cronjob_trigger": `{"name":"review-nightly"}`,
		"delete":          `{"kind":"deployment","name":"review-victim"}`,
		"list_functions":  `{}`,
		"get_function":    `{"name":"hello","code":true}`,
		"function_logs":   `{"name":"hello","limit":3}`,
		"deploy_function": `{"name":"hello","runtime":"python","code":"def handle(req):\n    return 'v2'\n"}`,
		"invoke_function": `{"name":"hello","body":"x"}`,
		"delete_function": `{"name":"hello"}`,
		"run_code":        `{"runtime":"python","code":"def handle(req):\n    return 1\n"}`,
	}
	// The platform's dry runs: the writes whose Prepare must send one.
	platformDryRun := map[string]bool{"deploy_function": true, "run_code": true}
	reg, err := NewRegistry(append(Builtin(), FunctionTools()...)...)
	if err != nil {
		t.Fatal(err)
	}
	for _, tool := range reg.List() {
		if _, ok := cases[tool.Name]; !ok {
			t.Errorf("tool %s has no case in TestReadToolsNeverWrite: add one", tool.Name)
		}
	}
	generation := func(get func() (metav1.Object, error)) int64 {
		o, err := get()
		if err != nil {
			t.Fatal(err)
		}
		return o.GetGeneration()
	}
	webGen := func() (metav1.Object, error) {
		return admin.AppsV1().Deployments("shop").Get(ctx, "review-web", metav1.GetOptions{})
	}
	cjGen := func() (metav1.Object, error) {
		return admin.BatchV1().CronJobs("shop").Get(ctx, "review-nightly", metav1.GetOptions{})
	}
	webBefore, cjBefore := generation(webGen), generation(cjGen)

	rec := &recorder{}
	tgt := target(t, "developer", "shop", rec)
	fa, platform := newFnAPI(t)
	tgt.Platform = platform
	tgt.Scope.Principal.UserID = "dev"
	tgt.Scope.Org = store.Organization{ID: "o1", Slug: "acme"}
	fa.roles["dev"] = "developer"
	deployed, err := fnPlan(t, reg, fnTarget(t, "dev", platform), "deploy_function", `{"name":"hello","runtime":"python","code":"def handle(req):\n    return 'v1'\n"}`)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Execute(ctx, fnTarget(t, "dev", platform), deployed); err != nil {
		t.Fatal(err)
	}
	fnVersion := fa.fns["shop/hello"].f.ResourceVersion
	diagnosed := false
	tgt.Diagnose = func(ctx context.Context, t *Target, namespaces []string) (api.Diagnosis, error) {
		// What the analyzers do: read as the caller.
		diagnosed = true
		d := api.Diagnosis{Analyzers: []string{"crashloop"}, Namespaces: namespaces}
		for _, ns := range namespaces {
			pods, err := t.Client.Kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
			if err != nil {
				return api.Diagnosis{}, err
			}
			d.Objects += len(pods.Items)
		}
		d.Findings = []api.Finding{{Analyzer: "crashloop", Severity: api.SeverityCritical, Title: "Pod web-1 is in CrashLoopBackOff",
			Objects: []api.FindingObject{{Kind: "Pod", Name: "web-1", Namespace: "shop"}}, Evidence: []string{"restarted 7 times"}, Suggestion: "read its logs"}}
		return d, nil
	}
	tgt.Runs = func(_ context.Context, ns, name string) ([]store.CronJobRun, error) {
		return []store.CronJobRun{{Namespace: ns, CronJob: name, Job: name + "-1", Trigger: store.TriggerSchedule, Status: store.RunSucceeded, StartedAt: time.Now().Add(-time.Hour)}}, nil
	}
	for _, tool := range reg.List() {
		args, ok := cases[tool.Name]
		if !ok {
			continue
		}
		t.Run(tool.Name, func(t *testing.T) {
			rec.reset()
			fa.reset()
			switch tool.Effect {
			case Read:
				res, err := reg.Call(ctx, tgt, tool.Name, json.RawMessage(args))
				if err != nil {
					t.Fatalf("%s(%s): %v", tool.Name, args, err)
				}
				if strings.TrimSpace(res.Text) == "" {
					t.Errorf("%s answered nothing", tool.Name)
				}
				if tool.Name == "diagnose" {
					if err := contains(res.Text, "1 findings in project shop", "1. [critical] Pod web-1 is in CrashLoopBackOff (crashloop)", "objects: Pod shop/web-1", "evidence: restarted 7 times", "fix: read its logs"); err != nil {
						t.Error(err)
					}
				}
			case Write:
				p, err := reg.Propose(ctx, tgt, tool.Name, json.RawMessage(args))
				if err != nil {
					t.Fatalf("%s(%s): %v", tool.Name, args, err)
				}
				for _, r := range append(rec.requests(), fa.requests()...) {
					if r.Method != http.MethodGet {
						t.Errorf("%s's Propose sent %s %s: a proposal never writes", tool.Name, r.Method, r.URL)
					}
				}
				rec.reset()
				fa.reset()
				pr, err := Prepare(ctx, tgt, p)
				if err != nil {
					t.Fatalf("Prepare(%s): %v", tool.Name, err)
				}
				if pr.Diff == "" {
					t.Errorf("Prepare(%s): no diff", tool.Name)
				}
				if tool.Target == TargetPlatform {
					if len(rec.requests()) > 0 {
						t.Errorf("Prepare(%s) sent %d requests to the workspace cluster", tool.Name, len(rec.requests()))
					}
					saw := false
					for _, r := range fa.requests() {
						if r.Method == http.MethodGet {
							continue
						}
						if r.URL.Query().Get("dry_run") != "true" {
							t.Errorf("Prepare(%s) sent %s %s: not a dry run", tool.Name, r.Method, r.URL)
						}
						saw = true
					}
					if saw != platformDryRun[tool.Name] {
						t.Errorf("Prepare(%s): sent a dry run %v, want %v", tool.Name, saw, platformDryRun[tool.Name])
					}
					return
				}
				sawDryRun := false
				for _, r := range rec.requests() {
					if r.Method == http.MethodGet {
						continue
					}
					if !r.dryRun() {
						t.Errorf("Prepare(%s) sent %s %s %s: not a dry run", tool.Name, r.Method, r.URL, r.Body)
					}
					sawDryRun = true
				}
				if !sawDryRun {
					t.Errorf("Prepare(%s) sent no dry run", tool.Name)
				}
				return
			}
			for _, r := range append(rec.requests(), fa.requests()...) {
				if r.Method != http.MethodGet {
					t.Errorf("read tool %s sent %s %s", tool.Name, r.Method, r.URL)
				}
			}
		})
	}
	if len(fa.fns) != 1 || fa.fns["shop/hello"] == nil || fa.fns["shop/hello"].f.ResourceVersion != fnVersion || fa.invs != 0 {
		t.Errorf("the functions changed in the review: %d functions, %d invocations", len(fa.fns), fa.invs)
	}
	if !diagnosed {
		t.Error("diagnose did not call Target.Diagnose")
	}

	// Nothing changed.
	if g := generation(webGen); g != webBefore {
		t.Errorf("deployment review-web: generation %d, was %d", g, webBefore)
	}
	if g := generation(cjGen); g != cjBefore {
		t.Errorf("cronjob review-nightly: generation %d, was %d", g, cjBefore)
	}
	if d, err := admin.AppsV1().Deployments("shop").Get(ctx, "review-victim", metav1.GetOptions{}); err != nil || d.UID != victim.UID || d.DeletionTimestamp != nil {
		t.Errorf("deployment review-victim after the review: %v", err)
	}
	if _, err := admin.BatchV1().CronJobs("shop").Get(ctx, "review-new", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("cronjob review-new exists after the review: %v", err)
	}
	jobs, err := admin.BatchV1().Jobs("shop").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, j := range jobs.Items {
		if strings.HasPrefix(j.Name, "review-nightly-manual-") {
			t.Errorf("job %s exists after the review", j.Name)
		}
	}
}

// TestRegistryCallRefusesWritesAndUnknownTools: Call runs read tools
// only, and Propose write tools only; the model is told which.
func TestRegistryCallRefusesWritesAndUnknownTools(t *testing.T) {
	reg, err := NewRegistry(Builtin()...)
	if err != nil {
		t.Fatal(err)
	}
	tgt := offlineTarget(t, nil)
	ctx := context.Background()
	var ae *ArgError
	if _, err := reg.Call(ctx, tgt, "scale", json.RawMessage(`{"name":"web","replicas":5}`)); !errors.As(err, &ae) || ae.Field != "tool" {
		t.Errorf("Call(scale): %v, want an ArgError on tool", err)
	}
	if _, err := reg.Call(ctx, tgt, "rollout_undo", nil); !errors.As(err, &ae) || ae.Field != "tool" {
		t.Errorf("Call(rollout_undo): %v, want an ArgError on tool", err)
	}
	if _, err := reg.Propose(ctx, tgt, "get_resource", json.RawMessage(`{"kind":"pods","name":"x"}`)); !errors.As(err, &ae) || ae.Field != "tool" {
		t.Errorf("Propose(get_resource): %v, want an ArgError on tool", err)
	}
}
