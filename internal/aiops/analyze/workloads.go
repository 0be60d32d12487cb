package analyze

import (
	"fmt"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/hexabase/hexabase-ai/internal/api"
)

// stalledRollout: a rollout whose Progressing condition has not moved for
// this long is stalled.
const stalledRollout = 10 * time.Minute

// replicasOf is a spec's replicas, 1 when unset (the API's default).
func replicasOf(r *int32) int32 {
	if r == nil {
		return 1
	}
	return *r
}

// podState says in a few words how a pod is: "Pending, container web
// waiting ImagePullBackOff", "Running, not ready".
func podState(p *corev1.Pod) string {
	out := string(p.Status.Phase)
	if out == "" {
		out = "Unknown"
	}
	if p.Status.Reason != "" {
		out += " " + p.Status.Reason
	}
	if c := podCondition(p, corev1.PodScheduled); c != nil && c.Status == corev1.ConditionFalse {
		return out + ", not scheduled: " + c.Reason
	}
	for _, c := range containersOf(p) {
		if w := c.st.State.Waiting; w != nil && w.Reason != "" && w.Reason != "PodInitializing" {
			return out + ", " + c.label() + " waiting " + w.Reason
		}
	}
	if p.Status.Phase == corev1.PodRunning {
		if c := podCondition(p, corev1.PodReady); c != nil && c.Status == corev1.ConditionTrue {
			return out + ", ready"
		}
		return out + ", not ready"
	}
	return out
}

// podReady tells whether a pod is Ready.
func podReady(p *corev1.Pod) bool {
	c := podCondition(p, corev1.PodReady)
	return c != nil && c.Status == corev1.ConditionTrue
}

// unreadyPods quotes the state of at most 3 of the pods that are not
// ready, and returns the first waiting reason among them.
func unreadyPods(pods []*corev1.Pod) (lines []string, reason string) {
	for _, p := range pods {
		if podReady(p) || p.DeletionTimestamp != nil {
			continue
		}
		st := podState(p)
		if reason == "" {
			if _, r, ok := strings.Cut(st, " waiting "); ok {
				reason = r
			} else if _, r, ok := strings.Cut(st, "not scheduled: "); ok {
				reason = r
			}
		}
		if len(lines) < 3 {
			lines = append(lines, "pod "+p.Name+": "+st)
		}
	}
	return lines, reason
}

func deploymentCondition(d *appsv1.Deployment, t appsv1.DeploymentConditionType) *appsv1.DeploymentCondition {
	for i := range d.Status.Conditions {
		if d.Status.Conditions[i].Type == t {
			return &d.Status.Conditions[i]
		}
	}
	return nil
}

func deploymentCounts(d *appsv1.Deployment) string {
	return fmt.Sprintf("replicas: %d desired, %d updated, %d ready, %d available", replicasOf(d.Spec.Replicas),
		d.Status.UpdatedReplicas, d.Status.ReadyReplicas, d.Status.AvailableReplicas)
}

// deploymentUnavailable: Deployments with fewer available replicas than
// desired; critical when none is available.
func deploymentUnavailable(x *index) []api.Finding {
	var out []api.Finding
	for i := range x.s.Deployments {
		d := &x.s.Deployments[i]
		desired := replicasOf(d.Spec.Replicas)
		if desired == 0 || d.Status.AvailableReplicas >= desired {
			continue
		}
		self := ref{"Deployment", d.Namespace, d.Name}
		f := api.Finding{Analyzer: "deployment-unavailable", Severity: api.SeverityWarning, Objects: []api.FindingObject{self.wire()},
			Title: fmt.Sprintf("Deployment %s has %d of %d replicas unavailable", d.Name, desired-d.Status.AvailableReplicas, desired)}
		if d.Status.AvailableReplicas == 0 {
			f.Severity = api.SeverityCritical
			f.Title = fmt.Sprintf("Deployment %s has no available replica (0 of %d)", d.Name, desired)
		}
		ev := []string{deploymentCounts(d)}
		if c := deploymentCondition(d, appsv1.DeploymentAvailable); c != nil && c.Status != corev1.ConditionTrue {
			ev = append(ev, conditionLine(string(c.Type), string(c.Status), c.Reason, c.Message))
		}
		rf := deploymentCondition(d, appsv1.DeploymentReplicaFailure)
		if rf != nil && rf.Status == corev1.ConditionTrue {
			ev = append(ev, conditionLine(string(rf.Type), string(rf.Status), rf.Reason, rf.Message))
		}
		pods := x.podsOf[self]
		lines, reason := unreadyPods(pods)
		ev = append(ev, lines...)
		switch {
		case reason != "":
			f.Suggestion = "its pods are not available (" + reason + "): fix that first, see the findings about its pods"
		case rf != nil && rf.Status == corev1.ConditionTrue:
			f.Suggestion = "its ReplicaSet cannot create pods (" + rf.Reason + "): see the quota-refusal, limitrange or admission-refusal findings"
		case len(pods) == 0:
			f.Suggestion = "it has no pod: look at the events of it and its ReplicaSets (`kubectl -n " + d.Namespace + " describe deployment " + d.Name + "`)"
		default:
			f.Suggestion = "its pods are not ready yet or fail their readiness probes: see the findings about its pods"
		}
		if a := x.app(self); a != "" {
			f.Suggestion += "; `hks app get " + a + " --project " + d.Namespace + "` shows its conditions and pods"
		}
		f.Evidence = bound(ev)
		out = append(out, f)
	}
	return out
}

// deploymentRollout: rollouts past their progress deadline (critical),
// without progress for stalledRollout (warning), or paused (info).
func deploymentRollout(x *index) []api.Finding {
	var out []api.Finding
	for i := range x.s.Deployments {
		d := &x.s.Deployments[i]
		if d.Status.ObservedGeneration < d.Generation {
			continue // the controller has not seen the latest spec
		}
		desired := replicasOf(d.Spec.Replicas)
		self := ref{"Deployment", d.Namespace, d.Name}
		pending := d.Status.UpdatedReplicas < desired || d.Status.Replicas > d.Status.UpdatedReplicas
		prog := deploymentCondition(d, appsv1.DeploymentProgressing)
		f := api.Finding{Analyzer: "deployment-rollout", Objects: []api.FindingObject{self.wire()}}
		undo := "`kubectl -n " + d.Namespace + " rollout undo deployment/" + d.Name + "`"
		switch {
		case prog != nil && prog.Status == corev1.ConditionFalse && prog.Reason == "ProgressDeadlineExceeded":
			f.Severity = api.SeverityCritical
			f.Title = "Deployment " + d.Name + "'s rollout is stuck: progress deadline exceeded"
			f.Suggestion = "its new pods do not become available: fix what stops them (see the findings about its pods) and apply the change again, or roll back: " + undo
		case d.Spec.Paused && pending:
			f.Severity = api.SeverityInfo
			f.Title = "Deployment " + d.Name + "'s rollout is paused"
			f.Suggestion = "resume it when ready: `kubectl -n " + d.Namespace + " rollout resume deployment/" + d.Name + "`"
		case !d.Spec.Paused && pending && prog != nil && x.s.Now.Sub(prog.LastUpdateTime.Time) >= stalledRollout:
			f.Severity = api.SeverityWarning
			f.Title = "Deployment " + d.Name + "'s rollout has not progressed for " + age(x.s.Now.Sub(prog.LastUpdateTime.Time))
			f.Suggestion = "its new pods do not become available: fix what stops them (see the findings about its pods), or roll back: " + undo
		default:
			continue
		}
		ev := []string{deploymentCounts(d)}
		if d.Status.Replicas > d.Status.UpdatedReplicas {
			ev[0] += fmt.Sprintf(", %d old", d.Status.Replicas-d.Status.UpdatedReplicas)
		}
		if prog != nil {
			ev = append(ev, conditionLine(string(prog.Type), string(prog.Status), prog.Reason, prog.Message))
		}
		lines, _ := unreadyPods(x.podsOf[self])
		f.Evidence = bound(append(ev, lines...))
		out = append(out, f)
	}
	return out
}

// statefulSetUnready: StatefulSets with fewer ready replicas than
// desired; critical when none is ready.
func statefulSetUnready(x *index) []api.Finding {
	var out []api.Finding
	for i := range x.s.StatefulSets {
		st := &x.s.StatefulSets[i]
		desired := replicasOf(st.Spec.Replicas)
		if desired == 0 || st.Status.ReadyReplicas >= desired {
			continue
		}
		self := ref{"StatefulSet", st.Namespace, st.Name}
		f := api.Finding{Analyzer: "statefulset", Severity: api.SeverityWarning, Objects: []api.FindingObject{self.wire()},
			Title: fmt.Sprintf("StatefulSet %s has %d of %d replicas ready", st.Name, st.Status.ReadyReplicas, desired)}
		if st.Status.ReadyReplicas == 0 {
			f.Severity = api.SeverityCritical
		}
		ev := []string{fmt.Sprintf("replicas: %d desired, %d created, %d ready, %d updated", desired, st.Status.Replicas, st.Status.ReadyReplicas, st.Status.UpdatedReplicas)}
		ev = append(ev, eventLines(x.s.Now, x.recent(x.eventsOf(self, corev1.EventTypeWarning), recentEvents), 1)...)
		pods := x.podsOf[self]
		lines, reason := unreadyPods(pods)
		ev = append(ev, lines...)
		f.Suggestion = "a StatefulSet starts its pods in order and waits for each to be ready: fix the first pod that is not ready (see the findings about its pods)"
		if reason != "" {
			f.Suggestion = "its pods are not ready (" + reason + "): fix that first, see the findings about its pods; a StatefulSet starts its pods in order and waits for each to be ready"
		} else if st.Status.Replicas < desired && len(pods) < int(desired) {
			f.Suggestion = "it cannot create all its pods: see its events (`kubectl -n " + st.Namespace + " describe statefulset " + st.Name + "`) and the quota-refusal or admission-refusal findings"
		}
		f.Evidence = bound(ev)
		out = append(out, f)
	}
	return out
}
