package analyze

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/hexabase/hexabase-ai/internal/api"
	"github.com/hexabase/hexabase-ai/internal/cronexpr"
	"github.com/hexabase/hexabase-ai/internal/store"
)

// Thresholds of the CronJob analyzers.
const (
	// failStreak failed runs in a row, the newest last, are critical;
	// fewer are a warning.
	failStreak = 3
	// missedGrace: a run not started more than this after it was due is missed
	// (the controller checks every 10 seconds).
	missedGrace = 5 * time.Minute
	// maxMissed bounds the count of missed runs.
	maxMissed = 100
)

// outcome is a finished run of a CronJob, from the platform's history or,
// without one, from the Jobs the cluster still keeps.
type outcome struct {
	job     string
	trigger string // store.TriggerSchedule or TriggerManual; "" from a Job
	ok      bool
	at      time.Time // when it finished
	message string
}

// outcomes returns the finished runs of a CronJob, newest first.
func (x *index) outcomes(cj *batchv1.CronJob, runs map[ref][]store.CronJobRun) []outcome {
	var out []outcome
	if rs := runs[ref{"CronJob", cj.Namespace, cj.Name}]; len(rs) > 0 {
		for _, r := range rs {
			if r.Status != store.RunSucceeded && r.Status != store.RunFailed {
				continue
			}
			at := r.CompletedAt
			if at.IsZero() {
				at = r.StartedAt
			}
			out = append(out, outcome{job: r.Job, trigger: r.Trigger, ok: r.Status == store.RunSucceeded, at: at, message: r.Message})
		}
	} else {
		for i := range x.s.Jobs {
			j := &x.s.Jobs[i]
			if o, ok := x.jobOwner[ref{"Job", j.Namespace, j.Name}]; !ok || o.Kind != "CronJob" || o.Name != cj.Name || j.Namespace != cj.Namespace {
				continue
			}
			if c := jobFailure(j); c != nil {
				msg := c.Reason
				if c.Message != "" {
					msg += ": " + c.Message
				}
				out = append(out, outcome{job: j.Name, at: c.LastTransitionTime.Time, message: msg})
			} else if c := jobCondition(j, batchv1.JobComplete); c != nil {
				out = append(out, outcome{job: j.Name, ok: true, at: c.LastTransitionTime.Time})
			}
		}
	}
	slices.SortStableFunc(out, func(a, b outcome) int { return cmp.Or(b.at.Compare(a.at), cmp.Compare(b.job, a.job)) })
	return out
}

// runsByCronJob groups the snapshot's run history by CronJob.
func (x *index) runsByCronJob() map[ref][]store.CronJobRun {
	m := map[ref][]store.CronJobRun{}
	for _, r := range x.s.Runs {
		k := ref{"CronJob", r.Namespace, r.CronJob}
		m[k] = append(m[k], r)
	}
	return m
}

// cronJobFailing: CronJobs whose finished runs all failed, or whose last
// runs failed.
func cronJobFailing(x *index) []api.Finding {
	runs := x.runsByCronJob()
	var out []api.Finding
	for i := range x.s.CronJobs {
		cj := &x.s.CronJobs[i]
		os := x.outcomes(cj, runs)
		streak := 0
		for streak < len(os) && !os[streak].ok {
			streak++
		}
		if streak == 0 {
			continue
		}
		self := ref{"CronJob", cj.Namespace, cj.Name}
		f := api.Finding{Analyzer: "cronjob-failing", Severity: api.SeverityCritical, Objects: []api.FindingObject{self.wire()}}
		switch {
		case streak == len(os) && cj.Status.LastSuccessfulTime == nil:
			f.Title = fmt.Sprintf("CronJob %s has never succeeded: %s, all failed", cj.Name, plural(len(os), "run"))
			if len(os) == 1 {
				f.Title = "CronJob " + cj.Name + " has never succeeded: its only run failed"
			}
		case streak >= failStreak:
			f.Title = fmt.Sprintf("CronJob %s's last %d runs failed", cj.Name, streak)
		case streak == 1:
			f.Severity = api.SeverityWarning
			f.Title = "CronJob " + cj.Name + "'s last run failed"
		default:
			f.Severity = api.SeverityWarning
			f.Title = fmt.Sprintf("CronJob %s's last %d runs failed", cj.Name, streak)
		}
		f.Objects = append(f.Objects, ref{"Job", cj.Namespace, os[0].job}.wire())
		var ev []string
		for _, o := range os[:min(streak, 3)] {
			line := "run " + o.job
			if o.trigger != "" {
				line += " (" + o.trigger + ")"
			}
			line += " failed " + ago(x.s.Now, o.at)
			if m := clip(o.message); m != "" {
				line += ": " + m
			}
			ev = append(ev, line)
		}
		if streak < len(os) {
			ev = append(ev, "last success: run "+os[streak].job+", "+ago(x.s.Now, os[streak].at))
		} else if cj.Status.LastSuccessfulTime != nil {
			ev = append(ev, "last success "+ago(x.s.Now, cj.Status.LastSuccessfulTime.Time))
		}
		f.Evidence = bound(ev)
		f.Suggestion = "read the log of the last failed run (`kubectl -n " + cj.Namespace + " logs job/" + os[0].job + "`) and fix what it stops on; `hks cron history " +
			cj.Name + " --project " + cj.Namespace + "` lists its runs and `hks cron trigger " + cj.Name + " --project " + cj.Namespace + "` tries again now"
		out = append(out, f)
	}
	return out
}

// cronJobMissed: CronJobs not suspended whose last scheduled run is more
// than missedGrace behind their schedule. Schedules cronexpr cannot read
// (the controller takes a few it refuses) are left alone.
func cronJobMissed(x *index) []api.Finding {
	var out []api.Finding
	for i := range x.s.CronJobs {
		cj := &x.s.CronJobs[i]
		if cj.Spec.Suspend != nil && *cj.Spec.Suspend {
			continue
		}
		sched, err := cronexpr.Parse(cj.Spec.Schedule)
		if err != nil {
			continue
		}
		tz := ""
		if cj.Spec.TimeZone != nil {
			tz = *cj.Spec.TimeZone
		}
		loc, err := cronexpr.LoadTimeZone(tz)
		if err != nil {
			continue
		}
		last := cj.CreationTimestamp.Time
		if cj.Status.LastScheduleTime != nil {
			last = cj.Status.LastScheduleTime.Time
		}
		if last.IsZero() {
			continue // an object without times: nothing to measure from
		}
		due := sched.Next(last.In(loc))
		cutoff := x.s.Now.Add(-missedGrace)
		if due.IsZero() || !due.Before(cutoff) {
			continue
		}
		missed, latest := 0, due
		for t := due; !t.IsZero() && t.Before(cutoff) && missed < maxMissed; t = sched.Next(t) {
			missed++
			latest = t
		}
		self := ref{"CronJob", cj.Namespace, cj.Name}
		f := api.Finding{Analyzer: "cronjob-missed", Severity: api.SeverityWarning, Objects: []api.FindingObject{self.wire()},
			Title: "CronJob " + cj.Name + " missed its scheduled run"}
		if missed > 1 {
			more := ""
			if missed == maxMissed {
				more = " or more"
			}
			f.Title = fmt.Sprintf("CronJob %s missed %d%s scheduled runs", cj.Name, missed, more)
		}
		zone := loc.String()
		ev := []string{fmt.Sprintf("schedule %q (%s): a run was due %s (%s), none started", cj.Spec.Schedule, zone, ago(x.s.Now, due), due.Format(time.RFC3339))}
		if missed > 1 {
			ev = append(ev, fmt.Sprintf("the latest missed run was due %s", ago(x.s.Now, latest)))
		}
		if cj.Status.LastScheduleTime != nil {
			ev = append(ev, "last scheduled "+ago(x.s.Now, last))
		} else {
			ev = append(ev, "never scheduled; created "+ago(x.s.Now, last))
		}
		var active []string
		for _, a := range cj.Status.Active {
			active = append(active, a.Name)
		}
		forbid := cj.Spec.ConcurrencyPolicy == batchv1.ForbidConcurrent && len(active) > 0
		if forbid {
			ev = append(ev, "concurrencyPolicy Forbid and still active: "+names(active))
		}
		if cj.Spec.StartingDeadlineSeconds != nil {
			ev = append(ev, fmt.Sprintf("startingDeadlineSeconds %d", *cj.Spec.StartingDeadlineSeconds))
		}
		ev = append(ev, eventLines(x.s.Now, x.eventsOf(self, corev1.EventTypeWarning), 1)...)
		trigger := "`hks cron trigger " + cj.Name + " --project " + cj.Namespace + "`"
		switch {
		case forbid:
			f.Suggestion = "a run is still active and concurrencyPolicy Forbid skips the next ones: find why " + names(active) +
				" does not finish (or bound it with activeDeadlineSeconds), or allow concurrent runs"
		case cj.Spec.StartingDeadlineSeconds != nil && *cj.Spec.StartingDeadlineSeconds < 60:
			f.Suggestion = fmt.Sprintf("a run that cannot start within startingDeadlineSeconds (%d) is skipped: raise it; %s runs it now", *cj.Spec.StartingDeadlineSeconds, trigger)
		default:
			f.Suggestion = "the CronJob controller did not start it: runs due while the workspace was asleep are not made up, and a controller that is down starts nothing; " + trigger + " runs it now"
		}
		f.Evidence = bound(ev)
		out = append(out, f)
	}
	return out
}

// cronJobSuspended: suspended CronJobs, for the record.
func cronJobSuspended(x *index) []api.Finding {
	var out []api.Finding
	for i := range x.s.CronJobs {
		cj := &x.s.CronJobs[i]
		if cj.Spec.Suspend == nil || !*cj.Spec.Suspend {
			continue
		}
		self := ref{"CronJob", cj.Namespace, cj.Name}
		ev := []string{fmt.Sprintf("suspend: true; schedule %q", cj.Spec.Schedule)}
		if cj.Status.LastScheduleTime != nil {
			ev = append(ev, "last scheduled "+ago(x.s.Now, cj.Status.LastScheduleTime.Time))
		} else {
			ev = append(ev, "never scheduled")
		}
		out = append(out, api.Finding{Analyzer: "cronjob-suspended", Severity: api.SeverityInfo, Objects: []api.FindingObject{self.wire()},
			Title: "CronJob " + cj.Name + " is suspended", Evidence: ev,
			Suggestion: "it runs on its schedule again once resumed: `hks cron resume " + cj.Name + " --project " + cj.Namespace + "`"})
	}
	return out
}
