package local

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
	"text/template"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/hexabase/hexabase-ai/internal/controlplane"
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
		} `json:"delay"`
		Steps []struct {
			Patch *struct {
				Subresource string `json:"subresource"`
				Root        string `json:"root"`
				Type        string `json:"type"`
				Template    string `json:"template"`
			} `json:"patch"`
			Delete bool `json:"delete"`
		} `json:"steps"`
		ImmediateNextStage bool `json:"immediateNextStage"`
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
		{"kwok.x-k8s.io/v1alpha1", "Stage", "hks-pod-job-done", "Pod"},
		{"kwok.x-k8s.io/v1alpha1", "Stage", "hks-pod-remove", "Pod"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("documents:\n got %v\nwant %v", got, want)
	}
	for _, d := range docs[1:] {
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
		for _, s := range d.Spec.Steps {
			if p := s.Patch; p != nil && (p.Subresource != "status" || p.Root != "status" || p.Type != "strategic") {
				t.Errorf("%s: patch %s/%s/%s, want a strategic patch of status", d.Metadata.Name, p.Subresource, p.Root, p.Type)
			}
		}
	}
	remove := docs[len(docs)-1]
	if len(remove.Spec.Steps) != 1 || !remove.Spec.Steps[0].Delete {
		t.Errorf("hks-pod-remove must only delete")
	}
	if d := docs[4].Spec.Delay; d == nil || d.DurationMilliseconds <= 0 || d.JitterDurationMilliseconds < d.DurationMilliseconds {
		t.Errorf("hks-pod-job-done: delay %+v", d)
	}
	if !docs[2].Spec.ImmediateNextStage || docs[2].Spec.Delay == nil {
		t.Errorf("hks-node-status must repeat with a delay")
	}
}

// kwokFuncs stand in for the template functions kwok gives stages (sprig's
// plus its own), with fixed results, so that the templates' syntax and
// output can be checked here. The real kwok runs them in TestWorkspaceLifecycle.
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
	"NodeIPsWith": func(string) []string { return []string{"192.168.64.10"} },
	"PodIPsWith": func(_ string, hostNetwork bool, _, _, _ string) []string {
		if hostNetwork {
			return []string{"192.168.64.10"}
		}
		return []string{"10.244.0.7"}
	},
}

// render runs a stage's patch template on obj as kwok does (on the
// object's JSON form) and decodes the result strictly into out.
func render(t *testing.T, stage string, obj, out any) {
	t.Helper()
	var tpl string
	for _, d := range kwokDocs(t) {
		if d.Metadata.Name == stage {
			tpl = d.Spec.Steps[0].Patch.Template
		}
	}
	if tpl == "" {
		t.Fatalf("no stage %s", stage)
	}
	tmpl, err := template.New(stage).Funcs(kwokFuncs).Parse(tpl)
	if err != nil {
		t.Fatalf("%s: parse template: %v", stage, err)
	}
	b, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	var data map[string]any
	if err := json.Unmarshal(b, &data); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := tmpl.Execute(&buf, data); err != nil {
		t.Fatalf("%s: execute template: %v", stage, err)
	}
	if err := yaml.UnmarshalStrict(buf.Bytes(), out); err != nil {
		t.Fatalf("%s: output is not a status: %v\n%s", stage, err, buf.String())
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
