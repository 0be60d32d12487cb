import type { RouteObject } from "react-router";
import { LoginPage } from "./LoginPage";
import { SetupPage } from "./SetupPage";
import { AcceptInvitationPage } from "../orgs/AcceptInvitationPage";

export const publicRoutes: RouteObject[] = [
  { path: "/login", element: <LoginPage /> },
  { path: "/login/mfa", element: <LoginPage /> },
  { path: "/setup", element: <SetupPage /> },
  // Public: someone not signed in signs in on the page itself, keeping the token in the fragment.
  { path: "/invitations/accept", element: <AcceptInvitationPage /> },
];
