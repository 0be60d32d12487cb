import { useEffect } from "react";
import { Link } from "react-router";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { api, call, type Schemas } from "../../api/client";
import { useWatch } from "../../live/hooks";
import { Empty, LiveIndicator, Loading, Page, Pager, StatusBadge, time, useCursor, Scroll } from "../../ui/bits";
import { ProblemAlert } from "../../ui/ProblemAlert";
import { paths } from "../../paths";
import { key, pathOf, ProjectNav, projectCrumbs, useAccess, useScope } from "./common";

export type CronJob = Schemas["CronJob"];

/** stateOf is one word for a CronJob: suspended, running (a Job active) or scheduled. */
export function stateOf(c: CronJob): string {
  if (c.spec.suspend) return "suspended";
  if (c.status.active.length > 0) return "running";
  return "scheduled";
}

/** lastOutcome says how the last run went, as far as the CronJob's status tells. */
export function lastOutcome(c: CronJob): string {
  const last = c.status.last_schedule_time;
  if (!last) return "never ran";
  if (c.status.active.length > 0) return "running";
  const ok = c.status.last_successful_time;
  return ok && new Date(ok) >= new Date(last) ? "succeeded" : "failed";
}

/** CronJobsPage lists the project's CronJobs with their last run; live from watches of CronJobs and Jobs. */
export function CronJobsPage() {
  const s = useScope();
  const c = useCursor();
  const qc = useQueryClient();
  const access = useAccess(s);
  const cjWatch = useWatch(s, "cronjobs");
  const jobWatch = useWatch(s, "jobs");
  const list = useQuery({
    queryKey: key(s, "cronjobs", c.cursor ?? ""),
    queryFn: () => call(api.GET("/api/v1/organizations/{org}/workspaces/{workspace}/projects/{project}/cronjobs", { params: { path: pathOf(s), query: { cursor: c.cursor, limit: 50 } } })),
    refetchInterval: cjWatch.status === "live" ? false : 5000,
  });
  const changes = [...cjWatch.items, ...jobWatch.items].map((o) => o.metadata.resourceVersion).join(",");
  useEffect(() => {
    if (changes) qc.invalidateQueries({ queryKey: key(s, "cronjobs") });
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [changes]);
  const canCreate = access.can("cronjobs", "create");
  return (
    <Page
      title="CronJobs"
      crumbs={projectCrumbs(s)}
      actions={
        <>
          <LiveIndicator status={cjWatch.status} />
          {canCreate && (
            <Link className="btn btn-primary" to={paths.cronjobs(s.org, s.workspace, s.project) + "/new"}>
              New CronJob
            </Link>
          )}
        </>
      }
    >
      <ProjectNav s={s} />
      {list.isPending && <Loading what="Loading CronJobs" />}
      {list.error && <ProblemAlert error={list.error} />}
      {list.data && list.data.items.length === 0 && (
        <Empty>
          <p>No CronJobs in this project yet.</p>
          {canCreate && (
            <p>
              <Link to={paths.cronjobs(s.org, s.workspace, s.project) + "/new"}>Build one</Link>: a schedule, a time zone and an image.
            </p>
          )}
        </Empty>
      )}
      {list.data && list.data.items.length > 0 && (
        <Scroll label="CronJobs">
          <table className="table">
            <caption className="sr-only">CronJobs of project {s.project}</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Schedule</th>
                <th scope="col">State</th>
                <th scope="col">Last run</th>
                <th scope="col">Next run</th>
              </tr>
            </thead>
            <tbody>
              {list.data.items.map((cj) => (
                <tr key={cj.name}>
                  <td data-label="Name">
                    <Link to={paths.cronjob(s.org, s.workspace, s.project, cj.name)}>{cj.name}</Link>
                  </td>
                  <td data-label="Schedule">
                    <code>{cj.spec.schedule}</code> <span className="muted small">{cj.spec.time_zone ?? "UTC"}</span>
                  </td>
                  <td data-label="State">
                    <StatusBadge status={stateOf(cj)} />
                  </td>
                  <td data-label="Last run">
                    {time(cj.status.last_schedule_time)} <StatusBadge status={lastOutcome(cj)} />
                  </td>
                  <td data-label="Next run">{time(cj.status.next_runs[0])}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </Scroll>
      )}
      <Pager hasPrev={c.hasPrev} next={list.data?.next_cursor} onPrev={c.prev} onNext={c.next} />
    </Page>
  );
}
