import { useNavigate } from "react-router";
import { useQueryClient } from "@tanstack/react-query";
import { Page } from "../../ui/bits";
import { paths } from "../../paths";
import { ProjectNav, useScope } from "../workloads/common";
import { fnCrumbs, fnKey } from "./common";
import { DeployForm } from "./DeployForm";

/** FunctionNewPage deploys a new function and opens its page. */
export function FunctionNewPage() {
  const s = useScope();
  const nav = useNavigate();
  const qc = useQueryClient();
  return (
    <Page title="New function" crumbs={fnCrumbs(s)}>
      <ProjectNav s={s} />
      <section className="card" aria-label="Deploy">
        <DeployForm
          s={s}
          onDeployed={(f) => {
            qc.invalidateQueries({ queryKey: fnKey(s) });
            nav(paths.fn(s.org, s.workspace, s.project, f.name));
          }}
        />
      </section>
    </Page>
  );
}
