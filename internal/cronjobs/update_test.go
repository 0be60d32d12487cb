package cronjobs

import (
	"context"
	"net/http"
	"reflect"
	"slices"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/hexabase/hexabase-ai/internal/api"
	"github.com/hexabase/hexabase-ai/internal/kube"
	"github.com/hexabase/hexabase-ai/internal/kube/kubetest"
)

const ns = "backend"

// nightly is a CronJob made from the spec to which a manifest added a
// sidecar container and a volume to its runs.
func nightly(t *testing.T) (*fake.Clientset, *batchv1.CronJob) {
	t.Helper()
	cj, errs := cronJobObject(api.CronJobSpec{Schedule: "30 2 * * *", TimeZone: "Europe/Berlin", Labels: map[string]string{"team": "data"},
		Template: api.JobTemplate{Image: "busybox:1.36", Command: []string{"sh", "-c", "date"}, Env: []api.EnvVar{{Name: "MODE", Value: "prod"}}}}, "nightly", ns)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	pod := &cj.Spec.JobTemplate.Spec.Template.Spec
	pod.Containers = append(pod.Containers, corev1.Container{Name: "sidecar", Image: "envoy:1.30"})
	pod.Volumes = []corev1.Volume{{Name: "scratch", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
	cs := kubetest.NewClientset(cj)
	got, err := cs.BatchV1().CronJobs(ns).Get(context.Background(), "nightly", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return cs, got
}

func keptExtras(t *testing.T, cj *batchv1.CronJob) {
	t.Helper()
	pod := cj.Spec.JobTemplate.Spec.Template.Spec
	if len(pod.Containers) != 2 || pod.Containers[1].Image != "envoy:1.30" || len(pod.Volumes) != 1 {
		t.Errorf("containers %+v volumes %+v: want the sidecar and the volume kept", pod.Containers, pod.Volumes)
	}
}

func TestSpecOfReadsBackTheSpec(t *testing.T) {
	two, six := int32(2), int64(600)
	want := api.CronJobSpec{Schedule: "@hourly", TimeZone: "Asia/Tokyo", Suspend: true, ConcurrencyPolicy: "Forbid",
		SuccessfulJobsHistoryLimit: &two, StartingDeadlineSeconds: &six, Labels: map[string]string{"a": "b"},
		Template: api.JobTemplate{Image: "busybox", Args: []string{"x"}, Env: []api.EnvVar{{Name: "E", Value: "1"}}, RestartPolicy: "Never",
			Resources: &api.Resources{Limits: api.ResourceList{CPU: "500m"}}, ServiceAccount: "runner", BackoffLimit: &two}}
	cj, errs := cronJobObject(want, "tick", ns)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	got := specOf(cj)
	if setCronJob(cj.DeepCopy(), got, want, cj) {
		t.Fatalf("specOf(cronJobObject(spec)) = %+v differs from %+v", got, want)
	}
}

func TestPatchCronJob(t *testing.T) {
	cases := []struct {
		name  string
		patch string
		check func(t *testing.T, cj *batchv1.CronJob)
	}{
		{"schedule", `{"schedule":"0 3 * * *"}`, func(t *testing.T, cj *batchv1.CronJob) {
			if cj.Spec.Schedule != "0 3 * * *" || *cj.Spec.TimeZone != "Europe/Berlin" {
				t.Errorf("schedule %q zone %v", cj.Spec.Schedule, *cj.Spec.TimeZone)
			}
		}},
		{"image", `{"template":{"image":"busybox:1.37"}}`, func(t *testing.T, cj *batchv1.CronJob) {
			c := cj.Spec.JobTemplate.Spec.Template.Spec.Containers[0]
			if c.Image != "busybox:1.37" || len(c.Env) != 1 || len(c.Command) != 3 {
				t.Errorf("container %+v", c)
			}
		}},
		{"env", `{"template":{"env":[{"name":"MODE","value":"dry-run"}]}}`, func(t *testing.T, cj *batchv1.CronJob) {
			if env := cj.Spec.JobTemplate.Spec.Template.Spec.Containers[0].Env; len(env) != 1 || env[0].Value != "dry-run" {
				t.Errorf("env %+v", env)
			}
		}},
		{"labels", `{"labels":{"team":"ml"}}`, func(t *testing.T, cj *batchv1.CronJob) {
			for _, l := range []map[string]string{cj.Labels, cj.Spec.JobTemplate.Labels, cj.Spec.JobTemplate.Spec.Template.Labels} {
				if l["team"] != "ml" {
					t.Errorf("labels %v", l)
				}
			}
			if cj.Spec.JobTemplate.Labels[LabelCronJob] != "nightly" {
				t.Errorf("the platform's label went: %v", cj.Spec.JobTemplate.Labels)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cs, before := nightly(t)
			r, p := kubetest.PatchRequest(t, tc.patch, "")
			cj, err := changeCronJob(context.Background(), cs, ns, "nightly", kube.PatchChange[cronJobDoc](r, p), nil)
			if err != nil {
				t.Fatal(err)
			}
			if cj.ResourceVersion == before.ResourceVersion {
				t.Error("not written")
			}
			keptExtras(t, cj)
			tc.check(t, cj)
		})
	}
}

// TestPutCronJobKeepsTheSidecar: a PUT replaces what the spec describes
// and keeps the other containers and volumes of the runs.
func TestPutCronJobKeepsTheSidecar(t *testing.T) {
	cs, _ := nightly(t)
	cj, err := changeCronJob(context.Background(), cs, ns, "nightly", func(cronJobDoc) (cronJobDoc, error) {
		return cronJobDoc{CronJobSpec: api.CronJobSpec{Schedule: "@daily", Template: api.JobTemplate{Image: "busybox:1.37"}}}, nil
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	keptExtras(t, cj)
	c := cj.Spec.JobTemplate.Spec.Template.Spec.Containers[0]
	if cj.Spec.Schedule != "@daily" || cj.Spec.TimeZone != nil || c.Image != "busybox:1.37" || c.Env != nil || c.Command != nil {
		t.Errorf("schedule %q zone %v container %+v: want the PUT's spec", cj.Spec.Schedule, cj.Spec.TimeZone, c)
	}
}

func TestChangeCronJobPreconditions(t *testing.T) {
	cases := []struct {
		name       string
		body       string
		ifMatch    string
		wantStatus int
	}{
		{"none", `{"suspend":true}`, "", 0},
		{"If-Match current", `{"suspend":true}`, "current", 0},
		{"If-Match stale", `{"suspend":true}`, `"999"`, http.StatusPreconditionFailed},
		{"body version stale", `{"suspend":true,"resource_version":"999"}`, "", http.StatusPreconditionFailed},
		{"bad schedule", `{"schedule":"61 * * * *"}`, "", http.StatusUnprocessableEntity},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cs, before := nightly(t)
			im := tc.ifMatch
			if im == "current" {
				im = `"` + kube.Version(before) + `"`
			}
			r, p := kubetest.PatchRequest(t, tc.body, im)
			_, err := changeCronJob(context.Background(), cs, ns, "nightly", kube.PatchChange[cronJobDoc](r, p), nil)
			if got := kubetest.Status(err); got != tc.wantStatus || (tc.wantStatus == 0 && err != nil) {
				t.Fatalf("status %d (%v), want %d", got, err, tc.wantStatus)
			}
		})
	}
}

// TestChangeCronJobRetriesOnConflict: a concurrent change of another field
// between read and write survives, and so does this one.
func TestChangeCronJobRetriesOnConflict(t *testing.T) {
	cs, _ := nightly(t)
	ctx := context.Background()
	r, p := kubetest.PatchRequest(t, `{"schedule":"@hourly"}`, "")
	calls := 0
	cj, err := changeCronJob(ctx, cs, ns, "nightly", func(cur cronJobDoc) (cronJobDoc, error) {
		calls++
		if calls == 1 {
			other, _ := cs.BatchV1().CronJobs(ns).Get(ctx, "nightly", metav1.GetOptions{})
			other.Spec.JobTemplate.Spec.Template.Spec.Containers[0].Image = "busybox:1.37"
			if _, err := cs.BatchV1().CronJobs(ns).Update(ctx, other, metav1.UpdateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		return kube.PatchChange[cronJobDoc](r, p)(cur)
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if calls != 2 || cj.Spec.Schedule != "@hourly" || cj.Spec.JobTemplate.Spec.Template.Spec.Containers[0].Image != "busybox:1.37" {
		t.Errorf("calls %d schedule %q image %q", calls, cj.Spec.Schedule, cj.Spec.JobTemplate.Spec.Template.Spec.Containers[0].Image)
	}
}

// TestPatchDocumentNamesTheSpec: the PATCH document of the API names the
// members of the spec the server merges it into, and no other.
func TestPatchDocumentNamesTheSpec(t *testing.T) {
	got, want := kubetest.JSONFields(reflect.TypeFor[api.PatchCronJobRequest]()), kubetest.JSONFields(reflect.TypeFor[cronJobDoc]())
	if !slices.Equal(got, want) {
		t.Errorf("PatchCronJobRequest has %v\nthe spec has %v", got, want)
	}
}
