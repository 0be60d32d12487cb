import type { RouteObject } from "react-router";

export const workspaceRoutes: RouteObject[] = [];
