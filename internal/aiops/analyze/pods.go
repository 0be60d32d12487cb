package analyze

import (
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/hexabase/hexabase-ai/internal/api"
)

// Thresholds of the pod analyzers.
const (
	// recentEvents: events last seen longer ago say nothing of now.
	recentEvents = 15 * time.Minute
	// notReadyFor: a running container not ready for this long fails its
	// readiness probe.
	notReadyFor = 2 * time.Minute
	// stuckTerminating: a pod still there this long after its deletion
	// was due is stuck.
	stuckTerminating = 5 * time.Minute
)

// recent keeps the events last seen within d of now.
func (x *index) recent(evs []*corev1.Event, d time.Duration) []*corev1.Event {
	var out []*corev1.Event
	for _, e := range evs {
		if x.s.Now.Sub(lastSeen(e)) <= d {
			out = append(out, e)
		}
	}
	return out
}

// podCondition returns a pod's condition of the type, nil if absent.
func podCondition(p *corev1.Pod, t corev1.PodConditionType) *corev1.PodCondition {
	for i := range p.Status.Conditions {
		if p.Status.Conditions[i].Type == t {
			return &p.Status.Conditions[i]
		}
	}
	return nil
}

// unschedulable: pending pods the scheduler could not place, with its
// reason.
func unschedulable(x *index) []api.Finding {
	var issues []podIssue
	for _, p := range x.livePods() {
		c := podCondition(p, corev1.PodScheduled)
		if p.Status.Phase != corev1.PodPending || c == nil || c.Status != corev1.ConditionFalse || c.Reason != corev1.PodReasonUnschedulable {
			continue
		}
		owner, hasOwner := x.topOwner(p.Namespace, &p.ObjectMeta)
		ev := []string{conditionLine(string(c.Type), string(c.Status), c.Reason, c.Message)}
		evs := x.eventsOf(podRef(p), corev1.EventTypeWarning, "FailedScheduling")
		ev = append(ev, eventLines(x.s.Now, evs, 1)...)
		msg := c.Message
		if len(evs) > 0 {
			msg += " " + evs[0].Message
		}
		issues = append(issues, podIssue{pod: p, severity: api.SeverityCritical, one: "cannot be scheduled", many: "cannot be scheduled",
			evidence: ev, suggestion: x.schedulingHint(p, owner, hasOwner, msg)})
	}
	return x.podFindings("unschedulable", issues)
}

// schedulingHint turns the scheduler's reason into a fix.
func (x *index) schedulingHint(p *corev1.Pod, owner ref, hasOwner bool, msg string) string {
	for _, res := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		if !strings.Contains(msg, "Insufficient "+string(res)) {
			continue
		}
		for _, c := range p.Spec.Containers {
			if q, ok := c.Resources.Requests[res]; ok && !q.IsZero() {
				return fmt.Sprintf("no node has enough %s free for the pod: lower the request (container %s asks %s), e.g. %s, or free capacity by scaling down other workloads",
					res, c.Name, q.String(), x.resourcesHint(owner, hasOwner, p.Namespace, c.Name, "--"+string(res), half(q)))
			}
		}
		return fmt.Sprintf("no node has enough %s free for the pod: lower its containers' %s requests or free capacity by scaling down other workloads", res, res)
	}
	switch {
	case containsAny(msg, "node affinity/selector", "node selector", "didn't match Pod's node affinity"):
		sel := selectorText(p.Spec.NodeSelector)
		if sel == "" {
			sel = "its node affinity"
		}
		return "no node carries the labels the pod asks for (" + sel + "): fix or remove its nodeSelector or node affinity"
	case containsAny(msg, "untolerated taint", "had taint", "taint"):
		return "the nodes are tainted and the pod does not tolerate their taints: add a matching toleration, or run it on other nodes"
	case containsAny(msg, "PersistentVolumeClaim", "persistentvolumeclaim", "volume node affinity"):
		return "a PersistentVolumeClaim of the pod is missing, not bound or on another zone: create or fix the claim (see the pvc-pending findings)"
	case strings.Contains(msg, "Too many pods"):
		return "the nodes are at their pod limit: scale down other workloads or add nodes"
	case strings.Contains(msg, "anti-affinity"), strings.Contains(msg, "pod affinity"):
		return "its pod affinity or anti-affinity rules cannot be met: relax them (preferred instead of required) or lower the replicas"
	case strings.Contains(msg, "free ports"):
		return "the hostPort it asks for is taken on every node: drop the hostPort and reach it through a Service"
	}
	return "read the scheduler's reason above and change the pod's requests, node selector, affinity or tolerations so a node fits"
}

// half is half a quantity, in its own format: 2 → 1, 500m → 250m.
func half(q resource.Quantity) string {
	if q.Format == resource.BinarySI {
		return resource.NewQuantity(q.Value()/2, resource.BinarySI).String()
	}
	return resource.NewMilliQuantity(q.MilliValue()/2, q.Format).String()
}

// mounts: pods not running because a volume cannot be mounted or
// attached.
func mounts(x *index) []api.Finding {
	var issues []podIssue
	for _, p := range x.livePods() {
		if p.Status.Phase != corev1.PodPending {
			continue
		}
		evs := x.recent(x.eventsOf(podRef(p), corev1.EventTypeWarning, "FailedMount", "FailedAttachVolume", "FailedMapVolume"), recentEvents)
		if len(evs) == 0 {
			continue
		}
		msg := evs[0].Message
		var sug string
		if m := missingRefRe.FindStringSubmatch(msg); m != nil {
			kind := "Secret"
			if strings.EqualFold(m[1], "configmap") {
				kind = "ConfigMap"
			}
			sug = fmt.Sprintf("the %s %q a volume refers to does not exist in %s: create it or fix the volume (or mark it optional)", kind, m[2], p.Namespace)
		} else if containsAny(msg, "persistentvolumeclaim", "PersistentVolumeClaim") {
			sug = "the PersistentVolumeClaim of a volume is missing or not bound: create it or fix the claim name (see the pvc-pending findings)"
		} else {
			sug = "fix the volume the message names: its source must exist and be reachable from the node"
		}
		issues = append(issues, podIssue{pod: p, severity: api.SeverityCritical, one: "cannot mount its volumes", many: "cannot mount their volumes",
			evidence: eventLines(x.s.Now, evs, 2), suggestion: sug})
	}
	return x.podFindings("mounts", issues)
}

// probes: pods with recent Unhealthy events, or running containers kept
// not ready by their readiness probe.
func probes(x *index) []api.Finding {
	var issues []podIssue
	for _, p := range x.livePods() {
		var kinds []string
		var ev []string
		unhealthy := x.recent(x.eventsOf(podRef(p), corev1.EventTypeWarning, "Unhealthy"), recentEvents)
		for _, e := range unhealthy {
			for _, k := range []string{"Readiness", "Liveness", "Startup"} {
				if strings.HasPrefix(e.Message, k+" probe") && !slices.Contains(kinds, k) {
					kinds = append(kinds, k)
				}
			}
		}
		ev = append(ev, eventLines(x.s.Now, unhealthy, 2)...)
		var probeText string
		for _, c := range containersOf(p) {
			if c.init || c.spec == nil {
				continue
			}
			if c.spec.ReadinessProbe != nil && probeText == "" {
				probeText = "readiness probe of " + c.name + ": " + describeProbe(c.spec.ReadinessProbe)
			}
			if c.spec.LivenessProbe != nil && probeText == "" && slices.Contains(kinds, "Liveness") {
				probeText = "liveness probe of " + c.name + ": " + describeProbe(c.spec.LivenessProbe)
			}
			r := c.st.State.Running
			if r == nil || c.st.Ready || c.spec.ReadinessProbe == nil || x.s.Now.Sub(r.StartedAt.Time) < notReadyFor {
				continue
			}
			ev = append(ev, fmt.Sprintf("%s running for %s but not ready", c.label(), age(x.s.Now.Sub(r.StartedAt.Time))))
			if !slices.Contains(kinds, "Readiness") {
				kinds = append(kinds, "Readiness")
			}
		}
		if len(kinds) == 0 {
			continue
		}
		slices.Sort(kinds)
		what := strings.ToLower(strings.Join(kinds, " and "))
		if probeText != "" {
			ev = append(ev, probeText)
		}
		sug := "make the probed endpoint answer, or fix the probe's path, port or command; if the application starts slowly, raise initialDelaySeconds or add a startupProbe"
		if slices.Contains(kinds, "Liveness") {
			sug += "; a failing liveness probe restarts the container"
		}
		one, many := "fails its "+what+" probe", "fail their "+what+" probe"
		if len(kinds) > 1 {
			one, many = one+"s", many+"s"
		}
		issues = append(issues, podIssue{pod: p, group: what, severity: api.SeverityWarning, one: one, many: many, evidence: ev, suggestion: sug})
	}
	return x.podFindings("probes", issues)
}

// describeProbe writes a probe: `GET :8080/healthz every 10s, timeout
// 1s, after 0s`.
func describeProbe(pr *corev1.Probe) string {
	var what string
	switch {
	case pr.HTTPGet != nil:
		what = "GET :" + pr.HTTPGet.Port.String() + pr.HTTPGet.Path
	case pr.TCPSocket != nil:
		what = "TCP :" + pr.TCPSocket.Port.String()
	case pr.GRPC != nil:
		what = fmt.Sprintf("gRPC :%d", pr.GRPC.Port)
	case pr.Exec != nil:
		what = clip("exec " + strings.Join(pr.Exec.Command, " "))
	default:
		what = "probe"
	}
	period, timeout, threshold := pr.PeriodSeconds, pr.TimeoutSeconds, pr.FailureThreshold
	if period == 0 { // the API's defaults
		period = 10
	}
	if timeout == 0 {
		timeout = 1
	}
	if threshold == 0 {
		threshold = 3
	}
	return fmt.Sprintf("%s every %ds, timeout %ds, initial delay %ds, failure threshold %d", what, period, timeout, pr.InitialDelaySeconds, threshold)
}

// podFailed: failed pods outside Jobs (Jobs have their analyzer),
// evicted ones for instance; info when a controller replaced it.
func podFailed(x *index) []api.Finding {
	var issues []podIssue
	for _, p := range x.livePods() {
		if p.Status.Phase != corev1.PodFailed {
			continue
		}
		owner, hasOwner := x.topOwner(p.Namespace, &p.ObjectMeta)
		if hasOwner && (owner.kind == "Job" || owner.kind == "CronJob") {
			continue
		}
		reason := p.Status.Reason
		if reason == "" {
			reason = "Failed"
		}
		line := "pod status Failed"
		if p.Status.Reason != "" {
			line += " " + p.Status.Reason
		}
		if m := clip(p.Status.Message); m != "" {
			line += ": " + m
		}
		ev := []string{line}
		for _, c := range containersOf(p) {
			if t := c.st.State.Terminated; t != nil && len(ev) < 3 {
				ev = append(ev, c.label()+" terminated "+terminatedText(x.s.Now, t))
			}
		}
		sev := api.SeverityWarning
		if hasOwner {
			sev = api.SeverityInfo
		}
		sug := "see why it failed above; delete the failed pod when done: `kubectl -n " + p.Namespace + " delete pod " + p.Name + "`"
		if reason == "Evicted" {
			sug = "the node ran short of a resource and evicted it: set its requests close to its real use so it is placed where there is room; delete the evicted pod: `kubectl -n " + p.Namespace + " delete pod " + p.Name + "`"
		}
		if hasOwner {
			sug += " (its " + owner.kind + " " + owner.name + " made a replacement)"
		}
		issues = append(issues, podIssue{pod: p, group: reason, severity: sev, one: "failed: " + reason, many: "failed: " + reason, evidence: ev, suggestion: sug})
	}
	return x.podFindings("pod-failed", issues)
}

// podTerminating: pods still there stuckTerminating after their deletion
// was due (finalizers, an unreachable node).
func podTerminating(x *index) []api.Finding {
	var issues []podIssue
	for i := range x.s.Pods {
		p := &x.s.Pods[i]
		if p.DeletionTimestamp == nil || x.s.Now.Sub(p.DeletionTimestamp.Time) < stuckTerminating {
			continue
		}
		ev := []string{"deletion was due " + ago(x.s.Now, p.DeletionTimestamp.Time)}
		sug := "its node may be unreachable: force the deletion: `kubectl -n " + p.Namespace + " delete pod " + p.Name + " --grace-period=0 --force`"
		if len(p.Finalizers) > 0 {
			ev = append(ev, "finalizers: "+names(p.Finalizers))
			sug = "its finalizers keep it: if the controller that removes them is gone, remove them: `kubectl -n " + p.Namespace + " patch pod " + p.Name +
				` --type merge -p '{"metadata":{"finalizers":null}}'` + "`"
		}
		if p.Spec.NodeName != "" {
			ev = append(ev, "on node "+p.Spec.NodeName)
		}
		issues = append(issues, podIssue{pod: p, severity: api.SeverityWarning, one: "is stuck terminating", many: "are stuck terminating", evidence: ev, suggestion: sug})
	}
	return x.podFindings("pod-terminating", issues)
}
