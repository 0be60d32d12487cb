package local

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/kubernetes"

	"github.com/hexabase/hexabase-ai/internal/controlplane"
	"github.com/hexabase/hexabase-ai/internal/store"
	"github.com/hexabase/hexabase-ai/internal/testutil"
)

// TestKwokSimulatedFaults runs a real workspace with its kwok and plants
// the faults docs/controlplane.md promises ("Faults on simulated
// nodes"): a Deployment whose image is on a .invalid registry host never
// gets a Ready pod and shows ImagePullBackOff with the kubelet's events;
// Jobs whose command fails end Failed with the command's exit code and
// the Job controller fails the Job; a Deployment whose command fails
// crash-loops. A normal Deployment and normal Jobs still run and succeed.
func TestKwokSimulatedFaults(t *testing.T) {
	needBinaries(t)
	p := newTestProvider(t, t.TempDir())
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	id := store.NewID()
	if err := p.Create(ctx, controlplane.Spec{WorkspaceID: id, OrgID: store.NewID(), Plan: controlplane.PlanShared, Issuer: testIssuer}); err != nil {
		t.Fatal(err)
	}
	cs := kubernetes.NewForConfigOrDie(mustAdmin(t, p, id))
	const ns = "default"
	testutil.WaitFor(t, 60*time.Second, "default service account", func() bool {
		_, err := cs.CoreV1().ServiceAccounts(ns).Get(ctx, "default", metav1.GetOptions{})
		return err == nil
	})

	// Every state the bad image's pods pass through, from before they
	// exist: none may ever be Ready.
	w, err := cs.CoreV1().Pods(ns).Watch(ctx, metav1.ListOptions{LabelSelector: "app=bad"})
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu        sync.Mutex
		everReady []string
		seen      int
	)
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		for ev := range w.ResultChan() {
			po, ok := ev.Object.(*corev1.Pod)
			if !ok {
				continue
			}
			mu.Lock()
			seen++
			if podReady(po) {
				everReady = append(everReady, fmt.Sprintf("%s (%s)", po.Name, ev.Type))
			}
			mu.Unlock()
		}
	}()

	one := int32(1)
	deployment := func(name string, c corev1.Container) *appsv1.Deployment {
		labels := map[string]string{"app": name}
		return &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: appsv1.DeploymentSpec{
			Replicas: &one, Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{c}}}}}
	}
	for _, d := range []*appsv1.Deployment{
		deployment("bad", corev1.Container{Name: "web", Image: "registry.invalid/web:1"}),
		deployment("web", corev1.Container{Name: "web", Image: "nginx:1.29"}),
		deployment("crash", corev1.Container{Name: "main", Image: "busybox:1.37", Command: []string{"sh", "-c", "exit 2"}}),
	} {
		if _, err := cs.AppsV1().Deployments(ns).Create(ctx, d, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}

	// Jobs: which fail, with which exit code (0: the Job completes).
	jobs := []struct {
		name    string
		command []string
		restart corev1.RestartPolicy
		code    int32
	}{
		{"exit3", []string{"sh", "-c", "exit 3"}, corev1.RestartPolicyNever, 3},
		{"false", []string{"false"}, corev1.RestartPolicyNever, 1},
		{"bin-false", []string{"/bin/false"}, corev1.RestartPolicyNever, 1},
		{"script", []string{"sh", "-c", "echo start; exit 7"}, corev1.RestartPolicyNever, 7},
		// The platform's CronJobs restart OnFailure by default: their
		// pods fail once all the same.
		{"on-failure", []string{"sh", "-c", "exit 4"}, corev1.RestartPolicyOnFailure, 4},
		{"ok", []string{"sh", "-c", "echo done"}, corev1.RestartPolicyNever, 0},
		{"exit0", []string{"sh", "-c", "exit 0"}, corev1.RestartPolicyNever, 0},
		{"echo-exit", []string{"echo", "exit", "3"}, corev1.RestartPolicyNever, 0},
		{"no-command", nil, corev1.RestartPolicyNever, 0},
	}
	zero := int32(0)
	for _, j := range jobs {
		job := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: j.name}, Spec: batchv1.JobSpec{BackoffLimit: &zero,
			Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{RestartPolicy: j.restart,
				Containers: []corev1.Container{{Name: "main", Image: "busybox:1.37", Command: j.command}}}}}}
		if _, err := cs.BatchV1().Jobs(ns).Create(ctx, job, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("jobs", func(t *testing.T) {
		for _, j := range jobs {
			t.Run(j.name, func(t *testing.T) {
				want := batchv1.JobComplete
				if j.code != 0 {
					want = batchv1.JobFailed
				}
				var cond batchv1.JobCondition
				testutil.WaitFor(t, 90*time.Second, "job "+j.name+" to finish", func() bool {
					job, err := cs.BatchV1().Jobs(ns).Get(ctx, j.name, metav1.GetOptions{})
					if err != nil {
						return false
					}
					for _, c := range job.Status.Conditions {
						if (c.Type == batchv1.JobComplete || c.Type == batchv1.JobFailed) && c.Status == corev1.ConditionTrue {
							cond = c
							return true
						}
					}
					return false
				})
				if cond.Type != want {
					t.Fatalf("job %s: %s (%s: %s), want %s", j.name, cond.Type, cond.Reason, cond.Message, want)
				}
				if want == batchv1.JobFailed && cond.Reason != "BackoffLimitExceeded" {
					t.Errorf("job %s failed with %s: %s", j.name, cond.Reason, cond.Message)
				}
				pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "batch.kubernetes.io/job-name=" + j.name})
				if err != nil || len(pods.Items) != 1 {
					t.Fatalf("pods of %s: %v %v", j.name, pods, err)
				}
				po := pods.Items[0]
				wantPhase, wantReason := corev1.PodSucceeded, "Completed"
				if j.code != 0 {
					wantPhase, wantReason = corev1.PodFailed, "Error"
				}
				term := po.Status.ContainerStatuses[0].State.Terminated
				if po.Status.Phase != wantPhase || term == nil || term.ExitCode != j.code || term.Reason != wantReason {
					t.Errorf("pod %s: phase %s, terminated %+v; want %s, exit %d %s", po.Name, po.Status.Phase, term, wantPhase, j.code, wantReason)
				}
			})
		}
	})

	t.Run("image pull", func(t *testing.T) {
		var po corev1.Pod
		testutil.WaitFor(t, 60*time.Second, "a pod of bad in ImagePullBackOff", func() bool {
			pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=bad"})
			if err != nil || len(pods.Items) != 1 || len(pods.Items[0].Status.ContainerStatuses) != 1 {
				return false
			}
			po = pods.Items[0]
			w := po.Status.ContainerStatuses[0].State.Waiting
			return w != nil && w.Reason == "ImagePullBackOff"
		})
		const pullErr = `failed to pull and unpack image "registry.invalid/web:1": failed to resolve reference "registry.invalid/web:1": dial tcp: lookup registry.invalid: no such host`
		c := po.Status.ContainerStatuses[0]
		if c.State.Waiting.Message != `Back-off pulling image "registry.invalid/web:1": ErrImagePull: `+pullErr || c.Ready || c.RestartCount != 0 {
			t.Errorf("container status %+v, waiting %+v", c, c.State.Waiting)
		}
		if po.Status.Phase != corev1.PodPending || po.Status.PodIP == "" {
			t.Errorf("pod phase %s, IP %q", po.Status.Phase, po.Status.PodIP)
		}
		for _, cond := range po.Status.Conditions {
			if (cond.Type == corev1.PodReady || cond.Type == corev1.ContainersReady) &&
				(cond.Status != corev1.ConditionFalse || cond.Reason != "ContainersNotReady") {
				t.Errorf("condition %+v", cond)
			}
		}
		want := []string{
			`Normal Pulling: Pulling image "registry.invalid/web:1"`,
			`Warning Failed: Failed to pull image "registry.invalid/web:1": ` + pullErr,
			`Warning Failed: Error: ErrImagePull`,
			`Normal BackOff: Back-off pulling image "registry.invalid/web:1"`,
			`Warning Failed: Error: ImagePullBackOff`,
		}
		var got []string
		testutil.WaitFor(t, 30*time.Second, "the kubelet's image pull events", func() bool {
			got = kubeletEvents(ctx, t, cs, &po, "spec.containers{web}")
			return len(got) >= len(want)
		})
		for _, w := range want {
			if !strings.Contains(strings.Join(got, "\n"), w) {
				t.Errorf("events:\n%s\nlack %q", strings.Join(got, "\n"), w)
			}
		}
	})

	t.Run("crash loop", func(t *testing.T) {
		var po corev1.Pod
		testutil.WaitFor(t, 60*time.Second, "a pod of crash restarted twice", func() bool {
			pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=crash"})
			if err != nil || len(pods.Items) != 1 || len(pods.Items[0].Status.ContainerStatuses) != 1 {
				return false
			}
			po = pods.Items[0]
			return po.Status.ContainerStatuses[0].RestartCount >= 2
		})
		c := po.Status.ContainerStatuses[0]
		wantMsg := fmt.Sprintf("back-off 20s restarting failed container=main pod=%s_%s(%s)", po.Name, ns, po.UID)
		if c.RestartCount == 2 && (c.State.Waiting == nil || c.State.Waiting.Reason != "CrashLoopBackOff" || c.State.Waiting.Message != wantMsg) {
			t.Errorf("state %+v, want CrashLoopBackOff %q", c.State.Waiting, wantMsg)
		}
		if lt := c.LastTerminationState.Terminated; lt == nil || lt.ExitCode != 2 || lt.Reason != "Error" {
			t.Errorf("last state %+v, want terminated with exit code 2", lt)
		}
		if po.Status.Phase != corev1.PodRunning || podReady(&po) || c.Ready {
			t.Errorf("pod phase %s, ready %v", po.Status.Phase, podReady(&po))
		}
		testutil.WaitFor(t, 30*time.Second, "BackOff events", func() bool {
			n := 0
			for _, e := range kubeletEvents(ctx, t, cs, &po, "spec.containers{main}") {
				if e == fmt.Sprintf("Warning BackOff: Back-off restarting failed container main in pod %s_%s(%s)", po.Name, ns, po.UID) {
					n++
				}
			}
			return n >= 2
		})
	})

	t.Run("normal deployment runs", func(t *testing.T) {
		testutil.WaitFor(t, 60*time.Second, "web ready", func() bool {
			d, err := cs.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
			return err == nil && d.Status.ReadyReplicas == 1
		})
	})

	t.Run("bad image never ready", func(t *testing.T) {
		d, err := cs.AppsV1().Deployments(ns).Get(ctx, "bad", metav1.GetOptions{})
		if err != nil || d.Status.ReadyReplicas != 0 || d.Status.UnavailableReplicas != 1 {
			t.Fatalf("deployment bad: %+v %v", d.Status, err)
		}
		w.Stop()
		<-watched
		mu.Lock()
		defer mu.Unlock()
		if seen < 3 || len(everReady) > 0 {
			t.Errorf("%d pod states seen; Ready: %v", seen, everReady)
		}
	})
}

func podReady(po *corev1.Pod) bool {
	for _, c := range po.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// kubeletEvents lists the events the kubelet (kwok) posted about a
// container of po, as "Type Reason: Message", in no particular order.
func kubeletEvents(ctx context.Context, t *testing.T, cs kubernetes.Interface, po *corev1.Pod, fieldPath string) []string {
	t.Helper()
	evs, err := cs.CoreV1().Events(po.Namespace).List(ctx, metav1.ListOptions{FieldSelector: fields.Set{
		"involvedObject.uid": string(po.UID), "involvedObject.fieldPath": fieldPath, "source": "kubelet"}.String()})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range evs.Items {
		out = append(out, e.Type+" "+e.Reason+": "+e.Message)
	}
	return out
}
