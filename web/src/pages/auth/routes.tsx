import type { RouteObject } from "react-router";
import { LoginPage } from "./LoginPage";
import { SetupPage } from "./SetupPage";

export const publicRoutes: RouteObject[] = [
  { path: "/login", element: <LoginPage /> },
  { path: "/login/mfa", element: <LoginPage /> },
  { path: "/setup", element: <SetupPage /> },
];
