package analyze

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"

	"github.com/hexabase/hexabase-ai/internal/api"
	"github.com/hexabase/hexabase-ai/internal/controlplane"
	"github.com/hexabase/hexabase-ai/internal/store"
	"github.com/hexabase/hexabase-ai/internal/workloads"
)

// TestAnalyzers: at least 15, each named once and described, and Names
// answers them in the same order.
func TestAnalyzers(t *testing.T) {
	all := All()
	if len(all) < 15 {
		t.Errorf("%d analyzers, want at least 15", len(all))
	}
	seen := map[string]bool{}
	for _, a := range all {
		if a.Name == "" || a.Description == "" || a.Run == nil || a.run == nil {
			t.Errorf("analyzer %q is incomplete", a.Name)
		}
		if seen[a.Name] {
			t.Errorf("analyzer %q twice", a.Name)
		}
		seen[a.Name] = true
	}
	var names []string
	for _, a := range all {
		names = append(names, a.Name)
	}
	if !slices.Equal(Names(), names) {
		t.Errorf("Names() = %v, want %v", Names(), names)
	}
}

// TestPlatformNames: the names this package keeps of objects other
// packages own are theirs.
func TestPlatformNames(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{labelApp, workloads.LabelApp}, {projectQuota, controlplane.QuotaName}, {projectLimitRange, controlplane.LimitRangeName},
	} {
		if c.got != c.want {
			t.Errorf("%q, the owner says %q", c.got, c.want)
		}
	}
}

func TestListed(t *testing.T) {
	s := &Snapshot{Skipped: []string{"horizontalpodautoscalers: forbidden", "pods in a: forbidden", "garbage"}}
	for _, c := range []struct {
		resource, ns string
		want         bool
	}{
		{ResourceHorizontalPodAutoscalers, "a", false}, {ResourceHorizontalPodAutoscalers, "b", false},
		{ResourcePods, "a", false}, {ResourcePods, "b", true}, {ResourceServices, "a", true},
	} {
		if got := s.Listed(c.resource, c.ns); got != c.want {
			t.Errorf("Listed(%s, %s) = %v, want %v", c.resource, c.ns, got, c.want)
		}
	}
}

func TestClip(t *testing.T) {
	long := strings.Repeat("é", 200) // 400 bytes
	for _, c := range []struct{ in, want string }{
		{"", ""},
		{"  a\n\tb  c\n", "a b c"},
		{strings.Repeat("x", 300), strings.Repeat("x", 300)},
		{strings.Repeat("x", 301), strings.Repeat("x", 300) + "…"},
		{long, strings.Repeat("é", 150) + "…"},
		{"x" + long, "x" + strings.Repeat("é", 149) + "…"},
	} {
		if got := clip(c.in); got != c.want {
			t.Errorf("clip(%d bytes) = %q (%d bytes), want %d bytes", len(c.in), got, len(got), len(c.want))
		}
	}
}

// TestRunSortsAndSelects: findings critical first, then by namespace and
// name; names select analyzers (unknown ones are ignored); the
// diagnosis says what ran, what was skipped and how much was examined,
// and encodes empty lists as [].
func TestRunSortsAndSelects(t *testing.T) {
	deps, rss := webApp(1)
	deps[0].Status.AvailableReplicas = 0
	quotaFull := quota(projectQuota, "pods", "2", "2")
	quotaFull.Namespace = "alpha"
	s := &Snapshot{Now: now, Namespaces: []string{"alpha", ns},
		Deployments: deps, ReplicaSets: rss,
		Pods:           []corev1.Pod{pod("web-5d9c-a", waiting("ImagePullBackOff", ""))},
		CronJobs:       []batchv1.CronJob{cronJob("nightly", "0 3 * * *", suspended), cronJob("hourly", "0 * * * *", scheduled(time.Hour))},
		ResourceQuotas: []corev1.ResourceQuota{quota(projectQuota, "pods", "10", "9"), quotaFull},
		Skipped:        []string{"ingresses: forbidden", "horizontalpodautoscalers: forbidden"}}
	d := Run(s)
	type row struct{ sev, analyzer, ns, name string }
	var got []row
	for _, f := range d.Findings {
		got = append(got, row{f.Severity, f.Analyzer, f.Objects[0].Namespace, f.Objects[0].Name})
	}
	want := []row{
		{"critical", "quota", "alpha", "hks-quota"},
		{"critical", "deployment-unavailable", ns, "web"},
		{"critical", "image-pull", ns, "web-5d9c-a"},
		{"warning", "quota", ns, "hks-quota"},
		{"info", "cronjob-suspended", ns, "nightly"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("findings:\n%v\nwant\n%v", got, want)
	}
	if !slices.Equal(d.Analyzers, Names()) || !slices.Equal(d.Skipped, []string{"horizontalpodautoscalers: forbidden", "ingresses: forbidden"}) ||
		d.Objects != 7 || !slices.Equal(d.Namespaces, []string{"alpha", ns}) {
		t.Errorf("diagnosis: analyzers %v, skipped %v, objects %d, namespaces %v", d.Analyzers, d.Skipped, d.Objects, d.Namespaces)
	}

	d = Run(s, "quota", "no-such-analyzer", "cronjob-missed")
	if !slices.Equal(d.Analyzers, []string{"cronjob-missed", "quota"}) || len(d.Findings) != 2 || d.Findings[0].Objects[0].Namespace != "alpha" {
		t.Errorf("Run(quota, cronjob-missed): analyzers %v, %d findings", d.Analyzers, len(d.Findings))
	}

	b, err := json.Marshal(Run(&Snapshot{Now: now}))
	if err != nil || string(b) != `{"findings":[],"analyzers":`+mustJSON(Names())+`,"skipped":[],"objects":0,"namespaces":[]}` {
		t.Errorf("an empty diagnosis encodes as %s (%v)", b, err)
	}
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// TestRunDropsBurstsOthersExplain: event-burst reports only objects no
// other analyzer reported on.
func TestRunDropsBurstsOthersExplain(t *testing.T) {
	deps, rss := webApp(1)
	s := &Snapshot{Now: now, Namespaces: []string{ns}, Deployments: deps, ReplicaSets: rss,
		Pods:     []corev1.Pod{pod("web-5d9c-a", waiting("CrashLoopBackOff", ""), lastTerminated("Error", 1, time.Minute, 12))},
		Services: []corev1.Service{service("web", web())}, EndpointSlices: []discoveryv1.EndpointSlice{endpointSlice("web", true)},
		Events: []corev1.Event{
			event("Pod", "web-5d9c-a", "Warning", "BackOff", "Back-off restarting failed container web", 30, time.Minute),
			event("Service", "web", "Warning", "FailedToUpdateEndpointSlices", "Error updating Endpoint Slices", 11, time.Minute),
		}}
	var bursts []string
	for _, f := range Run(s).Findings {
		if f.Analyzer == "event-burst" {
			bursts = append(bursts, f.Objects[0].Kind+" "+f.Objects[0].Name)
		}
	}
	if !slices.Equal(bursts, []string{"Service web"}) {
		t.Errorf("event-burst findings about %v, want only Service web (the pod's crash loop is reported)", bursts)
	}
	if got := Run(s, "event-burst").Findings; len(got) != 2 {
		t.Errorf("event-burst alone: %d findings, want 2", len(got))
	}
}

// TestRunIsDeterministic: the same objects in another order give the same
// diagnosis, and every evidence line is bounded.
func TestRunIsDeterministic(t *testing.T) {
	s := project200()
	want := Run(s)
	if len(want.Findings) == 0 {
		t.Fatal("no finding")
	}
	r := *s
	r.Pods, r.Events, r.Services, r.Deployments, r.ReplicaSets = reversed(s.Pods), reversed(s.Events), reversed(s.Services), reversed(s.Deployments), reversed(s.ReplicaSets)
	r.Jobs, r.CronJobs, r.Runs, r.EndpointSlices = reversed(s.Jobs), reversed(s.CronJobs), reversed(s.Runs), reversed(s.EndpointSlices)
	if got := Run(&r); !reflect.DeepEqual(got, want) {
		a, _ := json.MarshalIndent(got, "", " ")
		b, _ := json.MarshalIndent(want, "", " ")
		t.Errorf("reversed input:\n%s\nwant\n%s", a, b)
	}
	for _, f := range want.Findings {
		if len(f.Evidence) == 0 || len(f.Evidence) > maxEvidence || f.Suggestion == "" || f.Title == "" || len(f.Objects) == 0 {
			t.Errorf("finding %q: %d evidence lines, suggestion %q", f.Title, len(f.Evidence), f.Suggestion)
		}
		for _, e := range f.Evidence {
			if len(e) > 2*maxText {
				t.Errorf("finding %q: evidence of %d bytes", f.Title, len(e))
			}
		}
	}
}

func reversed[T any](s []T) []T {
	out := slices.Clone(s)
	slices.Reverse(out)
	return out
}

// TestProject200: the benchmark's project has 200 objects and the faults
// planted in it are found.
func TestProject200(t *testing.T) {
	s := project200()
	if n := s.objects(); n != 200 {
		t.Fatalf("%d objects, want 200", n)
	}
	found := map[string]bool{}
	for _, f := range Run(s).Findings {
		found[f.Analyzer+" "+f.Objects[0].Name] = true
	}
	for _, w := range []string{"image-pull app-03", "crashloop app-07-5d9c-1", "service-selector app-11", "quota hks-quota",
		"cronjob-failing cron-2", "pvc-pending data-2", "deployment-unavailable app-03", "service-endpoints app-03", "ingress-backend site-1"} {
		if !found[w] {
			t.Errorf("no finding %q; found %v", w, found)
		}
	}
}

// project200 is a project of 200 objects of mixed kinds with some faults:
// a bad image (app-03), a crash loop (app-07), a Service selecting
// nothing (app-11), the quota at its pod limit, a failing CronJob
// (cron-2), a pending claim (data-2) and an Ingress to a missing Service.
func project200() *Snapshot {
	s := &Snapshot{Now: now, Namespaces: []string{ns}}
	for i := range 15 {
		name := fmt.Sprintf("app-%02d", i)
		rsName := name + "-5d9c"
		d := app(name, 3)
		s.Deployments = append(s.Deployments, d)
		s.ReplicaSets = append(s.ReplicaSets, replicaSet(rsName, name, 3))
		sel := map[string]string{"app": name}
		var ready []bool
		for j := range 3 {
			mods := []func(*corev1.Pod){ownedBy("ReplicaSet", rsName), func(p *corev1.Pod) { p.Labels = map[string]string{"app": name} }}
			switch {
			case i == 3:
				mods = append(mods, waiting("ImagePullBackOff", `Back-off pulling image "nginx:latst"`))
			case i == 7 && j == 1:
				mods = append(mods, waiting("CrashLoopBackOff", ""), lastTerminated("Error", 1, time.Minute, 9))
			}
			p := pod(fmt.Sprintf("%s-%d", rsName, j), mods...)
			s.Pods = append(s.Pods, p)
			ready = append(ready, podReady(&p))
		}
		if i == 3 {
			s.Deployments[i].Status.AvailableReplicas, s.Deployments[i].Status.ReadyReplicas = 0, 0
		}
		if i == 11 {
			sel = map[string]string{"app": name + "x"}
		}
		s.Services = append(s.Services, service(name, sel))
		s.EndpointSlices = append(s.EndpointSlices, endpointSlice(name, ready...))
	}
	for i := range 5 {
		name := fmt.Sprintf("cron-%d", i)
		s.CronJobs = append(s.CronJobs, cronJob(name, "0 * * * *", scheduled(30*time.Minute)))
		for j := range 2 {
			status := store.RunSucceeded
			jb := job(fmt.Sprintf("%s-%d", name, j), ofCron(name), counts(0, 0, 1), jobCond(batchv1.JobComplete, "CompletionsReached", "", time.Duration(j+1)*time.Hour))
			if i == 2 {
				status = store.RunFailed
				jb = job(jb.Name, ofCron(name), counts(7, 0, 0), jobCond(batchv1.JobFailed, "BackoffLimitExceeded", backoffMsg, time.Duration(j+1)*time.Hour))
			}
			s.Jobs = append(s.Jobs, jb)
			r := run(jb.Name, status, time.Duration(j+1)*time.Hour)
			r.CronJob = name
			s.Runs = append(s.Runs, r)
		}
	}
	s.ResourceQuotas = []corev1.ResourceQuota{quota(projectQuota, "pods", "47", "47")}
	s.LimitRanges = []corev1.LimitRange{{ObjectMeta: meta(projectLimitRange)}}
	fast := "fast"
	for i := range 5 {
		phase := corev1.ClaimBound
		if i == 2 {
			phase = corev1.ClaimPending
		}
		s.PVCs = append(s.PVCs, pvc(fmt.Sprintf("data-%d", i), phase, &fast, time.Hour))
	}
	s.Events = append(s.Events, event("PersistentVolumeClaim", "data-2", "Warning", "ProvisioningFailed", `storageclass.storage.k8s.io "fast" not found`, 12, time.Minute))
	for i := range 3 {
		name := fmt.Sprintf("app-%02d", i)
		s.HPAs = append(s.HPAs, hpa(name, name, 3, hpaCond(autoscalingv2.AbleToScale, corev1.ConditionTrue, "ReadyForNewScale", "")))
	}
	s.Ingresses = []networkingv1.Ingress{
		ingress("site-0", "shop.example.com", path("/", "app-00", networkingv1.ServiceBackendPort{Number: 80})),
		ingress("site-1", "api.example.com", path("/", "api", networkingv1.ServiceBackendPort{Number: 80})),
	}
	db := appsv1.StatefulSet{ObjectMeta: meta("db")}
	db.Spec.Replicas = i32(2)
	db.Status.Replicas, db.Status.ReadyReplicas = 2, 2
	s.StatefulSets = []appsv1.StatefulSet{db}
	s.Pods = append(s.Pods, pod("db-0", ownedBy("StatefulSet", "db")), pod("db-1", ownedBy("StatefulSet", "db")))
	for i := 0; len(s.Events) < 65; i++ {
		p := s.Pods[i%len(s.Pods)].Name
		switch {
		case strings.HasPrefix(p, "app-03"):
			s.Events = append(s.Events, event("Pod", p, "Warning", "Failed", `Failed to pull image "nginx:latst": not found`, 4, time.Minute))
		case p == "app-07-5d9c-1":
			s.Events = append(s.Events, event("Pod", p, "Warning", "BackOff", "Back-off restarting failed container", 9, time.Minute))
		default:
			e := event("Pod", p, "Normal", "Started", "Started container web", 1, time.Hour)
			e.Name = fmt.Sprintf("%s.started-%d", p, i)
			s.Events = append(s.Events, e)
		}
	}
	return s
}

// BenchmarkRun200Objects: every analyzer over a project of 200 objects
// (the target: 200 ms).
func BenchmarkRun200Objects(b *testing.B) {
	s := project200()
	var d api.Diagnosis
	for b.Loop() {
		d = Run(s)
	}
	if len(d.Findings) == 0 {
		b.Fatal("no finding")
	}
}

// TestFindingsAreBounded: however long the messages, names and reasons
// quoted, a finding keeps to its bounds: a title, evidence lines and a
// suggestion of bounded length, at most maxEvidence lines.
func TestFindingsAreBounded(t *testing.T) {
	long := strings.Repeat("very long text\n", 200)
	image := "registry.example.com/" + strings.Repeat("a", 1000) + ":1"
	deps, rss := short()
	deps[0].Status.AvailableReplicas = 0
	deps[0].Status.Conditions = append(deps[0].Status.Conditions,
		appsv1.DeploymentCondition{Type: appsv1.DeploymentReplicaFailure, Status: corev1.ConditionTrue, Reason: "FailedCreate", Message: long})
	var pods []corev1.Pod
	for i := range 8 {
		pods = append(pods, pod(fmt.Sprintf("web-5d9c-%d", i), func(p *corev1.Pod) { p.Spec.Containers[0].Image = image }, waiting("ImagePullBackOff", long+image)))
	}
	h := hpa("web", "web", 2, hpaCond(autoscalingv2.ScalingActive, corev1.ConditionFalse, strings.Repeat("Reason", 200), long))
	s := &Snapshot{Now: now, Namespaces: []string{ns}, Deployments: deps, ReplicaSets: rss, Pods: pods,
		HPAs: []autoscalingv2.HorizontalPodAutoscaler{h},
		Events: []corev1.Event{
			failedCreate("ReplicaSet", "web-5d9c", `Error creating: pods "x" is forbidden: failed quota: hks-quota: must specify `+long, 3, time.Minute),
			event("Pod", "web-5d9c-0", "Warning", "Failed", "Failed to pull image "+image+": "+long, 3, time.Minute),
		}}
	fs := Run(s).Findings
	if len(fs) < 4 {
		t.Fatalf("%d findings", len(fs))
	}
	for _, f := range fs {
		if len(f.Title) > maxTitle+len("…") || len(f.Suggestion) > maxSuggestion+len("…") || len(f.Evidence) > maxEvidence {
			t.Errorf("%s: title of %d bytes, suggestion of %d, %d evidence lines", f.Analyzer, len(f.Title), len(f.Suggestion), len(f.Evidence))
		}
		for _, e := range f.Evidence {
			if len(e) > maxLine+len("…") || strings.Contains(e, "\n") {
				t.Errorf("%s: an evidence line of %d bytes", f.Analyzer, len(e))
			}
		}
	}
}
