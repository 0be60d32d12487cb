import type { RouteObject } from "react-router";
import { ChatsPage } from "./ChatsPage";
import { ChatPage } from "./ChatPage";
import { PlanPage } from "./PlanPage";
import { DiagnosePage } from "./DiagnosePage";

// The assistant of a workspace: the caller's chats, a chat, a plan on its
// own (a plan's confirm_url) and the analyzers' diagnosis. The organization
// and the workspace may be named by id (a confirm_url does): the pages move
// to the slug and the name.
const base = "/orgs/:org/workspaces/:ws/assistant";

export const assistantRoutes: RouteObject[] = [
  { path: base, element: <ChatsPage /> },
  { path: `${base}/chats/:chat`, element: <ChatPage /> },
  { path: `${base}/plans/:plan`, element: <PlanPage /> },
  { path: `${base}/diagnose`, element: <DiagnosePage /> },
];
