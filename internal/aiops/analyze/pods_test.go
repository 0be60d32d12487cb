package analyze

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/hexabase/hexabase-ai/internal/api"
)

// unscheduled makes a pod pending, PodScheduled=False Unschedulable with
// the scheduler's message.
func unscheduled(msg string) func(*corev1.Pod) {
	return func(p *corev1.Pod) {
		p.Status = corev1.PodStatus{Phase: corev1.PodPending, Conditions: []corev1.PodCondition{
			{Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: corev1.PodReasonUnschedulable, Message: msg}}}
	}
}

func TestUnschedulable(t *testing.T) {
	deps, rss := webApp(1)
	const cpuMsg = "0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod."
	const selMsg = "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector."
	bigCPU := func(p *corev1.Pod) {
		p.Spec.Containers[0].Resources.Requests = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2")}
	}
	runTable(t, "unschedulable", []tc{
		{name: "scheduled", s: Snapshot{Deployments: deps, ReplicaSets: rss, Pods: []corev1.Pod{pod("web-5d9c-a")}}},
		{name: "not enough cpu",
			s: Snapshot{Deployments: deps, ReplicaSets: rss, Pods: []corev1.Pod{pod("web-5d9c-a", bigCPU, unscheduled(cpuMsg))},
				Events: []corev1.Event{event("Pod", "web-5d9c-a", "Warning", "FailedScheduling", cpuMsg, 5, time.Minute)}},
			want: []api.Finding{{Analyzer: "unschedulable", Severity: api.SeverityCritical, Title: "Pod web-5d9c-a cannot be scheduled",
				Objects:  objects("Pod", "web-5d9c-a", "Deployment", "web"),
				Evidence: []string{"condition PodScheduled=False Unschedulable: " + cpuMsg, "event Warning FailedScheduling (x5, last 1m ago): " + cpuMsg},
				Suggestion: "no node has enough cpu free for the pod: lower the request (container web asks 2), e.g. " +
					"`hks app update web --cpu 1 --project shop`, or free capacity by scaling down other workloads"}}},
		{name: "no node with the labels",
			s: Snapshot{Pods: []corev1.Pod{pod("tool", bare, unscheduled(selMsg), func(p *corev1.Pod) { p.Spec.NodeSelector = map[string]string{"disktype": "ssd"} })}},
			want: []api.Finding{{Analyzer: "unschedulable", Severity: api.SeverityCritical, Title: "Pod tool cannot be scheduled",
				Objects:    objects("Pod", "tool"),
				Evidence:   []string{"condition PodScheduled=False Unschedulable: " + selMsg},
				Suggestion: "no node carries the labels the pod asks for (disktype=ssd): fix or remove its nodeSelector or node affinity"}}},
		{name: "being deleted", s: Snapshot{Pods: []corev1.Pod{pod("tool", bare, unscheduled(selMsg), func(p *corev1.Pod) {
			d := before(time.Second)
			p.DeletionTimestamp = &d
		})}}},
	})
}

func TestMounts(t *testing.T) {
	deps, rss := webApp(1)
	const msg = `MountVolume.SetUp failed for volume "config" : configmap "web-config" not found`
	runTable(t, "mounts", []tc{
		{name: "running, an old event", s: Snapshot{Deployments: deps, ReplicaSets: rss, Pods: []corev1.Pod{pod("web-5d9c-a")},
			Events: []corev1.Event{event("Pod", "web-5d9c-a", "Warning", "FailedMount", msg, 2, 40*time.Minute)}}},
		{name: "a missing ConfigMap",
			s: Snapshot{Deployments: deps, ReplicaSets: rss, Pods: []corev1.Pod{pod("web-5d9c-a", waiting("ContainerCreating", ""))},
				Events: []corev1.Event{event("Pod", "web-5d9c-a", "Warning", "FailedMount", msg, 6, 30*time.Second)}},
			want: []api.Finding{{Analyzer: "mounts", Severity: api.SeverityCritical, Title: "Pod web-5d9c-a cannot mount its volumes",
				Objects:    objects("Pod", "web-5d9c-a", "Deployment", "web"),
				Evidence:   []string{"event Warning FailedMount (x6, last 30s ago): " + msg},
				Suggestion: `the ConfigMap "web-config" a volume refers to does not exist in shop: create it or fix the volume (or mark it optional)`}}},
	})
}

func TestProbes(t *testing.T) {
	deps, rss := webApp(1)
	readiness := func(p *corev1.Pod) {
		p.Spec.Containers[0].ReadinessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromInt32(8080)}}}
	}
	liveness := func(p *corev1.Pod) {
		p.Spec.Containers[0].LivenessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(8080)}}, PeriodSeconds: 5}
	}
	startedAgo := func(d time.Duration) func(*corev1.Pod) {
		return func(p *corev1.Pod) { p.Status.ContainerStatuses[0].State.Running.StartedAt = before(d) }
	}
	const notReadyMsg = "Readiness probe failed: HTTP probe failed with statuscode: 503"
	const livenessMsg = "Liveness probe failed: dial tcp 10.0.0.5:8080: connect: connection refused"
	runTable(t, "probes", []tc{
		{name: "ready", s: Snapshot{Deployments: deps, ReplicaSets: rss, Pods: []corev1.Pod{pod("web-5d9c-a", readiness)}}},
		{name: "just started, not ready yet", s: Snapshot{Deployments: deps, ReplicaSets: rss, Pods: []corev1.Pod{pod("web-5d9c-a", readiness, notReady, startedAgo(30*time.Second))}}},
		{name: "failing events an hour ago", s: Snapshot{Deployments: deps, ReplicaSets: rss, Pods: []corev1.Pod{pod("web-5d9c-a", liveness)},
			Events: []corev1.Event{event("Pod", "web-5d9c-a", "Warning", "Unhealthy", livenessMsg, 3, time.Hour)}}},
		{name: "not ready for 5 minutes",
			s: Snapshot{Deployments: deps, ReplicaSets: rss, Pods: []corev1.Pod{pod("web-5d9c-a", readiness, notReady, startedAgo(5*time.Minute))},
				Events: []corev1.Event{event("Pod", "web-5d9c-a", "Warning", "Unhealthy", notReadyMsg, 30, 10*time.Second)}},
			want: []api.Finding{{Analyzer: "probes", Severity: api.SeverityWarning, Title: "Pod web-5d9c-a fails its readiness probe",
				Objects: objects("Pod", "web-5d9c-a", "Deployment", "web"),
				Evidence: []string{"event Warning Unhealthy (x30, last 10s ago): " + notReadyMsg, "container web running for 5m but not ready",
					"readiness probe of web: GET :8080/healthz every 10s, timeout 1s, initial delay 0s, failure threshold 3"},
				Suggestion: "make the probed endpoint answer, or fix the probe's path, port or command; if the application starts slowly, raise initialDelaySeconds or add a startupProbe"}}},
		{name: "a failing liveness probe",
			s: Snapshot{Deployments: deps, ReplicaSets: rss, Pods: []corev1.Pod{pod("web-5d9c-a", liveness)},
				Events: []corev1.Event{event("Pod", "web-5d9c-a", "Warning", "Unhealthy", livenessMsg, 3, 2*time.Minute)}},
			want: []api.Finding{{Analyzer: "probes", Severity: api.SeverityWarning, Title: "Pod web-5d9c-a fails its liveness probe",
				Objects:  objects("Pod", "web-5d9c-a", "Deployment", "web"),
				Evidence: []string{"event Warning Unhealthy (x3, last 2m ago): " + livenessMsg, "liveness probe of web: TCP :8080 every 5s, timeout 1s, initial delay 0s, failure threshold 3"},
				Suggestion: "make the probed endpoint answer, or fix the probe's path, port or command; if the application starts slowly, raise initialDelaySeconds or add a startupProbe" +
					"; a failing liveness probe restarts the container"}}},
	})
}

func TestPodFailed(t *testing.T) {
	deps, rss := webApp(1)
	evicted := func(p *corev1.Pod) {
		p.Status.Phase, p.Status.Reason = corev1.PodFailed, "Evicted"
		p.Status.Message = "The node was low on resource: memory. Threshold quantity: 100Mi, available: 50Mi."
	}
	runTable(t, "pod-failed", []tc{
		{name: "running", s: Snapshot{Pods: []corev1.Pod{pod("tool", bare)}}},
		{name: "a failed pod of a Job is job-failed's", s: Snapshot{Pods: []corev1.Pod{pod("nightly-1-x", ownedBy("Job", "nightly-1"), evicted)}}},
		{name: "an evicted bare pod",
			s: Snapshot{Pods: []corev1.Pod{pod("tool", bare, evicted)}},
			want: []api.Finding{{Analyzer: "pod-failed", Severity: api.SeverityWarning, Title: "Pod tool failed: Evicted",
				Objects:    objects("Pod", "tool"),
				Evidence:   []string{"pod status Failed Evicted: The node was low on resource: memory. Threshold quantity: 100Mi, available: 50Mi."},
				Suggestion: "the node ran short of a resource and evicted it: set its requests close to its real use so it is placed where there is room; delete the evicted pod: `kubectl -n shop delete pod tool`"}}},
		{name: "an evicted pod of an application, replaced",
			s: Snapshot{Deployments: deps, ReplicaSets: rss, Pods: []corev1.Pod{pod("web-5d9c-a", evicted), pod("web-5d9c-b")}},
			want: []api.Finding{{Analyzer: "pod-failed", Severity: api.SeverityInfo, Title: "Pod web-5d9c-a failed: Evicted",
				Objects:  objects("Pod", "web-5d9c-a", "Deployment", "web"),
				Evidence: []string{"pod status Failed Evicted: The node was low on resource: memory. Threshold quantity: 100Mi, available: 50Mi."},
				Suggestion: "the node ran short of a resource and evicted it: set its requests close to its real use so it is placed where there is room; delete the evicted pod: `kubectl -n shop delete pod web-5d9c-a`" +
					" (its Deployment web made a replacement)"}}},
	})
}

func TestPodTerminating(t *testing.T) {
	deleting := func(due time.Duration, finalizers ...string) func(*corev1.Pod) {
		return func(p *corev1.Pod) {
			d := before(due)
			p.DeletionTimestamp, p.Finalizers = &d, finalizers
			p.Spec.NodeName = "kwok-node-0"
		}
	}
	runTable(t, "pod-terminating", []tc{
		{name: "due a minute ago", s: Snapshot{Pods: []corev1.Pod{pod("tool", bare, deleting(time.Minute))}}},
		{name: "held by a finalizer",
			s: Snapshot{Pods: []corev1.Pod{pod("tool", bare, deleting(12*time.Minute, "example.com/cleanup"))}},
			want: []api.Finding{{Analyzer: "pod-terminating", Severity: api.SeverityWarning, Title: "Pod tool is stuck terminating",
				Objects:  objects("Pod", "tool"),
				Evidence: []string{"deletion was due 12m ago", "finalizers: example.com/cleanup", "on node kwok-node-0"},
				Suggestion: "its finalizers keep it: if the controller that removes them is gone, remove them: " +
					"`kubectl -n shop patch pod tool --type merge -p '{\"metadata\":{\"finalizers\":null}}'`"}}},
		{name: "on a node gone away",
			s: Snapshot{Pods: []corev1.Pod{pod("tool", bare, deleting(time.Hour))}},
			want: []api.Finding{{Analyzer: "pod-terminating", Severity: api.SeverityWarning, Title: "Pod tool is stuck terminating",
				Objects:    objects("Pod", "tool"),
				Evidence:   []string{"deletion was due 1h ago", "on node kwok-node-0"},
				Suggestion: "its node may be unreachable: force the deletion: `kubectl -n shop delete pod tool --grace-period=0 --force`"}}},
	})
}
