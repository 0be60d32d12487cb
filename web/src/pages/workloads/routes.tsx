import type { RouteObject } from "react-router";
import { AppsPage } from "./AppsPage";
import { AppNewPage } from "./AppNewPage";
import { AppPage } from "./AppPage";
import { CronJobsPage } from "./CronJobsPage";
import { CronJobNewPage } from "./CronJobNewPage";
import { CronJobPage } from "./CronJobPage";

// The applications and CronJobs of a project (paths.apps/app/cronjobs/cronjob).
const project = "/orgs/:org/workspaces/:workspace/projects/:project";

export const workloadRoutes: RouteObject[] = [
  { path: `${project}/apps`, element: <AppsPage /> },
  { path: `${project}/apps/new`, element: <AppNewPage /> },
  { path: `${project}/apps/:app`, element: <AppPage /> },
  { path: `${project}/cronjobs`, element: <CronJobsPage /> },
  { path: `${project}/cronjobs/new`, element: <CronJobNewPage /> },
  { path: `${project}/cronjobs/:cronjob`, element: <CronJobPage /> },
];
