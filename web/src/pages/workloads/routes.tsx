import type { RouteObject } from "react-router";

export const workloadRoutes: RouteObject[] = [];
