package analyze

import (
	"encoding/json"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/hexabase/hexabase-ai/internal/api"
)

// now is the moment of every crafted snapshot.
var now = time.Date(2026, 5, 4, 12, 0, 0, 0, time.UTC)

// ns is the namespace (project) of the crafted objects.
const ns = "shop"

// ago is a time d before now.
func before(d time.Duration) metav1.Time { return metav1.NewTime(now.Add(-d)) }

func meta(name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: ns, CreationTimestamp: before(time.Hour), Generation: 1}
}

func controller(kind, name string) []metav1.OwnerReference {
	t := true
	return []metav1.OwnerReference{{Kind: kind, Name: name, Controller: &t, APIVersion: "v1"}}
}

func i32(v int32) *int32 { return &v }

// app is a Deployment of hks (labelled hks.io/app), all its replicas up.
func app(name string, replicas int32, mods ...func(*appsv1.Deployment)) appsv1.Deployment {
	d := appsv1.Deployment{ObjectMeta: meta(name)}
	d.Labels = map[string]string{labelApp: name}
	d.Spec.Replicas = i32(replicas)
	d.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}}
	d.Spec.Template.Labels = map[string]string{"app": name}
	d.Spec.Template.Spec.Containers = []corev1.Container{{Name: name, Image: "nginx:1.27"}}
	d.Status = appsv1.DeploymentStatus{ObservedGeneration: 1, Replicas: replicas, UpdatedReplicas: replicas, ReadyReplicas: replicas, AvailableReplicas: replicas,
		Conditions: []appsv1.DeploymentCondition{
			{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionTrue, Reason: "MinimumReplicasAvailable"},
			{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionTrue, Reason: "NewReplicaSetAvailable", LastUpdateTime: before(time.Hour)},
		}}
	for _, m := range mods {
		m(&d)
	}
	return d
}

// replicaSet is the ReplicaSet rs of Deployment d, all replicas created.
func replicaSet(name, deployment string, replicas int32) appsv1.ReplicaSet {
	r := appsv1.ReplicaSet{ObjectMeta: meta(name)}
	r.OwnerReferences = controller("Deployment", deployment)
	r.Spec.Replicas = i32(replicas)
	r.Status.Replicas = replicas
	return r
}

// pod is a running, ready pod with one container "web" (nginx:1.27),
// labelled app=web, of ReplicaSet web-5d9c unless changed.
func pod(name string, mods ...func(*corev1.Pod)) corev1.Pod {
	p := corev1.Pod{ObjectMeta: meta(name)}
	p.Labels = map[string]string{"app": "web"}
	p.OwnerReferences = controller("ReplicaSet", "web-5d9c")
	p.Spec.Containers = []corev1.Container{{Name: "web", Image: "nginx:1.27"}}
	p.Status = corev1.PodStatus{Phase: corev1.PodRunning,
		Conditions: []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionTrue}, {Type: corev1.PodReady, Status: corev1.ConditionTrue}},
		ContainerStatuses: []corev1.ContainerStatus{{Name: "web", Image: "nginx:1.27", Ready: true,
			State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: before(time.Hour)}}}}}
	for _, m := range mods {
		m(&p)
	}
	return p
}

// notReady marks a pod not ready.
func notReady(p *corev1.Pod) {
	p.Status.Conditions[1].Status = corev1.ConditionFalse
	p.Status.ContainerStatuses[0].Ready = false
}

// waiting sets the first container waiting.
func waiting(reason, message string) func(*corev1.Pod) {
	return func(p *corev1.Pod) {
		notReady(p)
		p.Status.Phase = corev1.PodPending
		p.Status.ContainerStatuses[0].State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason, Message: message}}
	}
}

// lastTerminated sets the first container's last termination and
// restarts.
func lastTerminated(reason string, exit int32, ago time.Duration, restarts int32) func(*corev1.Pod) {
	return func(p *corev1.Pod) {
		p.Status.ContainerStatuses[0].RestartCount = restarts
		p.Status.ContainerStatuses[0].LastTerminationState = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
			Reason: reason, ExitCode: exit, StartedAt: before(ago + time.Minute), FinishedAt: before(ago)}}
	}
}

// ownedBy sets a pod's controller.
func ownedBy(kind, name string) func(*corev1.Pod) {
	return func(p *corev1.Pod) { p.OwnerReferences = controller(kind, name) }
}

func bare(p *corev1.Pod) { p.OwnerReferences = nil }

// event is an event about an object of ns, seen count times, last
// lastAgo before now.
func event(kind, name, typ, reason, message string, count int32, lastAgo time.Duration) corev1.Event {
	return corev1.Event{ObjectMeta: metav1.ObjectMeta{Name: name + "." + reason, Namespace: ns},
		InvolvedObject: corev1.ObjectReference{Kind: kind, Name: name, Namespace: ns},
		Type:           typ, Reason: reason, Message: message, Count: count,
		FirstTimestamp: before(lastAgo + 10*time.Minute), LastTimestamp: before(lastAgo)}
}

func job(name string, mods ...func(*batchv1.Job)) batchv1.Job {
	j := batchv1.Job{ObjectMeta: meta(name)}
	j.Spec.BackoffLimit = i32(6)
	for _, m := range mods {
		m(&j)
	}
	return j
}

// object is a finding's object in ns.
func object(kind, name string) api.FindingObject {
	return api.FindingObject{Kind: kind, Name: name, Namespace: ns}
}

func objects(kindNames ...string) []api.FindingObject {
	var out []api.FindingObject
	for i := 0; i+1 < len(kindNames); i += 2 {
		out = append(out, object(kindNames[i], kindNames[i+1]))
	}
	return out
}

// tc is a case of an analyzer's table test: the snapshot (Now and
// Namespaces filled in) and the exact findings.
type tc struct {
	name string
	s    Snapshot
	want []api.Finding
}

// runTable runs one analyzer over each case, through Run, and compares
// the findings exactly.
func runTable(t *testing.T, analyzer string, cases []tc) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := c.s
			if s.Now.IsZero() {
				s.Now = now
			}
			if s.Namespaces == nil {
				s.Namespaces = []string{ns}
			}
			got := Run(&s, analyzer).Findings
			want := c.want
			if want == nil {
				want = []api.Finding{}
			}
			g, _ := json.MarshalIndent(got, "", "  ")
			w, _ := json.MarshalIndent(want, "", "  ")
			if string(g) != string(w) {
				t.Errorf("findings:\n%s\nwant:\n%s", g, w)
			}
			// The analyzer alone answers the same (unsorted is fine: one
			// finding per case at most, or sorted the same).
			for _, a := range All() {
				if a.Name == analyzer && len(a.Run(&s)) != len(got) {
					t.Errorf("Analyzer.Run: %d findings, Run: %d", len(a.Run(&s)), len(got))
				}
			}
		})
	}
}

// microBefore is before(d) as a MicroTime.
func microBefore(d time.Duration) metav1.MicroTime { return metav1.NewMicroTime(now.Add(-d)) }
