import type { RouteObject } from "react-router";
import { WorkspacesPage } from "./WorkspacesPage";
import { NewWorkspacePage } from "./NewWorkspacePage";
import { WorkspacePage } from "./WorkspacePage";
import { ProjectsPage } from "./ProjectsPage";
import { ProjectPage } from "./ProjectPage";
import { GroupsPage } from "./GroupsPage";
import { WorkspaceMembersPage } from "./WorkspaceMembersPage";

// The workspaces area: an organization's workspaces, a workspace, its
// projects (the workloads area adds a project's apps and cronjobs) and
// its groups with their role bindings, and its members.
export const workspaceRoutes: RouteObject[] = [
  { path: "/orgs/:org", element: <WorkspacesPage /> },
  { path: "/orgs/:org/workspaces/new", element: <NewWorkspacePage /> },
  { path: "/orgs/:org/workspaces/:ws", element: <WorkspacePage /> },
  { path: "/orgs/:org/workspaces/:ws/projects", element: <ProjectsPage /> },
  { path: "/orgs/:org/workspaces/:ws/projects/:project", element: <ProjectPage /> },
  { path: "/orgs/:org/workspaces/:ws/groups", element: <GroupsPage /> },
  { path: "/orgs/:org/workspaces/:ws/members", element: <WorkspaceMembersPage /> },
];
