package analyze

import (
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/hexabase/hexabase-ai/internal/api"
)

// status sets a Deployment's replica counts.
func status(replicas, updated, ready, available int32) func(*appsv1.Deployment) {
	return func(d *appsv1.Deployment) {
		d.Status.Replicas, d.Status.UpdatedReplicas, d.Status.ReadyReplicas, d.Status.AvailableReplicas = replicas, updated, ready, available
	}
}

// condition sets (or adds) a Deployment condition.
func condition(typ appsv1.DeploymentConditionType, st corev1.ConditionStatus, reason, msg string, updated time.Duration) func(*appsv1.Deployment) {
	return func(d *appsv1.Deployment) {
		c := appsv1.DeploymentCondition{Type: typ, Status: st, Reason: reason, Message: msg, LastUpdateTime: before(updated)}
		for i := range d.Status.Conditions {
			if d.Status.Conditions[i].Type == typ {
				d.Status.Conditions[i] = c
				return
			}
		}
		d.Status.Conditions = append(d.Status.Conditions, c)
	}
}

func TestDeploymentUnavailable(t *testing.T) {
	_, rss := webApp(2)
	pull := waiting("ImagePullBackOff", `Back-off pulling image "nginx:latst"`)
	const quotaMsg = `pods "web-5d9c-c" is forbidden: exceeded quota: hks-quota, requested: pods=1, used: pods=2, limited: pods=2`
	runTable(t, "deployment-unavailable", []tc{
		{name: "available", s: Snapshot{Deployments: []appsv1.Deployment{app("web", 2)}, ReplicaSets: rss, Pods: []corev1.Pod{pod("web-5d9c-a"), pod("web-5d9c-b")}}},
		{name: "scaled to zero", s: Snapshot{Deployments: []appsv1.Deployment{app("web", 0)}}},
		{name: "no replica available: a bad image",
			s: Snapshot{Deployments: []appsv1.Deployment{app("web", 2, status(2, 2, 0, 0),
				condition(appsv1.DeploymentAvailable, corev1.ConditionFalse, "MinimumReplicasUnavailable", "Deployment does not have minimum availability.", time.Minute))},
				ReplicaSets: rss, Pods: []corev1.Pod{pod("web-5d9c-a", pull), pod("web-5d9c-b", pull)}},
			want: []api.Finding{{Analyzer: "deployment-unavailable", Severity: api.SeverityCritical, Title: "Deployment web has no available replica (0 of 2)",
				Objects: objects("Deployment", "web"),
				Evidence: []string{"replicas: 2 desired, 2 updated, 0 ready, 0 available",
					"condition Available=False MinimumReplicasUnavailable: Deployment does not have minimum availability.",
					"pod web-5d9c-a: Pending, container web waiting ImagePullBackOff", "pod web-5d9c-b: Pending, container web waiting ImagePullBackOff"},
				Suggestion: "its pods are not available (ImagePullBackOff): fix that first, see the findings about its pods; `hks app get web --project shop` shows its conditions and pods"}}},
		{name: "one replica refused by the quota",
			s: Snapshot{Deployments: []appsv1.Deployment{app("web", 3, status(2, 2, 2, 2),
				condition(appsv1.DeploymentReplicaFailure, corev1.ConditionTrue, "FailedCreate", quotaMsg, time.Minute))},
				ReplicaSets: rss, Pods: []corev1.Pod{pod("web-5d9c-a"), pod("web-5d9c-b")}},
			want: []api.Finding{{Analyzer: "deployment-unavailable", Severity: api.SeverityWarning, Title: "Deployment web has 1 of 3 replicas unavailable",
				Objects:  objects("Deployment", "web"),
				Evidence: []string{"replicas: 3 desired, 2 updated, 2 ready, 2 available", "condition ReplicaFailure=True FailedCreate: " + quotaMsg},
				Suggestion: "its ReplicaSet cannot create pods (FailedCreate): see the quota-refusal, limitrange or admission-refusal findings; " +
					"`hks app get web --project shop` shows its conditions and pods"}}},
	})
}

func TestDeploymentRollout(t *testing.T) {
	rss := []appsv1.ReplicaSet{replicaSet("web-5d9c", "web", 2), replicaSet("web-6f7d", "web", 1)}
	newPod := pod("web-6f7d-a", ownedBy("ReplicaSet", "web-6f7d"), waiting("ImagePullBackOff", ""))
	pods := []corev1.Pod{pod("web-5d9c-a"), pod("web-5d9c-b"), newPod}
	const deadline = `ReplicaSet "web-6f7d" has timed out progressing.`
	runTable(t, "deployment-rollout", []tc{
		{name: "complete", s: Snapshot{Deployments: []appsv1.Deployment{app("web", 2)}, ReplicaSets: rss[:1], Pods: pods[:2]}},
		{name: "progressing", s: Snapshot{Deployments: []appsv1.Deployment{app("web", 2, status(3, 1, 2, 2),
			condition(appsv1.DeploymentProgressing, corev1.ConditionTrue, "ReplicaSetUpdated", `ReplicaSet "web-6f7d" is progressing.`, time.Minute))}, ReplicaSets: rss, Pods: pods}},
		{name: "past its progress deadline",
			s: Snapshot{Deployments: []appsv1.Deployment{app("web", 2, status(3, 1, 2, 2),
				condition(appsv1.DeploymentProgressing, corev1.ConditionFalse, "ProgressDeadlineExceeded", deadline, time.Minute))}, ReplicaSets: rss, Pods: pods},
			want: []api.Finding{{Analyzer: "deployment-rollout", Severity: api.SeverityCritical, Title: "Deployment web's rollout is stuck: progress deadline exceeded",
				Objects: objects("Deployment", "web"),
				Evidence: []string{"replicas: 2 desired, 1 updated, 2 ready, 2 available, 2 old",
					"condition Progressing=False ProgressDeadlineExceeded: " + deadline, "pod web-6f7d-a: Pending, container web waiting ImagePullBackOff"},
				Suggestion: "its new pods do not become available: fix what stops them (see the findings about its pods) and apply the change again, or roll back: `kubectl -n shop rollout undo deployment/web`"}}},
		{name: "no progress for 15 minutes",
			s: Snapshot{Deployments: []appsv1.Deployment{app("web", 2, status(3, 1, 2, 2),
				condition(appsv1.DeploymentProgressing, corev1.ConditionTrue, "ReplicaSetUpdated", `ReplicaSet "web-6f7d" is progressing.`, 15*time.Minute))}, ReplicaSets: rss, Pods: pods},
			want: []api.Finding{{Analyzer: "deployment-rollout", Severity: api.SeverityWarning, Title: "Deployment web's rollout has not progressed for 15m",
				Objects: objects("Deployment", "web"),
				Evidence: []string{"replicas: 2 desired, 1 updated, 2 ready, 2 available, 2 old",
					`condition Progressing=True ReplicaSetUpdated: ReplicaSet "web-6f7d" is progressing.`, "pod web-6f7d-a: Pending, container web waiting ImagePullBackOff"},
				Suggestion: "its new pods do not become available: fix what stops them (see the findings about its pods), or roll back: `kubectl -n shop rollout undo deployment/web`"}}},
		{name: "paused",
			s: Snapshot{Deployments: []appsv1.Deployment{app("web", 2, status(2, 0, 2, 2), func(d *appsv1.Deployment) { d.Spec.Paused = true },
				condition(appsv1.DeploymentProgressing, corev1.ConditionUnknown, "DeploymentPaused", "Deployment is paused", time.Hour))}, ReplicaSets: rss[:1], Pods: pods[:2]},
			want: []api.Finding{{Analyzer: "deployment-rollout", Severity: api.SeverityInfo, Title: "Deployment web's rollout is paused",
				Objects:    objects("Deployment", "web"),
				Evidence:   []string{"replicas: 2 desired, 0 updated, 2 ready, 2 available, 2 old", "condition Progressing=Unknown DeploymentPaused: Deployment is paused"},
				Suggestion: "resume it when ready: `kubectl -n shop rollout resume deployment/web`"}}},
		{name: "a spec the controller has not seen", s: Snapshot{Deployments: []appsv1.Deployment{app("web", 2, status(3, 1, 2, 2), func(d *appsv1.Deployment) { d.Generation = 2 },
			condition(appsv1.DeploymentProgressing, corev1.ConditionFalse, "ProgressDeadlineExceeded", deadline, time.Hour))}, ReplicaSets: rss, Pods: pods}},
	})
}

func TestStatefulSet(t *testing.T) {
	sts := func(replicas, created, ready int32) appsv1.StatefulSet {
		s := appsv1.StatefulSet{ObjectMeta: meta("db")}
		s.Spec.Replicas = i32(replicas)
		s.Status.Replicas, s.Status.ReadyReplicas, s.Status.UpdatedReplicas = created, ready, ready
		return s
	}
	dbPod := func(name string, mods ...func(*corev1.Pod)) corev1.Pod {
		return pod(name, append([]func(*corev1.Pod){ownedBy("StatefulSet", "db")}, mods...)...)
	}
	const quotaMsg = `create Pod db-2 in StatefulSet db failed error: pods "db-2" is forbidden: exceeded quota: hks-quota, requested: pods=1, used: pods=2, limited: pods=2`
	runTable(t, "statefulset", []tc{
		{name: "ready", s: Snapshot{StatefulSets: []appsv1.StatefulSet{sts(2, 2, 2)}, Pods: []corev1.Pod{dbPod("db-0"), dbPod("db-1")}}},
		{name: "the first pod cannot be scheduled",
			s: Snapshot{StatefulSets: []appsv1.StatefulSet{sts(3, 1, 0)}, Pods: []corev1.Pod{dbPod("db-0", unscheduled("0/1 nodes are available: 1 Insufficient memory."))}},
			want: []api.Finding{{Analyzer: "statefulset", Severity: api.SeverityCritical, Title: "StatefulSet db has 0 of 3 replicas ready",
				Objects:  objects("StatefulSet", "db"),
				Evidence: []string{"replicas: 3 desired, 1 created, 0 ready, 0 updated", "pod db-0: Pending, not scheduled: Unschedulable"},
				Suggestion: "its pods are not ready (Unschedulable): fix that first, see the findings about its pods; " +
					"a StatefulSet starts its pods in order and waits for each to be ready"}}},
		{name: "the third pod refused",
			s: Snapshot{StatefulSets: []appsv1.StatefulSet{sts(3, 2, 2)}, Pods: []corev1.Pod{dbPod("db-0"), dbPod("db-1")},
				Events: []corev1.Event{event("StatefulSet", "db", "Warning", "FailedCreate", quotaMsg, 4, time.Minute)}},
			want: []api.Finding{{Analyzer: "statefulset", Severity: api.SeverityWarning, Title: "StatefulSet db has 2 of 3 replicas ready",
				Objects:    objects("StatefulSet", "db"),
				Evidence:   []string{"replicas: 3 desired, 2 created, 2 ready, 2 updated", "event Warning FailedCreate (x4, last 1m ago): " + quotaMsg},
				Suggestion: "it cannot create all its pods: see its events (`kubectl -n shop describe statefulset db`) and the quota-refusal or admission-refusal findings"}}},
	})
}
