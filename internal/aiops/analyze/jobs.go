package analyze

import (
	"fmt"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/hexabase/hexabase-ai/internal/api"
)

// oldFailure: a Job that failed longer ago than this is history (info).
const oldFailure = 24 * time.Hour

func jobCondition(j *batchv1.Job, t batchv1.JobConditionType) *batchv1.JobCondition {
	for i := range j.Status.Conditions {
		if c := &j.Status.Conditions[i]; c.Type == t && c.Status == corev1.ConditionTrue {
			return c
		}
	}
	return nil
}

// jobFailure is a Job's Failed (or, before it, FailureTarget) condition,
// nil while it has not failed.
func jobFailure(j *batchv1.Job) *batchv1.JobCondition {
	if c := jobCondition(j, batchv1.JobFailed); c != nil {
		return c
	}
	return jobCondition(j, batchv1.JobFailureTarget)
}

// jobDone tells whether a Job finished, either way.
func jobDone(j *batchv1.Job) bool {
	return jobFailure(j) != nil || jobCondition(j, batchv1.JobComplete) != nil || jobCondition(j, batchv1.JobSuccessCriteriaMet) != nil
}

func backoffLimit(j *batchv1.Job) int32 {
	if j.Spec.BackoffLimit == nil {
		return 6
	}
	return *j.Spec.BackoffLimit
}

// failedPodLines quotes how at most two failed pods of a Job ended.
func (x *index) failedPodLines(self ref) []string {
	var out []string
	for _, p := range x.podsOf[self] {
		if p.Status.Phase != corev1.PodFailed || len(out) == 2 {
			continue
		}
		for _, c := range containersOf(p) {
			if t := c.st.State.Terminated; t != nil && t.ExitCode != 0 {
				out = append(out, "pod "+p.Name+": "+c.label()+" terminated "+terminatedText(x.s.Now, t))
				break
			}
		}
	}
	return out
}

// cronOf returns the CronJob that made a Job, if it is in the snapshot.
func (x *index) cronOf(self ref) (string, bool) {
	o, ok := x.jobOwner[self]
	if !ok || o.Kind != "CronJob" {
		return "", false
	}
	for i := range x.s.CronJobs {
		if c := &x.s.CronJobs[i]; c.Namespace == self.ns && c.Name == o.Name {
			return c.Name, true
		}
	}
	return "", false
}

// jobFailed: Jobs that failed, except the runs of a CronJob in the
// snapshot (cronjob-failing reports those); info when long ago.
func jobFailed(x *index) []api.Finding {
	var out []api.Finding
	for i := range x.s.Jobs {
		j := &x.s.Jobs[i]
		c := jobFailure(j)
		self := ref{"Job", j.Namespace, j.Name}
		if _, ok := x.cronOf(self); c == nil || ok {
			continue
		}
		f := api.Finding{Analyzer: "job-failed", Severity: api.SeverityCritical, Objects: []api.FindingObject{self.wire()},
			Title: "Job " + j.Name + " failed"}
		if c.Reason != "" {
			f.Title += ": " + c.Reason
		}
		if !c.LastTransitionTime.IsZero() && x.s.Now.Sub(c.LastTransitionTime.Time) > oldFailure {
			f.Severity = api.SeverityInfo
		}
		ev := []string{conditionLine(string(c.Type), string(c.Status), c.Reason, c.Message)}
		if !c.LastTransitionTime.IsZero() {
			ev[0] += " (" + ago(x.s.Now, c.LastTransitionTime.Time) + ")"
		}
		ev = append(ev, fmt.Sprintf("attempts: %d failed, %d succeeded, backoff limit %d", j.Status.Failed, j.Status.Succeeded, backoffLimit(j)))
		ev = append(ev, x.failedPodLines(self)...)
		logs := "`kubectl -n " + j.Namespace + " logs job/" + j.Name + "`"
		switch c.Reason {
		case batchv1.JobReasonDeadlineExceeded:
			d := int64(0)
			if j.Spec.ActiveDeadlineSeconds != nil {
				d = *j.Spec.ActiveDeadlineSeconds
			}
			f.Suggestion = fmt.Sprintf("it ran longer than its activeDeadlineSeconds (%d): raise it, or make the work finish sooner", d)
		case batchv1.JobReasonPodFailurePolicy:
			f.Suggestion = "a rule of its podFailurePolicy ended it: read the log of the failed pod (" + logs + ") and fix what it stops on"
		default:
			f.Suggestion = "every attempt failed: read the log of a failed pod (" + logs + ") and fix what it stops on, then run it again"
		}
		f.Evidence = bound(ev)
		out = append(out, f)
	}
	return out
}

// jobBackoff: running Jobs that had failed attempts and are retrying.
func jobBackoff(x *index) []api.Finding {
	var out []api.Finding
	for i := range x.s.Jobs {
		j := &x.s.Jobs[i]
		if jobDone(j) || j.Status.Failed == 0 || (j.Spec.Suspend != nil && *j.Spec.Suspend) {
			continue
		}
		self := ref{"Job", j.Namespace, j.Name}
		f := api.Finding{Analyzer: "job-backoff", Severity: api.SeverityWarning, Objects: []api.FindingObject{self.wire()},
			Title: fmt.Sprintf("Job %s is retrying after %s", j.Name, plural(int(j.Status.Failed), "failed attempt"))}
		if c, ok := x.cronOf(self); ok {
			f.Objects = append(f.Objects, ref{"CronJob", j.Namespace, c}.wire())
		}
		ev := []string{fmt.Sprintf("attempts: %d failed, %d active, %d succeeded, backoff limit %d", j.Status.Failed, j.Status.Active, j.Status.Succeeded, backoffLimit(j))}
		ev = append(ev, x.failedPodLines(self)...)
		ev = append(ev, eventLines(x.s.Now, x.recent(x.eventsOf(self, corev1.EventTypeWarning), recentEvents), 1)...)
		f.Evidence = bound(ev)
		f.Suggestion = fmt.Sprintf("it fails on %d of its %d allowed retries: read the log of a failed pod (`kubectl -n %s logs job/%s`) and fix what it stops on before the backoff limit ends it",
			j.Status.Failed, backoffLimit(j), j.Namespace, j.Name)
		out = append(out, f)
	}
	return out
}
