import { Link, useParams } from "react-router";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { api, call } from "../../api/client";
import { Empty, LiveIndicator, Loading, Page, Pager, StatusBadge, time, useCursor, Scroll } from "../../ui/bits";
import { ProblemAlert } from "../../ui/ProblemAlert";
import { useOrgEvents } from "../../live/hooks";
import type { OrgEvent } from "../../live/socket";
import { paths } from "../../paths";
import { canCreateWorkspace, fallbackPoll, useOrg, type Workspace } from "./common";

type WsList = { items: Workspace[]; next_cursor?: string };

/**
 * WorkspacesPage is an organization's workspaces, a page at a time, their
 * status following the organization's live events: a workspace.status
 * event patches the row at once, and the list is refetched behind it.
 */
export function WorkspacesPage() {
  const { org = "" } = useParams();
  const qc = useQueryClient();
  const c = useCursor();
  const key = ["org", org, "workspaces", c.cursor ?? ""];
  const live = useOrgEvents(org, (e: OrgEvent) => {
    if (e.type !== "workspace.status" || !e.resource_id) return;
    const status = String(e.data?.status ?? "");
    qc.setQueryData<WsList>(key, (l) =>
      l && { ...l, items: l.items.map((w) => (w.id === e.resource_id ? { ...w, status, status_reason: String(e.data?.reason ?? "") } : w)) },
    );
  });
  const o = useOrg(org);
  const list = useQuery({
    queryKey: key,
    queryFn: () => call(api.GET("/api/v1/organizations/{org}/workspaces", { params: { path: { org }, query: { cursor: c.cursor, limit: 50 } } })),
    refetchInterval: (q) => (q.state.data?.items.some((w) => fallbackPoll(live, w.status)) ? 2000 : false),
  });
  const mayCreate = canCreateWorkspace(o.data?.role);
  return (
    <Page
      title={o.data ? `${o.data.name}: workspaces` : "Workspaces"}
      actions={
        <>
          {!o.error && <LiveIndicator status={live} />}
          {mayCreate && (
            <Link className="btn btn-primary" to={paths.orgPart(org, "workspaces/new")}>
              New workspace
            </Link>
          )}
        </>
      }
    >
      {o.error && <ProblemAlert error={o.error} />}
      {list.isPending && <Loading what="Loading workspaces" />}
      {/* The same refusal (an unknown organization) is said once. */}
      {list.error && !o.error && <ProblemAlert error={list.error} />}
      {list.data && list.data.items.length === 0 && !c.hasPrev && (
        <Empty>
          <p>No workspaces {mayCreate ? "yet" : "that you can see"}.</p>
          {mayCreate ? (
            <p>
              A workspace is a Kubernetes cluster of your own. <Link to={paths.orgPart(org, "workspaces/new")}>Create the first one</Link>.
            </p>
          ) : (
            <p>Ask an owner or admin of the organization to create one, or to give you a role in one.</p>
          )}
        </Empty>
      )}
      {list.data && list.data.items.length > 0 && (
        <Scroll label="Workspaces">
          <table className="table">
            <caption className="sr-only">Workspaces of {org}</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Status</th>
                <th scope="col">Plan</th>
                <th scope="col">Your role</th>
                <th scope="col">Created</th>
              </tr>
            </thead>
            <tbody>
              {list.data.items.map((w) => (
                <tr key={w.id}>
                  <td data-label="Name">
                    <Link to={paths.workspace(org, w.name)}>{w.name}</Link>
                  </td>
                  <td data-label="Status">
                    <StatusBadge status={w.status} title={w.status_reason} />
                    {w.status_reason && <span className="muted small"> {w.status_reason}</span>}
                  </td>
                  <td data-label="Plan">{w.plan}</td>
                  <td data-label="Your role">{w.role || "project member"}</td>
                  <td data-label="Created">{time(w.created_at)}</td>
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
