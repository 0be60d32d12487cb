-- Execution history of the CronJobs of workspace clusters: one row per Job,
-- kept after the cluster's own history limits have removed the Job.
CREATE TABLE cronjob_runs (
    id           TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    namespace    TEXT NOT NULL,
    cronjob      TEXT NOT NULL,
    job          TEXT NOT NULL,
    job_uid      TEXT NOT NULL,
    run_trigger  TEXT NOT NULL,
    status       TEXT NOT NULL,
    message      TEXT NOT NULL DEFAULT '',
    started_at   TIMESTAMPTZ NOT NULL,
    completed_at TIMESTAMPTZ,
    updated_at   TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX cronjob_runs_job_key ON cronjob_runs (workspace_id, job_uid);
CREATE INDEX cronjob_runs_cronjob_idx ON cronjob_runs (workspace_id, namespace, cronjob, id);
