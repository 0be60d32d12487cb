package cronjobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"strconv"
	"sync"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/hexabase/hexabase-ai/internal/api"
	"github.com/hexabase/hexabase-ai/internal/httpapi"
	"github.com/hexabase/hexabase-ai/internal/kube"
	"github.com/hexabase/hexabase-ai/internal/store"
	"github.com/hexabase/hexabase-ai/internal/workloads"
)

// Config carries the service's dependencies.
type Config struct {
	Store    store.Store
	Scopes   kube.Scopes
	Clusters kube.Clusters
	// Admin reads Jobs for the history recorder; nil: history is recorded
	// only when it is read or a run is triggered.
	Admin  kube.AdminClusters
	Logger *slog.Logger
	Now    func() time.Time
	// SyncInterval is how often the recorder reads every running
	// workspace's Jobs (default 10 s).
	SyncInterval time.Duration
}

// Service serves the CronJob API and records execution history.
type Service struct {
	cfg  Config
	jobs kube.Objects
	// written is the state last recorded of each Job (by uid), so that
	// an unchanged Job is not written again.
	written sync.Map
}

// New returns a Service.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil || cfg.Scopes == nil || cfg.Clusters == nil || cfg.Logger == nil {
		return nil, errors.New("cronjobs: Store, Scopes, Clusters and Logger are required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.SyncInterval <= 0 {
		cfg.SyncInterval = 10 * time.Second
	}
	jobs := kube.Objects{Scopes: cfg.Scopes, Clusters: cfg.Clusters, Param: "cronjob", What: "cronjob", Valid: validCronJobName}
	return &Service{cfg: cfg, jobs: jobs}, nil
}

const (
	cronJobsPath = workloads.ProjectPath + "/cronjobs"
	cronJobPath  = cronJobsPath + "/{cronjob}"
)

// Routes returns the CronJob routes.
func (s *Service) Routes() []httpapi.Route {
	kubeErrs := []int{http.StatusForbidden, http.StatusConflict, http.StatusServiceUnavailable}
	return []httpapi.Route{
		{Method: "POST", Path: cronJobsPath, Tag: "cronjobs", Summary: "Create a CronJob (the schedule and time zone are checked before anything reaches the cluster); as the caller, so the cluster's RBAC decides",
			Request: api.CreateCronJobRequest{}, Response: api.CronJob{}, Status: http.StatusCreated, Errors: kubeErrs, Action: "cronjob.create", Handle: s.create},
		{Method: "GET", Path: cronJobsPath, Tag: "cronjobs", Summary: "List the project's CronJobs", Response: api.List[api.CronJob]{}, Query: httpapi.PageQuery, Errors: kubeErrs, Handle: s.list},
		{Method: "GET", Path: cronJobsPath + "/preview", Tag: "cronjobs", Summary: "The next runs of a schedule in a time zone (nothing is sent to the cluster)",
			Response: api.Preview{}, Query: []httpapi.Param{{Name: "schedule", Description: "the cron expression"}, {Name: "time_zone", Description: "IANA time zone (default UTC)", Aliases: []string{"timeZone"}},
				{Name: "count", Type: "integer", Description: "how many runs, 1 to 100 (default 5)"}, {Name: "since", Description: "RFC 3339 time to start from (default now)", Aliases: []string{"after"}}}, Handle: s.preview},
		{Method: "GET", Path: cronJobPath, Tag: "cronjobs", Summary: "Get a CronJob with its status and next runs", Response: api.CronJob{}, Errors: kubeErrs, Handle: s.get},
		{Method: "PUT", Path: cronJobPath, Tag: "cronjobs", Summary: "Replace what the spec describes of a CronJob (other containers of its runs, volumes, … stay); If-Match or resource_version make it conditional (412 when stale)",
			Request: api.UpdateCronJobRequest{}, Response: api.CronJob{}, Errors: append(kubeErrs, http.StatusPreconditionFailed), Action: "cronjob.update", Handle: s.update},
		{Method: "PATCH", Path: cronJobPath, Tag: "cronjobs", Summary: "Change some fields of a CronJob's spec: a JSON merge patch (RFC 7396) applied to the live CronJob, so fields the patch does not name stay; If-Match or resource_version make it conditional (412 when stale)",
			Request: api.PatchCronJobRequest{}, Response: api.CronJob{}, Errors: append(kubeErrs, http.StatusPreconditionFailed), Action: "cronjob.update", Handle: s.patch},
		{Method: "DELETE", Path: cronJobPath, Tag: "cronjobs", Summary: "Delete a CronJob, its Jobs and its history", Status: http.StatusNoContent, Errors: kubeErrs, Action: "cronjob.delete", Handle: s.delete},
		{Method: "POST", Path: cronJobPath + "/suspend", Tag: "cronjobs", Summary: "Suspend a CronJob (no new runs)", Response: api.CronJob{}, Errors: kubeErrs, Action: "cronjob.suspend", Handle: s.suspendHandler(true)},
		{Method: "POST", Path: cronJobPath + "/resume", Tag: "cronjobs", Summary: "Resume a suspended CronJob", Response: api.CronJob{}, Errors: kubeErrs, Action: "cronjob.resume", Handle: s.suspendHandler(false)},
		{Method: "POST", Path: cronJobPath + "/trigger", Tag: "cronjobs", Summary: "Run a CronJob now: a Job from its template", Response: api.Run{}, Status: http.StatusCreated, Errors: kubeErrs, Action: "cronjob.trigger", Handle: s.trigger},
		{Method: "GET", Path: cronJobPath + "/history", Tag: "cronjobs", Summary: "A CronJob's runs, newest first, as the platform recorded them (they outlive the cluster's history limits)",
			Response: api.List[api.Run]{}, Query: httpapi.PageQuery, Errors: kubeErrs, Handle: s.history},
	}
}

func (s *Service) runOut(r store.CronJobRun) api.Run {
	out := api.Run{ID: r.ID, Job: r.Job, Trigger: r.Trigger, Status: r.Status, Message: r.Message, StartedAt: r.StartedAt}
	end := s.cfg.Now().UTC()
	if !r.CompletedAt.IsZero() {
		t := r.CompletedAt
		out.CompletedAt = &t
		end = t
	}
	if d := end.Sub(r.StartedAt); d > 0 {
		out.DurationSeconds = d.Round(time.Millisecond).Seconds()
	}
	return out
}

func (s *Service) cronJobOut(project string, cj *batchv1.CronJob) api.CronJob {
	out := api.CronJob{Name: cj.Name, Project: project, Spec: specOf(cj), CreatedAt: cj.CreationTimestamp.UTC(), ResourceVersion: kube.Version(cj),
		Status: api.CronJobStatus{Active: []string{}, NextRuns: []time.Time{}}}
	for _, a := range cj.Status.Active {
		out.Status.Active = append(out.Status.Active, a.Name)
	}
	if t := cj.Status.LastScheduleTime; t != nil {
		u := t.UTC()
		out.Status.LastScheduleTime = &u
	}
	if t := cj.Status.LastSuccessfulTime; t != nil {
		u := t.UTC()
		out.Status.LastSuccessfulTime = &u
	}
	if !out.Spec.Suspend {
		if sched, loc, errs := parseSchedule(out.Spec.Schedule, out.Spec.TimeZone); len(errs) == 0 {
			out.Status.NextRuns = append(out.Status.NextRuns, sched.NextN(s.cfg.Now(), loc, 3)...)
		}
	}
	return out
}

// validCronJobName tells whether name can be a CronJob's.
func validCronJobName(name string) bool { return len(validName("cronjob", name, 63)) == 0 }

func notFoundOr(err error) error { return kube.NotFoundOr(err, "cronjob") }

func (s *Service) create(r *http.Request) (any, error) {
	var req api.CreateCronJobRequest
	if err := httpapi.DecodeJSON(r, &req); err != nil {
		return nil, err
	}
	// Checked before the cluster is asked anything.
	cj, errs := cronJobObject(req.CronJobSpec, req.Name, "")
	if len(errs) > 0 {
		return nil, httpapi.Invalid(errs...)
	}
	c, err := s.jobs.Project(r)
	if err != nil {
		return nil, err
	}
	cj.Namespace = c.NS
	ctx := r.Context()
	if c.Restricted() {
		// The image must then run as a non-root user.
		kube.Restrict(&cj.Spec.JobTemplate.Spec.Template.Spec)
	}
	opts := metav1.CreateOptions{FieldManager: kube.FieldManager, FieldValidation: "Strict"}
	if err := c.CheckPodSecurity(ctx, cj.Name, "template", &cj.Spec.JobTemplate.Spec.Template, func() error {
		dry := opts
		dry.DryRun = []string{metav1.DryRunAll}
		_, err := c.C.Kube.BatchV1().CronJobs(c.NS).Create(ctx, cj, dry)
		return kube.Error(err)
	}); err != nil {
		return nil, err
	}
	got, err := c.C.Kube.BatchV1().CronJobs(c.NS).Create(ctx, cj, opts)
	if err != nil {
		return nil, kube.Error(err)
	}
	return kube.WithWarnings(c.C, s.cronJobOut(c.Scope.Project.Name, got)), nil
}

// podSecurityGuard is changeCronJob's check of a changed job template:
// in a restricted project the template is first made to comply where it
// says nothing (kube.Restrict), then a dry run of the update is refused
// when the project's Pod Security level would refuse the runs' pods.
func podSecurityGuard(c kube.Project) func(context.Context, *batchv1.CronJob) error {
	return func(ctx context.Context, cj *batchv1.CronJob) error {
		tpl := &cj.Spec.JobTemplate.Spec.Template
		if c.Restricted() {
			kube.Restrict(&tpl.Spec)
		}
		return c.CheckPodSecurity(ctx, cj.Name, "template", tpl, func() error {
			_, err := c.C.Kube.BatchV1().CronJobs(c.NS).Update(ctx, cj, metav1.UpdateOptions{FieldManager: kube.FieldManager, FieldValidation: "Strict", DryRun: []string{metav1.DryRunAll}})
			return err
		})
	}
}

func (s *Service) list(r *http.Request) (any, error) {
	page, c, err := s.jobs.Page(r)
	if err != nil {
		return nil, err
	}
	l, err := c.C.Kube.BatchV1().CronJobs(c.NS).List(r.Context(), metav1.ListOptions{Limit: page.Limit, Continue: page.Continue})
	if err != nil {
		return nil, kube.PageError(err)
	}
	out := make([]api.CronJob, 0, len(l.Items))
	for i := range l.Items {
		out = append(out, s.cronJobOut(c.Scope.Project.Name, &l.Items[i]))
	}
	return httpapi.NewList(out, l.Continue), nil
}

func (s *Service) get(r *http.Request) (any, error) {
	name, c, err := s.jobs.Target(r)
	if err != nil {
		return nil, err
	}
	cj, err := c.C.Kube.BatchV1().CronJobs(c.NS).Get(r.Context(), name, metav1.GetOptions{})
	if err != nil {
		return nil, notFoundOr(err)
	}
	return s.cronJobOut(c.Scope.Project.Name, cj), nil
}

// update replaces what the spec describes of a CronJob; what it cannot
// describe (other containers of the runs, volumes, …) stays.
func (s *Service) update(r *http.Request) (any, error) {
	name, req, err := kube.DecodeNamed[api.UpdateCronJobRequest](s.jobs, r)
	if err != nil {
		return nil, err
	}
	if _, errs := cronJobObject(req.CronJobSpec, name, ""); len(errs) > 0 {
		return nil, httpapi.Invalid(errs...)
	}
	c, err := s.jobs.Project(r)
	if err != nil {
		return nil, err
	}
	got, err := changeCronJob(r.Context(), c.C.Kube, c.NS, name, kube.ReplaceChange(r, cronJobDoc{CronJobSpec: req.CronJobSpec, ResourceVersion: req.ResourceVersion}), podSecurityGuard(c))
	if err != nil {
		return nil, err
	}
	return kube.WithWarnings(c.C, s.cronJobOut(c.Scope.Project.Name, got)), nil
}

// patch applies a JSON merge patch of the spec to the live CronJob: only
// the fields the patch names change.
func (s *Service) patch(r *http.Request) (any, error) {
	name, patch, err := s.jobs.NamedPatch(r)
	if err != nil {
		return nil, err
	}
	c, err := s.jobs.Project(r)
	if err != nil {
		return nil, err
	}
	got, err := changeCronJob(r.Context(), c.C.Kube, c.NS, name, kube.PatchChange[cronJobDoc](r, patch), podSecurityGuard(c))
	if err != nil {
		return nil, err
	}
	return kube.WithWarnings(c.C, s.cronJobOut(c.Scope.Project.Name, got)), nil
}

func (s *Service) suspendHandler(suspend bool) httpapi.HandlerFunc {
	return func(r *http.Request) (any, error) {
		name, c, err := s.jobs.Target(r)
		if err != nil {
			return nil, err
		}
		patch := fmt.Appendf(nil, `{"spec":{"suspend":%t}}`, suspend)
		got, err := c.C.Kube.BatchV1().CronJobs(c.NS).Patch(r.Context(), name, types.MergePatchType, patch, metav1.PatchOptions{FieldManager: kube.FieldManager})
		if err != nil {
			return nil, notFoundOr(err)
		}
		return s.cronJobOut(c.Scope.Project.Name, got), nil
	}
}

func (s *Service) delete(r *http.Request) (any, error) {
	name, c, err := s.jobs.Target(r)
	if err != nil {
		return nil, err
	}
	bg := metav1.DeletePropagationBackground
	if err := c.C.Kube.BatchV1().CronJobs(c.NS).Delete(r.Context(), name, metav1.DeleteOptions{PropagationPolicy: &bg}); err != nil {
		return nil, notFoundOr(err)
	}
	if err := s.cfg.Store.DeleteCronJobRuns(context.WithoutCancel(r.Context()), c.Scope.Workspace.ID, c.NS, name); err != nil {
		return nil, err
	}
	return nil, nil
}

// trigger creates a Job from the CronJob's template now, as the caller.
func (s *Service) trigger(r *http.Request) (any, error) {
	name, c, err := s.jobs.Target(r)
	if err != nil {
		return nil, err
	}
	ctx := r.Context()
	cj, err := c.C.Kube.BatchV1().CronJobs(c.NS).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, notFoundOr(err)
	}
	job := ManualJob(cj, s.cfg.Now())
	got, err := c.C.Kube.BatchV1().Jobs(c.NS).Create(ctx, job, metav1.CreateOptions{FieldManager: kube.FieldManager})
	if err != nil {
		return nil, kube.Error(err)
	}
	run := s.runOf(c.Scope.Workspace.ID, got)
	if err := s.cfg.Store.UpsertCronJobRun(context.WithoutCancel(ctx), run); err != nil {
		return nil, err
	}
	return s.runOut(run), nil
}

// ManualJob is the Job that runs cronjob cj now, by hand, as `kubectl
// create job --from=cronjob/…` makes it: its template, a name with a
// suffix of now, annotation cronjob.kubernetes.io/instantiate=manual and
// the CronJob as its controller (the trigger route and the assistant's
// cronjob_trigger tool make the same Job).
func ManualJob(cj *batchv1.CronJob, now time.Time) *batchv1.Job {
	name := cj.Name
	suffix := "-manual-" + strconv.FormatInt(now.UTC().UnixMilli()%1e10, 36)
	jobName := name
	if len(jobName)+len(suffix) > 63 {
		jobName = jobName[:63-len(suffix)]
	}
	jobName += suffix
	labels := maps.Clone(cj.Spec.JobTemplate.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	labels[LabelCronJob] = name
	ann := map[string]string{}
	maps.Copy(ann, cj.Spec.JobTemplate.Annotations)
	ann[annotationInstantiate] = "manual"
	ctrl := true
	return &batchv1.Job{
		TypeMeta: metav1.TypeMeta{APIVersion: "batch/v1", Kind: "Job"},
		ObjectMeta: metav1.ObjectMeta{Name: jobName, Namespace: cj.Namespace, Labels: labels, Annotations: ann,
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "batch/v1", Kind: "CronJob", Name: cj.Name, UID: cj.UID, Controller: &ctrl}}},
		Spec: *cj.Spec.JobTemplate.Spec.DeepCopy(),
	}
}

// history answers the recorded runs after recording what the cluster
// shows of this CronJob now (read as the caller, so RBAC decides).
func (s *Service) history(r *http.Request) (any, error) {
	page, err := httpapi.PageFromQuery(r)
	if err != nil {
		return nil, err
	}
	name, c, err := s.jobs.Target(r)
	if err != nil {
		return nil, err
	}
	ctx := r.Context()
	_, err = c.C.Kube.BatchV1().CronJobs(c.NS).Get(ctx, name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		// Gone from the cluster: what was recorded is still there.
	case err != nil:
		return nil, kube.Error(err)
	default:
		jobs, err := c.C.Kube.BatchV1().Jobs(c.NS).List(ctx, metav1.ListOptions{})
		if err != nil {
			return nil, kube.Error(err)
		}
		if err := s.record(ctx, c.Scope.Workspace.ID, jobs.Items, name); err != nil {
			return nil, err
		}
	}
	runs, next, err := s.cfg.Store.ListCronJobRuns(ctx, c.Scope.Workspace.ID, c.NS, name, page)
	if err != nil {
		return nil, err
	}
	out := make([]api.Run, 0, len(runs))
	for _, run := range runs {
		out = append(out, s.runOut(run))
	}
	return httpapi.NewList(out, next), nil
}

// preview computes the next runs of ?schedule= in ?time_zone=; any member
// of the workspace who can see the project may ask.
func (s *Service) preview(r *http.Request) (any, error) {
	if _, err := s.cfg.Scopes.ResolveProject(r); err != nil {
		return nil, err
	}
	q := r.URL.Query()
	zone := httpapi.QueryValue(r, "time_zone", "timeZone")
	sched, loc, errs := parseSchedule(q.Get("schedule"), zone)
	count := 5
	if v := q.Get("count"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxPreviewCount {
			errs = append(errs, httpapi.Field("count", fmt.Sprintf("must be an integer from 1 to %d", maxPreviewCount)))
		}
		count = n
	}
	after, fe := httpapi.TimeQuery(r, httpapi.SinceParam, "after")
	if fe != nil {
		errs = append(errs, *fe)
	}
	if after.IsZero() {
		after = s.cfg.Now()
	}
	if len(errs) > 0 {
		return nil, httpapi.Invalid(errs...)
	}
	runs := sched.NextN(after, loc, count)
	if runs == nil {
		runs = []time.Time{}
	}
	// Runs before year 0 or after 9999 (in the zone) cannot be written.
	for _, run := range runs {
		if !httpapi.TimeRepresentable(run) {
			return nil, httpapi.Invalid(httpapi.Field(httpapi.QueryName(r, httpapi.SinceParam, "after"),
				"the runs after this time fall outside the years 0000 to 9999, which cannot be represented; give an earlier time"))
		}
	}
	return api.Preview{Schedule: q.Get("schedule"), TimeZone: loc.String(), NextRuns: runs}, nil
}
