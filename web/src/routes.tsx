import type { RouteObject } from "react-router";
import { Layout } from "./ui/Layout";
import { RequireAuth } from "./auth/session";
import { NotFound } from "./pages/NotFound";
import { publicRoutes } from "./pages/auth/routes";
import { accountRoutes } from "./pages/account/routes";
import { orgRoutes } from "./pages/orgs/routes";
import { workspaceRoutes } from "./pages/workspaces/routes";
import { workloadRoutes } from "./pages/workloads/routes";
import { assistantRoutes } from "./pages/assistant/routes";
import { functionRoutes } from "./pages/functions/routes";

// The route table: each area of the console exports its routes from
// pages/<area>/routes.tsx; the signed-in ones share the Layout. Later
// capabilities (assistant, functions, backups, billing) add an area here.
export const routes: RouteObject[] = [
  ...publicRoutes,
  {
    element: (
      <RequireAuth>
        <Layout />
      </RequireAuth>
    ),
    children: [...accountRoutes, ...orgRoutes, ...workspaceRoutes, ...workloadRoutes, ...assistantRoutes, ...functionRoutes, { path: "*", element: <NotFound /> }],
  },
];
