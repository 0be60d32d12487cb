import type { RouteObject } from "react-router";
import { FunctionsPage } from "./FunctionsPage";
import { FunctionNewPage } from "./FunctionNewPage";
import { FunctionPage } from "./FunctionPage";

// The functions of a project (paths.functions/fn).
const project = "/orgs/:org/workspaces/:workspace/projects/:project";

export const functionRoutes: RouteObject[] = [
  { path: `${project}/functions`, element: <FunctionsPage /> },
  { path: `${project}/functions/new`, element: <FunctionNewPage /> },
  { path: `${project}/functions/:fn`, element: <FunctionPage /> },
];
