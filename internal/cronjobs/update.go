package cronjobs

import (
	"context"
	"net/http"

	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"

	"github.com/hexabase/hexabase-ai/internal/api"
	"github.com/hexabase/hexabase-ai/internal/httpapi"
	"github.com/hexabase/hexabase-ai/internal/kube"
)

// cronJobDoc is a CronJob's spec with its version: what a PUT sends, and
// what a PATCH (api.PatchCronJobRequest) is merged into.
type cronJobDoc struct {
	api.CronJobSpec
	ResourceVersion string `json:"resource_version,omitempty"`
}

// cronJobChange is an update of a CronJob: from the CronJob as it is now
// (its spec and version, kube.Version: the CronJob's generation), the
// spec wanted, or an error (a 412 when a precondition does not hold).
type cronJobChange func(cur cronJobDoc) (cronJobDoc, error)

// patchChange is the change of a merge patch of the spec, with the
// request's preconditions.
func patchChange(r *http.Request, patch httpapi.MergePatch) cronJobChange {
	return func(cur cronJobDoc) (cronJobDoc, error) {
		var want cronJobDoc
		if err := patch.Apply(cur, &want); err != nil {
			return want, err
		}
		return want, httpapi.CheckVersion(r, want.ResourceVersion, cur.ResourceVersion)
	}
}

// changeCronJob applies change to the live CronJob: it reads it, computes
// the wanted spec, and writes onto the live object only the fields whose
// wanted value differs from the current one, so what the spec does not
// describe (other containers of the runs, volumes, init containers, …)
// stays. A write that loses a race starts again from the new state, so
// concurrent changes of different fields all survive.
func changeCronJob(ctx context.Context, kc kubernetes.Interface, ns, name string, change cronJobChange) (*batchv1.CronJob, error) {
	var out *batchv1.CronJob
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cj, err := kc.BatchV1().CronJobs(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		cur := specOf(cj)
		req, err := change(cronJobDoc{CronJobSpec: cur, ResourceVersion: kube.Version(cj)})
		if err != nil {
			return err
		}
		built, errs := cronJobObject(req.CronJobSpec, name, ns)
		if len(errs) > 0 {
			return httpapi.Invalid(errs...)
		}
		if !setCronJob(cj, cur, req.CronJobSpec, built) {
			out = cj
			return nil
		}
		out, err = kc.BatchV1().CronJobs(ns).Update(ctx, cj, metav1.UpdateOptions{FieldManager: kube.FieldManager, FieldValidation: "Strict"})
		return err
	})
	if err != nil {
		return nil, kube.NotFoundOr(err, "cronjob")
	}
	return out, nil
}

// setCronJob writes onto cj the fields of want that differ from cur (the
// spec of cj), taking their values from built (want as checked and
// converted by cronJobObject), and reports whether anything changed.
func setCronJob(cj *batchv1.CronJob, cur, want api.CronJobSpec, built *batchv1.CronJob) bool {
	changed := false
	differs := func(a, b any) bool {
		if kube.Differs(a, b) {
			changed = true
			return true
		}
		return false
	}
	spec, bs := &cj.Spec, built.Spec
	if differs(cur.Schedule, want.Schedule) {
		spec.Schedule = bs.Schedule
	}
	if differs(cur.TimeZone, want.TimeZone) {
		spec.TimeZone = bs.TimeZone
	}
	if differs(cur.Suspend, want.Suspend) {
		spec.Suspend = bs.Suspend
	}
	if differs(cur.ConcurrencyPolicy, want.ConcurrencyPolicy) {
		spec.ConcurrencyPolicy = bs.ConcurrencyPolicy
	}
	if differs(cur.SuccessfulJobsHistoryLimit, want.SuccessfulJobsHistoryLimit) {
		spec.SuccessfulJobsHistoryLimit = bs.SuccessfulJobsHistoryLimit
	}
	if differs(cur.FailedJobsHistoryLimit, want.FailedJobsHistoryLimit) {
		spec.FailedJobsHistoryLimit = bs.FailedJobsHistoryLimit
	}
	if differs(cur.StartingDeadlineSeconds, want.StartingDeadlineSeconds) {
		spec.StartingDeadlineSeconds = bs.StartingDeadlineSeconds
	}
	job, bjob := &spec.JobTemplate.Spec, bs.JobTemplate.Spec
	if differs(cur.Labels, want.Labels) {
		kube.SetUserLabels(cur.Labels, want.Labels, &cj.Labels, &spec.JobTemplate.Labels, &job.Template.Labels)
	}
	ct, wt := cur.Template, want.Template
	if differs(ct.BackoffLimit, wt.BackoffLimit) {
		job.BackoffLimit = bjob.BackoffLimit
	}
	if differs(ct.ActiveDeadlineSeconds, wt.ActiveDeadlineSeconds) {
		job.ActiveDeadlineSeconds = bjob.ActiveDeadlineSeconds
	}
	pod, bpod := &job.Template.Spec, bjob.Template.Spec
	if differs(ct.RestartPolicy, wt.RestartPolicy) {
		pod.RestartPolicy = bpod.RestartPolicy
	}
	if differs(ct.ServiceAccount, wt.ServiceAccount) {
		pod.ServiceAccountName = bpod.ServiceAccountName
	}
	if len(pod.Containers) == 0 {
		pod.Containers = bpod.Containers[:1]
		changed = true
	}
	c, bc := &pod.Containers[0], bpod.Containers[0]
	if differs(ct.Image, wt.Image) {
		c.Image = bc.Image
	}
	if differs(ct.Command, wt.Command) {
		c.Command = bc.Command
	}
	if differs(ct.Args, wt.Args) {
		c.Args = bc.Args
	}
	if differs(ct.Env, wt.Env) {
		kube.SetEnv(c, bc.Env)
	}
	if differs(ct.Resources, wt.Resources) {
		kube.SetResources(c, bc.Resources)
	}
	return changed
}
