import { Link } from "react-router";
import { useQuery } from "@tanstack/react-query";
import { api, call } from "../../api/client";
import { Empty, Loading, Page, Pager, useCursor } from "../../ui/bits";
import { ProblemAlert } from "../../ui/ProblemAlert";
import { paths } from "../../paths";

/** OrgsPage lists the caller's organizations, a page at a time. */
export function OrgsPage() {
  const c = useCursor();
  const orgs = useQuery({
    queryKey: ["orgs", c.cursor ?? ""],
    queryFn: () => call(api.GET("/api/v1/organizations", { params: { query: { cursor: c.cursor, limit: 50 } } })),
  });
  return (
    <Page
      title="Organizations"
      actions={
        <Link className="btn btn-primary" to="/orgs/new">
          New organization
        </Link>
      }
    >
      {orgs.isPending && <Loading what="Loading organizations" />}
      {orgs.error && <ProblemAlert error={orgs.error} />}
      {orgs.data && orgs.data.items.length === 0 && (
        <Empty>
          <p>You are not in any organization yet.</p>
          <p>
            <Link to="/orgs/new">Create one</Link>, or ask someone to invite you to theirs.
          </p>
        </Empty>
      )}
      {orgs.data && orgs.data.items.length > 0 && (
        <table className="table">
          <caption className="sr-only">Your organizations</caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Slug</th>
              <th scope="col">Your role</th>
            </tr>
          </thead>
          <tbody>
            {orgs.data.items.map((o) => (
              <tr key={o.id}>
                <td data-label="Name">
                  <Link to={paths.org(o.slug)}>{o.name}</Link>
                </td>
                <td data-label="Slug">
                  <code>{o.slug}</code>
                </td>
                <td data-label="Your role">{o.role}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <Pager hasPrev={c.hasPrev} next={orgs.data?.next_cursor} onPrev={c.prev} onNext={c.next} />
    </Page>
  );
}
