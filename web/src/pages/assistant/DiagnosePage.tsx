import { Link, useSearchParams } from "react-router";
import { useQuery } from "@tanstack/react-query";
import { api, call } from "../../api/client";
import { Empty, Loading, Page, StatusBadge } from "../../ui/bits";
import { SelectField } from "../../ui/Field";
import { ProblemAlert } from "../../ui/ProblemAlert";
import { paths } from "../../paths";
import { useProjects, WorkspaceTabs } from "../workspaces/common";
import { AssistantTabs, aiKey, assistantCrumbs, useNames, useScope, W, type Diagnosis, type Finding } from "./common";

const SEVERITIES = [
  { key: "critical", title: "Critical" },
  { key: "warning", title: "Warnings" },
  { key: "info", title: "Information" },
] as const;

/**
 * DiagnosePage runs the deterministic analyzers over a project or the whole
 * workspace, as the caller (no model involved), and lists what they found
 * by severity: the objects, the evidence and the suggested fix. The kinds
 * the caller could not list are named, since nothing was concluded about
 * them.
 */
export function DiagnosePage() {
  const { org, ws } = useScope();
  useNames(org, ws);
  const [params, setParams] = useSearchParams();
  const project = params.get("project") ?? "";
  const projects = useProjects(org, ws);
  const d = useQuery({
    queryKey: aiKey(org, ws, "diagnose", project),
    queryFn: () =>
      project
        ? call(api.GET(`${W}/projects/{project}/diagnose`, { params: { path: { org, workspace: ws, project } } }))
        : call(api.GET(`${W}/diagnose`, { params: { path: { org, workspace: ws } } })),
    staleTime: 0,
  });
  return (
    <Page title="Diagnose" crumbs={assistantCrumbs(org, ws)}>
      <WorkspaceTabs org={org} ws={ws} />
      <AssistantTabs org={org} ws={ws} />
      <p className="muted">
        The analyzers look for the usual problems (crash loops, image pull failures, unschedulable pods, failing Jobs, quotas at their limit, Services
        selecting nothing…) in the objects you can see. They need no model.
      </p>
      <div className="row diagnose-bar">
        <SelectField
          label="Examine"
          name="project"
          value={project}
          onChange={(e) => setParams(e.target.value ? { project: e.target.value } : {}, { replace: true })}
        >
          <option value="">Every project of the workspace</option>
          {(projects.data ?? []).map((p) => (
            <option key={p.id} value={p.name}>
              Project {p.name}
            </option>
          ))}
          {project && !projects.data?.some((p) => p.name === project) && <option value={project}>Project {project}</option>}
        </SelectField>
        <button type="button" className="btn" onClick={() => d.refetch()} disabled={d.isFetching}>
          {d.isFetching ? "Running the analyzers…" : "Run again"}
        </button>
      </div>
      {d.isPending && <Loading what="Running the analyzers" />}
      <ProblemAlert error={d.error} />
      {d.data && <Findings org={org} ws={ws} d={d.data} />}
    </Page>
  );
}

function Findings({ org, ws, d }: { org: string; ws: string; d: Diagnosis }) {
  return (
    <>
      <p role="status">
        {d.objects} objects examined{d.namespaces.length > 0 && <> in {d.namespaces.join(", ")}</>} by {d.analyzers.length} analyzers
        {d.findings.length > 0 && `: ${d.findings.length} ${d.findings.length === 1 ? "problem" : "problems"} found`}.
      </p>
      {d.findings.length === 0 && (
        <Empty>
          <p>No problems found.</p>
        </Empty>
      )}
      {SEVERITIES.map(({ key, title }) => {
        const fs = d.findings.filter((f) => f.severity === key);
        if (fs.length === 0) return null;
        return (
          <section key={key} aria-labelledby={`sev-${key}`}>
            <h2 id={`sev-${key}`}>
              {title} ({fs.length})
            </h2>
            <ul className="findings">
              {fs.map((f, i) => (
                <FindingItem key={`${f.analyzer}-${i}`} org={org} ws={ws} f={f} />
              ))}
            </ul>
          </section>
        );
      })}
      {d.skipped.length > 0 && (
        <section aria-labelledby="skipped">
          <h2 id="skipped">Not examined</h2>
          <p className="muted">These kinds could not be listed with your identity, so nothing was concluded about them:</p>
          <ul>
            {d.skipped.map((s) => (
              <li key={s}>
                <code>{s}</code>
              </li>
            ))}
          </ul>
        </section>
      )}
    </>
  );
}

/** objectLink links the objects the console has a page for. */
function objectLink(org: string, ws: string, o: Finding["objects"][number]): string | undefined {
  if (!o.namespace) return undefined;
  if (o.kind === "Deployment") return paths.app(org, ws, o.namespace, o.name);
  if (o.kind === "CronJob") return paths.cronjob(org, ws, o.namespace, o.name);
  return undefined;
}

function FindingItem({ org, ws, f }: { org: string; ws: string; f: Finding }) {
  return (
    <li className={`card finding finding-${f.severity}`}>
      <h3 className="finding-title">
        <StatusBadge status={f.severity} /> {f.title}
      </h3>
      <dl className="facts">
        <dt>Objects</dt>
        <dd>
          <ul className="plain">
            {f.objects.map((o) => {
              const to = objectLink(org, ws, o);
              const label = `${o.kind} ${o.name}`;
              return (
                <li key={`${o.kind}/${o.namespace}/${o.name}`}>
                  {to ? <Link to={to}>{label}</Link> : label}
                  {o.namespace && <span className="muted small"> in {o.namespace}</span>}
                </li>
              );
            })}
          </ul>
        </dd>
        <dt>Found by</dt>
        <dd>
          <code>{f.analyzer}</code>
        </dd>
      </dl>
      {f.evidence.length > 0 && (
        <>
          <p className="small muted">Evidence:</p>
          <ul className="evidence">
            {f.evidence.map((e, i) => (
              <li key={i}>{e}</li>
            ))}
          </ul>
        </>
      )}
      {f.suggestion && (
        <p>
          <strong>Suggested fix:</strong> {f.suggestion}
        </p>
      )}
    </li>
  );
}
