package analyze

import (
	"fmt"
	"testing"
	"time"

	_ "time/tzdata" // Asia/Tokyo, even on machines without a zone database

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/hexabase/hexabase-ai/internal/api"
	"github.com/hexabase/hexabase-ai/internal/store"
)

// jobCond adds a true condition to a Job, lastTransition ago.
func jobCond(typ batchv1.JobConditionType, reason, msg string, ago time.Duration) func(*batchv1.Job) {
	return func(j *batchv1.Job) {
		j.Status.Conditions = append(j.Status.Conditions, batchv1.JobCondition{Type: typ, Status: corev1.ConditionTrue, Reason: reason, Message: msg, LastTransitionTime: before(ago)})
	}
}

func counts(failed, active, succeeded int32) func(*batchv1.Job) {
	return func(j *batchv1.Job) { j.Status.Failed, j.Status.Active, j.Status.Succeeded = failed, active, succeeded }
}

func ofCron(name string) func(*batchv1.Job) {
	return func(j *batchv1.Job) { j.OwnerReferences = controller("CronJob", name) }
}

// failedPod is a failed pod of Job j whose container exited with 1.
func failedPod(name, j string, ago time.Duration) corev1.Pod {
	return pod(name, ownedBy("Job", j), func(p *corev1.Pod) {
		p.Status.Phase = corev1.PodFailed
		p.Status.ContainerStatuses[0].State = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: "Error", ExitCode: 1, FinishedAt: before(ago)}}
	})
}

func cronJob(name, schedule string, mods ...func(*batchv1.CronJob)) batchv1.CronJob {
	c := batchv1.CronJob{ObjectMeta: meta(name)}
	c.Spec.Schedule = schedule
	c.Spec.ConcurrencyPolicy = batchv1.AllowConcurrent
	for _, m := range mods {
		m(&c)
	}
	return c
}

func scheduled(ago time.Duration) func(*batchv1.CronJob) {
	return func(c *batchv1.CronJob) { t := before(ago); c.Status.LastScheduleTime = &t }
}

func suspended(c *batchv1.CronJob) { t := true; c.Spec.Suspend = &t }

const backoffMsg = "Job has reached the specified backoff limit"

func TestJobFailed(t *testing.T) {
	runTable(t, "job-failed", []tc{
		{name: "complete", s: Snapshot{Jobs: []batchv1.Job{job("import", counts(0, 0, 1), jobCond(batchv1.JobComplete, "CompletionsReached", "", time.Minute))}}},
		{name: "backoff limit exceeded",
			s: Snapshot{Jobs: []batchv1.Job{job("import", counts(7, 0, 0), jobCond(batchv1.JobFailed, "BackoffLimitExceeded", backoffMsg, 5*time.Minute))},
				Pods: []corev1.Pod{failedPod("import-x", "import", 5*time.Minute)}},
			want: []api.Finding{{Analyzer: "job-failed", Severity: api.SeverityCritical, Title: "Job import failed: BackoffLimitExceeded",
				Objects: objects("Job", "import"),
				Evidence: []string{"condition Failed=True BackoffLimitExceeded: " + backoffMsg + " (5m ago)", "attempts: 7 failed, 0 succeeded, backoff limit 6",
					"pod import-x: container web terminated Error (exit 1) 5m ago"},
				Suggestion: "every attempt failed: read the log of a failed pod (`kubectl -n shop logs job/import`) and fix what it stops on, then run it again"}}},
		{name: "past its deadline, days ago",
			s: Snapshot{Jobs: []batchv1.Job{job("import", counts(1, 0, 0), func(j *batchv1.Job) { d := int64(600); j.Spec.ActiveDeadlineSeconds = &d },
				jobCond(batchv1.JobFailed, "DeadlineExceeded", "Job was active longer than specified deadline", 72*time.Hour))}},
			want: []api.Finding{{Analyzer: "job-failed", Severity: api.SeverityInfo, Title: "Job import failed: DeadlineExceeded",
				Objects:    objects("Job", "import"),
				Evidence:   []string{"condition Failed=True DeadlineExceeded: Job was active longer than specified deadline (3d ago)", "attempts: 1 failed, 0 succeeded, backoff limit 6"},
				Suggestion: "it ran longer than its activeDeadlineSeconds (600): raise it, or make the work finish sooner"}}},
		{name: "a run of a CronJob is cronjob-failing's",
			s: Snapshot{CronJobs: []batchv1.CronJob{cronJob("nightly", "0 3 * * *")},
				Jobs: []batchv1.Job{job("nightly-1", ofCron("nightly"), counts(7, 0, 0), jobCond(batchv1.JobFailed, "BackoffLimitExceeded", backoffMsg, 5*time.Minute))}}},
	})
}

func TestJobBackoff(t *testing.T) {
	runTable(t, "job-backoff", []tc{
		{name: "running, no failure", s: Snapshot{Jobs: []batchv1.Job{job("import", counts(0, 1, 0))}}},
		{name: "failed for good is job-failed's", s: Snapshot{Jobs: []batchv1.Job{job("import", counts(7, 0, 0), jobCond(batchv1.JobFailed, "BackoffLimitExceeded", backoffMsg, time.Minute))}}},
		{name: "retrying",
			s: Snapshot{Jobs: []batchv1.Job{job("import", counts(2, 1, 0))}, Pods: []corev1.Pod{failedPod("import-a", "import", 3*time.Minute), failedPod("import-b", "import", time.Minute)}},
			want: []api.Finding{{Analyzer: "job-backoff", Severity: api.SeverityWarning, Title: "Job import is retrying after 2 failed attempts",
				Objects: objects("Job", "import"),
				Evidence: []string{"attempts: 2 failed, 1 active, 0 succeeded, backoff limit 6",
					"pod import-a: container web terminated Error (exit 1) 3m ago", "pod import-b: container web terminated Error (exit 1) 1m ago"},
				Suggestion: "it fails on 2 of its 6 allowed retries: read the log of a failed pod (`kubectl -n shop logs job/import`) and fix what it stops on before the backoff limit ends it"}}},
		{name: "a run of a CronJob retrying",
			s: Snapshot{CronJobs: []batchv1.CronJob{cronJob("nightly", "0 3 * * *")}, Jobs: []batchv1.Job{job("nightly-1", ofCron("nightly"), counts(1, 1, 0))}},
			want: []api.Finding{{Analyzer: "job-backoff", Severity: api.SeverityWarning, Title: "Job nightly-1 is retrying after 1 failed attempt",
				Objects:    objects("Job", "nightly-1", "CronJob", "nightly"),
				Evidence:   []string{"attempts: 1 failed, 1 active, 0 succeeded, backoff limit 6"},
				Suggestion: "it fails on 1 of its 6 allowed retries: read the log of a failed pod (`kubectl -n shop logs job/nightly-1`) and fix what it stops on before the backoff limit ends it"}}},
	})
}

// run is a finished run of CronJob nightly in the platform's history.
func run(job, status string, ago time.Duration) store.CronJobRun {
	r := store.CronJobRun{ID: job, Namespace: ns, CronJob: "nightly", Job: job, Trigger: store.TriggerSchedule, Status: status,
		StartedAt: now.Add(-ago - time.Minute), CompletedAt: now.Add(-ago)}
	if status == store.RunFailed {
		r.Message = "BackoffLimitExceeded: " + backoffMsg
	}
	if status == store.RunRunning {
		r.CompletedAt = time.Time{}
	}
	return r
}

func TestCronJobFailing(t *testing.T) {
	nightly := []batchv1.CronJob{cronJob("nightly", "0 * * * *")}
	const fail = "BackoffLimitExceeded: " + backoffMsg
	suggest := "read the log of the last failed run (`kubectl -n shop logs job/%s`) and fix what it stops on; " +
		"`hks cron history nightly --project shop` lists its runs and `hks cron trigger nightly --project shop` tries again now"
	sug := func(job string) string { return fmt.Sprintf(suggest, job) }
	elsewhere := run("nightly-9", store.RunFailed, time.Hour)
	elsewhere.Namespace = "other"
	runTable(t, "cronjob-failing", []tc{
		{name: "the last run succeeded", s: Snapshot{CronJobs: nightly,
			Runs: []store.CronJobRun{run("nightly-1", store.RunFailed, 2*time.Hour), run("nightly-2", store.RunSucceeded, time.Hour), elsewhere}}},
		{name: "only a run in progress", s: Snapshot{CronJobs: nightly, Runs: []store.CronJobRun{run("nightly-1", store.RunRunning, 0)}}},
		{name: "never succeeded",
			s: Snapshot{CronJobs: nightly, Runs: []store.CronJobRun{run("nightly-1", store.RunFailed, 2*time.Hour), run("nightly-2", store.RunFailed, time.Hour)}},
			want: []api.Finding{{Analyzer: "cronjob-failing", Severity: api.SeverityCritical, Title: "CronJob nightly has never succeeded: 2 runs, all failed",
				Objects:    objects("CronJob", "nightly", "Job", "nightly-2"),
				Evidence:   []string{"run nightly-2 (schedule) failed 1h ago: " + fail, "run nightly-1 (schedule) failed 2h ago: " + fail},
				Suggestion: sug("nightly-2")}}},
		{name: "the last three failed",
			s: Snapshot{CronJobs: nightly, Runs: []store.CronJobRun{run("nightly-1", store.RunSucceeded, 4*time.Hour), run("nightly-2", store.RunFailed, 3*time.Hour),
				run("nightly-3", store.RunFailed, 2*time.Hour), run("nightly-4", store.RunFailed, time.Hour), run("nightly-5", store.RunRunning, 0)}},
			want: []api.Finding{{Analyzer: "cronjob-failing", Severity: api.SeverityCritical, Title: "CronJob nightly's last 3 runs failed",
				Objects: objects("CronJob", "nightly", "Job", "nightly-4"),
				Evidence: []string{"run nightly-4 (schedule) failed 1h ago: " + fail, "run nightly-3 (schedule) failed 2h ago: " + fail,
					"run nightly-2 (schedule) failed 3h ago: " + fail, "last success: run nightly-1, 4h ago"},
				Suggestion: sug("nightly-4")}}},
		{name: "the last one failed",
			s: Snapshot{CronJobs: nightly, Runs: []store.CronJobRun{run("nightly-1", store.RunSucceeded, 2*time.Hour), run("nightly-2", store.RunFailed, time.Hour)}},
			want: []api.Finding{{Analyzer: "cronjob-failing", Severity: api.SeverityWarning, Title: "CronJob nightly's last run failed",
				Objects:    objects("CronJob", "nightly", "Job", "nightly-2"),
				Evidence:   []string{"run nightly-2 (schedule) failed 1h ago: " + fail, "last success: run nightly-1, 2h ago"},
				Suggestion: sug("nightly-2")}}},
		{name: "without history, from the cluster's Jobs",
			s: Snapshot{CronJobs: nightly, Jobs: []batchv1.Job{job("nightly-3", ofCron("nightly"), counts(7, 0, 0),
				jobCond(batchv1.JobFailed, "BackoffLimitExceeded", backoffMsg, 10*time.Minute)), job("import", counts(7, 0, 0), jobCond(batchv1.JobFailed, "BackoffLimitExceeded", backoffMsg, time.Minute))}},
			want: []api.Finding{{Analyzer: "cronjob-failing", Severity: api.SeverityCritical, Title: "CronJob nightly has never succeeded: its only run failed",
				Objects:    objects("CronJob", "nightly", "Job", "nightly-3"),
				Evidence:   []string{"run nightly-3 failed 10m ago: " + fail},
				Suggestion: sug("nightly-3")}}},
	})
}

func TestCronJobMissed(t *testing.T) {
	tokyo := func(c *batchv1.CronJob) {
		tz := "Asia/Tokyo"
		c.Spec.TimeZone = &tz
		c.CreationTimestamp = before(48 * time.Hour)
	}
	forbid := func(c *batchv1.CronJob) {
		c.Spec.ConcurrencyPolicy = batchv1.ForbidConcurrent
		c.Status.Active = []corev1.ObjectReference{{Kind: "Job", Name: "nightly-290", Namespace: ns}}
	}
	const dflt = "the CronJob controller did not start it: runs due while the workspace was asleep are not made up, and a controller that is down starts nothing; " +
		"`hks cron trigger nightly --project shop` runs it now"
	runTable(t, "cronjob-missed", []tc{
		{name: "on schedule", s: Snapshot{CronJobs: []batchv1.CronJob{cronJob("nightly", "*/5 * * * *", scheduled(3*time.Minute))}}},
		{name: "due just the grace ago", s: Snapshot{CronJobs: []batchv1.CronJob{cronJob("nightly", "*/5 * * * *", scheduled(10*time.Minute))}}},
		{name: "suspended", s: Snapshot{CronJobs: []batchv1.CronJob{cronJob("nightly", "0 * * * *", scheduled(3*time.Hour), suspended)}}},
		{name: "an object without times", s: Snapshot{CronJobs: []batchv1.CronJob{cronJob("nightly", "0 * * * *", func(c *batchv1.CronJob) { c.CreationTimestamp = metav1.Time{} })}}},
		{name: "a schedule cronexpr does not take", s: Snapshot{CronJobs: []batchv1.CronJob{cronJob("nightly", "@every 5m", scheduled(3*time.Hour))}}},
		{name: "two hourly runs missed",
			s: Snapshot{CronJobs: []batchv1.CronJob{cronJob("nightly", "0 * * * *", scheduled(3*time.Hour))}},
			want: []api.Finding{{Analyzer: "cronjob-missed", Severity: api.SeverityWarning, Title: "CronJob nightly missed 2 scheduled runs",
				Objects: objects("CronJob", "nightly"),
				Evidence: []string{`schedule "0 * * * *" (UTC): a run was due 2h ago (2026-05-04T10:00:00Z), none started`,
					"the latest missed run was due 1h ago", "last scheduled 3h ago"},
				Suggestion: dflt}}},
		{name: "held back by a run still active",
			s: Snapshot{CronJobs: []batchv1.CronJob{cronJob("nightly", "*/10 * * * *", scheduled(30*time.Minute), forbid)}},
			want: []api.Finding{{Analyzer: "cronjob-missed", Severity: api.SeverityWarning, Title: "CronJob nightly missed 2 scheduled runs",
				Objects: objects("CronJob", "nightly"),
				Evidence: []string{`schedule "*/10 * * * *" (UTC): a run was due 20m ago (2026-05-04T11:40:00Z), none started`,
					"the latest missed run was due 10m ago", "last scheduled 30m ago", "concurrencyPolicy Forbid and still active: nightly-290"},
				Suggestion: "a run is still active and concurrencyPolicy Forbid skips the next ones: find why nightly-290 does not finish (or bound it with activeDeadlineSeconds), or allow concurrent runs"}}},
		{name: "never run, in its time zone",
			s: Snapshot{CronJobs: []batchv1.CronJob{cronJob("nightly", "30 2 * * *", tokyo)}},
			want: []api.Finding{{Analyzer: "cronjob-missed", Severity: api.SeverityWarning, Title: "CronJob nightly missed 2 scheduled runs",
				Objects: objects("CronJob", "nightly"),
				Evidence: []string{`schedule "30 2 * * *" (Asia/Tokyo): a run was due 42h ago (2026-05-03T02:30:00+09:00), none started`,
					"the latest missed run was due 18h ago", "never scheduled; created 2d ago"},
				Suggestion: dflt}}},
		{name: "one run missed, a short starting deadline",
			s: Snapshot{CronJobs: []batchv1.CronJob{cronJob("nightly", "0 11 * * *", scheduled(25*time.Hour), func(c *batchv1.CronJob) { d := int64(10); c.Spec.StartingDeadlineSeconds = &d })},
				Events: []corev1.Event{event("CronJob", "nightly", "Warning", "MissSchedule", "Missed scheduled time to start a job: 2026-05-04T11:00:00Z", 1, 59*time.Minute)}},
			want: []api.Finding{{Analyzer: "cronjob-missed", Severity: api.SeverityWarning, Title: "CronJob nightly missed its scheduled run",
				Objects: objects("CronJob", "nightly"),
				Evidence: []string{`schedule "0 11 * * *" (UTC): a run was due 1h ago (2026-05-04T11:00:00Z), none started`, "last scheduled 25h ago", "startingDeadlineSeconds 10",
					"event Warning MissSchedule (59m ago): Missed scheduled time to start a job: 2026-05-04T11:00:00Z"},
				Suggestion: "a run that cannot start within startingDeadlineSeconds (10) is skipped: raise it; `hks cron trigger nightly --project shop` runs it now"}}},
	})
}

func TestCronJobSuspended(t *testing.T) {
	runTable(t, "cronjob-suspended", []tc{
		{name: "active", s: Snapshot{CronJobs: []batchv1.CronJob{cronJob("nightly", "0 3 * * *", scheduled(9*time.Hour))}}},
		{name: "suspended",
			s: Snapshot{CronJobs: []batchv1.CronJob{cronJob("nightly", "0 3 * * *", scheduled(72*time.Hour), suspended)}},
			want: []api.Finding{{Analyzer: "cronjob-suspended", Severity: api.SeverityInfo, Title: "CronJob nightly is suspended",
				Objects: objects("CronJob", "nightly"), Evidence: []string{`suspend: true; schedule "0 3 * * *"`, "last scheduled 3d ago"},
				Suggestion: "it runs on its schedule again once resumed: `hks cron resume nightly --project shop`"}}},
	})
}
