import { SubNav } from "../../ui/Layout";
import { paths } from "../../paths";

/**
 * ProjectTabs is the tab row of a project's pages: its overview (this
 * area) the workloads area's Applications and CronJobs, and the functions
 * area's Functions, which render the same tabs above their own pages.
 */
export function ProjectTabs({ org, ws, project }: { org: string; ws: string; project: string }) {
  return (
    <SubNav
      label="Project"
      links={[
        { to: paths.project(org, ws, project), label: "Overview", end: true },
        { to: paths.apps(org, ws, project), label: "Applications" },
        { to: paths.cronjobs(org, ws, project), label: "CronJobs" },
        { to: paths.functions(org, ws, project), label: "Functions" },
      ]}
    />
  );
}
