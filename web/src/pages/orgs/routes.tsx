import type { RouteObject } from "react-router";
import { OrgsPage } from "./OrgsPage";

export const orgRoutes: RouteObject[] = [{ path: "/", element: <OrgsPage /> }];
