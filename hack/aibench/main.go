// Command aibench measures the assistant (issue 14) against its targets:
//
//   - the platform's own time per agent turn, model time excluded (target
//     ≤ 50 ms p50): a turn is POST …/ai/chats/{chat}/messages, streamed,
//     answered by a scripted model with one tool call (get_resource of a
//     Deployment, or list_resources of the project's pods) and then text,
//     or with text only; the platform's time is the turn's wall time, as
//     the client sees it, minus the time the scripted model server spent
//     answering its requests (each from its arrival to its data: [DONE]
//     flushed, scriptedmodel.Request.Served);
//   - GET …/projects/{project}/diagnose over a project of about 200
//     objects (target ≤ 200 ms), end to end against a real workspace;
//   - the first streamed token forwarded (target ≤ 20 ms): from the
//     scripted server flushing an answer's first content chunk to this
//     client reading the turn's first `event: delta` (one process, one
//     clock).
//
// It also measures, in the same run, what the figures compare with: one
// plain API request, a workspace token issued, the same GET through the
// gateway that the get_resource tool sends, the analyzers' lists sent
// straight through the gateway, and the model client alone forwarding its
// first token. Ratios hold on a noisy machine where absolute figures move.
//
//	make aibench
//	go run ./hack/aibench -turns 100 -fresh 10 -diagnose 50
//
// It starts the whole platform in-process (hack/internal/platform) with the
// pinned Kubernetes binaries, a temp data dir and the assistant configured
// with one provider: a scripted OpenAI-compatible model server
// (internal/testutil/scriptedmodel, a test double: no model weights run
// here) started in this process. The scripted model answers at once, so
// its share of a turn is small and the figures are the platform's.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime/pprof"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"

	"github.com/hexabase/hexabase-ai/hack/internal/platform"
	"github.com/hexabase/hexabase-ai/internal/aiops/analyze"
	"github.com/hexabase/hexabase-ai/internal/aiops/llm"
	"github.com/hexabase/hexabase-ai/internal/aiops/tools"
	"github.com/hexabase/hexabase-ai/internal/api"
	"github.com/hexabase/hexabase-ai/internal/authz"
	"github.com/hexabase/hexabase-ai/internal/config"
	"github.com/hexabase/hexabase-ai/internal/gateway"
	"github.com/hexabase/hexabase-ai/internal/httpapi"
	"github.com/hexabase/hexabase-ai/internal/kube"
	"github.com/hexabase/hexabase-ai/internal/store"
	"github.com/hexabase/hexabase-ai/internal/tenancy"
	"github.com/hexabase/hexabase-ai/internal/testutil/scriptedmodel"
)

// The project the chats are about, and the scripted reply.
const (
	project = "bench"
	reply   = "The deployment app-00 has 2 of 2 replicas ready and its pods run on the simulated nodes; nothing needs fixing."
)

type options struct {
	turns, fresh, warm int
	deployments        int
	diagnose           int
	cpuProfile         string
	jsonOut            string
	binDir             string
}

func main() {
	var o options
	flag.IntVar(&o.turns, "turns", 100, "measured turns per kind of turn")
	flag.IntVar(&o.fresh, "fresh", 10, "a fresh chat every this many turns (a chat's history grows the prompt)")
	flag.IntVar(&o.warm, "warm", 5, "unmeasured turns of each kind first (connections, caches)")
	flag.IntVar(&o.deployments, "deployments", 16, "Deployments (2 replicas, a Service each) in the project: 16 make about 200 objects with the other kinds and the events")
	flag.IntVar(&o.diagnose, "diagnose", 50, "GET …/diagnose requests")
	flag.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the measured get_resource turns to this file")
	flag.StringVar(&o.jsonOut, "json", "", "also write the figures as JSON to this file")
	flag.StringVar(&o.binDir, "k8s-bin-dir", "", "the Kubernetes binaries (default: the make k8s-bins cache)")
	flag.Parse()
	if o.turns < 1 || o.fresh < 1 || o.warm < 0 || o.deployments < 1 || o.diagnose < 1 {
		fail(errors.New("want -turns, -fresh, -deployments, -diagnose >= 1 and -warm >= 0"))
	}
	if err := run(context.Background(), o); err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "aibench:", err)
	os.Exit(1)
}

// bench is the running platform, its workspace and the scripted model.
type bench struct {
	pl      *platform.Platform
	model   *scriptedmodel.Server
	wsPath  string // /api/v1/organizations/{org}/workspaces/{ws}
	wsID    string
	results []figure
}

// figure is one measured row.
type figure struct {
	Name   string  `json:"name"`
	N      int     `json:"n"`
	P50ms  float64 `json:"p50_ms"`
	P95ms  float64 `json:"p95_ms"`
	Maxms  float64 `json:"max_ms"`
	Target string  `json:"target,omitempty"`
}

func run(ctx context.Context, o options) error {
	model, err := scriptedmodel.Listen("127.0.0.1:0", script()...)
	if err != nil {
		return fmt.Errorf("scripted model: %w", err)
	}
	defer model.Close()
	pl, err := platform.Start(ctx, platform.Options{Configure: func(c *config.Config) {
		c.K8sBinDir = o.binDir
		platform.Unthrottled(c)
		c.AI.Providers = []config.AIProvider{{Name: "scripted", BaseURL: model.URL(), Model: "scripted-1"}}
	}, Timeout: 2 * time.Minute})
	if err != nil {
		return err
	}
	defer func() {
		if err := pl.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "aibench: stop:", err)
		}
	}()
	b := &bench{pl: pl, model: model}
	if err := b.workspace(ctx); err != nil {
		return err
	}
	start := time.Now()
	if err := b.populate(ctx, o.deployments); err != nil {
		return err
	}
	fmt.Printf("project %s populated and settled in %s\n", project, time.Since(start).Round(time.Second))

	load := startLoad()
	if err := b.baselines(ctx, o.turns); err != nil {
		return err
	}
	for _, k := range []struct {
		kind, message, target string
		profile               string
	}{
		{"text only", "say hello (text)", "", ""},
		{"get_resource", "how is app-00 (get)", "≤ 50 ms p50", o.cpuProfile},
		{"list_resources", "list the pods (list)", "", ""},
	} {
		if err := b.turns(ctx, o, k.kind, k.message, k.target, k.profile); err != nil {
			return err
		}
	}
	if err := b.toolsAlone(ctx, o.turns); err != nil {
		return err
	}
	if err := b.firstDeltaBare(ctx, o.turns); err != nil {
		return err
	}
	if err := b.diagnoseRuns(ctx, o.diagnose); err != nil {
		return err
	}
	fmt.Println()
	fmt.Println(load.String())
	if o.jsonOut != "" {
		out, _ := json.MarshalIndent(map[string]any{"figures": b.results, "load": load.String()}, "", "  ")
		if err := os.WriteFile(o.jsonOut, append(out, '\n'), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// script is the scripted model's play: text for a message that asks for
// it; a tool call for one that asks to get or list, then text after the
// tool's result. Every turn repeats.
func script() []scriptedmodel.Turn {
	return []scriptedmodel.Turn{
		{Match: &scriptedmodel.Match{AfterToolCall: "get_resource"}, Content: reply, Repeat: true},
		{Match: &scriptedmodel.Match{AfterToolCall: "list_resources"}, Content: reply, Repeat: true},
		{Match: &scriptedmodel.Match{LastUserContains: "(get)"}, Repeat: true, ToolCalls: []scriptedmodel.ToolCall{
			{Name: "get_resource", Arguments: `{"kind":"deployment","name":"app-00","project":"` + project + `"}`}}},
		{Match: &scriptedmodel.Match{LastUserContains: "(list)"}, Repeat: true, ToolCalls: []scriptedmodel.ToolCall{
			{Name: "list_resources", Arguments: `{"kind":"pods","project":"` + project + `"}`}}},
		{Match: &scriptedmodel.Match{LastUserContains: "(text)"}, Content: reply, Repeat: true},
	}
}

// workspace creates the organization, the workspace and the project.
func (b *bench) workspace(ctx context.Context) error {
	pl := b.pl
	org, err := pl.Create(ctx, "/api/v1/organizations", map[string]string{"name": "Bench"}, http.StatusCreated)
	if err != nil {
		return err
	}
	b.wsPath = "/api/v1/organizations/" + org + "/workspaces"
	if b.wsID, err = pl.Create(ctx, b.wsPath, map[string]string{"name": "bench"}, http.StatusAccepted); err != nil {
		return err
	}
	b.wsPath += "/" + b.wsID
	if err := waitFor(ctx, 10*time.Minute, "the workspace running", func() (bool, error) {
		var w struct {
			Status string `json:"status"`
		}
		if err := pl.Expect(ctx, http.MethodGet, b.wsPath, pl.Token, nil, http.StatusOK, &w); err != nil {
			return false, err
		}
		if w.Status == "failed" {
			return false, errors.New("the workspace failed")
		}
		return w.Status == "running", nil
	}); err != nil {
		return err
	}
	quota := api.Quota{Pods: 200, CPU: "100", Memory: "100Gi"}
	_, err = pl.Create(ctx, b.wsPath+"/projects", map[string]any{"name": project, "quota": quota}, http.StatusCreated)
	return err
}

// kube is a client of the workspace as the first user: a fresh workspace
// token, through the gateway over HTTP, as kubectl would.
func (b *bench) kube(ctx context.Context) (*kubernetes.Clientset, *rest.Config, error) {
	var wt api.WorkspaceToken
	if err := b.pl.Expect(ctx, http.MethodPost, b.wsPath+"/token", b.pl.Token, nil, http.StatusOK, &wt); err != nil {
		return nil, nil, err
	}
	cfg := &rest.Config{Host: gateway.URL(b.pl.Base, b.wsID), BearerToken: wt.Token, QPS: 1000, Burst: 1000,
		WarningHandler: rest.NoWarnings{}}
	cs, err := kubernetes.NewForConfig(cfg)
	return cs, cfg, err
}

// populate fills the project: per Deployment (2 replicas, so a ReplicaSet
// and 2 pods) a Service (and its EndpointSlice) and a ConfigMap; 3 Jobs, 3
// CronJobs, 2 pending PVCs, 2 HPAs, an Ingress to a missing Service and a
// Service selecting nothing (findings), and the events all this makes. It
// waits for the pods to run and the events to settle.
func (b *bench) populate(ctx context.Context, deployments int) error {
	cs, _, err := b.kube(ctx)
	if err != nil {
		return err
	}
	// The default service account must exist before pods can be made.
	if err := waitFor(ctx, 2*time.Minute, "the default service account", func() (bool, error) {
		_, err := cs.CoreV1().ServiceAccounts(project).Get(ctx, "default", metav1.GetOptions{})
		return err == nil, nil
	}); err != nil {
		return err
	}
	two := int32(2)
	podSpec := func(image string, restart corev1.RestartPolicy) corev1.PodSpec {
		return corev1.PodSpec{RestartPolicy: restart, Containers: []corev1.Container{{Name: "main", Image: image,
			Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("64Mi")}}}}}
	}
	meta := func(name string) metav1.ObjectMeta {
		return metav1.ObjectMeta{Name: name, Labels: map[string]string{"app": name}}
	}
	co := metav1.CreateOptions{}
	for i := range deployments {
		name := fmt.Sprintf("app-%02d", i)
		sel := &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}}
		d := &appsv1.Deployment{ObjectMeta: meta(name), Spec: appsv1.DeploymentSpec{Replicas: &two, Selector: sel,
			Template: corev1.PodTemplateSpec{ObjectMeta: meta(name), Spec: podSpec("nginx:1.27", corev1.RestartPolicyAlways)}}}
		if _, err := cs.AppsV1().Deployments(project).Create(ctx, d, co); err != nil {
			return fmt.Errorf("create deployment: %w", err)
		}
		svc := &corev1.Service{ObjectMeta: meta(name), Spec: corev1.ServiceSpec{Selector: map[string]string{"app": name},
			Ports: []corev1.ServicePort{{Port: 80}}}}
		if _, err := cs.CoreV1().Services(project).Create(ctx, svc, co); err != nil {
			return fmt.Errorf("create service: %w", err)
		}
		cm := &corev1.ConfigMap{ObjectMeta: meta(name), Data: map[string]string{"app.conf": "listen 80;\nserver_name " + name + ";\n"}}
		if _, err := cs.CoreV1().ConfigMaps(project).Create(ctx, cm, co); err != nil {
			return fmt.Errorf("create configmap: %w", err)
		}
	}
	for i := range 3 {
		name := fmt.Sprintf("job-%d", i)
		j := &batchv1.Job{ObjectMeta: meta(name), Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: podSpec("busybox:1.36", corev1.RestartPolicyNever)}}}
		if _, err := cs.BatchV1().Jobs(project).Create(ctx, j, co); err != nil {
			return fmt.Errorf("create job: %w", err)
		}
		cj := &batchv1.CronJob{ObjectMeta: meta("nightly-" + fmt.Sprint(i)), Spec: batchv1.CronJobSpec{Schedule: "0 3 * * *",
			JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: podSpec("busybox:1.36", corev1.RestartPolicyNever)}}}}}
		if _, err := cs.BatchV1().CronJobs(project).Create(ctx, cj, co); err != nil {
			return fmt.Errorf("create cronjob: %w", err)
		}
	}
	for i := range 2 {
		name := fmt.Sprintf("data-%d", i)
		sc := "none"
		pvc := &corev1.PersistentVolumeClaim{ObjectMeta: meta(name), Spec: corev1.PersistentVolumeClaimSpec{StorageClassName: &sc,
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}}}
		if _, err := cs.CoreV1().PersistentVolumeClaims(project).Create(ctx, pvc, co); err != nil {
			return fmt.Errorf("create pvc: %w", err)
		}
		util := int32(80)
		hpa := &autoscalingv2.HorizontalPodAutoscaler{ObjectMeta: meta(fmt.Sprintf("app-%02d", i)), Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: fmt.Sprintf("app-%02d", i)},
			MinReplicas:    &two, MaxReplicas: 4,
			Metrics: []autoscalingv2.MetricSpec{{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricSource{
				Name: corev1.ResourceCPU, Target: autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: &util}}}}}}
		if _, err := cs.AutoscalingV2().HorizontalPodAutoscalers(project).Create(ctx, hpa, co); err != nil {
			return fmt.Errorf("create hpa: %w", err)
		}
	}
	orphan := &corev1.Service{ObjectMeta: meta("orphan"), Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "nothing"}, Ports: []corev1.ServicePort{{Port: 80}}}}
	if _, err := cs.CoreV1().Services(project).Create(ctx, orphan, co); err != nil {
		return fmt.Errorf("create service: %w", err)
	}
	prefix := networkingv1.PathTypePrefix
	ing := &networkingv1.Ingress{ObjectMeta: meta("shop"), Spec: networkingv1.IngressSpec{Rules: []networkingv1.IngressRule{{Host: "shop.example.com",
		IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{Paths: []networkingv1.HTTPIngressPath{{Path: "/", PathType: &prefix,
			Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: "missing", Port: networkingv1.ServiceBackendPort{Number: 80}}}}}}}}}}}
	if _, err := cs.NetworkingV1().Ingresses(project).Create(ctx, ing, co); err != nil {
		return fmt.Errorf("create ingress: %w", err)
	}
	want := 2*deployments + 3
	if err := waitFor(ctx, 5*time.Minute, fmt.Sprintf("%d pods running", want), func() (bool, error) {
		l, err := cs.CoreV1().Pods(project).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		running := 0
		for _, p := range l.Items {
			if p.Status.Phase == corev1.PodRunning || p.Status.Phase == corev1.PodSucceeded {
				running++
			}
		}
		return running >= want, nil
	}); err != nil {
		return err
	}
	// The events settle: the same number twice, 5 s apart.
	last := -1
	return waitFor(ctx, 2*time.Minute, "the events to settle", func() (bool, error) {
		l, err := cs.CoreV1().Events(project).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		n := len(l.Items)
		if n == last {
			return true, nil
		}
		last = n
		time.Sleep(5 * time.Second)
		return false, nil
	})
}

// baselines measures what the turns compare with: one plain API request,
// a workspace token issued through the API (a turn issues one in process),
// and the GET of the Deployment through the gateway over HTTP as the
// get_resource tool sends it (in process).
func (b *bench) baselines(ctx context.Context, n int) error {
	chat, err := b.newChat(ctx)
	if err != nil {
		return err
	}
	if err := b.measure(ctx, "GET …/ai/chats/{chat} (one API request, a floor)", "", n, func() error {
		return b.pl.Expect(ctx, http.MethodGet, b.wsPath+"/ai/chats/"+chat, b.pl.Token, nil, http.StatusOK, nil)
	}); err != nil {
		return err
	}
	if err := b.measure(ctx, "POST …/token (a workspace token issued)", "", n, func() error {
		return b.pl.Expect(ctx, http.MethodPost, b.wsPath+"/token", b.pl.Token, nil, http.StatusOK, nil)
	}); err != nil {
		return err
	}
	cs, _, err := b.kube(ctx)
	if err != nil {
		return err
	}
	if err := b.measure(ctx, "GET of the Deployment through the gateway (HTTP)", "", n, func() error {
		_, err := cs.AppsV1().Deployments(project).Get(ctx, "app-00", metav1.GetOptions{})
		return err
	}); err != nil {
		return err
	}
	// What the tools' REST mapper asks on its first use: the caller's
	// discovery of every group's resources, here through a client that
	// counts its requests.
	_, cfg, err := b.kube(ctx)
	if err != nil {
		return err
	}
	counted := &countingTransport{next: http.DefaultTransport}
	cfg.Transport = counted
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return err
	}
	if err := b.measure(ctx, "discovery of every group's resources through the gateway (HTTP)", "", n, func() error {
		_, err := restmapper.GetAPIGroupResources(memory.NewMemCacheClient(dc))
		return err
	}); err != nil {
		return err
	}
	fmt.Printf("  (%d requests each)\n", counted.n.Load()/int64(n+1))
	return nil
}

// countingTransport counts the requests it sends.
type countingTransport struct {
	next http.RoundTripper
	n    atomic.Int64
}

func (t *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	t.n.Add(1)
	return t.next.RoundTrip(r)
}

// measure times n calls of f (after one unmeasured call) and records them.
func (b *bench) measure(ctx context.Context, name, target string, n int, f func() error) error {
	if err := f(); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	ds := make([]time.Duration, 0, n)
	for range n {
		start := time.Now()
		if err := f(); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		ds = append(ds, time.Since(start))
	}
	b.record(name, target, ds)
	return ctx.Err()
}

func (b *bench) record(name, target string, ds []time.Duration) {
	f := figure{Name: name, N: len(ds), P50ms: ms(scriptedmodel.Percentile(ds, 50)), P95ms: ms(scriptedmodel.Percentile(ds, 95)),
		Maxms: ms(slices.Max(ds)), Target: target}
	b.results = append(b.results, f)
	t := ""
	if target != "" {
		t = "  (target " + target + ")"
	}
	fmt.Printf("%-64s n=%-4d p50 %7.2f ms  p95 %7.2f ms  max %7.2f ms%s\n", name, f.N, f.P50ms, f.P95ms, f.Maxms, t)
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1e3 }

func (b *bench) newChat(ctx context.Context) (string, error) {
	return b.pl.Create(ctx, b.wsPath+"/ai/chats", api.CreateChatRequest{Project: project}, http.StatusCreated)
}

// turnTimes is what one streamed turn took, as the client saw it.
type turnTimes struct {
	start, firstDelta, end time.Time
}

// turn sends message to chat with Accept: text/event-stream and reads the
// stream to its end, stamping the first `event: delta` line as it arrives.
func (b *bench) turn(ctx context.Context, chat, message string) (turnTimes, error) {
	body, _ := json.Marshal(api.SendMessageRequest{Content: message})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, b.pl.Base+b.wsPath+"/ai/chats/"+chat+"/messages", bytes.NewReader(body))
	if err != nil {
		return turnTimes{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Authorization", "Bearer "+b.pl.Token)
	var t turnTimes
	t.start = time.Now()
	resp, err := b.pl.HC.Do(req)
	if err != nil {
		return t, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(resp.Body)
		return t, fmt.Errorf("turn: status %d: %s", resp.StatusCode, msg)
	}
	r := bufio.NewReaderSize(resp.Body, 64<<10)
	last := ""
	for {
		line, err := r.ReadString('\n')
		if strings.HasPrefix(line, "event: ") {
			last = strings.TrimSpace(strings.TrimPrefix(line, "event: "))
			if last == "delta" && t.firstDelta.IsZero() {
				t.firstDelta = time.Now()
			}
		}
		if strings.HasPrefix(line, "data: ") && last == "error" {
			return t, fmt.Errorf("turn: error event %s", strings.TrimSpace(line))
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return t, err
		}
	}
	t.end = time.Now()
	if last != "done" {
		return t, fmt.Errorf("turn: the stream ended with %q, not done", last)
	}
	if t.firstDelta.IsZero() {
		return t, errors.New("turn: no delta")
	}
	return t, nil
}

// turns measures o.turns turns of one kind: wall time, the model's share,
// the platform's (wall minus model) and the first token's forwarding.
func (b *bench) turns(ctx context.Context, o options, kind, message, target, profile string) error {
	var wall, modelT, platformT, firstToken []time.Duration
	chat := ""
	var stopProfile func()
	for i := range o.warm + o.turns {
		if i%o.fresh == 0 || i == o.warm {
			var err error
			if chat, err = b.newChat(ctx); err != nil {
				return err
			}
		}
		if i == o.warm && profile != "" {
			f, err := os.Create(profile)
			if err != nil {
				return err
			}
			if err := pprof.StartCPUProfile(f); err != nil {
				return err
			}
			stopProfile = func() { pprof.StopCPUProfile(); f.Close() }
		}
		before := len(b.model.Requests())
		firstBefore := len(b.model.FirstChunkSentAt())
		t, err := b.turn(ctx, chat, message)
		if err != nil {
			return fmt.Errorf("%s turn %d: %w", kind, i, err)
		}
		reqs, err := b.served(before)
		if err != nil {
			return fmt.Errorf("%s turn %d: %w", kind, i, err)
		}
		firsts := b.model.FirstChunkSentAt()[firstBefore:]
		var served time.Duration
		for _, r := range reqs {
			served += r.Served
		}
		if want := 1; kind != "text only" {
			want = 2
			if len(reqs) != want {
				return fmt.Errorf("%s turn %d: %d model requests, want %d", kind, i, len(reqs), want)
			}
		}
		if len(firsts) != 1 {
			return fmt.Errorf("%s turn %d: %d answers with content, want 1", kind, i, len(firsts))
		}
		if i < o.warm {
			continue
		}
		w := t.end.Sub(t.start)
		wall = append(wall, w)
		modelT = append(modelT, served)
		platformT = append(platformT, w-served)
		firstToken = append(firstToken, t.firstDelta.Sub(firsts[0]))
	}
	if stopProfile != nil {
		stopProfile()
	}
	b.record("turn, "+kind+": wall time", "", wall)
	b.record("turn, "+kind+": model time (scripted server)", "", modelT)
	b.record("turn, "+kind+": platform time (wall − model)", target, platformT)
	b.record("turn, "+kind+": first token forwarded", "≤ 20 ms", firstToken)
	return nil
}

// served answers the model's requests from index before on, once each has
// its Served time: the scripted server records it right after flushing
// data: [DONE], which the platform may have read, and the turn ended,
// first.
func (b *bench) served(before int) ([]scriptedmodel.Request, error) {
	deadline := time.Now().Add(5 * time.Second)
	for {
		reqs := b.model.Requests()[before:]
		if !slices.ContainsFunc(reqs, func(r scriptedmodel.Request) bool { return r.Served == 0 }) {
			return reqs, nil
		}
		if time.Now().After(deadline) {
			return nil, errors.New("a model request has no served time")
		}
		time.Sleep(100 * time.Microsecond)
	}
}

// toolsAlone measures a tool call as a turn makes it (a Target of its
// own per turn, as the caller, here through the gateway over HTTP with the
// bench's workspace token), without and with the workspace's shared
// discovery (tools.DiscoveryCache), the two interleaved so that both see
// the same machine: the before and after of the cache.
func (b *bench) toolsAlone(ctx context.Context, n int) error {
	reg, err := tools.NewRegistry(tools.Builtin()...)
	if err != nil {
		return err
	}
	cs, cfg, err := b.kube(ctx)
	if err != nil {
		return err
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return err
	}
	proj := store.Project{ID: "bench", WorkspaceID: b.wsID, Name: project}
	scope := tenancy.WorkspaceScope{Principal: httpapi.Principal{Email: platform.Email}, Workspace: store.Workspace{ID: b.wsID},
		Projects: []store.Project{proj}, Access: authz.WorkspaceAccess{Projects: map[string]authz.Level{proj.ID: authz.Admin}}}
	cache := tools.NewDiscoveryCache(0, nil)
	for _, c := range []struct{ tool, args string }{
		{"get_resource", `{"kind":"deployment","name":"app-00"}`},
		{"list_resources", `{"kind":"pods"}`},
	} {
		var before, after []time.Duration
		for i := range n + 1 {
			for _, shared := range []*tools.DiscoveryCache{nil, cache} {
				tg := &tools.Target{Client: &kube.Client{Kube: cs, Dynamic: dyn, Config: cfg, Warnings: &kube.Warnings{}},
					Scope: scope, Project: project, Discovery: shared}
				start := time.Now()
				if _, err := reg.Call(ctx, tg, c.tool, json.RawMessage(c.args)); err != nil {
					return fmt.Errorf("%s alone: %w", c.tool, err)
				}
				d := time.Since(start)
				switch {
				case i == 0: // warm
				case shared == nil:
					before = append(before, d)
				default:
					after = append(after, d)
				}
			}
		}
		b.record("tool "+c.tool+" alone, discovery per call (before)", "", before)
		b.record("tool "+c.tool+" alone, shared discovery (after)", "", after)
	}
	return nil
}

// firstDeltaBare measures the model client alone forwarding the first
// token (no platform around it): the part of the first-token figure that
// is the loopback hop and the SSE parsing of the provider's stream.
func (b *bench) firstDeltaBare(ctx context.Context, n int) error {
	c, err := llm.New(llm.Provider{Name: "scripted", BaseURL: b.model.URL(), Model: "scripted-1"}, nil)
	if err != nil {
		return err
	}
	req := llm.Request{Messages: []llm.Message{{Role: "system", Content: "You help with Kubernetes."}, {Role: "user", Content: "say hello (text)"}}}
	var ds []time.Duration
	for i := range n + 1 {
		firstBefore := len(b.model.FirstChunkSentAt())
		var got time.Time
		if _, err := c.Stream(ctx, req, func(string) {
			if got.IsZero() {
				got = time.Now()
			}
		}); err != nil {
			return fmt.Errorf("model client alone: %w", err)
		}
		if i == 0 {
			continue
		}
		ds = append(ds, got.Sub(b.model.FirstChunkSentAt()[firstBefore]))
	}
	b.record("first token, the model client alone (llm.Client.Stream)", "", ds)
	return nil
}

// diagnoseRuns measures GET …/projects/{project}/diagnose, and the same
// analyzers run here over lists sent straight through the gateway (HTTP,
// the bench's own workspace token): the route's own cost is the
// difference.
func (b *bench) diagnoseRuns(ctx context.Context, n int) error {
	path := b.wsPath + "/projects/" + project + "/diagnose"
	var d api.Diagnosis
	if err := b.pl.Expect(ctx, http.MethodGet, path, b.pl.Token, nil, http.StatusOK, &d); err != nil {
		return err
	}
	kinds := map[string]int{}
	for _, f := range d.Findings {
		kinds[f.Analyzer]++
	}
	fmt.Printf("diagnosis: %d objects examined (events included) in %v, %d findings %v, skipped %v\n", d.Objects, d.Namespaces, len(d.Findings), kinds, d.Skipped)
	if err := b.measure(ctx, fmt.Sprintf("GET …/projects/{project}/diagnose (%d objects)", d.Objects), "≤ 200 ms", n, func() error {
		return b.pl.Expect(ctx, http.MethodGet, path, b.pl.Token, nil, http.StatusOK, nil)
	}); err != nil {
		return err
	}
	cs, _, err := b.kube(ctx)
	if err != nil {
		return err
	}
	var snap *analyze.Snapshot
	if err := b.measure(ctx, "analyze.Collect through the gateway (HTTP), the lists alone", "", n, func() error {
		var err error
		snap, err = analyze.Collect(ctx, cs, []string{project}, time.Now())
		return err
	}); err != nil {
		return err
	}
	return b.measure(ctx, "analyze.Run over that snapshot, the analyzers alone", "", n, func() error {
		analyze.Run(snap)
		return nil
	})
}

// waitFor polls ok every 200 ms until it is true, it fails, or d passes.
func waitFor(ctx context.Context, d time.Duration, what string, ok func() (bool, error)) error {
	deadline := time.Now().Add(d)
	for {
		done, err := ok()
		if err != nil {
			return fmt.Errorf("waiting for %s: %w", what, err)
		}
		if done {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %s waiting for %s", d, what)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// load says how busy the machine was while the figures were measured:
// the cores the whole machine, this process (platform, client, scripted
// model) and its child processes (the workspace's kube-apiserver, etcd,
// controllers, kwok) used, from /proc; the rest is other users of the
// machine.
type load struct {
	start                     time.Time
	machine0, own0, children0 time.Duration
}

func startLoad() *load {
	l := &load{start: time.Now()}
	l.machine0, l.own0, l.children0 = machineBusy(), ownCPU(), childrenCPU()
	return l
}

func (l *load) String() string {
	wall := time.Since(l.start).Seconds()
	machine := (machineBusy() - l.machine0).Seconds() / wall
	own := (ownCPU() - l.own0).Seconds() / wall
	children := (childrenCPU() - l.children0).Seconds() / wall
	la, _ := os.ReadFile("/proc/loadavg")
	return fmt.Sprintf("while measuring (%.0f s) cores busy: the machine %.2f, this process (platform, client, scripted model) %.2f, "+
		"its workspace's processes (kube-apiserver, etcd, controllers, kwok) %.2f, other users of the machine %.2f; load average now %s",
		wall, machine, own, children, machine-own-children, strings.TrimSpace(string(la)))
}

// childrenCPU is the CPU time of this process's descendants still
// running, from /proc/<pid>/stat (utime and stime, in USER_HZ ticks).
func childrenCPU() time.Duration {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	type proc struct {
		ppid  int
		ticks int64
	}
	procs := map[int]proc{}
	for _, e := range ents {
		var pid int
		if _, err := fmt.Sscan(e.Name(), &pid); err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// The fields after the command (which may hold spaces), from the
		// third: state, ppid, …, utime (14th) and stime (15th).
		_, rest, ok := bytes.Cut(b, []byte(") "))
		f := strings.Fields(string(rest))
		if !ok || len(f) < 13 {
			continue
		}
		var p proc
		var ut, st int64
		fmt.Sscan(f[1], &p.ppid)
		fmt.Sscan(f[11], &ut)
		fmt.Sscan(f[12], &st)
		p.ticks = ut + st
		procs[pid] = p
	}
	self := os.Getpid()
	var ticks int64
	for pid, p := range procs {
		for anc, n := p.ppid, 0; anc > 1 && n < 64; anc, n = procs[anc].ppid, n+1 {
			if anc == self {
				ticks += procs[pid].ticks
				break
			}
		}
	}
	return time.Duration(ticks) * 10 * time.Millisecond
}

// machineBusy is the machine's busy CPU time (all but idle, iowait and
// steal) from /proc/stat.
func machineBusy() time.Duration {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	f := strings.Fields(string(line))
	var ticks int64
	for i, v := range f[1:min(len(f), 9)] {
		if i == 3 || i == 4 || i == 7 {
			continue
		}
		var n int64
		fmt.Sscan(v, &n)
		ticks += n
	}
	return time.Duration(ticks) * 10 * time.Millisecond // USER_HZ = 100
}

func ownCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
