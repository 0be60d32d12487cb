// Shared parts of the functions' pages: the caller's role in the project
// (functions are the platform's, not the cluster's: developers deploy and
// invoke, viewers read), and the query keys.
import { useQuery } from "@tanstack/react-query";
import { api, call } from "../../api/client";
import { paths } from "../../paths";
import { key, pathOf, projectCrumbs, type Scope } from "../workloads/common";

/** useRole is the caller's role in the project and whether it may change functions (developer or workspace-admin). */
export function useRole(s: Scope) {
  const p = useQuery({
    queryKey: key(s),
    queryFn: () => call(api.GET("/api/v1/organizations/{org}/workspaces/{workspace}/projects/{project}", { params: { path: pathOf(s) } })),
    staleTime: 30_000,
  });
  const role = p.data?.role;
  return { role, canWrite: role === "developer" || role === "workspace-admin" };
}

/** fnKey is a react-query key of the project's functions (or of one). */
export const fnKey = (s: Scope, ...rest: unknown[]) => key(s, "functions", ...rest);

/** fnCrumbs are the crumbs of a page under the project's Functions. */
export function fnCrumbs(s: Scope) {
  return projectCrumbs(s, { to: paths.functions(s.org, s.workspace, s.project), label: "Functions" });
}
