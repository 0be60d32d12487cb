import { Link } from "react-router";
import { useQuery } from "@tanstack/react-query";
import { CopyButton, Empty, Loading, Page, Pager, Scroll, StatusBadge, useCursor } from "../../ui/bits";
import { ProblemAlert } from "../../ui/ProblemAlert";
import { paths } from "../../paths";
import { ProjectNav, projectCrumbs, useScope } from "../workloads/common";
import { fnBase, fnCall, type Fn, type List } from "./api";
import { fnKey, useRole } from "./common";

/** FunctionsPage lists the project's functions: runtime, access, latest version, warm instances and URL. */
export function FunctionsPage() {
  const s = useScope();
  const c = useCursor();
  const { canWrite } = useRole(s);
  const list = useQuery({
    queryKey: fnKey(s, "list", c.cursor ?? ""),
    queryFn: () => fnCall<List<Fn>>("GET", `${fnBase(s)}?${new URLSearchParams({ limit: "50", ...(c.cursor ? { cursor: c.cursor } : {}) })}`),
    refetchInterval: 10_000,
  });
  const newLink = paths.functions(s.org, s.workspace, s.project) + "/new";
  return (
    <Page
      title="Functions"
      crumbs={projectCrumbs(s)}
      actions={
        canWrite && (
          <Link className="btn btn-primary" to={newLink}>
            New function
          </Link>
        )
      }
    >
      <ProjectNav s={s} />
      {list.isPending && <Loading what="Loading functions" />}
      {list.error && <ProblemAlert error={list.error} />}
      {list.data && list.data.items.length === 0 && (
        <Empty>
          <p>No functions in this project yet.</p>
          {canWrite && (
            <p>
              <Link to={newLink}>Deploy one</Link>: a handler in Python, Node.js, Go or WebAssembly, called by its URL.
            </p>
          )}
        </Empty>
      )}
      {list.data && list.data.items.length > 0 && (
        <Scroll label="Functions">
          <table className="table">
            <caption className="sr-only">Functions of project {s.project}</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Runtime</th>
                <th scope="col">Access</th>
                <th scope="col">Latest</th>
                <th scope="col">Instances</th>
                <th scope="col">URL</th>
              </tr>
            </thead>
            <tbody>
              {list.data.items.map((f) => (
                <tr key={f.name}>
                  <td data-label="Name">
                    <Link to={paths.fn(s.org, s.workspace, s.project, f.name)}>{f.name}</Link>
                    {f.description && <div className="muted small">{f.description}</div>}
                  </td>
                  <td data-label="Runtime">{f.runtime}</td>
                  <td data-label="Access">
                    <StatusBadge status={f.access} />
                  </td>
                  <td data-label="Latest">v{f.latest_version}</td>
                  <td data-label="Instances">{f.instances === 0 ? "0 (scaled to zero)" : f.instances}</td>
                  <td data-label="URL">
                    <code className="small">{f.url}</code> <CopyButton text={f.url} label="Copy URL" />
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
