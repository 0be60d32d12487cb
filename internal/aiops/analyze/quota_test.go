package analyze

import (
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/hexabase/hexabase-ai/internal/api"
)

// quota is a ResourceQuota with hard and used given as name, hard, used
// triples.
func quota(name string, hardUsed ...string) corev1.ResourceQuota {
	q := corev1.ResourceQuota{ObjectMeta: meta(name)}
	q.Spec.Hard, q.Status.Hard, q.Status.Used = corev1.ResourceList{}, corev1.ResourceList{}, corev1.ResourceList{}
	for i := 0; i+2 < len(hardUsed); i += 3 {
		r := corev1.ResourceName(hardUsed[i])
		q.Spec.Hard[r] = resource.MustParse(hardUsed[i+1])
		q.Status.Hard[r] = resource.MustParse(hardUsed[i+1])
		q.Status.Used[r] = resource.MustParse(hardUsed[i+2])
	}
	return q
}

func TestQuotaUsage(t *testing.T) {
	runTable(t, "quota", []tc{
		{name: "half used, a zero hard limit", s: Snapshot{ResourceQuotas: []corev1.ResourceQuota{quota(projectQuota, "pods", "10", "5", "services.loadbalancers", "0", "0")}}},
		{name: "near",
			s: Snapshot{ResourceQuotas: []corev1.ResourceQuota{quota(projectQuota, "pods", "10", "9")}},
			want: []api.Finding{{Analyzer: "quota", Severity: api.SeverityWarning, Title: "ResourceQuota hks-quota is near its limit for pods",
				Objects: objects("ResourceQuota", "hks-quota"), Evidence: []string{"pods: 9 used of 10 (90%)"},
				Suggestion: "new pods and objects that need more are refused: free some (scale down or delete workloads of shop) or raise the project's quota (a workspace admin): " +
					"`hks project update shop --pods 20`"}}},
		{name: "at the limit",
			s: Snapshot{ResourceQuotas: []corev1.ResourceQuota{quota(projectQuota, "pods", "10", "10", "requests.cpu", "2", "1900m", "limits.cpu", "2", "2", "requests.memory", "4Gi", "1Gi")}},
			want: []api.Finding{{Analyzer: "quota", Severity: api.SeverityCritical, Title: "ResourceQuota hks-quota is at its limit for limits.cpu, pods",
				Objects:  objects("ResourceQuota", "hks-quota"),
				Evidence: []string{"limits.cpu: 2 used of 2 (100%)", "pods: 10 used of 10 (100%)", "requests.cpu: 1900m used of 2 (95%)"},
				Suggestion: "new pods and objects that need more are refused: free some (scale down or delete workloads of shop) or raise the project's quota (a workspace admin): " +
					"`hks project update shop --cpu 4 --pods 20`"}}},
		{name: "a quota of its own",
			s: Snapshot{ResourceQuotas: []corev1.ResourceQuota{quota("objects", "count/configmaps", "20", "20")}},
			want: []api.Finding{{Analyzer: "quota", Severity: api.SeverityCritical, Title: "ResourceQuota objects is at its limit for count/configmaps",
				Objects: objects("ResourceQuota", "objects"), Evidence: []string{"count/configmaps: 20 used of 20 (100%)"},
				Suggestion: "new pods and objects that need more are refused: free some (scale down or delete workloads of shop) or have a workspace admin raise it: " +
					"`kubectl -n shop edit resourcequota objects`"}}},
	})
}

// short is web's ReplicaSet wanting 3 pods and having 2.
func short() ([]appsv1.Deployment, []appsv1.ReplicaSet) {
	deps, rss := webApp(3)
	rss[0].Status.Replicas = 2
	return deps, rss
}

func failedCreate(kind, name, msg string, count int32, ago time.Duration) corev1.Event {
	return event(kind, name, "Warning", "FailedCreate", msg, count, ago)
}

func TestQuotaRefusal(t *testing.T) {
	deps, rss := short()
	_, full := webApp(3)
	const exceeded = `Error creating: pods "web-5d9c-c" is forbidden: exceeded quota: hks-quota, requested: pods=1, used: pods=2, limited: pods=2`
	const unspecified = `Error creating: pods "web-5d9c-c" is forbidden: failed quota: hks-quota: must specify limits.cpu for: web; limits.memory for: web`
	refused := func(msg string, ago time.Duration) []corev1.Event {
		return []corev1.Event{failedCreate("ReplicaSet", "web-5d9c", msg, 7, ago)}
	}
	runTable(t, "quota-refusal", []tc{
		{name: "all pods made since", s: Snapshot{Deployments: deps, ReplicaSets: full, Events: refused(exceeded, time.Minute)}},
		{name: "two hours ago", s: Snapshot{Deployments: deps, ReplicaSets: rss, Events: refused(exceeded, 2*time.Hour)}},
		{name: "another reason is not the quota's", s: Snapshot{Deployments: deps, ReplicaSets: rss,
			Events: refused(`Error creating: pods "web-5d9c-c" is forbidden: maximum memory usage per Container is 1Gi, but limit is 2Gi`, time.Minute)}},
		{name: "the quota is full",
			s: Snapshot{Deployments: deps, ReplicaSets: rss, Events: refused(exceeded, time.Minute)},
			want: []api.Finding{{Analyzer: "quota-refusal", Severity: api.SeverityCritical, Title: "Deployment web cannot create pods: ResourceQuota hks-quota exceeded (pods)",
				Objects:  objects("Deployment", "web", "ReplicaSet", "web-5d9c", "ResourceQuota", "hks-quota"),
				Evidence: []string{"event Warning FailedCreate (x7, last 1m ago): " + exceeded},
				Suggestion: "the quota has no room for another of its pods: free some (scale down or delete workloads of shop) or raise the project's quota (a workspace admin): " +
					"`hks project update shop --pods 4`"}}},
		{name: "the quota needs limits",
			s: Snapshot{Deployments: deps, ReplicaSets: rss, Events: refused(unspecified, time.Minute)},
			want: []api.Finding{{Analyzer: "quota-refusal", Severity: api.SeverityCritical,
				Title:    "Deployment web cannot create pods: ResourceQuota hks-quota requires limits.cpu for: web; limits.memory for: web",
				Objects:  objects("Deployment", "web", "ReplicaSet", "web-5d9c", "ResourceQuota", "hks-quota"),
				Evidence: []string{"event Warning FailedCreate (x7, last 1m ago): " + unspecified},
				Suggestion: "the quota counts limits.cpu for: web; limits.memory for: web, so every container must declare them: set the containers' requests and limits in the pod template, e.g. " +
					"`hks app update web --cpu 100m --memory 128Mi --cpu-limit 500m --memory-limit 256Mi --project shop`"}}},
		{name: "a Job refused",
			s: Snapshot{Jobs: []batchv1.Job{job("import", counts(0, 0, 0))}, Events: []corev1.Event{failedCreate("Job", "import",
				`Error creating: pods "import-x" is forbidden: exceeded quota: compute, requested: requests.memory=1Gi, used: requests.memory=3Gi, limited: requests.memory=4Gi`, 2, time.Minute)}},
			want: []api.Finding{{Analyzer: "quota-refusal", Severity: api.SeverityCritical, Title: "Job import cannot create pods: ResourceQuota compute exceeded (requests.memory)",
				Objects: objects("Job", "import", "ResourceQuota", "compute"),
				Evidence: []string{"event Warning FailedCreate (x2, last 1m ago): " +
					`Error creating: pods "import-x" is forbidden: exceeded quota: compute, requested: requests.memory=1Gi, used: requests.memory=3Gi, limited: requests.memory=4Gi`},
				Suggestion: "the quota has no room for another of its pods: free some (scale down or delete workloads of shop) or have a workspace admin raise it: " +
					"`kubectl -n shop edit resourcequota compute`"}}},
	})
}

func TestLimitRangeRefusal(t *testing.T) {
	deps, rss := short()
	lr := func(name string) corev1.LimitRange { return corev1.LimitRange{ObjectMeta: meta(name)} }
	const maxMem = `Error creating: pods "web-5d9c-c" is forbidden: maximum memory usage per Container is 1Gi, but limit is 2Gi`
	const minCPU = `create Pod db-0 in StatefulSet db failed error: pods "db-0" is forbidden: minimum cpu usage per Container is 100m, but request is 50m`
	db := appsv1.StatefulSet{ObjectMeta: meta("db")}
	db.Spec.Replicas = i32(1)
	runTable(t, "limitrange", []tc{
		{name: "a quota refusal is not the LimitRange's", s: Snapshot{Deployments: deps, ReplicaSets: rss, LimitRanges: []corev1.LimitRange{lr(projectLimitRange)},
			Events: []corev1.Event{failedCreate("ReplicaSet", "web-5d9c", `Error creating: pods "web-5d9c-c" is forbidden: exceeded quota: hks-quota, requested: pods=1, used: pods=2, limited: pods=2`, 1, time.Minute)}}},
		{name: "over the maximum memory",
			s: Snapshot{Deployments: deps, ReplicaSets: rss, LimitRanges: []corev1.LimitRange{lr(projectLimitRange)},
				Events: []corev1.Event{failedCreate("ReplicaSet", "web-5d9c", maxMem, 3, time.Minute)}},
			want: []api.Finding{{Analyzer: "limitrange", Severity: api.SeverityCritical, Title: "Deployment web cannot create pods: refused by LimitRange hks-defaults",
				Objects:  objects("Deployment", "web", "ReplicaSet", "web-5d9c", "LimitRange", "hks-defaults"),
				Evidence: []string{"event Warning FailedCreate (x3, last 1m ago): " + maxMem},
				Suggestion: "the memory limit per Container must be at most 1Gi (it is 2Gi): set it within bounds, e.g. `hks app update web --memory-limit 1Gi --project shop`, " +
					"or have a workspace admin widen the LimitRange"}}},
		{name: "under the minimum cpu, two LimitRanges",
			s: Snapshot{StatefulSets: []appsv1.StatefulSet{db}, LimitRanges: []corev1.LimitRange{lr("b-limits"), lr("a-limits")},
				Events: []corev1.Event{failedCreate("StatefulSet", "db", minCPU, 5, 2*time.Minute)}},
			want: []api.Finding{{Analyzer: "limitrange", Severity: api.SeverityCritical, Title: "StatefulSet db cannot create pods: refused by a LimitRange",
				Objects:  objects("StatefulSet", "db", "LimitRange", "a-limits", "LimitRange", "b-limits"),
				Evidence: []string{"event Warning FailedCreate (x5, last 2m ago): " + minCPU},
				Suggestion: "the cpu request per Container must be at least 100m (it is 50m): set it within bounds, e.g. `kubectl -n shop set resources statefulset/db --requests=cpu=100m`, " +
					"or have a workspace admin widen the LimitRange"}}},
	})
}

func TestAdmissionRefusal(t *testing.T) {
	deps, rss := short()
	const pss = `Error creating: pods "web-5d9c-c" is forbidden: violates PodSecurity "restricted:latest": allowPrivilegeEscalation != false (container "web" must set securityContext.allowPrivilegeEscalation=false)`
	const sa = `Error creating: pods "import-x" is forbidden: error looking up service account shop/builder: serviceaccount "builder" not found`
	runTable(t, "admission-refusal", []tc{
		{name: "a quota refusal is not admission's", s: Snapshot{Deployments: deps, ReplicaSets: rss,
			Events: []corev1.Event{failedCreate("ReplicaSet", "web-5d9c", `Error creating: pods "web-5d9c-c" is forbidden: exceeded quota: hks-quota, requested: pods=1, used: pods=2, limited: pods=2`, 1, time.Minute)}}},
		{name: "a Job that finished since", s: Snapshot{Jobs: []batchv1.Job{job("import", jobCond(batchv1.JobComplete, "CompletionsReached", "", time.Minute))},
			Events: []corev1.Event{failedCreate("Job", "import", sa, 1, 5*time.Minute)}}},
		{name: "Pod Security",
			s: Snapshot{Deployments: deps, ReplicaSets: rss, Events: []corev1.Event{failedCreate("ReplicaSet", "web-5d9c", pss, 9, time.Minute)}},
			want: []api.Finding{{Analyzer: "admission-refusal", Severity: api.SeverityCritical, Title: "Deployment web cannot create pods: violates Pod Security restricted:latest",
				Objects:  objects("Deployment", "web", "ReplicaSet", "web-5d9c"),
				Evidence: []string{"event Warning FailedCreate (x9, last 1m ago): " + pss},
				Suggestion: "make the pod template meet the project's Pod Security level restricted (the message lists what to change: e.g. allowPrivilegeEscalation: false, runAsNonRoot: true, " +
					"capabilities drop ALL, seccompProfile RuntimeDefault), or have an admin relax the level: `hks project update shop --pod-security baseline`"}}},
		{name: "a missing service account",
			s: Snapshot{Jobs: []batchv1.Job{job("import")}, Events: []corev1.Event{failedCreate("Job", "import", sa, 1, 5*time.Minute)}},
			want: []api.Finding{{Analyzer: "admission-refusal", Severity: api.SeverityCritical, Title: "Job import cannot create pods: service account builder not found",
				Objects:    objects("Job", "import"),
				Evidence:   []string{"event Warning FailedCreate (5m ago): " + sa},
				Suggestion: "create the service account (`kubectl -n shop create serviceaccount builder`) or fix serviceAccountName in the pod template"}}},
	})
}
