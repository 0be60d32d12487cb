import { useEffect, useState, type FormEvent } from "react";
import { useNavigate, useParams } from "react-router";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, call } from "../../api/client";
import { problemOf } from "../../api/problem";
import { useWatch } from "../../live/hooks";
import { ConfirmButton, Empty, LiveIndicator, Loading, Page, Pager, StatusBadge, time, useCursor, Scroll } from "../../ui/bits";
import { ProblemAlert } from "../../ui/ProblemAlert";
import { paths } from "../../paths";
import { key, pathOf, ProjectNav, projectCrumbs, useAccess, useScope } from "./common";
import { fmt } from "./Schedule";
import { CRON_FIELDS, CronJobFields, cronFieldsOf, cronSpecOf, emptyCron, type CronFields } from "./CronJobForm";
import { lastOutcome, stateOf, type CronJob } from "./CronJobsPage";

/**
 * CronJobPage is one CronJob: what and when it runs, its history (the
 * platform's record of every run; refreshed when a Job of the project
 * changes), trigger, suspend/resume, the builder to edit all of it, and delete.
 */
export function CronJobPage() {
  const s = useScope();
  const name = useParams().cronjob ?? "";
  const nav = useNavigate();
  const qc = useQueryClient();
  const access = useAccess(s);
  const jobs = useWatch(s, "jobs");
  const live = jobs.status === "live";
  const path = { ...pathOf(s), cronjob: name };
  const url = "/api/v1/organizations/{org}/workspaces/{workspace}/projects/{project}/cronjobs/{cronjob}" as const;
  const c = useCursor();
  const cj = useQuery({ queryKey: key(s, "cronjob", name), queryFn: () => call(api.GET(url, { params: { path } })), refetchInterval: live ? false : 5000 });
  const history = useQuery({
    queryKey: key(s, "cronjob", name, "history", c.cursor ?? ""),
    queryFn: () => call(api.GET(`${url}/history`, { params: { path, query: { cursor: c.cursor, limit: 20 } } })),
    refetchInterval: (q) => (!live || q.state.data?.items.some((r) => r.status === "running") ? 2000 : false),
  });
  // The newest run, triggered or scheduled (the CronJob's status knows only scheduled ones).
  const latest = useQuery({
    queryKey: key(s, "cronjob", name, "latest-run"),
    queryFn: () => call(api.GET(`${url}/history`, { params: { path, query: { limit: 1 } } })),
    refetchInterval: (q) => (!live || q.state.data?.items[0]?.status === "running" ? 2000 : false),
  });
  // A Job of the project changed: the history (and the status) may have.
  const jobKey = jobs.items.map((j) => j.metadata.resourceVersion).join(",");
  useEffect(() => {
    if (jobKey) {
      qc.invalidateQueries({ queryKey: key(s, "cronjob", name) });
    }
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [jobKey]);
  const refresh = (next?: CronJob) => {
    if (next) qc.setQueryData(key(s, "cronjob", name), next);
    qc.invalidateQueries({ queryKey: key(s, "cronjob", name) });
    qc.invalidateQueries({ queryKey: key(s, "cronjobs") });
  };
  const trigger = useMutation({ mutationFn: () => call(api.POST(`${url}/trigger`, { params: { path } })), onSuccess: () => refresh() });
  const suspend = useMutation({
    mutationFn: (on: boolean) => call(on ? api.POST(`${url}/suspend`, { params: { path } }) : api.POST(`${url}/resume`, { params: { path } })),
    onSuccess: refresh,
  });
  const del = useMutation({
    mutationFn: () => call(api.DELETE(url, { params: { path } })),
    onSuccess: () => {
      qc.invalidateQueries({ queryKey: key(s, "cronjobs") });
      nav(paths.cronjobs(s.org, s.workspace, s.project));
    },
  });
  const [editing, setEditing] = useState(false);
  const [f, setF] = useState<CronFields>(() => emptyCron("UTC"));
  const [version, setVersion] = useState("");
  const edit = useMutation({
    mutationFn: () => call(api.PUT(url, { params: { path }, body: { ...cronSpecOf(f, cj.data?.spec), resource_version: version } })),
    onSuccess: (next) => {
      setEditing(false);
      refresh(next);
    },
  });
  function startEdit(c: CronJob) {
    edit.reset();
    setF(cronFieldsOf(c.spec));
    setVersion(c.resource_version);
    setEditing(true);
  }
  const canTrigger = access.can("jobs", "create");
  const canUpdate = access.can("cronjobs", "patch");
  const canReplace = access.can("cronjobs", "update");
  const canDelete = access.can("cronjobs", "delete");
  const d = cj.data;
  const zone = d?.spec.time_zone || "UTC";
  const lastRun = latest.data?.items[0];

  function onEdit(e: FormEvent) {
    e.preventDefault();
    edit.mutate();
  }

  return (
    <Page
      title={name}
      crumbs={projectCrumbs(s, { to: paths.cronjobs(s.org, s.workspace, s.project), label: "CronJobs" })}
      actions={
        d && (
          <>
            <LiveIndicator status={jobs.status} />
            {canTrigger && (
              <button type="button" className="btn btn-primary" disabled={trigger.isPending} onClick={() => trigger.mutate()}>
                {trigger.isPending ? "Starting…" : "Run now"}
              </button>
            )}
            {canUpdate && (
              <button type="button" className="btn" disabled={suspend.isPending} onClick={() => suspend.mutate(!d.spec.suspend)}>
                {d.spec.suspend ? "Resume" : "Suspend"}
              </button>
            )}
            {canDelete && <ConfirmButton label="Delete" question={`Delete CronJob ${name}, its Jobs and its history?`} confirmLabel="Delete CronJob" onConfirm={() => del.mutate()} disabled={del.isPending} />}
          </>
        )
      }
    >
      <ProjectNav s={s} />
      {cj.isPending && <Loading what="Loading the CronJob" />}
      {cj.error && <ProblemAlert error={cj.error} />}
      <ProblemAlert error={trigger.error ?? suspend.error ?? del.error} />
      {d && (
        <>
          <section aria-labelledby="cj-h" className="card">
            <h2 id="cj-h">Schedule</h2>
            <dl className="facts">
              <dt>Schedule</dt>
              <dd>
                <code>{d.spec.schedule}</code> in {d.spec.time_zone ?? "UTC"}
              </dd>
              <dt>State</dt>
              <dd>
                <StatusBadge status={stateOf(d)} />
              </dd>
              <dt>Last run</dt>
              <dd data-testid="last-run">
                {lastRun ? (
                  <>
                    {time(lastRun.started_at)} ({lastRun.trigger === "manual" ? "run now" : "scheduled"}) <StatusBadge status={lastRun.status} title={lastRun.message} />
                  </>
                ) : (
                  <>
                    {time(d.status.last_schedule_time)} <StatusBadge status={lastOutcome(d)} />
                  </>
                )}
              </dd>
              <dt>Next runs (in {zone})</dt>
              <dd>{d.status.next_runs.length ? d.status.next_runs.map((r) => fmt(r, zone)).join(" · ") : "none (suspended)"}</dd>
              <dt>Image</dt>
              <dd>
                <code>{d.spec.template.image}</code>
              </dd>
              {d.spec.template.command && (
                <>
                  <dt>Command</dt>
                  <dd>
                    <code>{d.spec.template.command.join(" ")}</code>
                  </dd>
                </>
              )}
              <dt>Concurrency</dt>
              <dd>{d.spec.concurrency_policy ?? "Allow"}</dd>
            </dl>
            {canReplace && !editing && (
              <button type="button" className="btn" onClick={() => startEdit(d)}>
                Edit
              </button>
            )}
            {editing && (
              <form onSubmit={onEdit} className="form form-wide" aria-label="Edit CronJob" noValidate>
                <CronJobFields s={s} f={f} setF={setF} error={edit.error} suspendLabel="Suspended" />
                <ProblemAlert error={edit.error} fieldsShown={CRON_FIELDS} />
                <div className="row">
                  <button type="submit" className="btn btn-primary" disabled={edit.isPending}>
                    {edit.isPending ? "Saving…" : "Save changes"}
                  </button>
                  {edit.error && problemOf(edit.error).status === 412 && (
                    <button type="button" className="btn" onClick={() => startEdit(d)}>
                      Start over from the current version
                    </button>
                  )}
                  <button type="button" className="btn" onClick={() => setEditing(false)}>
                    Cancel
                  </button>
                </div>
              </form>
            )}
          </section>

          <section aria-labelledby="history-h" className="card">
            <h2 id="history-h">History</h2>
            {history.isPending && <Loading what="Loading the history" />}
            {history.error && <ProblemAlert error={history.error} />}
            {history.data && history.data.items.length === 0 && (
              <Empty>
                <p>No runs yet.</p>
              </Empty>
            )}
            {history.data && history.data.items.length > 0 && (
              <Scroll label="Run history">
                <table className="table">
                  <caption className="sr-only">Runs of {name}, newest first</caption>
                  <thead>
                    <tr>
                      <th scope="col">Job</th>
                      <th scope="col">Trigger</th>
                      <th scope="col">Status</th>
                      <th scope="col">Started</th>
                      <th scope="col">Duration</th>
                    </tr>
                  </thead>
                  <tbody>
                    {history.data.items.map((r) => (
                      <tr key={r.id}>
                        <td data-label="Job">{r.job}</td>
                        <td data-label="Trigger">{r.trigger}</td>
                        <td data-label="Status">
                          <StatusBadge status={r.status} title={r.message} />
                        </td>
                        <td data-label="Started">{time(r.started_at)}</td>
                        <td data-label="Duration">{r.completed_at ? `${Math.round(r.duration_seconds)} s` : "—"}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </Scroll>
            )}
            <Pager hasPrev={c.hasPrev} next={history.data?.next_cursor} onPrev={c.prev} onNext={c.next} />
          </section>
        </>
      )}
    </Page>
  );
}
