// Shared parts of the assistant's pages: the wire types, the queries (keys
// under ["org", org, "ws", ws, "ai", …] so the organization's events refresh
// them), the assistant's tab row, and the move from ids to names in the URL
// (the API's confirm_url names the organization and the workspace by id).
import { useEffect } from "react";
import { Link, useLocation, useNavigate, useParams } from "react-router";
import { useQuery } from "@tanstack/react-query";
import { api, call, type Schemas } from "../../api/client";
import { SubNav } from "../../ui/Layout";
import { paths } from "../../paths";
import { useWorkspace } from "../workspaces/common";
import { useOrg } from "../orgs/useOrg";

export type Chat = Schemas["AIChat"];
export type ChatDetail = Schemas["AIChatDetail"];
export type Message = Schemas["AIMessage"];
export type Plan = Schemas["AIPlan"];
export type Turn = Schemas["AITurn"];
export type AIStatus = Schemas["AIStatus"];
export type Diagnosis = Schemas["Diagnosis"];
export type Finding = Schemas["Finding"];

export const W = "/api/v1/organizations/{org}/workspaces/{workspace}" as const;

/** aiKey is a react-query key of the assistant inside a workspace. */
export const aiKey = (org: string, ws: string, ...rest: unknown[]) => ["org", org, "ws", ws, "ai", ...rest];

/** useScope is the organization and workspace the URL names. */
export function useScope() {
  const p = useParams();
  return { org: p.org ?? "", ws: p.ws ?? "" };
}

/**
 * useNames moves a URL that names the organization or the workspace by id
 * (the confirm_url of a plan does) to the one with the slug and the name,
 * as every other page of the console has, keeping the rest of the URL.
 */
export function useNames(org: string, ws: string) {
  const o = useOrg(org);
  const w = useWorkspace(org, ws);
  const nav = useNavigate();
  const loc = useLocation();
  const slug = o.data?.slug;
  const name = w.data?.name;
  useEffect(() => {
    if (!slug || !name || (slug === org && name === ws)) return;
    const from = paths.workspace(org, ws);
    if (!loc.pathname.startsWith(from)) return;
    nav(paths.workspace(slug, name) + loc.pathname.slice(from.length) + loc.search, { replace: true });
  }, [slug, name, org, ws, loc.pathname, loc.search, nav]);
  return { org: o, workspace: w };
}

/** useAIStatus says whether the assistant is on and which models the operator set up. */
export function useAIStatus(org: string) {
  return useQuery({
    queryKey: ["org", org, "ai", "status"],
    queryFn: () => call(api.GET("/api/v1/organizations/{org}/ai/status", { params: { path: { org } } })),
    staleTime: 60_000,
  });
}

/** AssistantTabs is the assistant's own tab row (under the workspace's). */
export function AssistantTabs({ org, ws }: { org: string; ws: string }) {
  return (
    <SubNav
      label="Assistant"
      links={[
        { to: paths.assistant(org, ws), label: "Chats", end: true },
        { to: paths.diagnose(org, ws), label: "Diagnose" },
      ]}
    />
  );
}

/** crumbs of an assistant page. */
export function assistantCrumbs(org: string, ws: string, withAssistant = true) {
  const c = [
    { to: paths.org(org), label: org },
    { to: paths.workspace(org, ws), label: ws },
  ];
  if (withAssistant) c.push({ to: paths.assistant(org, ws), label: "Assistant" });
  return c;
}

/** isProblemType: the problem's type URI ends with name (…/no-model, …/plan-stale). */
export function isProblemType(e: unknown, name: string): boolean {
  const t = (e as { type?: string } | null)?.type ?? "";
  return t === name || t.endsWith("/" + name);
}

/** NoModel says plainly that no model is set up, and what works without one. */
export function NoModel({ org, ws, detail }: { org: string; ws: string; detail?: string }) {
  return (
    <div className="alert alert-info" role="note">
      <strong>No model is set up.</strong>
      <p>{detail || "The operator of this platform has configured no language model, so the assistant cannot chat."}</p>
      <p>
        The analyzers work without one: <Link to={paths.diagnose(org, ws)}>Diagnose</Link> finds the common problems of the
        workspace's objects.
      </p>
    </div>
  );
}
