package local

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"text/template"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/hexabase/hexabase-ai/internal/controlplane"
	"github.com/hexabase/hexabase-ai/internal/testutil"
)

// kwokDoc is the part of a kwok configuration document the tests look at.
type kwokDoc struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name string `json:"name"`
	} `json:"metadata"`
	Options map[string]any `json:"options"`
	Spec    struct {
		ResourceRef struct {
			APIGroup string `json:"apiGroup"`
			Kind     string `json:"kind"`
		} `json:"resourceRef"`
		Selector struct {
			MatchExpressions []struct {
				JQ *struct {
					Key      string   `json:"key"`
					Operator string   `json:"operator"`
					Values   []string `json:"values"`
				} `json:"jq"`
			} `json:"matchExpressions"`
		} `json:"selector"`
		Delay *struct {
			DurationMilliseconds       int64 `json:"durationMilliseconds"`
			JitterDurationMilliseconds int64 `json:"jitterDurationMilliseconds"`
			DurationFrom               *struct {
				JQ struct {
					Expression string `json:"expression"`
				} `json:"jq"`
			} `json:"durationFrom"`
		} `json:"delay"`
		Steps              []kwokStep `json:"steps"`
		ImmediateNextStage bool       `json:"immediateNextStage"`
	} `json:"spec"`
}

func kwokDocs(t *testing.T) []kwokDoc {
	t.Helper()
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(kwokStages)))
	var docs []kwokDoc
	for {
		b, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("read document: %v", err)
		}
		var d kwokDoc
		if err := yaml.UnmarshalStrict(b, &d); err != nil {
			t.Fatalf("document %q: %v", b, err)
		}
		if d.Kind == "" { // the header: comments only
			continue
		}
		docs = append(docs, d)
	}
	return docs
}

// The jq keys of the fault rules, each the same text in every stage that
// uses it (see the stages' comments in kwok-stages.yaml).
var (
	// jqBadImage: some container's image has a registry host ending in
	// .invalid.
	jqBadImage = `[.spec.containers[].image | ascii_downcase | split("/") | select(length > 1) | .[0] | split(":") | .[0] | endswith(".invalid")] | any`
	// jqFails: the first container's command line exits non-zero.
	jqFails = `[.spec.containers[0] | (.command // []) + (.args // []) | join(" ") | capture("(?:^|[;&|\\n]\\s*|-[a-z]*c\\s+)(?:(?:/usr)?/bin/)?(?:false|exit\\s+(?P<n>[0-9]{1,9}))\\s*;?\\s*$") | if .n == null then 1 else (.n | tonumber) % 256 end] | any(. != 0)`
	// jqTerminates: the pod ends with its command (a Job's, or restart
	// policy Never) rather than restarting it.
	jqTerminates = `.spec.restartPolicy == "Never" or any(.metadata.ownerReferences[]?; .kind == "Job")`
)

// expr is one jq selector expression of a stage, as "key operator values".
func expr(key, op string, values ...string) string {
	return key + " " + op + " " + strings.Join(values, ",")
}

func TestKwokStagesDocuments(t *testing.T) {
	docs := kwokDocs(t)
	type id struct{ apiVersion, kind, name, resource string }
	var got []id
	for _, d := range docs {
		got = append(got, id{d.APIVersion, d.Kind, d.Metadata.Name, d.Spec.ResourceRef.Kind})
	}
	want := []id{
		{"config.kwok.x-k8s.io/v1alpha1", "KwokConfiguration", "", ""},
		{"kwok.x-k8s.io/v1alpha1", "Stage", "hks-node-ready", "Node"},
		{"kwok.x-k8s.io/v1alpha1", "Stage", "hks-node-status", "Node"},
		{"kwok.x-k8s.io/v1alpha1", "Stage", "hks-pod-running", "Pod"},
		{"kwok.x-k8s.io/v1alpha1", "Stage", "hks-pod-image-pull-error", "Pod"},
		{"kwok.x-k8s.io/v1alpha1", "Stage", "hks-pod-image-pull-backoff", "Pod"},
		{"kwok.x-k8s.io/v1alpha1", "Stage", "hks-pod-job-done", "Pod"},
		{"kwok.x-k8s.io/v1alpha1", "Stage", "hks-pod-failed", "Pod"},
		{"kwok.x-k8s.io/v1alpha1", "Stage", "hks-pod-crash-loop", "Pod"},
		{"kwok.x-k8s.io/v1alpha1", "Stage", "hks-pod-remove", "Pod"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("documents:\n got %v\nwant %v", got, want)
	}
	stages := map[string]kwokDoc{}
	for _, d := range docs[1:] {
		stages[d.Metadata.Name] = d
		if d.Spec.ResourceRef.APIGroup != "v1" {
			t.Errorf("%s: apiGroup %q, want v1", d.Metadata.Name, d.Spec.ResourceRef.APIGroup)
		}
		if len(d.Spec.Selector.MatchExpressions) == 0 || len(d.Spec.Steps) == 0 {
			t.Errorf("%s: needs a selector and steps", d.Metadata.Name)
		}
		for _, e := range d.Spec.Selector.MatchExpressions {
			if e.JQ == nil || e.JQ.Key == "" || e.JQ.Operator == "" {
				t.Errorf("%s: selector expression without jq key and operator", d.Metadata.Name)
			}
		}
		for i, s := range d.Spec.Steps {
			n := 0
			for _, set := range []bool{s.Patch != nil, s.Apply != nil, s.Delete} {
				if set {
					n++
				}
			}
			if n != 1 {
				t.Errorf("%s: step %d does %d things, want one", d.Metadata.Name, i, n)
			}
			if p := s.Patch; p != nil && (p.Subresource != "status" || p.Root != "status" || p.Type != "strategic") {
				t.Errorf("%s: patch %s/%s/%s, want a strategic patch of status", d.Metadata.Name, p.Subresource, p.Root, p.Type)
			}
			// What kwok (system:masters) creates is checked by rendering
			// every apply step in TestKwokPodFaultTemplates: only Events
			// of the pod's namespace.
			if s.Apply != nil && (i == 0 || d.Spec.Steps[0].Patch == nil) {
				t.Errorf("%s: step %d creates an object before the status patch", d.Metadata.Name, i)
			}
		}
	}

	// The pod stages' selectors: each pod state matches at most one
	// stage. A pod Pending on a node runs unless an image is
	// unreachable; a Running pod whose command fails ends (a Job's, or
	// restart policy Never) or crash-loops (any other), else a Job's pod
	// succeeds and any other keeps running.
	var (
		live    = expr(".metadata.deletionTimestamp", "DoesNotExist")
		pending = expr(".status.phase", "In", "Pending")
		running = expr(".status.phase", "In", "Running")
	)
	wantSel := map[string][]string{
		"hks-pod-running":            {live, pending, expr(jqBadImage, "NotIn", "true")},
		"hks-pod-image-pull-error":   {live, pending, expr(jqBadImage, "In", "true"), expr(".status.containerStatuses", "DoesNotExist")},
		"hks-pod-image-pull-backoff": {live, pending, expr(jqBadImage, "In", "true"), expr(".status.containerStatuses[]?.state.waiting.reason", "In", "ErrImagePull")},
		"hks-pod-job-done":           {live, running, expr(".metadata.ownerReferences.[].kind", "In", "Job"), expr(jqFails, "NotIn", "true")},
		"hks-pod-failed":             {live, running, expr(jqFails, "In", "true"), expr(jqTerminates, "In", "true")},
		"hks-pod-crash-loop":         {live, running, expr(jqFails, "In", "true"), expr(jqTerminates, "NotIn", "true")},
		"hks-pod-remove":             {expr(".metadata.deletionTimestamp", "Exists")},
	}
	for name, want := range wantSel {
		var got []string
		for _, e := range stages[name].Spec.Selector.MatchExpressions {
			got = append(got, expr(e.JQ.Key, e.JQ.Operator, e.JQ.Values...))
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: selector\n got %q\nwant %q", name, got, want)
		}
	}

	remove := stages["hks-pod-remove"]
	if len(remove.Spec.Steps) != 1 || !remove.Spec.Steps[0].Delete {
		t.Errorf("hks-pod-remove must only delete")
	}
	for _, name := range []string{"hks-pod-job-done", "hks-pod-failed"} {
		if d := stages[name].Spec.Delay; d == nil || d.DurationMilliseconds != 5000 || d.JitterDurationMilliseconds != 10000 {
			t.Errorf("%s: delay %+v, want 5-10 s", name, d)
		}
	}
	if d := stages["hks-pod-image-pull-backoff"].Spec.Delay; d == nil || d.DurationMilliseconds != 2000 || d.JitterDurationMilliseconds != 0 {
		t.Errorf("hks-pod-image-pull-backoff: delay %+v, want 2 s", d)
	}
	wantBackoff := `.spec.containers[0].name as $n | ([.status.containerStatuses[]? | select(.name == $n) | .restartCount] | .[0] // 0) as $r | if $r == 0 then "1s" else ([10 * pow(2; [$r - 1, 5] | min), 300] | min | floor | tostring) + "s" end`
	if d := stages["hks-pod-crash-loop"].Spec.Delay; d == nil || d.DurationFrom == nil || d.DurationFrom.JQ.Expression != wantBackoff {
		t.Errorf("hks-pod-crash-loop: delay %+v, want the back-off of the last crash", d)
	}
	if !stages["hks-node-status"].Spec.ImmediateNextStage || stages["hks-node-status"].Spec.Delay == nil {
		t.Errorf("hks-node-status must repeat with a delay")
	}
}

// TestKwokFailingCommandRuleAgrees: the templates of the stages that
// fail a pod find its exit code with the very regular expression the
// selectors' jq key matches with, so a pod they select always gets the
// code the selector saw.
func TestKwokFailingCommandRuleAgrees(t *testing.T) {
	m := regexp.MustCompile(`capture\(("(?:[^"\\]|\\.)*")\)`).FindStringSubmatch(jqFails)
	if m == nil {
		t.Fatal("no capture in jqFails")
	}
	var jqRE string
	if err := json.Unmarshal([]byte(m[1]), &jqRE); err != nil { // a jq string literal is a JSON string
		t.Fatal(err)
	}
	if _, err := regexp.Compile(jqRE); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"hks-pod-failed", "hks-pod-crash-loop"} {
		tpl := stageStep(t, name, 0).Patch.Template
		got := regexp.MustCompile("regexFind `([^`]*)` \\$line").FindStringSubmatch(tpl)
		if got == nil || got[1] != jqRE {
			t.Errorf("%s: template's expression %q, want the selector's %q", name, got, jqRE)
		}
	}
}

// kwokFuncs stand in for the template functions kwok gives stages (sprig's
// plus its own), with fixed results where kwok's depend on the time or the
// cluster, so that the templates' syntax and output can be checked here:
// test doubles of sprig v3's functions of the same names, limited to the
// argument types the stages pass. The real kwok runs them in
// TestWorkspaceLifecycle and TestKwokSimulatedFaults.
var kwokFuncs = template.FuncMap{
	"Now":     func() string { return "2026-01-02T03:04:05Z" },
	"Version": func() string { return "v0.8.0" },
	"Quote": func(v any) string {
		b, _ := json.Marshal(v)
		if len(b) > 0 && b[0] == '"' {
			return string(b)
		}
		b, _ = json.Marshal(string(b))
		return string(b)
	},
	"YAML": func(v any, indent ...int) (string, error) {
		b, err := yaml.Marshal(v)
		if err != nil {
			return "", err
		}
		s := string(b)
		if len(indent) == 1 && indent[0] > 0 {
			pad := strings.Repeat("  ", indent[0])
			s = strings.ReplaceAll("\n"+s, "\n", "\n"+pad)
		}
		return s, nil
	},
	"dict": func(kv ...any) map[string]any {
		m := map[string]any{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	},
	"list":   func(v ...any) []any { return v },
	"append": func(l []any, v any) []any { return append(slices.Clone(l), v) },
	"concat": func(ls ...any) []any {
		var out []any
		for _, l := range ls {
			out = append(out, l.([]any)...)
		}
		return out
	},
	"join": func(sep string, l []any) string {
		var s []string
		for _, v := range l {
			s = append(s, fmt.Sprint(v))
		}
		return strings.Join(s, sep)
	},
	"splitList": func(sep, s string) []string { return strings.Split(s, sep) },
	"first":     func(l []string) string { return l[0] },
	"last":      func(l []string) string { return l[len(l)-1] },
	"lower":     strings.ToLower,
	"hasSuffix": func(suffix, s string) bool { return strings.HasSuffix(s, suffix) },
	"contains":  func(sub, s string) bool { return strings.Contains(s, sub) },
	"regexFind": func(re, s string) string { return regexp.MustCompile(re).FindString(s) },
	"atoi":      func(s string) int { n, _ := strconv.Atoi(s); return n },
	"int":       func(v any) int { return int(toInt64(v)) },
	"int64":     toInt64,
	"add":       func(a, b any) int64 { return toInt64(a) + toInt64(b) },
	"mul":       func(a, b any) int64 { return toInt64(a) * toInt64(b) },
	"mod":       func(a, b any) int64 { return toInt64(a) % toInt64(b) },
	"min":       func(a, b any) int64 { return min(toInt64(a), toInt64(b)) },
	// A stage's loops must be bounded whatever a status holds.
	"until": func(n int) []int {
		if n > 100 {
			panic(fmt.Sprintf("until %d: unbounded loop in a stage", n))
		}
		return make([]int, n)
	},
	// sprig's duration formats only a string or an int64 (anything
	// else is 0s): the double keeps that.
	"duration": func(v any) string {
		var n int64
		switch v := v.(type) {
		case string:
			n, _ = strconv.ParseInt(v, 10, 64)
		case int64:
			n = v
		}
		return (time.Duration(n) * time.Second).String()
	},
	"NodeIPsWith": func(string) []string { return []string{"192.168.64.10"} },
	"PodIPsWith": func(_ string, hostNetwork bool, _, _, _ string) []string {
		if hostNetwork {
			return []string{"192.168.64.10"}
		}
		return []string{"10.244.0.7"}
	},
}

// toInt64 is sprig's conversion of numbers (here: int, int64 and the
// json.Number kwok decodes them as).
func toInt64(v any) int64 {
	switch v := v.(type) {
	case int:
		return int64(v)
	case int64:
		return v
	case json.Number:
		n, _ := v.Int64()
		return n
	}
	panic(fmt.Sprintf("toInt64(%T)", v))
}

// kwokStep is one step of a stage.
type kwokStep struct {
	Patch *struct {
		Subresource string `json:"subresource"`
		Root        string `json:"root"`
		Type        string `json:"type"`
		Template    string `json:"template"`
	} `json:"patch"`
	// Apply creates the object its template renders (kwok: create, or
	// a server-side apply if it exists).
	Apply *struct {
		Template string `json:"template"`
	} `json:"apply"`
	Delete bool `json:"delete"`
}

// stageStep is step i of stage.
func stageStep(t *testing.T, stage string, i int) kwokStep {
	t.Helper()
	for _, d := range kwokDocs(t) {
		if d.Metadata.Name == stage {
			if i >= len(d.Spec.Steps) {
				t.Fatalf("%s has %d steps", stage, len(d.Spec.Steps))
			}
			return d.Spec.Steps[i]
		}
	}
	t.Fatalf("no stage %s", stage)
	return kwokStep{}
}

// render runs a stage's first step (its status patch) on obj as kwok
// does and decodes the result strictly into out.
func render(t *testing.T, stage string, obj, out any) {
	t.Helper()
	renderStep(t, stage, 0, obj, out)
}

// renderStep runs the template of a stage's step i (a patch or an
// apply) on obj as kwok does (on the object's JSON form, numbers as
// json.Number) and decodes the result strictly into out.
func renderStep(t *testing.T, stage string, i int, obj, out any) {
	t.Helper()
	s := stageStep(t, stage, i)
	var tpl string
	switch {
	case s.Patch != nil:
		tpl = s.Patch.Template
	case s.Apply != nil:
		tpl = s.Apply.Template
	default:
		t.Fatalf("%s: step %d has no template", stage, i)
	}
	name := fmt.Sprintf("%s[%d]", stage, i)
	tmpl, err := template.New(name).Funcs(kwokFuncs).Parse(tpl)
	if err != nil {
		t.Fatalf("%s: parse template: %v", name, err)
	}
	b, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var data map[string]any
	if err := dec.Decode(&data); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := tmpl.Execute(&buf, data); err != nil {
		t.Fatalf("%s: execute template: %v", name, err)
	}
	if err := yaml.UnmarshalStrict(buf.Bytes(), out); err != nil {
		t.Fatalf("%s: output is not a %T: %v\n%s", name, out, err, buf.String())
	}
}

func TestKwokNodeTemplates(t *testing.T) {
	n := kwokNodes("0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", controlplane.PlanShared, 4321)[0]
	var st corev1.NodeStatus
	render(t, "hks-node-ready", n, &st)
	ready := false
	for _, c := range st.Conditions {
		if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
			ready = true
		}
	}
	if !ready || st.Phase != corev1.NodeRunning {
		t.Errorf("node not made Ready/Running: %+v", st)
	}
	if !reflect.DeepEqual(st.Allocatable, n.Status.Capacity) {
		t.Errorf("allocatable %v, want capacity %v", st.Allocatable, n.Status.Capacity)
	}
	if st.NodeInfo.KubeletVersion != "kwok-v0.8.0" || st.NodeInfo.Architecture != "amd64" {
		t.Errorf("nodeInfo %+v", st.NodeInfo)
	}
	if st.Addresses != nil {
		t.Errorf("addresses of a node that has them must be left alone, got %v", st.Addresses)
	}

	n.Status = st
	var hb corev1.NodeStatus
	render(t, "hks-node-status", n, &hb)
	if len(hb.Conditions) != 5 {
		t.Fatalf("heartbeat conditions: %+v", hb.Conditions)
	}
	for _, c := range hb.Conditions {
		if c.LastHeartbeatTime.IsZero() || c.Status != "" {
			t.Errorf("heartbeat must only refresh lastHeartbeatTime: %+v", c)
		}
	}
}

func TestKwokPodTemplates(t *testing.T) {
	always := corev1.ContainerRestartPolicyAlways
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "default", UID: "u1",
			OwnerReferences: []metav1.OwnerReference{{Kind: "Job", Name: "j", APIVersion: "batch/v1", UID: "u0"}}},
		Spec: corev1.PodSpec{
			NodeName:       "hks-shared-0",
			InitContainers: []corev1.Container{{Name: "init", Image: "busybox"}, {Name: "sidecar", Image: "envoy", RestartPolicy: &always}},
			Containers:     []corev1.Container{{Name: "a", Image: "nginx"}, {Name: "b", Image: "redis"}},
			ReadinessGates: []corev1.PodReadinessGate{{ConditionType: "example.com/gate"}},
		},
		Status: corev1.PodStatus{Phase: corev1.PodPending},
	}
	var st corev1.PodStatus
	render(t, "hks-pod-running", pod, &st)
	if st.Phase != corev1.PodRunning || st.PodIP != "10.244.0.7" || st.HostIP != "192.168.64.10" || st.StartTime == nil {
		t.Errorf("running status: phase %s podIP %s hostIP %s start %v", st.Phase, st.PodIP, st.HostIP, st.StartTime)
	}
	got := map[corev1.PodConditionType]corev1.ConditionStatus{}
	for _, c := range st.Conditions {
		got[c.Type] = c.Status
	}
	for _, c := range []corev1.PodConditionType{corev1.PodReady, corev1.ContainersReady, corev1.PodInitialized, "example.com/gate"} {
		if got[c] != corev1.ConditionTrue {
			t.Errorf("condition %s = %q, want True", c, got[c])
		}
	}
	if len(st.ContainerStatuses) != 2 || st.ContainerStatuses[1].Name != "b" || !st.ContainerStatuses[1].Ready || st.ContainerStatuses[1].State.Running == nil {
		t.Errorf("container statuses %+v", st.ContainerStatuses)
	}
	if len(st.InitContainerStatuses) != 2 || st.InitContainerStatuses[0].State.Terminated == nil || st.InitContainerStatuses[1].State.Running == nil {
		t.Errorf("init container statuses %+v", st.InitContainerStatuses)
	}

	pod.Spec.HostNetwork = true
	render(t, "hks-pod-running", pod, &st)
	if st.PodIP != "192.168.64.10" {
		t.Errorf("host network pod IP %s, want the node's", st.PodIP)
	}

	pod.Status = st
	var done corev1.PodStatus
	render(t, "hks-pod-job-done", pod, &done)
	if done.Phase != corev1.PodSucceeded || len(done.ContainerStatuses) != 2 {
		t.Fatalf("job pod status %+v", done)
	}
	for _, c := range done.ContainerStatuses {
		if c.State.Terminated == nil || c.State.Terminated.ExitCode != 0 || c.Ready {
			t.Errorf("container %s: %+v", c.Name, c.State)
		}
	}
}

// stageEvents renders every apply step of stage on pod and checks that
// each is what a kubelet would post about the pod's container
// (fieldPath spec.containers{container}), in the pod's namespace, with
// a generated name: kwok creates nothing else. It returns them.
func stageEvents(t *testing.T, stage string, pod *corev1.Pod, container string) []corev1.Event {
	t.Helper()
	var evs []corev1.Event
	for _, d := range kwokDocs(t) {
		if d.Metadata.Name != stage {
			continue
		}
		for i, s := range d.Spec.Steps {
			if s.Apply == nil {
				continue
			}
			var ev corev1.Event
			renderStep(t, stage, i, pod, &ev)
			want := corev1.ObjectReference{APIVersion: "v1", Kind: "Pod", Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID,
				FieldPath: "spec.containers{" + container + "}"}
			if ev.APIVersion != "v1" || ev.Kind != "Event" || ev.Namespace != pod.Namespace || ev.Name != "" || ev.GenerateName != pod.Name+"." {
				t.Errorf("%s[%d]: %s/%s %s/%s (generateName %q)", stage, i, ev.APIVersion, ev.Kind, ev.Namespace, ev.Name, ev.GenerateName)
			}
			if ev.InvolvedObject != want {
				t.Errorf("%s[%d]: involvedObject %+v, want %+v", stage, i, ev.InvolvedObject, want)
			}
			if ev.Source != (corev1.EventSource{Component: "kubelet", Host: pod.Spec.NodeName}) ||
				ev.ReportingController != "kubelet" || ev.ReportingInstance != pod.Spec.NodeName {
				t.Errorf("%s[%d]: source %+v, reporting %s %s", stage, i, ev.Source, ev.ReportingController, ev.ReportingInstance)
			}
			if ev.Count != 1 || ev.FirstTimestamp.IsZero() || !ev.FirstTimestamp.Equal(&ev.LastTimestamp) {
				t.Errorf("%s[%d]: count %d, first %v, last %v", stage, i, ev.Count, ev.FirstTimestamp, ev.LastTimestamp)
			}
			evs = append(evs, ev)
		}
	}
	return evs
}

// eventLines is "Type Reason: Message" of each event.
func eventLines(evs []corev1.Event) []string {
	var out []string
	for _, e := range evs {
		out = append(out, e.Type+" "+e.Reason+": "+e.Message)
	}
	return out
}

// conditions maps a pod status's conditions by type.
func conditions(st corev1.PodStatus) map[corev1.PodConditionType]corev1.PodCondition {
	m := map[corev1.PodConditionType]corev1.PodCondition{}
	for _, c := range st.Conditions {
		m[c.Type] = c
	}
	return m
}

// TestKwokImagePullTemplates: a pod with an image on a .invalid registry
// host gets the kubelet's ErrImagePull, then ImagePullBackOff, with its
// messages and events, and is never Ready; its other containers run.
func TestKwokImagePullTemplates(t *testing.T) {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web-1", Namespace: "team-a", UID: "u1"},
		Spec: corev1.PodSpec{
			NodeName:       "hks-shared-1",
			InitContainers: []corev1.Container{{Name: "init", Image: "busybox"}},
			Containers: []corev1.Container{{Name: "side", Image: "nginx"}, {Name: "web", Image: "registry.invalid/web:1"},
				{Name: "cache", Image: "REGISTRY.INVALID:5000/cache"}},
		},
		Status: corev1.PodStatus{Phase: corev1.PodPending},
	}
	const (
		webErr   = `failed to pull and unpack image "registry.invalid/web:1": failed to resolve reference "registry.invalid/web:1": dial tcp: lookup registry.invalid: no such host`
		cacheErr = `failed to pull and unpack image "REGISTRY.INVALID:5000/cache:latest": failed to resolve reference "REGISTRY.INVALID:5000/cache:latest": dial tcp: lookup REGISTRY.INVALID: no such host`
	)
	var st corev1.PodStatus
	render(t, "hks-pod-image-pull-error", pod, &st)
	if st.Phase != corev1.PodPending || st.PodIP != "10.244.0.7" || st.HostIP != "192.168.64.10" || st.StartTime == nil {
		t.Errorf("status: phase %s podIP %s hostIP %s start %v", st.Phase, st.PodIP, st.HostIP, st.StartTime)
	}
	conds := conditions(st)
	for _, c := range []corev1.PodConditionType{corev1.PodReady, corev1.ContainersReady} {
		if got := conds[c]; got.Status != corev1.ConditionFalse || got.Reason != "ContainersNotReady" || got.Message != "containers with unready status: [web cache]" {
			t.Errorf("%s: %+v", c, got)
		}
	}
	if conds[corev1.PodInitialized].Status != corev1.ConditionTrue || conds["PodReadyToStartContainers"].Status != corev1.ConditionTrue {
		t.Errorf("conditions %+v", st.Conditions)
	}
	wantWaiting := func(reason, msg string) corev1.ContainerState {
		return corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason, Message: msg}}
	}
	check := func(step string, st corev1.PodStatus, want map[string]corev1.ContainerState) {
		t.Helper()
		if len(st.ContainerStatuses) != 3 {
			t.Fatalf("%s: container statuses %+v", step, st.ContainerStatuses)
		}
		for _, cs := range st.ContainerStatuses {
			if w, ok := want[cs.Name]; ok {
				if !reflect.DeepEqual(cs.State, w) || cs.Ready || *cs.Started || cs.ImageID != "" || cs.RestartCount != 0 {
					t.Errorf("%s: %s: %+v, state %+v %+v", step, cs.Name, cs, cs.State.Waiting, cs.State.Running)
				}
			} else if !cs.Ready || cs.State.Running == nil || cs.ImageID != "kwok://nginx" {
				t.Errorf("%s: %s must run: %+v", step, cs.Name, cs)
			}
		}
	}
	check("ErrImagePull", st, map[string]corev1.ContainerState{
		"web": wantWaiting("ErrImagePull", webErr), "cache": wantWaiting("ErrImagePull", cacheErr)})
	if len(st.InitContainerStatuses) != 1 || st.InitContainerStatuses[0].State.Terminated == nil {
		t.Errorf("init containers %+v", st.InitContainerStatuses)
	}
	evs := eventLines(stageEvents(t, "hks-pod-image-pull-error", pod, "web"))
	want := []string{
		`Normal Pulling: Pulling image "registry.invalid/web:1"`,
		`Warning Failed: Failed to pull image "registry.invalid/web:1": ` + webErr,
		`Warning Failed: Error: ErrImagePull`,
	}
	if !slices.Equal(evs, want) {
		t.Errorf("ErrImagePull events:\n got %q\nwant %q", evs, want)
	}

	// 2 s later: ImagePullBackOff, the rest of the status as it was.
	pod.Status = st
	var back corev1.PodStatus
	render(t, "hks-pod-image-pull-backoff", pod, &back)
	if back.Phase != "" || back.Conditions != nil || back.PodIP != "" {
		t.Errorf("the back-off must change only container statuses: %+v", back)
	}
	check("ImagePullBackOff", back, map[string]corev1.ContainerState{
		"web":   wantWaiting("ImagePullBackOff", `Back-off pulling image "registry.invalid/web:1": ErrImagePull: `+webErr),
		"cache": wantWaiting("ImagePullBackOff", `Back-off pulling image "REGISTRY.INVALID:5000/cache": ErrImagePull: `+cacheErr)})
	if !reflect.DeepEqual(back.ContainerStatuses[0], st.ContainerStatuses[0]) {
		t.Errorf("running container changed:\n%+v\n%+v", back.ContainerStatuses[0], st.ContainerStatuses[0])
	}
	evs = eventLines(stageEvents(t, "hks-pod-image-pull-backoff", pod, "web"))
	want = []string{
		// Normal, as the kubelet posts it.
		`Normal BackOff: Back-off pulling image "registry.invalid/web:1"`,
		`Warning Failed: Error: ImagePullBackOff`,
	}
	if !slices.Equal(evs, want) {
		t.Errorf("ImagePullBackOff events:\n got %q\nwant %q", evs, want)
	}
}

// TestKwokFailedTemplate: a pod that ends with a failing command fails:
// its first container terminates with the command's exit code (reason
// Error), the others with 0.
func TestKwokFailedTemplate(t *testing.T) {
	tests := []struct {
		name          string
		command, args []string
		code          int32
	}{
		{"false", []string{"false"}, nil, 1},
		{"bin false", []string{"/bin/false"}, nil, 1},
		{"usr bin false", []string{"/usr/bin/false"}, nil, 1},
		{"sh -c false", []string{"sh", "-c", "false"}, nil, 1},
		{"exit 3", []string{"sh", "-c", "exit 3"}, nil, 3},
		{"args", []string{"sh"}, []string{"-c", "echo hi; exit 7"}, 7},
		{"args only", nil, []string{"sh", "-c", "exit 9"}, 9},
		{"script", []string{"sh", "-c", "set -e\necho hi\nexit 3\n"}, nil, 3},
		{"bash -ec", []string{"bash", "-ec", "exit 5;"}, nil, 5},
		{"or", []string{"sh", "-c", "test -f /ready || exit 2"}, nil, 2},
		{"mod 256", []string{"sh", "-c", "exit 300"}, nil, 44},
	}
	for _, tt := range tests {
		t.Run(testutil.CaseName(tt.name), func(t *testing.T) {
			start := metav1.NewTime(time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC))
			pod := &corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{Name: "job-1-x", Namespace: "default", UID: "u1",
					OwnerReferences: []metav1.OwnerReference{{Kind: "Job", Name: "job-1", APIVersion: "batch/v1", UID: "u0"}}},
				Spec: corev1.PodSpec{NodeName: "hks-shared-0", Containers: []corev1.Container{
					{Name: "main", Image: "busybox", Command: tt.command, Args: tt.args}, {Name: "side", Image: "envoy"}}},
				Status: corev1.PodStatus{Phase: corev1.PodRunning, StartTime: &start},
			}
			var st corev1.PodStatus
			render(t, "hks-pod-failed", pod, &st)
			if st.Phase != corev1.PodFailed || len(st.ContainerStatuses) != 2 {
				t.Fatalf("status %+v", st)
			}
			for i, want := range []corev1.ContainerStateTerminated{{ExitCode: tt.code, Reason: "Error"}, {ExitCode: 0, Reason: "Completed"}} {
				got := st.ContainerStatuses[i].State.Terminated
				if got == nil || got.ExitCode != want.ExitCode || got.Reason != want.Reason || !got.StartedAt.Equal(&start) || st.ContainerStatuses[i].Ready {
					t.Errorf("container %d: %+v, want exit %d %s", i, got, want.ExitCode, want.Reason)
				}
			}
			conds := conditions(st)
			if conds[corev1.PodReady].Reason != "PodFailed" || conds[corev1.ContainersReady].Reason != "PodFailed" || conds[corev1.PodReady].Status != corev1.ConditionFalse {
				t.Errorf("conditions %+v", st.Conditions)
			}
		})
	}
}

// TestKwokCrashLoopTemplate: each crash of a restarted container counts
// a restart, waits in CrashLoopBackOff with the kubelet's back-off
// (10 s doubling to at most 5 minutes) and keeps the exit code in
// lastState; the pod turns not Ready once.
func TestKwokCrashLoopTemplate(t *testing.T) {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web-1", Namespace: "team-a", UID: "u1",
			OwnerReferences: []metav1.OwnerReference{{Kind: "ReplicaSet", Name: "web", APIVersion: "apps/v1", UID: "u0"}}},
		Spec: corev1.PodSpec{NodeName: "hks-shared-0", Containers: []corev1.Container{
			{Name: "main", Image: "busybox", Command: []string{"sh", "-c", "exit 2"}}, {Name: "side", Image: "envoy"}}},
		Status: corev1.PodStatus{Phase: corev1.PodPending},
	}
	render(t, "hks-pod-running", pod, &pod.Status)
	running := pod.Status.ContainerStatuses[0].State.Running
	side := pod.Status.ContainerStatuses[1]

	var st corev1.PodStatus
	render(t, "hks-pod-crash-loop", pod, &st)
	conds := conditions(st)
	for _, c := range []corev1.PodConditionType{corev1.PodReady, corev1.ContainersReady} {
		if got := conds[c]; got.Status != corev1.ConditionFalse || got.Reason != "ContainersNotReady" ||
			got.Message != "containers with unready status: [main]" || got.LastTransitionTime.IsZero() {
			t.Errorf("%s: %+v", c, got)
		}
	}
	if st.Phase != "" || len(st.ContainerStatuses) != 2 || !reflect.DeepEqual(st.ContainerStatuses[1], side) {
		t.Fatalf("status %+v", st)
	}
	cs := st.ContainerStatuses[0]
	wantWaiting := &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff", Message: "back-off 10s restarting failed container=main pod=web-1_team-a(u1)"}
	if cs.RestartCount != 1 || cs.Ready || *cs.Started || !reflect.DeepEqual(cs.State.Waiting, wantWaiting) {
		t.Errorf("first crash: %+v %+v", cs, cs.State.Waiting)
	}
	if lt := cs.LastTerminationState.Terminated; lt == nil || lt.ExitCode != 2 || lt.Reason != "Error" || !lt.StartedAt.Equal(&running.StartedAt) {
		t.Errorf("first crash: last state %+v", lt)
	}
	evs := eventLines(stageEvents(t, "hks-pod-crash-loop", pod, "main"))
	if want := []string{"Warning BackOff: Back-off restarting failed container main in pod web-1_team-a(u1)"}; !slices.Equal(evs, want) {
		t.Errorf("events %q, want %q", evs, want)
	}

	// Later crashes: the back-off doubles up to 5 minutes; the
	// conditions, already False, keep their transition time.
	pod.Status.ContainerStatuses = st.ContainerStatuses
	for i := range pod.Status.Conditions {
		if c, ok := conds[pod.Status.Conditions[i].Type]; ok {
			pod.Status.Conditions[i] = c
		}
	}
	for _, tt := range []struct {
		restarts int32
		backoff  string
	}{{1, "20s"}, {2, "40s"}, {3, "1m20s"}, {4, "2m40s"}, {5, "5m0s"}, {6, "5m0s"}, {1_000_000, "5m0s"}} {
		pod.Status.ContainerStatuses[0].RestartCount = tt.restarts
		var st corev1.PodStatus
		render(t, "hks-pod-crash-loop", pod, &st)
		cs := st.ContainerStatuses[0]
		want := "back-off " + tt.backoff + " restarting failed container=main pod=web-1_team-a(u1)"
		if cs.RestartCount != tt.restarts+1 || cs.State.Waiting == nil || cs.State.Waiting.Message != want {
			t.Errorf("after %d restarts: %d %+v, want %q", tt.restarts, cs.RestartCount, cs.State.Waiting, want)
		}
		if lt := cs.LastTerminationState.Terminated; lt == nil || lt.ExitCode != 2 {
			t.Errorf("after %d restarts: last state %+v", tt.restarts, lt)
		}
		for _, c := range st.Conditions {
			if !c.LastTransitionTime.IsZero() {
				t.Errorf("after %d restarts: %s moved its transition time", tt.restarts, c.Type)
			}
		}
	}
}

func TestKwokNodes(t *testing.T) {
	const ws = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"
	tests := []struct {
		plan      string
		names     []string
		pool      string
		dedicated bool
	}{
		{controlplane.PlanShared, []string{"hks-shared-0", "hks-shared-1", "hks-shared-2"}, PoolShared, false},
		{controlplane.PlanDedicated, []string{"hks-dedicated-0", "hks-dedicated-1"}, PoolDedicated, true},
		{"gold", nil, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.plan, func(t *testing.T) {
			nodes := kwokNodes(ws, tt.plan, 4321)
			var names []string
			cidrs := map[string]bool{}
			for _, n := range nodes {
				names = append(names, n.Name)
				if n.Annotations[AnnotationKwokNode] != KwokNodeValue {
					t.Errorf("%s: not annotated for kwok: %v", n.Name, n.Annotations)
				}
				if n.Labels[LabelPool] != tt.pool || n.Labels["type"] != "kwok" || n.Labels["kubernetes.io/hostname"] != n.Name {
					t.Errorf("%s: labels %v", n.Name, n.Labels)
				}
				if got := n.Status.Capacity.Cpu().Value(); got != 32 {
					t.Errorf("%s: cpu %d", n.Name, got)
				}
				if got := n.Status.Capacity.Pods().Value(); got != 110 {
					t.Errorf("%s: pods %d", n.Name, got)
				}
				// The API server reaches the node's kubelet endpoint, the
				// workspace's kwok, on its InternalIP and kubelet port.
				wantAddrs := []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "127.0.0.1"}, {Type: corev1.NodeHostName, Address: n.Name}}
				if !reflect.DeepEqual(n.Status.Addresses, wantAddrs) || n.Status.DaemonEndpoints.KubeletEndpoint.Port != 4321 {
					t.Errorf("%s: addresses %v, kubelet endpoint %v", n.Name, n.Status.Addresses, n.Status.DaemonEndpoints)
				}
				if cidrs[n.Spec.PodCIDR] {
					t.Errorf("%s: pod CIDR %s used twice", n.Name, n.Spec.PodCIDR)
				}
				cidrs[n.Spec.PodCIDR] = true
				ws2, hasWS := n.Labels[LabelWorkspace]
				if tt.dedicated {
					want := []corev1.Taint{{Key: TaintDedicated, Value: ws, Effect: corev1.TaintEffectNoSchedule}}
					if ws2 != ws || !reflect.DeepEqual(n.Spec.Taints, want) {
						t.Errorf("%s: workspace label %q taints %v", n.Name, ws2, n.Spec.Taints)
					}
				} else if hasWS || len(n.Spec.Taints) > 0 {
					t.Errorf("%s: shared node with workspace label or taints", n.Name)
				}
			}
			if !slices.Equal(names, tt.names) {
				t.Errorf("names %v, want %v", names, tt.names)
			}
		})
	}
	// The capacity is copied, not shared between nodes.
	a, b := kwokNodes(ws, controlplane.PlanShared, 4321)[0], kwokNodes(ws, controlplane.PlanShared, 4321)[1]
	q := a.Status.Capacity[corev1.ResourceCPU]
	q.Set(1)
	a.Status.Capacity[corev1.ResourceCPU] = q
	if b.Status.Capacity.Cpu().Value() != 32 {
		t.Error("nodes share their capacity map")
	}
}

func TestKwokArgs(t *testing.T) {
	got := kwokArgs("/w/kwok.kubeconfig", "/w/kwok-stages.yaml", 4321, "/w/pki/kwok-serving.crt", "/w/pki/kwok-serving.key")
	want := []string{
		"--kubeconfig=/w/kwok.kubeconfig",
		"--config=/w/kwok-stages.yaml",
		"--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
		"--node-lease-duration-seconds=0",
		"--server-address=127.0.0.1:4321",
		"--tls-cert-file=/w/pki/kwok-serving.crt",
		"--tls-private-key-file=/w/pki/kwok-serving.key",
		"--cidr=10.244.0.0/16",
	}
	if !slices.Equal(got, want) {
		t.Errorf("kwokArgs:\n got %q\nwant %q", got, want)
	}
}

func TestWorkspaceAdmission(t *testing.T) {
	const ws = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"
	files, name, plugins, err := workspaceAdmission(ws, controlplane.PlanDedicated)
	if err != nil {
		t.Fatal(err)
	}
	if name != "admission.yaml" || len(files) != 1 || files[name] == nil {
		t.Fatalf("files %v, config %q", slices.Collect(maps.Keys(files)), name)
	}
	if !slices.Equal(plugins, []string{"PodNodeSelector", "PodTolerationRestriction"}) {
		t.Errorf("plugins %v", plugins)
	}
	var cfg struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Plugins    []struct {
			Name          string          `json:"name"`
			Configuration json.RawMessage `json:"configuration"`
		} `json:"plugins"`
	}
	if err := yaml.UnmarshalStrict(files[name], &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.APIVersion != "apiserver.config.k8s.io/v1" || cfg.Kind != "AdmissionConfiguration" || len(cfg.Plugins) != 3 {
		t.Fatalf("config %+v", cfg)
	}
	var names []string
	for _, p := range cfg.Plugins {
		names = append(names, p.Name)
	}
	// PodSecurity is on by default: configured, not enabled again.
	if !slices.Equal(names, append([]string{"PodSecurity"}, plugins...)) {
		t.Errorf("configured plugins %v, enabled %v", names, plugins)
	}
	checkPodSecurityDefaults(t, cfg.Plugins[0].Configuration)
	cfg.Plugins = cfg.Plugins[1:]
	// PodNodeSelector reads {podNodeSelectorPluginConfig: {clusterDefaultNodeSelector: ...}}.
	var pns struct {
		PodNodeSelectorPluginConfig map[string]string `json:"podNodeSelectorPluginConfig"`
	}
	if err := json.Unmarshal(cfg.Plugins[0].Configuration, &pns); err != nil {
		t.Fatal(err)
	}
	if got := pns.PodNodeSelectorPluginConfig["clusterDefaultNodeSelector"]; got != LabelWorkspace+"="+ws {
		t.Errorf("clusterDefaultNodeSelector %q", got)
	}
	var ptr struct {
		APIVersion string              `json:"apiVersion"`
		Kind       string              `json:"kind"`
		Default    []corev1.Toleration `json:"default"`
	}
	if err := json.Unmarshal(cfg.Plugins[1].Configuration, &ptr); err != nil {
		t.Fatal(err)
	}
	wantTol := []corev1.Toleration{{Key: TaintDedicated, Operator: corev1.TolerationOpEqual, Value: ws, Effect: corev1.TaintEffectNoSchedule}}
	if ptr.APIVersion != "podtolerationrestriction.admission.k8s.io/v1alpha1" || ptr.Kind != "Configuration" || !reflect.DeepEqual(ptr.Default, wantTol) {
		t.Errorf("PodTolerationRestriction config %+v", ptr)
	}
	// The toleration tolerates the dedicated nodes' taint.
	for _, n := range kwokNodes(ws, controlplane.PlanDedicated, 4321) {
		for _, taint := range n.Spec.Taints {
			tol := ptr.Default[0]
			if tol.Key != taint.Key || tol.Value != taint.Value || tol.Effect != taint.Effect {
				t.Errorf("%s: taint %v not tolerated", n.Name, taint)
			}
		}
	}

	// The shared plan configures PodSecurity only.
	files, name, plugins, err = workspaceAdmission(ws, controlplane.PlanShared)
	if err != nil || name != "admission.yaml" || len(files) != 1 || plugins != nil {
		t.Fatalf("shared: %v %q %v %v", files, name, plugins, err)
	}
	if err := yaml.UnmarshalStrict(files[name], &cfg); err != nil {
		t.Fatal(err)
	}
	if len(cfg.Plugins) != 1 || cfg.Plugins[0].Name != "PodSecurity" {
		t.Fatalf("shared: plugins %+v", cfg.Plugins)
	}
	checkPodSecurityDefaults(t, cfg.Plugins[0].Configuration)
}

// checkPodSecurityDefaults: the PodSecurity configuration enforces
// baseline, warns and audits at restricted, and exempts nothing.
func checkPodSecurityDefaults(t *testing.T, raw json.RawMessage) {
	t.Helper()
	var ps struct {
		APIVersion string            `json:"apiVersion"`
		Kind       string            `json:"kind"`
		Defaults   map[string]string `json:"defaults"`
		Exemptions map[string][]any  `json:"exemptions"`
	}
	if err := json.Unmarshal(raw, &ps); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"enforce": "baseline", "enforce-version": "latest", "warn": "restricted", "warn-version": "latest", "audit": "restricted", "audit-version": "latest"}
	if ps.APIVersion != "pod-security.admission.config.k8s.io/v1" || ps.Kind != "PodSecurityConfiguration" || !maps.Equal(ps.Defaults, want) {
		t.Errorf("PodSecurity config %+v", ps)
	}
	for k, v := range ps.Exemptions {
		if len(v) != 0 {
			t.Errorf("PodSecurity exempts %s %v", k, v)
		}
	}
}

func TestWorkspaceAdmissionErrors(t *testing.T) {
	tests := []struct {
		name, id, plan, want string
	}{
		{"unknown plan", "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", "gold", `unknown plan "gold"`},
		{"empty id", "", controlplane.PlanDedicated, `workspace ID "" is not a label value`},
		{"id not a label value", "a,b=c", controlplane.PlanDedicated, `workspace ID "a,b=c" is not a label value`},
		{"id too long", strings.Repeat("a", 64), controlplane.PlanDedicated, "is not a label value: must be no more than 63 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, _, err := workspaceAdmission(tt.id, tt.plan)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("workspaceAdmission(%q, %q) = %v, want %q", tt.id, tt.plan, err, tt.want)
			}
		})
	}
}

// TestKwokConfigKubeletEndpoint: what a workspace's kwok serves as the
// simulated kubelet endpoint is fixed by hks and harmless: logs and
// attach read the platform's file, port-forward reaches only kwok's own
// server, there is no exec target (kwok's only one runs the caller's
// command on the host) and no command anywhere, and pprof is off.
func TestKwokConfigKubeletEndpoint(t *testing.T) {
	const logFile = "/data/workspaces/w1/kwok/container.log"
	cfg, err := kwokConfig(logFile, 4321)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(cfg, kwokStages) {
		t.Fatal("the stages are not the start of the configuration")
	}
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(cfg)))
	type file struct {
		LogsFile         string `json:"logsFile"`
		PreviousLogsFile string `json:"previousLogsFile"`
	}
	type endpointDoc struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Metadata   struct {
			Name string `json:"name"`
		} `json:"metadata"`
		Spec struct {
			Logs     []file `json:"logs"`
			Attaches []file `json:"attaches"`
			Forwards []struct {
				Target struct {
					Address string `json:"address"`
					Port    int    `json:"port"`
				} `json:"target"`
			} `json:"forwards"`
		} `json:"spec"`
	}
	var kinds []string
	for {
		b, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		var head struct {
			Kind    string         `json:"kind"`
			Options map[string]any `json:"options"`
		}
		if err := yaml.Unmarshal(b, &head); err != nil {
			t.Fatalf("document %q: %v", b, err)
		}
		switch head.Kind {
		case "", "Stage":
			continue
		case "KwokConfiguration":
			if head.Options["enableDebuggingHandlers"] != true || head.Options["enableProfilingHandler"] != false {
				t.Errorf("options %v: want the debugging handlers on and pprof off", head.Options)
			}
			continue
		}
		kinds = append(kinds, head.Kind)
		var d endpointDoc // strict: no selector, no command, no other field
		if err := yaml.UnmarshalStrict(b, &d); err != nil {
			t.Fatalf("%s: %v\n%s", head.Kind, err, b)
		}
		if d.APIVersion != "kwok.x-k8s.io/v1alpha1" || d.Metadata.Name == "" {
			t.Errorf("%s: apiVersion %q name %q", d.Kind, d.APIVersion, d.Metadata.Name)
		}
		switch d.Kind {
		case "ClusterLogs":
			if len(d.Spec.Logs) != 1 || d.Spec.Logs[0] != (file{logFile, logFile}) {
				t.Errorf("logs %+v, want %s", d.Spec.Logs, logFile)
			}
		case "ClusterAttach":
			if len(d.Spec.Attaches) != 1 || d.Spec.Attaches[0] != (file{LogsFile: logFile}) {
				t.Errorf("attaches %+v, want %s", d.Spec.Attaches, logFile)
			}
		case "ClusterPortForward":
			if len(d.Spec.Forwards) != 1 || d.Spec.Forwards[0].Target.Address != "127.0.0.1" || d.Spec.Forwards[0].Target.Port != 4321 {
				t.Errorf("forwards %+v, want kwok's own 127.0.0.1:4321", d.Spec.Forwards)
			}
		}
	}
	if want := []string{"ClusterLogs", "ClusterAttach", "ClusterPortForward"}; !slices.Equal(kinds, want) {
		t.Errorf("kubelet endpoint documents %v, want %v (no Exec or ClusterExec)", kinds, want)
	}
}

// TestContainerLogContent: the platform's container log is in the CRI
// format kwok reads, one complete stdout line each.
func TestContainerLogContent(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	got := string(kwokContainerLogContent(now))
	lines := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
	if len(lines) != len(kwokContainerLogLines) {
		t.Fatalf("%d lines:\n%s", len(lines), got)
	}
	for i, l := range lines {
		if want := "2026-01-02T03:04:05.000000006Z stdout F " + kwokContainerLogLines[i]; l != want {
			t.Errorf("line %d: %q, want %q", i, l, want)
		}
	}
}
