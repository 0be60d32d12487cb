package cronjobs

import (
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestManualJob: the Job of a run by hand (the trigger route's and the
// assistant's cronjob_trigger's) is the CronJob's template, named with a
// suffix of the time within 63 characters, marked as kubectl marks it
// and controlled by the CronJob.
func TestManualJob(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	cj := &batchv1.CronJob{ObjectMeta: metav1.ObjectMeta{Name: "nightly", Namespace: "shop", UID: "u-1"},
		Spec: batchv1.CronJobSpec{JobTemplate: batchv1.JobTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"team": "a"}, Annotations: map[string]string{"note": "x"}},
			Spec:       batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "job", Image: "busybox"}}}}},
		}}}
	j := ManualJob(cj, now)
	if !strings.HasPrefix(j.Name, "nightly-manual-") || j.Namespace != "shop" || j.Kind != "Job" {
		t.Errorf("job %s/%s kind %q", j.Namespace, j.Name, j.Kind)
	}
	if j.Labels[LabelCronJob] != "nightly" || j.Labels["team"] != "a" || j.Annotations[annotationInstantiate] != "manual" || j.Annotations["note"] != "x" {
		t.Errorf("labels %v annotations %v", j.Labels, j.Annotations)
	}
	if len(j.OwnerReferences) != 1 || j.OwnerReferences[0].UID != "u-1" || j.OwnerReferences[0].Kind != "CronJob" || !*j.OwnerReferences[0].Controller {
		t.Errorf("owner references %+v", j.OwnerReferences)
	}
	if j.Spec.Template.Spec.Containers[0].Image != "busybox" {
		t.Errorf("spec %+v", j.Spec)
	}
	if cj.Spec.JobTemplate.Labels[LabelCronJob] != "" {
		t.Error("ManualJob changed the CronJob's labels")
	}
	if ManualJob(cj, now.Add(time.Millisecond)).Name == j.Name {
		t.Error("two runs a millisecond apart share a name")
	}
	cj.Name = strings.Repeat("n", 52)
	if long := ManualJob(cj, now); len(long.Name) > 63 {
		t.Errorf("name of %d characters: %s", len(long.Name), long.Name)
	}
}
