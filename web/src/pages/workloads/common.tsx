import { ProjectTabs } from "../workspaces/ProjectTabs";
// Shared parts of the applications and CronJobs pages: the project scope
// from the URL, what the caller may do there (GET …/access: the cluster's
// RBAC for the caller's own identity), the project's tabs, and the query
// keys (under ["org", org, …] so organization events refresh them).
import { useParams } from "react-router";
import { useQuery } from "@tanstack/react-query";
import { api, call } from "../../api/client";
import { paths } from "../../paths";

export interface Scope {
  org: string;
  workspace: string;
  project: string;
}

/** useScope is the project the URL names. */
export function useScope(): Scope {
  const p = useParams();
  return { org: p.org ?? "", workspace: p.workspace ?? "", project: p.project ?? "" };
}

export const pathOf = (s: Scope) => ({ org: s.org, workspace: s.workspace, project: s.project });

/** key is a react-query key inside the project. */
export const key = (s: Scope, ...rest: unknown[]) => ["org", s.org, "ws", s.workspace, "project", s.project, ...rest];

export type Verb = "get" | "list" | "watch" | "create" | "update" | "patch" | "delete";

/**
 * useAccess says what the caller may do in the project. While it is
 * unknown (loading, or refused) nothing is allowed: buttons appear once
 * the cluster said yes. The server still decides every call.
 */
export function useAccess(s: Scope) {
  const q = useQuery({
    queryKey: key(s, "access"),
    queryFn: () => call(api.GET("/api/v1/organizations/{org}/workspaces/{workspace}/projects/{project}/access", { params: { path: pathOf(s) } })),
    staleTime: 30_000,
  });
  const can = (resource: string, verb: Verb) => !!q.data?.resources[resource]?.includes(verb);
  return { ...q, can };
}

/** ProjectNav is the project's tab row (ProjectTabs of the workspaces area) for a workloads page. */
export function ProjectNav({ s }: { s: Scope }) {
  return <ProjectTabs org={s.org} ws={s.workspace} project={s.project} />;
}

/** crumbs of a page inside the project. */
export function projectCrumbs(s: Scope, ...more: { to: string; label: string }[]) {
  return [
    { to: paths.org(s.org), label: s.org },
    { to: paths.workspace(s.org, s.workspace), label: s.workspace },
    { to: paths.project(s.org, s.workspace, s.project), label: s.project },
    ...more,
  ];
}

/** splitList reads one item per line (blank lines dropped). */
export function lines(text: string): string[] {
  return text
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean);
}
