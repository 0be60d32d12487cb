import { useEffect, useMemo } from "react";
import { Link } from "react-router";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { api, call } from "../../api/client";
import { useWatch } from "../../live/hooks";
import { Empty, LiveIndicator, Loading, Page, Pager, StatusBadge, useCursor, Scroll } from "../../ui/bits";
import { ProblemAlert } from "../../ui/ProblemAlert";
import { paths } from "../../paths";
import { key, pathOf, ProjectNav, projectCrumbs, useAccess, useScope } from "./common";
import { readyText, statusWord, withLive } from "./live";

/**
 * AppsPage lists the project's applications, a page at a time (the
 * cluster's continue tokens as cursors), with readiness kept live by a
 * watch of the project's Deployments made with the caller's identity.
 */
export function AppsPage() {
  const s = useScope();
  const c = useCursor();
  const qc = useQueryClient();
  const access = useAccess(s);
  const watch = useWatch(s, "deployments");
  const list = useQuery({
    queryKey: key(s, "apps", c.cursor ?? ""),
    queryFn: () =>
      call(api.GET("/api/v1/organizations/{org}/workspaces/{workspace}/projects/{project}/applications", { params: { path: pathOf(s), query: { cursor: c.cursor, limit: 50 } } })),
    // Without the live socket, the list still follows changes.
    refetchInterval: watch.status === "live" ? false : 3000,
  });
  const byName = useMemo(() => new Map(watch.items.map((d) => [d.metadata.name, d])), [watch.items]);
  // An application made or removed elsewhere: the list is asked again.
  const names = watch.synced ? watch.items.map((d) => d.metadata.name).join("\n") : "";
  useEffect(() => {
    if (names) qc.invalidateQueries({ queryKey: key(s, "apps") });
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [names]);
  const items = (list.data?.items ?? [])
    .filter((a) => !watch.synced || byName.has(a.name))
    .map((a) => withLive(a, byName.get(a.name)));

  return (
    <Page
      title="Applications"
      crumbs={projectCrumbs(s)}
      actions={
        <>
          <LiveIndicator status={watch.status} />
          {access.can("deployments", "create") && (
            <Link className="btn btn-primary" to={paths.apps(s.org, s.workspace, s.project) + "/new"}>
              New application
            </Link>
          )}
        </>
      }
    >
      <ProjectNav s={s} />
      {list.isPending && <Loading what="Loading applications" />}
      {list.error && <ProblemAlert error={list.error} />}
      {list.data && items.length === 0 && (
        <Empty>
          <p>No applications in this project yet.</p>
          {access.can("deployments", "create") && (
            <p>
              <Link to={paths.apps(s.org, s.workspace, s.project) + "/new"}>Create one</Link> from an image or a manifest.
            </p>
          )}
        </Empty>
      )}
      {items.length > 0 && (
        <Scroll label="Applications">
          <table className="table">
            <caption className="sr-only">Applications of project {s.project}</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Image</th>
                <th scope="col">Replicas</th>
                <th scope="col">Status</th>
              </tr>
            </thead>
            <tbody>
              {items.map((a) => (
                <tr key={a.name}>
                  <td data-label="Name">
                    <Link to={paths.app(s.org, s.workspace, s.project, a.name)}>{a.name}</Link>
                  </td>
                  <td data-label="Image">
                    <code>{a.image}</code>
                  </td>
                  <td data-label="Replicas" aria-live="polite">
                    {readyText(a)}
                  </td>
                  <td data-label="Status">
                    <StatusBadge status={statusWord(a)} />
                  </td>
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
