import type { RouteObject } from "react-router";
import { OrgsPage } from "./OrgsPage";
import { CreateOrgPage } from "./CreateOrgPage";
import { OrgSettingsPage } from "./OrgSettingsPage";
import { MembersPage } from "./MembersPage";
import { AuditPage } from "./AuditPage";
import { TaskPage, TasksPage } from "./TasksPage";

export const orgRoutes: RouteObject[] = [
  { path: "/", element: <OrgsPage /> },
  { path: "/orgs/new", element: <CreateOrgPage /> },
  { path: "/orgs/:org/settings", element: <OrgSettingsPage /> },
  { path: "/orgs/:org/members", element: <MembersPage /> },
  { path: "/orgs/:org/audit", element: <AuditPage /> },
  { path: "/orgs/:org/tasks", element: <TasksPage /> },
  { path: "/orgs/:org/tasks/:task", element: <TaskPage /> },
];
