import { Link, useParams } from "react-router";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { api, call } from "../../api/client";
import { Loading, Page } from "../../ui/bits";
import { ProblemAlert } from "../../ui/ProblemAlert";
import { paths } from "../../paths";
import { WorkspaceTabs } from "../workspaces/common";
import { PlanCard } from "./PlanCard";
import { AssistantTabs, aiKey, assistantCrumbs, useNames, useScope, W, type Plan } from "./common";

/**
 * PlanPage is one plan on its own: the page a plan's confirm_url names, for
 * a plan made through MCP or the CLI (the URL names the organization and
 * the workspace by id; the page moves to their names).
 */
export function PlanPage() {
  const { org, ws } = useScope();
  const { plan = "" } = useParams();
  useNames(org, ws);
  const qc = useQueryClient();
  const key = aiKey(org, ws, "plan", plan);
  const p = useQuery({
    queryKey: key,
    queryFn: () => call(api.GET(`${W}/ai/plans/{plan}`, { params: { path: { org, workspace: ws, plan } } })),
  });
  return (
    <Page title="A plan of the assistant" crumbs={assistantCrumbs(org, ws)}>
      <WorkspaceTabs org={org} ws={ws} />
      <AssistantTabs org={org} ws={ws} />
      {p.isPending && <Loading what="Loading the plan" />}
      <ProblemAlert error={p.error} />
      {p.data && (
        <>
          <p className="muted">
            A change the assistant proposed. Confirming runs exactly this request, once, with your own identity; the plan is yours alone and expires
            5 minutes after it was made.
            {p.data.chat_id && (
              <>
                {" "}
                It came from <Link to={paths.chat(org, ws, p.data.chat_id)}>a chat</Link>.
              </>
            )}
          </p>
          <PlanCard org={org} ws={ws} plan={p.data} level={2} onChange={(np: Plan) => qc.setQueryData(key, np)} />
        </>
      )}
    </Page>
  );
}
