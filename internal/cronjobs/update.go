package cronjobs

import (
	"context"

	batchv1 "k8s.io/api/batch/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/hexabase/hexabase-ai/internal/api"
	"github.com/hexabase/hexabase-ai/internal/httpapi"
	"github.com/hexabase/hexabase-ai/internal/kube"
)

// cronJobDoc is a CronJob's spec with its version (kube.Version: the
// CronJob's generation): what a PUT sends, and what a PATCH
// (api.PatchCronJobRequest) is merged into.
type cronJobDoc struct {
	api.CronJobSpec
	ResourceVersion string `json:"resource_version,omitempty"`
}

// Version is the version of the CronJob the document names.
func (d cronJobDoc) Version() string { return d.ResourceVersion }

// changeCronJob applies change to the live CronJob (kube.Update): it
// writes onto the live object only the fields whose wanted value differs
// from the current one, so what the spec does not describe (other
// containers of the runs, volumes, init containers, …) stays. A change of
// the job template is first put to guard (nil: none), which may refuse it.
func changeCronJob(ctx context.Context, kc kubernetes.Interface, ns, name string, change kube.Change[cronJobDoc], guard func(context.Context, *batchv1.CronJob) error) (*batchv1.CronJob, error) {
	cjs := kc.BatchV1().CronJobs(ns)
	read := func() (*batchv1.CronJob, cronJobDoc, error) {
		cj, err := cjs.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return nil, cronJobDoc{}, err
		}
		return cj, cronJobDoc{CronJobSpec: specOf(cj), ResourceVersion: kube.Version(cj)}, nil
	}
	write := func(cj *batchv1.CronJob, cur, want cronJobDoc) (*batchv1.CronJob, error) {
		built, errs := cronJobObject(want.CronJobSpec, name, ns)
		if len(errs) > 0 {
			return nil, httpapi.Invalid(errs...)
		}
		template := cj.Spec.JobTemplate.Spec.Template.DeepCopy()
		if !setCronJob(cj, cur.CronJobSpec, want.CronJobSpec, built) {
			return cj, nil
		}
		if guard != nil && !apiequality.Semantic.DeepEqual(template, &cj.Spec.JobTemplate.Spec.Template) {
			if err := guard(ctx, cj); err != nil {
				return nil, err
			}
		}
		return cjs.Update(ctx, cj, metav1.UpdateOptions{FieldManager: kube.FieldManager, FieldValidation: "Strict"})
	}
	out, err := kube.Update(read, change, write)
	if err != nil {
		return nil, kube.NotFoundOr(err, "cronjob")
	}
	return out, nil
}

// setCronJob writes onto cj the fields of want that differ from cur (the
// spec of cj), taking their values from built (want as checked and
// converted by cronJobObject), and reports whether anything changed.
func setCronJob(cj *batchv1.CronJob, cur, want api.CronJobSpec, built *batchv1.CronJob) bool {
	spec, bs := &cj.Spec, built.Spec
	job, bjob := &spec.JobTemplate.Spec, bs.JobTemplate.Spec
	pod, bpod := &job.Template.Spec, bjob.Template.Spec
	added := false
	if len(pod.Containers) == 0 {
		pod.Containers, added = bpod.Containers[:1], true
	}
	c, bc := &pod.Containers[0], bpod.Containers[0]
	ct, wt := cur.Template, want.Template
	f := func(cur, want any, set func()) kube.Field { return kube.Field{Cur: cur, Want: want, Set: set} }
	return kube.SetChanged(
		f(cur.Schedule, want.Schedule, func() { spec.Schedule = bs.Schedule }),
		f(cur.TimeZone, want.TimeZone, func() { spec.TimeZone = bs.TimeZone }),
		f(cur.Suspend, want.Suspend, func() { spec.Suspend = bs.Suspend }),
		f(cur.ConcurrencyPolicy, want.ConcurrencyPolicy, func() { spec.ConcurrencyPolicy = bs.ConcurrencyPolicy }),
		f(cur.SuccessfulJobsHistoryLimit, want.SuccessfulJobsHistoryLimit, func() { spec.SuccessfulJobsHistoryLimit = bs.SuccessfulJobsHistoryLimit }),
		f(cur.FailedJobsHistoryLimit, want.FailedJobsHistoryLimit, func() { spec.FailedJobsHistoryLimit = bs.FailedJobsHistoryLimit }),
		f(cur.StartingDeadlineSeconds, want.StartingDeadlineSeconds, func() { spec.StartingDeadlineSeconds = bs.StartingDeadlineSeconds }),
		f(cur.Labels, want.Labels, func() {
			kube.SetUserLabels(cur.Labels, want.Labels, &cj.Labels, &spec.JobTemplate.Labels, &job.Template.Labels)
		}),
		f(ct.BackoffLimit, wt.BackoffLimit, func() { job.BackoffLimit = bjob.BackoffLimit }),
		f(ct.ActiveDeadlineSeconds, wt.ActiveDeadlineSeconds, func() { job.ActiveDeadlineSeconds = bjob.ActiveDeadlineSeconds }),
		f(ct.RestartPolicy, wt.RestartPolicy, func() { pod.RestartPolicy = bpod.RestartPolicy }),
		f(ct.ServiceAccount, wt.ServiceAccount, func() { pod.ServiceAccountName = bpod.ServiceAccountName }),
		f(ct.Image, wt.Image, func() { c.Image = bc.Image }),
		f(ct.Command, wt.Command, func() { c.Command = bc.Command }),
		f(ct.Args, wt.Args, func() { c.Args = bc.Args }),
		f(ct.Env, wt.Env, func() { kube.SetEnv(c, bc.Env) }),
		f(ct.Resources, wt.Resources, func() { kube.SetResources(c, bc.Resources) }),
	) || added
}
