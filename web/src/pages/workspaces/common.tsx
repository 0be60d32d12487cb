// Shared pieces of the workspaces area: queries (keys start with
// ["org", org, …] so the organization's live events refresh them), the
// caller's permissions from the API's role fields, the workspace's tab row,
// Kubernetes quantities, and the tree of a list with parent ids.
import { useQuery } from "@tanstack/react-query";
import { api, call, type Schemas } from "../../api/client";
import { SubNav } from "../../ui/Layout";
import { paths } from "../../paths";
import type { Status } from "../../live/socket";

export type Workspace = Schemas["Workspace"];
export type Project = Schemas["Project"];
export type Group = Schemas["Group"];
export type RoleBinding = Schemas["RoleBinding"];

/** Workspace statuses that change by themselves (a task runs). */
export const TRANSITIONAL = new Set(["pending", "provisioning", "waking", "deleting"]);

/**
 * fallbackPoll: while the live socket is not following the organization,
 * a status that changes by itself is polled, so the page stays right
 * without live updates (the socket's events otherwise refresh it).
 */
export function fallbackPoll(live: Status, status: string | undefined): number | false {
  return live !== "live" && status && TRANSITIONAL.has(status) ? 2000 : false;
}

const WS = "/api/v1/organizations/{org}/workspaces/{workspace}" as const;

export function useWorkspace(org: string, ws: string, live: Status = "live") {
  return useQuery({
    queryKey: ["org", org, "ws", ws],
    queryFn: () => call(api.GET(WS, { params: { path: { org, workspace: ws } } })),
    // A control plane that is not all healthy yet (a component still
    // starting right after the workspace went running) has no event to
    // say it became healthy: ask again until it is.
    refetchInterval: (q) =>
      q.state.data?.status === "running" && q.state.data.control_plane && !q.state.data.control_plane.ready ? 3000 : fallbackPoll(live, q.state.data?.status),
  });
}

/** useOrg is the organization (its name and the caller's org role). */
export function useOrg(org: string) {
  return useQuery({
    queryKey: ["org", org, "self"],
    queryFn: () => call(api.GET("/api/v1/organizations/{org}", { params: { path: { org } } })),
  });
}

/** all reads every page of a list: trees need the whole of it. */
async function all<T>(page: (cursor?: string) => Promise<{ items: T[]; next_cursor?: string }>): Promise<T[]> {
  const out: T[] = [];
  let cursor: string | undefined;
  for (let i = 0; i < 100; i++) {
    const l = await page(cursor);
    out.push(...l.items);
    if (!l.next_cursor) break;
    cursor = l.next_cursor;
  }
  return out;
}

export function useProjects(org: string, ws: string) {
  return useQuery({
    queryKey: ["org", org, "ws", ws, "projects"],
    queryFn: () =>
      all((cursor) => call(api.GET(`${WS}/projects`, { params: { path: { org, workspace: ws }, query: { cursor, limit: 200 } } }))),
  });
}

export function useGroups(org: string, ws: string, enabled = true) {
  return useQuery({
    queryKey: ["org", org, "ws", ws, "groups"],
    queryFn: () => all((cursor) => call(api.GET(`${WS}/groups`, { params: { path: { org, workspace: ws }, query: { cursor, limit: 200 } } }))),
    enabled,
  });
}

export function useBindings(org: string, ws: string, enabled = true) {
  return useQuery({
    queryKey: ["org", org, "ws", ws, "rolebindings"],
    queryFn: () =>
      all((cursor) => call(api.GET(`${WS}/rolebindings`, { params: { path: { org, workspace: ws }, query: { cursor, limit: 200 } } }))),
    enabled,
  });
}

/** The workspace roles, least to most (internal/authz). */
export const ROLES = ["viewer", "developer", "workspace-admin"] as const;
export const level = (role?: string) => (role ? ROLES.indexOf(role as (typeof ROLES)[number]) + 1 : 0);
/** isWsAdmin: what the API's workspace-admin checks allow (projects, groups, bindings, sleep, schedule, delete). */
export const isWsAdmin = (role?: string) => role === "workspace-admin";
/** canCreateWorkspace: org owners and admins create workspaces. */
export const canCreateWorkspace = (orgRole?: string) => orgRole === "owner" || orgRole === "admin";

export function WorkspaceTabs({ org, ws }: { org: string; ws: string }) {
  return (
    <SubNav
      label="Workspace"
      links={[
        { to: paths.workspace(org, ws), label: "Overview", end: true },
        { to: paths.workspacePart(org, ws, "projects"), label: "Projects" },
        { to: paths.workspacePart(org, ws, "groups"), label: "Groups and roles" },
        { to: paths.workspacePart(org, ws, "members"), label: "Members" },
        { to: paths.assistant(org, ws), label: "Assistant" },
      ]}
    />
  );
}

export function crumbsFor(org: string, ws?: string, project?: string) {
  const c = [{ to: paths.org(org), label: org }];
  if (ws) c.push({ to: paths.workspace(org, ws), label: ws });
  if (ws && project) c.push({ to: paths.workspacePart(org, ws, "projects"), label: "Projects" });
  return c;
}

export interface Node<T> {
  item: T;
  children: Node<T>[];
}

/** tree nests items by parent_id; an item whose parent is not in the list is a root. */
export function tree<T extends { id: string; name: string; parent_id?: string }>(items: T[]): Node<T>[] {
  const by = new Map(items.map((i) => [i.id, { item: i, children: [] as Node<T>[] }]));
  const roots: Node<T>[] = [];
  for (const n of by.values()) {
    const p = n.item.parent_id ? by.get(n.item.parent_id) : undefined;
    (p ? p.children : roots).push(n);
  }
  const sort = (ns: Node<T>[]) => {
    ns.sort((a, b) => a.item.name.localeCompare(b.item.name));
    ns.forEach((n) => sort(n.children));
  };
  sort(roots);
  return roots;
}

/** descendants are the ids at and below id (a group cannot move under them). */
export function descendants<T extends { id: string; parent_id?: string }>(items: T[], id: string): Set<string> {
  const out = new Set([id]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const i of items) if (i.parent_id && out.has(i.parent_id) && !out.has(i.id)) (out.add(i.id), (grew = true));
  }
  return out;
}

const SUFFIX: Record<string, number> = {
  n: 1e-9, u: 1e-6, m: 1e-3, "": 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18,
  Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, Ti: 1024 ** 4, Pi: 1024 ** 5, Ei: 1024 ** 6,
};

/** quantity parses a Kubernetes quantity ("500m", "4Gi", "2") into a number, NaN if it is not one. */
export function quantity(q?: string): number {
  if (!q) return NaN;
  const m = /^([+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?)([a-zA-Z]*)$/.exec(q.trim());
  if (!m || !(m[2] in SUFFIX)) return NaN;
  return parseFloat(m[1]) * SUFFIX[m[2]];
}

/** bytes formats a byte count for people. */
export function bytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) (n /= 1024), i++;
  return `${n >= 10 || i === 0 ? Math.round(n) : n.toFixed(1)} ${units[i]}`;
}

/** cores formats CPU cores. */
export function cores(n: number): string {
  if (n === 0) return "0";
  return n < 1 ? `${Math.round(n * 1000)}m` : `${+n.toFixed(2)} ${n === 1 ? "core" : "cores"}`;
}

/** count says "1 application", "2 applications". */
export function count(n: number, one: string, many = one + "s"): string {
  return `${n} ${n === 1 ? one : many}`;
}
