package api

import "time"

// CreateCronJobRequest creates a CronJob.
type CreateCronJobRequest struct {
	Name string `json:"name"`
	CronJobSpec
}

// UpdateCronJobRequest replaces what the spec describes of a CronJob
// (what it leaves out returns to its default; what it cannot describe,
// such as other containers of the runs and volumes, stays).
type UpdateCronJobRequest struct {
	CronJobSpec
	ResourceVersion string `json:"resource_version,omitempty" doc:"when given, the update is refused with 412 unless the CronJob is still at this version"`
}

// PatchCronJobRequest is a JSON merge patch (RFC 7396) of a CronJob's
// spec: the members it has replace the CronJob's (lists whole, objects
// and labels member by member, null removes), the others stay, and so does
// everything the spec cannot describe (other containers of the runs,
// volumes, …).
type PatchCronJobRequest struct {
	Schedule                   *string            `json:"schedule,omitempty"`
	TimeZone                   *string            `json:"time_zone,omitempty"`
	Suspend                    *bool              `json:"suspend,omitempty"`
	ConcurrencyPolicy          *string            `json:"concurrency_policy,omitempty"`
	SuccessfulJobsHistoryLimit *int32             `json:"successful_jobs_history_limit,omitempty"`
	FailedJobsHistoryLimit     *int32             `json:"failed_jobs_history_limit,omitempty"`
	StartingDeadlineSeconds    *int64             `json:"starting_deadline_seconds,omitempty"`
	Labels                     map[string]*string `json:"labels,omitempty" doc:"merged key by key; null removes a label"`
	Template                   *JobTemplatePatch  `json:"template,omitempty"`
	ResourceVersion            string             `json:"resource_version,omitempty" doc:"when given, the patch is refused with 412 unless the CronJob is still at this version"`
}

// JobTemplatePatch is the part of a PatchCronJobRequest that changes the
// job template.
type JobTemplatePatch struct {
	Image                 *string    `json:"image,omitempty"`
	Command               *[]string  `json:"command,omitempty"`
	Args                  *[]string  `json:"args,omitempty"`
	Env                   *[]EnvVar  `json:"env,omitempty" doc:"the whole list"`
	Resources             *Resources `json:"resources,omitempty" doc:"merged member by member"`
	ServiceAccount        *string    `json:"service_account,omitempty"`
	RestartPolicy         *string    `json:"restart_policy,omitempty"`
	BackoffLimit          *int32     `json:"backoff_limit,omitempty"`
	ActiveDeadlineSeconds *int64     `json:"active_deadline_seconds,omitempty"`
}

// CronJobStatus is a CronJob's live state.
type CronJobStatus struct {
	Active             []string    `json:"active" doc:"names of the running Jobs"`
	LastScheduleTime   *time.Time  `json:"last_schedule_time,omitempty"`
	LastSuccessfulTime *time.Time  `json:"last_successful_time,omitempty"`
	NextRuns           []time.Time `json:"next_runs" doc:"the next 3 runs (none while suspended)"`
}

// CronJob is a CronJob of a project.
type CronJob struct {
	Name            string        `json:"name"`
	Project         string        `json:"project"`
	Spec            CronJobSpec   `json:"spec"`
	Status          CronJobStatus `json:"status"`
	CreatedAt       time.Time     `json:"created_at"`
	ResourceVersion string        `json:"resource_version" doc:"changes on every update; send it back as If-Match (or resource_version in a PATCH or PUT body) and a change made by someone else first is refused with 412"`
}

// Preview is the next runs of a schedule.
type Preview struct {
	Schedule string      `json:"schedule"`
	TimeZone string      `json:"time_zone"`
	NextRuns []time.Time `json:"next_runs" doc:"in the time zone, with its offset"`
}

// Run is one execution of a CronJob.
type Run struct {
	ID          string     `json:"id"`
	Job         string     `json:"job"`
	Trigger     string     `json:"trigger" doc:"schedule or manual"`
	Status      string     `json:"status" doc:"running, succeeded or failed"`
	Message     string     `json:"message,omitempty"`
	StartedAt   time.Time  `json:"started_at"`
	CompletedAt *time.Time `json:"completed_at,omitempty"`
	// DurationSeconds is from start to completion (so far, while running).
	DurationSeconds float64 `json:"duration_seconds"`
}

// JobTemplate is what every run of a CronJob runs: one container.
type JobTemplate struct {
	Image          string     `json:"image"`
	Command        []string   `json:"command,omitempty"`
	Args           []string   `json:"args,omitempty"`
	Env            []EnvVar   `json:"env,omitempty"`
	Resources      *Resources `json:"resources,omitempty"`
	ServiceAccount string     `json:"service_account,omitempty" doc:"default: the namespace's default ServiceAccount"`
	RestartPolicy  string     `json:"restart_policy,omitempty" doc:"OnFailure (default) or Never"`
	BackoffLimit   *int32     `json:"backoff_limit,omitempty" doc:"retries before the run fails (default 6)"`
	// ActiveDeadlineSeconds bounds a run's duration.
	ActiveDeadlineSeconds *int64 `json:"active_deadline_seconds,omitempty"`
}

// CronJobSpec is a CronJob's schedule, policies and job template.
type CronJobSpec struct {
	Schedule                   string            `json:"schedule" doc:"5-field cron expression (minute hour day-of-month month day-of-week) or @yearly, @monthly, @weekly, @daily, @hourly"`
	TimeZone                   string            `json:"time_zone,omitempty" doc:"IANA time zone of the schedule, e.g. Asia/Tokyo (default UTC)"`
	Suspend                    bool              `json:"suspend,omitempty"`
	ConcurrencyPolicy          string            `json:"concurrency_policy,omitempty" doc:"Allow (default), Forbid or Replace"`
	SuccessfulJobsHistoryLimit *int32            `json:"successful_jobs_history_limit,omitempty" doc:"Jobs the cluster keeps (default 3); the platform's history keeps every run"`
	FailedJobsHistoryLimit     *int32            `json:"failed_jobs_history_limit,omitempty" doc:"default 1"`
	StartingDeadlineSeconds    *int64            `json:"starting_deadline_seconds,omitempty"`
	Labels                     map[string]string `json:"labels,omitempty"`
	Template                   JobTemplate       `json:"template"`
}
