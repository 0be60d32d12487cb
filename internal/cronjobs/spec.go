package cronjobs

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/hexabase/hexabase-ai/internal/api"
	"github.com/hexabase/hexabase-ai/internal/cronexpr"
	"github.com/hexabase/hexabase-ai/internal/httpapi"
	"github.com/hexabase/hexabase-ai/internal/kube"
)

// Labels and annotations the platform puts on CronJobs and their Jobs.
const (
	// LabelCronJob names the CronJob on its Jobs and their pods.
	LabelCronJob = "hks.io/cronjob"
	// annotationInstantiate marks a Job made from a CronJob by hand, as
	// `kubectl create job --from=cronjob/…` does.
	annotationInstantiate = "cronjob.kubernetes.io/instantiate"
)

// Limits of a spec.
const (
	maxHistoryLimit   = 100
	maxPreviewCount   = 100
	maxCronJobNameLen = 52 // Kubernetes' limit: the controller appends an 11-character suffix
)

// parseSchedule checks a schedule and its zone; the errors name the field
// of the expression that is wrong.
func parseSchedule(schedule, zone string) (*cronexpr.Schedule, *time.Location, []api.FieldError) {
	var errs []api.FieldError
	sched, err := cronexpr.Parse(schedule)
	if err != nil {
		errs = append(errs, scheduleField("schedule", err))
	}
	loc, err := cronexpr.LoadTimeZone(zone)
	if err != nil {
		errs = append(errs, scheduleField("time_zone", err))
	}
	return sched, loc, errs
}

func scheduleField(field string, err error) api.FieldError {
	var se *cronexpr.Error
	if errors.As(err, &se) {
		return httpapi.Field(field, se.Error())
	}
	return httpapi.Field(field, err.Error())
}

func validName(field, name string, max int) []api.FieldError {
	if name == "" {
		return []api.FieldError{httpapi.Field(field, "is required")}
	}
	if errs := validation.IsDNS1123Label(name); len(errs) > 0 || len(name) > max {
		return []api.FieldError{httpapi.Field(field, fmt.Sprintf("must be a DNS-1123 label of at most %d characters: lowercase letters, digits and '-', starting and ending with a letter or digit", max))}
	}
	return nil
}

func quantities(field string, rl api.ResourceList) (corev1.ResourceList, []api.FieldError) {
	var errs []api.FieldError
	out := corev1.ResourceList{}
	for name, v := range map[corev1.ResourceName]string{corev1.ResourceCPU: rl.CPU, corev1.ResourceMemory: rl.Memory} {
		if v == "" {
			continue
		}
		q, err := resource.ParseQuantity(v)
		if err != nil || q.Sign() < 0 {
			errs = append(errs, httpapi.Field(field+"."+string(name), fmt.Sprintf("%q is not a non-negative quantity (examples: 250m, 1, 512Mi)", v)))
			continue
		}
		out[name] = q
	}
	if len(out) == 0 {
		return nil, errs
	}
	return out, errs
}

// CronJobObject builds the CronJob of a spec in namespace, or the spec's
// field errors (named as the API names them: name, schedule, time_zone,
// template.image, …). The CronJob API and the assistant's cronjob_create
// tool share it.
func CronJobObject(s api.CronJobSpec, name, namespace string) (*batchv1.CronJob, []api.FieldError) {
	return cronJobObject(s, name, namespace)
}

// object builds the CronJob of a spec, or the spec's field errors. The
// schedule is checked here, before anything reaches the cluster.
func cronJobObject(s api.CronJobSpec, name, namespace string) (*batchv1.CronJob, []api.FieldError) {
	var errs []api.FieldError
	errs = append(errs, validName("name", name, maxCronJobNameLen)...)
	if name == "preview" {
		errs = append(errs, httpapi.Field("name", `"preview" is reserved (GET …/cronjobs/preview)`))
	}
	_, _, serrs := parseSchedule(s.Schedule, s.TimeZone)
	errs = append(errs, serrs...)
	policy := batchv1.ConcurrencyPolicy(s.ConcurrencyPolicy)
	switch policy {
	case "":
		policy = batchv1.AllowConcurrent
	case batchv1.AllowConcurrent, batchv1.ForbidConcurrent, batchv1.ReplaceConcurrent:
	default:
		errs = append(errs, httpapi.Field("concurrency_policy", "must be Allow, Forbid or Replace"))
	}
	for field, v := range map[string]*int32{"successful_jobs_history_limit": s.SuccessfulJobsHistoryLimit, "failed_jobs_history_limit": s.FailedJobsHistoryLimit} {
		if v != nil && (*v < 0 || *v > maxHistoryLimit) {
			errs = append(errs, httpapi.Field(field, fmt.Sprintf("must be between 0 and %d", maxHistoryLimit)))
		}
	}
	if v := s.StartingDeadlineSeconds; v != nil && *v < 0 {
		errs = append(errs, httpapi.Field("starting_deadline_seconds", "must not be negative"))
	}
	t := s.Template
	switch {
	case strings.TrimSpace(t.Image) == "":
		errs = append(errs, httpapi.Field("template.image", "is required"))
	case len(t.Image) > 512 || strings.ContainsAny(t.Image, " \t\n"):
		errs = append(errs, httpapi.Field("template.image", "must be an image reference without spaces, at most 512 characters"))
	}
	errs = append(errs, kube.ListLimits("template.command", t.Command)...)
	errs = append(errs, kube.ListLimits("template.args", t.Args)...)
	restart := corev1.RestartPolicy(t.RestartPolicy)
	switch restart {
	case "":
		restart = corev1.RestartPolicyOnFailure
	case corev1.RestartPolicyOnFailure, corev1.RestartPolicyNever:
	default:
		errs = append(errs, httpapi.Field("template.restart_policy", "must be OnFailure or Never (a Job's pods cannot restart Always)"))
	}
	if t.ServiceAccount != "" {
		if e := validation.IsDNS1123Subdomain(t.ServiceAccount); len(e) > 0 {
			errs = append(errs, httpapi.Field("template.service_account", "must be a DNS-1123 subdomain"))
		}
	}
	if v := t.BackoffLimit; v != nil && (*v < 0 || *v > 100) {
		errs = append(errs, httpapi.Field("template.backoff_limit", "must be between 0 and 100"))
	}
	if v := t.ActiveDeadlineSeconds; v != nil && *v < 1 {
		errs = append(errs, httpapi.Field("template.active_deadline_seconds", "must be positive"))
	}
	env, e := kube.EnvVars("template.env", t.Env)
	errs = append(errs, e...)
	var res corev1.ResourceRequirements
	if t.Resources != nil {
		var e []api.FieldError
		res.Requests, e = quantities("template.resources.requests", t.Resources.Requests)
		errs = append(errs, e...)
		res.Limits, e = quantities("template.resources.limits", t.Resources.Limits)
		errs = append(errs, e...)
	}
	for k, v := range s.Labels {
		if e := validation.IsQualifiedName(k); len(e) > 0 || strings.HasPrefix(k, "hks.io/") || k == kube.LabelManagedBy {
			errs = append(errs, httpapi.Field("labels."+k, "not a label key of yours (qualified name, not hks.io/ or "+kube.LabelManagedBy+")"))
		} else if e := validation.IsValidLabelValue(v); len(e) > 0 {
			errs = append(errs, httpapi.Field("labels."+k, "not a valid label value"))
		}
	}
	if len(s.Labels) > kube.MaxItems {
		errs = append(errs, httpapi.Field("labels", fmt.Sprintf("at most %d labels", kube.MaxItems)))
	}
	if len(errs) > 0 {
		sortFields(errs)
		return nil, errs
	}
	labels := map[string]string{}
	maps.Copy(labels, s.Labels)
	labels[kube.LabelManagedBy] = kube.ManagedBy
	jobLabels := map[string]string{}
	maps.Copy(jobLabels, labels)
	jobLabels[LabelCronJob] = name
	var tz *string
	if s.TimeZone != "" {
		tz = &s.TimeZone
	}
	suspend := s.Suspend
	return &batchv1.CronJob{
		TypeMeta:   metav1.TypeMeta{APIVersion: "batch/v1", Kind: "CronJob"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: labels},
		Spec: batchv1.CronJobSpec{
			Schedule: s.Schedule, TimeZone: tz, Suspend: &suspend, ConcurrencyPolicy: policy,
			SuccessfulJobsHistoryLimit: s.SuccessfulJobsHistoryLimit, FailedJobsHistoryLimit: s.FailedJobsHistoryLimit,
			StartingDeadlineSeconds: s.StartingDeadlineSeconds,
			JobTemplate: batchv1.JobTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: jobLabels},
				Spec: batchv1.JobSpec{
					BackoffLimit: t.BackoffLimit, ActiveDeadlineSeconds: t.ActiveDeadlineSeconds,
					Template: corev1.PodTemplateSpec{
						ObjectMeta: metav1.ObjectMeta{Labels: jobLabels},
						Spec: corev1.PodSpec{
							RestartPolicy: restart, ServiceAccountName: t.ServiceAccount,
							Containers: []corev1.Container{{Name: "job", Image: t.Image, Command: t.Command, Args: t.Args, Env: env, Resources: res}},
						},
					},
				},
			},
		},
	}, nil
}

// specOf reads a CronJob back into the API's form (its first container).
func specOf(cj *batchv1.CronJob) api.CronJobSpec {
	s := api.CronJobSpec{Schedule: cj.Spec.Schedule, ConcurrencyPolicy: string(cj.Spec.ConcurrencyPolicy),
		SuccessfulJobsHistoryLimit: cj.Spec.SuccessfulJobsHistoryLimit, FailedJobsHistoryLimit: cj.Spec.FailedJobsHistoryLimit,
		StartingDeadlineSeconds: cj.Spec.StartingDeadlineSeconds}
	if cj.Spec.TimeZone != nil {
		s.TimeZone = *cj.Spec.TimeZone
	}
	if cj.Spec.Suspend != nil {
		s.Suspend = *cj.Spec.Suspend
	}
	s.Labels = kube.UserLabels(cj.Labels)
	js := cj.Spec.JobTemplate.Spec
	s.Template = api.JobTemplate{RestartPolicy: string(js.Template.Spec.RestartPolicy), ServiceAccount: js.Template.Spec.ServiceAccountName,
		BackoffLimit: js.BackoffLimit, ActiveDeadlineSeconds: js.ActiveDeadlineSeconds}
	if cs := js.Template.Spec.Containers; len(cs) > 0 {
		c := cs[0]
		s.Template.Image, s.Template.Command, s.Template.Args = c.Image, c.Command, c.Args
		s.Template.Env, s.Template.Resources = kube.EnvOf(c), kube.ResourcesOf(c)
	}
	return s
}

func sortFields(errs []api.FieldError) {
	slices.SortStableFunc(errs, func(a, b api.FieldError) int { return strings.Compare(a.Field, b.Field) })
}
