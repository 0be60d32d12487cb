import { useEffect, useRef } from "react";
import { Link, NavLink, Outlet, useLocation, useNavigate, useParams } from "react-router";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { api, call } from "../api/client";
import { signOut, useMe } from "../auth/session";

/**
 * Layout is the one frame of every signed-in page: the header (product,
 * organization switcher, account), the organization's navigation, and a
 * skip link to the content. Focus moves to the page's heading on
 * navigation, so keyboard and screen-reader users land on the new page.
 */
export function Layout() {
  const me = useMe();
  const { org } = useParams();
  const qc = useQueryClient();
  const nav = useNavigate();
  const loc = useLocation();
  const main = useRef<HTMLElement>(null);
  const orgs = useQuery({
    queryKey: ["orgs", "switcher"],
    queryFn: () => call(api.GET("/api/v1/organizations", { params: { query: { limit: 100 } } })),
    enabled: !!me.data,
  });
  // The caller's role in the organization (shared with the org pages' query): the audit log and
  // the tasks are for owners and admins, so only they see the links (the server decides anyway).
  const self = useQuery({
    queryKey: ["org", org ?? "", "detail"],
    queryFn: () => call(api.GET("/api/v1/organizations/{org}", { params: { path: { org: org ?? "" } } })),
    enabled: !!me.data && !!org,
  });
  const orgAdmin = self.data?.role === "owner" || self.data?.role === "admin";
  useEffect(() => {
    const h = main.current?.querySelector<HTMLElement>("#page-title");
    h?.focus({ preventScroll: true });
  }, [loc.pathname]);

  return (
    <div className="app">
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <Link to="/" className="brand" aria-label="Hexabase AI home">
          <img src="/favicon.svg" alt="" width={24} height={24} /> <span>Hexabase AI</span>
        </Link>
        {orgs.data && orgs.data.items.length > 0 && (
          <label className="switcher">
            <span className="sr-only">Organization</span>
            <select
              value={org ?? ""}
              onChange={(e) => e.target.value && nav(`/orgs/${e.target.value}`)}
            >
              {!org && <option value="">Choose an organization</option>}
              {orgs.data.items.map((o) => (
                <option key={o.id} value={o.slug}>
                  {o.name}
                </option>
              ))}
            </select>
          </label>
        )}
        <nav aria-label="Account" className="account-nav">
          <NavLink to="/account">{me.data?.email ?? "Account"}</NavLink>
          <button
            type="button"
            className="btn btn-small"
            onClick={async () => {
              await signOut(qc);
              nav("/login");
            }}
          >
            Sign out
          </button>
        </nav>
      </header>
      {org && (
        <nav aria-label="Organization" className="orgnav" aria-busy={!self.data && !self.error}>
          <NavLink to={`/orgs/${org}`} end>
            Workspaces
          </NavLink>
          <NavLink to={`/orgs/${org}/members`}>Members</NavLink>
          {orgAdmin && <NavLink to={`/orgs/${org}/tasks`}>Tasks</NavLink>}
          {orgAdmin && <NavLink to={`/orgs/${org}/audit`}>Audit log</NavLink>}
          <NavLink to={`/orgs/${org}/settings`}>Settings</NavLink>
        </nav>
      )}
      <main id="main" ref={main}>
        <Outlet />
      </main>
    </div>
  );
}

/** SubNav is the tab row of a workspace or a project. */
export function SubNav({ label, links }: { label: string; links: { to: string; label: string; end?: boolean }[] }) {
  return (
    <nav aria-label={label} className="subnav">
      {links.map((l) => (
        <NavLink key={l.to} to={l.to} end={l.end}>
          {l.label}
        </NavLink>
      ))}
    </nav>
  );
}
