package analyze

import (
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/hexabase/hexabase-ai/internal/api"
)

func pvc(name string, phase corev1.PersistentVolumeClaimPhase, class *string, created time.Duration) corev1.PersistentVolumeClaim {
	c := corev1.PersistentVolumeClaim{ObjectMeta: meta(name)}
	c.CreationTimestamp = before(created)
	c.Spec.StorageClassName = class
	c.Spec.Resources.Requests = corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("10Gi")}
	c.Status.Phase = phase
	return c
}

func usesClaim(claim string) func(*corev1.Pod) {
	return func(p *corev1.Pod) {
		p.Spec.Volumes = append(p.Spec.Volumes, corev1.Volume{Name: "data", VolumeSource: corev1.VolumeSource{
			PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claim}}})
	}
}

func TestPVCPending(t *testing.T) {
	fast, empty := "fast", ""
	const notFound = `storageclass.storage.k8s.io "fast" not found`
	const noClass = "no persistent volumes available for this claim and no storage class is set"
	dbPod := pod("db-0", ownedBy("StatefulSet", "db"), usesClaim("data-db-0"), unscheduled("0/1 nodes are available: pod has unbound immediate PersistentVolumeClaims."))
	runTable(t, "pvc-pending", []tc{
		{name: "bound", s: Snapshot{PVCs: []corev1.PersistentVolumeClaim{pvc("data-db-0", corev1.ClaimBound, &fast, time.Hour)}}},
		{name: "pending a minute", s: Snapshot{PVCs: []corev1.PersistentVolumeClaim{pvc("data-db-0", corev1.ClaimPending, &fast, time.Minute)}}},
		{name: "waiting for its first consumer", s: Snapshot{PVCs: []corev1.PersistentVolumeClaim{pvc("data-db-0", corev1.ClaimPending, &fast, time.Hour)},
			Events: []corev1.Event{event("PersistentVolumeClaim", "data-db-0", "Normal", "WaitForFirstConsumer", "waiting for first consumer to be created before binding", 3, time.Minute)}}},
		{name: "a storage class that does not exist",
			s: Snapshot{PVCs: []corev1.PersistentVolumeClaim{pvc("data-db-0", corev1.ClaimPending, &fast, time.Hour)}, Pods: []corev1.Pod{dbPod},
				Events: []corev1.Event{event("PersistentVolumeClaim", "data-db-0", "Warning", "ProvisioningFailed", notFound, 12, time.Minute)}},
			want: []api.Finding{{Analyzer: "pvc-pending", Severity: api.SeverityWarning, Title: "PersistentVolumeClaim data-db-0 is pending",
				Objects: objects("PersistentVolumeClaim", "data-db-0", "Pod", "db-0"),
				Evidence: []string{"phase Pending for 1h; storage class fast; requests 10Gi", "event Warning ProvisioningFailed (x12, last 1m ago): " + notFound,
					"used by 1 pod: db-0"},
				Suggestion: "storage class fast does not exist: use one the workspace has (`kubectl get storageclass`); a claim's class cannot be changed, so delete and create the claim again"}}},
		{name: "no storage class",
			s: Snapshot{PVCs: []corev1.PersistentVolumeClaim{pvc("data", corev1.ClaimPending, &empty, 10*time.Minute)},
				Events: []corev1.Event{event("PersistentVolumeClaim", "data", "Warning", "FailedBinding", noClass, 40, 10*time.Second)}},
			want: []api.Finding{{Analyzer: "pvc-pending", Severity: api.SeverityWarning, Title: "PersistentVolumeClaim data is pending",
				Objects:    objects("PersistentVolumeClaim", "data"),
				Evidence:   []string{"phase Pending for 10m; storage class (none); requests 10Gi", "event Warning FailedBinding (x40, last 10s ago): " + noClass},
				Suggestion: "no storage class and no matching PersistentVolume: set storageClassName to a class of the workspace (`kubectl get storageclass`) by creating the claim again"}}},
		{name: "lost",
			s: Snapshot{PVCs: []corev1.PersistentVolumeClaim{func() corev1.PersistentVolumeClaim {
				c := pvc("data", corev1.ClaimLost, &fast, 72*time.Hour)
				c.Spec.VolumeName = "pvc-123"
				return c
			}()}},
			want: []api.Finding{{Analyzer: "pvc-pending", Severity: api.SeverityCritical, Title: "PersistentVolumeClaim data is lost",
				Objects: objects("PersistentVolumeClaim", "data"), Evidence: []string{"phase Lost: its PersistentVolume pvc-123 is gone"},
				Suggestion: "its volume was deleted: restore the data from a backup into a new claim, and point the workload at it"}}},
	})
}

// hpa autoscales Deployment target from 2 to 10, currently current.
func hpa(name, target string, current int32, conds ...autoscalingv2.HorizontalPodAutoscalerCondition) autoscalingv2.HorizontalPodAutoscaler {
	h := autoscalingv2.HorizontalPodAutoscaler{ObjectMeta: meta(name)}
	h.Spec.ScaleTargetRef = autoscalingv2.CrossVersionObjectReference{Kind: "Deployment", Name: target, APIVersion: "apps/v1"}
	h.Spec.MinReplicas, h.Spec.MaxReplicas = i32(2), 10
	h.Status.CurrentReplicas, h.Status.DesiredReplicas = current, current
	h.Status.Conditions = conds
	return h
}

func hpaCond(typ autoscalingv2.HorizontalPodAutoscalerConditionType, st corev1.ConditionStatus, reason, msg string) autoscalingv2.HorizontalPodAutoscalerCondition {
	return autoscalingv2.HorizontalPodAutoscalerCondition{Type: typ, Status: st, Reason: reason, Message: msg}
}

func TestHPA(t *testing.T) {
	deps := []appsv1.Deployment{app("web", 2)}
	able := hpaCond(autoscalingv2.AbleToScale, corev1.ConditionTrue, "ReadyForNewScale", "recommended size matches current size")
	const noRequest = "the HPA was unable to compute the replica count: failed to get cpu utilization: missing request for cpu in container web of Pod web-5d9c-a"
	const noMetrics = "the HPA was unable to compute the replica count: unable to get metrics for resource cpu: unable to fetch metrics from resource metrics API: the server could not find the requested resource (get pods.metrics.k8s.io)"
	const noScale = `the HPA controller was unable to get the target's current scale: deployments/scale.apps "api" not found`
	runTable(t, "hpa", []tc{
		{name: "scaling", s: Snapshot{Deployments: deps, HPAs: []autoscalingv2.HorizontalPodAutoscaler{hpa("web", "web", 2, able,
			hpaCond(autoscalingv2.ScalingActive, corev1.ConditionTrue, "ValidMetricFound", "the HPA was able to successfully calculate a replica count from cpu resource utilization"))}}},
		{name: "no cpu request",
			s: Snapshot{Deployments: deps, HPAs: []autoscalingv2.HorizontalPodAutoscaler{hpa("web", "web", 2, able,
				hpaCond(autoscalingv2.ScalingActive, corev1.ConditionFalse, "FailedGetResourceMetric", noRequest))}},
			want: []api.Finding{{Analyzer: "hpa", Severity: api.SeverityWarning, Title: "HorizontalPodAutoscaler web is not scaling Deployment web: FailedGetResourceMetric",
				Objects:    objects("HorizontalPodAutoscaler", "web", "Deployment", "web"),
				Evidence:   []string{"replicas: 2 current, 2 desired, 2 to 10 allowed", "condition ScalingActive=False FailedGetResourceMetric: " + noRequest},
				Suggestion: "a utilization target is a percentage of the request: set cpu requests on every container of Deployment web, e.g. `hks app update web --cpu 100m --project shop`"}}},
		{name: "no metrics server",
			s: Snapshot{Deployments: deps, HPAs: []autoscalingv2.HorizontalPodAutoscaler{hpa("web", "web", 2, able,
				hpaCond(autoscalingv2.ScalingActive, corev1.ConditionFalse, "FailedGetResourceMetric", noMetrics))}},
			want: []api.Finding{{Analyzer: "hpa", Severity: api.SeverityWarning, Title: "HorizontalPodAutoscaler web is not scaling Deployment web: FailedGetResourceMetric",
				Objects:    objects("HorizontalPodAutoscaler", "web", "Deployment", "web"),
				Evidence:   []string{"replicas: 2 current, 2 desired, 2 to 10 allowed", "condition ScalingActive=False FailedGetResourceMetric: " + noMetrics},
				Suggestion: "the metrics API answers nothing for the pods: the workspace needs a metrics server (metrics.k8s.io), and new pods report after a minute"}}},
		{name: "its target is gone",
			s: Snapshot{Deployments: deps, HPAs: []autoscalingv2.HorizontalPodAutoscaler{hpa("api", "api", 0,
				hpaCond(autoscalingv2.AbleToScale, corev1.ConditionFalse, "FailedGetScale", noScale))}},
			want: []api.Finding{{Analyzer: "hpa", Severity: api.SeverityWarning, Title: "HorizontalPodAutoscaler api's target Deployment api does not exist",
				Objects:    objects("HorizontalPodAutoscaler", "api", "Deployment", "api"),
				Evidence:   []string{"replicas: 0 current, 0 desired, 2 to 10 allowed", "condition AbleToScale=False FailedGetScale: " + noScale},
				Suggestion: "point scaleTargetRef at an existing workload, or delete the autoscaler: `kubectl -n shop delete hpa api`"}}},
		{name: "Deployments not listed: the target may exist", s: Snapshot{Skipped: []string{"deployments: forbidden"}, HPAs: []autoscalingv2.HorizontalPodAutoscaler{hpa("api", "api", 2, able)}}},
		{name: "at its maximum",
			s: Snapshot{Deployments: deps, HPAs: []autoscalingv2.HorizontalPodAutoscaler{hpa("web", "web", 10, able,
				hpaCond(autoscalingv2.ScalingLimited, corev1.ConditionTrue, "TooManyReplicas", "the desired replica count is more than the maximum replica count"))}},
			want: []api.Finding{{Analyzer: "hpa", Severity: api.SeverityInfo, Title: "HorizontalPodAutoscaler web holds Deployment web at its maximum of 10 replicas",
				Objects: objects("HorizontalPodAutoscaler", "web", "Deployment", "web"),
				Evidence: []string{"replicas: 10 current, 10 desired, 2 to 10 allowed",
					"condition ScalingLimited=True TooManyReplicas: the desired replica count is more than the maximum replica count"},
				Suggestion: "the load asks for more replicas than maxReplicas: raise it if the quota allows (`kubectl -n shop edit hpa web`)"}}},
	})
}

func TestEventBurst(t *testing.T) {
	backOff := event("Pod", "web-5d9c-a", "Warning", "BackOff", "Back-off restarting failed container web", 8, time.Minute)
	unhealthy := event("Pod", "web-5d9c-a", "Warning", "Unhealthy", "Readiness probe failed: connection refused", 4, 2*time.Minute)
	runTable(t, "event-burst", []tc{
		{name: "nine", s: Snapshot{Events: []corev1.Event{backOff, event("Pod", "web-5d9c-a", "Warning", "Unhealthy", "x", 1, time.Minute)}}},
		{name: "many, but normal or long ago", s: Snapshot{Events: []corev1.Event{
			event("Pod", "web-5d9c-a", "Normal", "Pulled", "Container image already present", 50, time.Minute),
			event("Pod", "web-5d9c-a", "Warning", "BackOff", "Back-off restarting failed container web", 50, 20*time.Minute)}}},
		{name: "about a pod deleted since", s: Snapshot{Pods: []corev1.Pod{pod("web-5d9c-b")}, Events: []corev1.Event{backOff, unhealthy}}},
		{name: "about a pod, pods not listed",
			s: Snapshot{Skipped: []string{"pods: forbidden"}, Events: []corev1.Event{backOff, unhealthy}},
			want: []api.Finding{{Analyzer: "event-burst", Severity: api.SeverityWarning, Title: "Pod web-5d9c-a had 12 Warning events in the last 10m",
				Objects: objects("Pod", "web-5d9c-a"),
				Evidence: []string{"Warning events by reason: BackOff x8, Unhealthy x4",
					"event Warning BackOff (x8, last 1m ago): Back-off restarting failed container web",
					"event Warning Unhealthy (x4, last 2m ago): Readiness probe failed: connection refused"},
				Suggestion: "the most frequent is BackOff: act on what its message says; the whole sequence is in `kubectl -n shop describe pod web-5d9c-a`"}}},
		{name: "a burst, counted by series too",
			s: Snapshot{Pods: []corev1.Pod{pod("web-5d9c-a")}, Events: []corev1.Event{backOff, unhealthy, func() corev1.Event {
				e := event("Pod", "web-5d9c-a", "Warning", "Unhealthy", "Liveness probe failed: connection refused", 1, 30*time.Minute)
				e.Series = &corev1.EventSeries{Count: 3, LastObservedTime: microBefore(30 * time.Second)}
				return e
			}()}},
			want: []api.Finding{{Analyzer: "event-burst", Severity: api.SeverityWarning, Title: "Pod web-5d9c-a had 15 Warning events in the last 10m",
				Objects: objects("Pod", "web-5d9c-a"),
				Evidence: []string{"Warning events by reason: BackOff x8, Unhealthy x7",
					"event Warning Unhealthy (x3, last 30s ago): Liveness probe failed: connection refused",
					"event Warning BackOff (x8, last 1m ago): Back-off restarting failed container web"},
				Suggestion: "the most frequent is BackOff: act on what its message says; the whole sequence is in `kubectl -n shop describe pod web-5d9c-a`"}}},
	})
}
