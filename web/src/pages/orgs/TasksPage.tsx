import { Link, useParams } from "react-router";
import { useQuery } from "@tanstack/react-query";
import { api, call } from "../../api/client";
import { useOrgEvents } from "../../live/hooks";
import { Empty, LiveIndicator, Loading, Page, Pager, StatusBadge, time, useCursor, Scroll } from "../../ui/bits";
import { ProblemAlert } from "../../ui/ProblemAlert";
import { paths } from "../../paths";

/** While the live socket is not following the organization, unfinished tasks are polled. */
const poll = (live: string, unfinished: boolean) => (live !== "live" && unfinished ? 3000 : false);
const unfinished = (status?: string) => status === "queued" || status === "running";

/**
 * TasksPage is the organization's background tasks (provisioning,
 * deleting, waking a workspace, …), newest first, with the API's cursor
 * pages; their status follows the organization's live events (a
 * task.status event refreshes the ["org", org, …] queries). Owners and
 * admins only; the server says so to anyone else.
 */
export function TasksPage() {
  const { org = "" } = useParams();
  const live = useOrgEvents(org);
  const c = useCursor();
  const list = useQuery({
    queryKey: ["org", org, "tasks", c.cursor ?? ""],
    queryFn: () => call(api.GET("/api/v1/organizations/{org}/tasks", { params: { path: { org }, query: { cursor: c.cursor, limit: 50 } } })),
    refetchInterval: (q) => poll(live, !!q.state.data?.items.some((t) => unfinished(t.status))),
  });
  const items = list.data?.items ?? [];
  return (
    <Page title="Tasks" crumbs={[{ to: paths.org(org), label: org }]} actions={<LiveIndicator status={live} />}>
      {list.isPending && <Loading what="Loading the tasks" />}
      <ProblemAlert error={list.error} />
      {list.data && items.length === 0 && (
        <Empty>
          <p>No tasks yet. Creating, waking or deleting a workspace starts one.</p>
        </Empty>
      )}
      {items.length > 0 && (
        <Scroll label="Tasks">
          <table className="table">
            <caption className="sr-only">Tasks of the organization, newest first</caption>
            <thead>
              <tr>
                <th scope="col">Kind</th>
                <th scope="col">Status</th>
                <th scope="col">Attempts</th>
                <th scope="col">Started</th>
                <th scope="col">Finished</th>
              </tr>
            </thead>
            <tbody>
              {items.map((t) => (
                <tr key={t.id}>
                  <td data-label="Kind">
                    <Link to={paths.task(org, t.id)}>{t.kind}</Link>
                  </td>
                  <td data-label="Status">
                    <StatusBadge status={t.status} title={t.reason} />
                  </td>
                  <td data-label="Attempts">{t.attempts}</td>
                  <td data-label="Started">{time(t.created_at)}</td>
                  <td data-label="Finished">{time(t.finished_at)}</td>
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

/** TaskPage is one task: its kind, status, attempts, reason and times, live. */
export function TaskPage() {
  const { org = "", task = "" } = useParams();
  const live = useOrgEvents(org);
  const t = useQuery({
    queryKey: ["org", org, "task", task],
    queryFn: () => call(api.GET("/api/v1/organizations/{org}/tasks/{task}", { params: { path: { org, task } } })),
    refetchInterval: (q) => poll(live, unfinished(q.state.data?.status)),
  });
  const d = t.data;
  return (
    <Page title={d ? `Task ${d.kind}` : "Task"} crumbs={[{ to: paths.org(org), label: org }, { to: paths.orgPart(org, "tasks"), label: "Tasks" }]} actions={<LiveIndicator status={live} />}>
      {t.isPending && <Loading what="Loading the task" />}
      <ProblemAlert error={t.error} />
      {d && (
        <section aria-labelledby="task-h" className="card">
          <h2 id="task-h">Details</h2>
          <dl className="facts">
            <dt>Kind</dt>
            <dd>{d.kind}</dd>
            <dt>Status</dt>
            <dd data-testid="task-status" aria-live="polite">
              <StatusBadge status={d.status} />
            </dd>
            <dt>Attempts</dt>
            <dd>{d.attempts}</dd>
            <dt>Reason</dt>
            <dd>{d.reason || "—"}</dd>
            <dt>Created</dt>
            <dd>{time(d.created_at)}</dd>
            <dt>Updated</dt>
            <dd>{time(d.updated_at)}</dd>
            <dt>Finished</dt>
            <dd>{time(d.finished_at)}</dd>
            <dt>Id</dt>
            <dd>
              <code>{d.id}</code>
            </dd>
          </dl>
        </section>
      )}
    </Page>
  );
}
