import { useState, type FormEvent } from "react";
import { Link, useNavigate, useParams } from "react-router";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, call } from "../../api/client";
import { ConfirmButton, Empty, Loading, Page, UsageBar, time } from "../../ui/bits";
import { ProblemAlert } from "../../ui/ProblemAlert";
import { paths } from "../../paths";
import { bytes, cores, count, crumbsFor, descendants, isWsAdmin, quantity, useProjects, type Project } from "./common";
import { ProjectTabs } from "./ProjectTabs";
import { ParentField, PodSecurityField, QuotaFields, quotaBody, quotaOf, type QuotaIn } from "./ProjectForm";

const P = "/api/v1/organizations/{org}/workspaces/{workspace}/projects/{project}" as const;

/**
 * ProjectPage is a project's overview: its quota's use as bars, its child
 * projects, and for workspace admins its settings (quota, pod security,
 * parent) and deleting it. Its tabs lead to the workloads area.
 */
export function ProjectPage() {
  const { org = "", ws = "", project = "" } = useParams();
  const path = { org, workspace: ws, project };
  const p = useQuery({
    queryKey: ["org", org, "ws", ws, "project", project],
    queryFn: () => call(api.GET(P, { params: { path } })),
  });
  const all = useProjects(org, ws);
  const children = (all.data ?? []).filter((c) => p.data && c.parent_id === p.data.id);
  const admin = isWsAdmin(p.data?.role);
  return (
    <Page title={`Project ${project}`} crumbs={crumbsFor(org, ws, project)}>
      <ProjectTabs org={org} ws={ws} project={project} />
      {p.isPending && <Loading what="Loading the project" />}
      {p.error && <ProblemAlert error={p.error} />}
      {p.data && (
        <>
          <dl className="facts">
            <dt>Your role</dt>
            <dd>{p.data.role ?? "—"}</dd>
            <dt>Pod security</dt>
            <dd>{p.data.pod_security}</dd>
            <dt>Parent</dt>
            <dd>{p.data.parent_id ? (all.data?.find((x) => x.id === p.data.parent_id)?.name ?? "—") : "none (top level)"}</dd>
            <dt>Created</dt>
            <dd>{time(p.data.created_at)}</dd>
          </dl>
          <Usage org={org} ws={ws} project={project} />
          <section aria-labelledby="children">
            <h2 id="children">Child projects</h2>
            {children.length === 0 ? (
              <p className="muted">None.{admin && <> Add one from the <Link to={paths.workspacePart(org, ws, "projects")}>projects page</Link>.</>}</p>
            ) : (
              <ul>
                {children.map((c) => (
                  <li key={c.id}>
                    <Link to={paths.project(org, ws, c.name)}>{c.name}</Link>
                  </li>
                ))}
              </ul>
            )}
          </section>
          {admin && all.data && <Settings key={p.data.resource_version} org={org} ws={ws} p={p.data} projects={all.data} />}
          {admin && <Delete org={org} ws={ws} p={p.data} hasChildren={children.length > 0} />}
        </>
      )}
    </Page>
  );
}

const LABELS: Record<string, [string, (n: number) => string]> = {
  "requests.cpu": ["CPU requested", cores],
  "limits.cpu": ["CPU limits", cores],
  cpu: ["CPU", cores],
  "requests.memory": ["Memory requested", bytes],
  "limits.memory": ["Memory limits", bytes],
  memory: ["Memory", bytes],
  "requests.storage": ["Storage requested", bytes],
  pods: ["Pods", (n) => String(Math.round(n))],
};

function Usage({ org, ws, project }: { org: string; ws: string; project: string }) {
  const u = useQuery({
    queryKey: ["org", org, "ws", ws, "project", project, "usage"],
    queryFn: () => call(api.GET(`${P}/usage`, { params: { path: { org, workspace: ws, project } } })),
    // Use changes as pods come and go, and no event tells of it.
    refetchInterval: 10_000,
  });
  const rows = Object.entries(u.data?.quota ?? {}).sort(([a], [b]) => a.localeCompare(b));
  return (
    <section aria-labelledby="usage">
      <h2 id="usage">Quota usage</h2>
      {u.isPending && <Loading what="Loading usage" />}
      {u.error && <ProblemAlert error={u.error} />}
      {u.data && rows.length === 0 && <Empty>No quota is set, so there is nothing to measure against.</Empty>}
      {rows.map(([name, q]) => {
        const [label, fmt] = LABELS[name] ?? [name, (n: number) => String(n)];
        const used = quantity(q.used);
        const hard = quantity(q.hard);
        return <UsageBar key={name} label={label} used={isNaN(used) ? 0 : used} limit={isNaN(hard) ? 0 : hard} format={fmt} />;
      })}
      {u.data && (
        <p className="muted small">
          {count(u.data.counts.applications, "application")}, {u.data.counts.running_pods}/{count(u.data.counts.pods, "pod")} running,{" "}
          {count(u.data.counts.cronjobs, "CronJob")}, {count(u.data.counts.services, "service")}.
        </p>
      )}
    </section>
  );
}

function Settings({ org, ws, p, projects }: { org: string; ws: string; p: Project; projects: Project[] }) {
  const qc = useQueryClient();
  const nav = useNavigate();
  const [quota, setQuota] = useState<QuotaIn>(quotaOf(p));
  const [podSecurity, setPodSecurity] = useState(p.pod_security);
  const [parent, setParent] = useState(p.parent_id ?? "");
  const below = descendants(projects, p.id);
  const save = useMutation({
    mutationFn: () =>
      call(
        api.PATCH(P, {
          params: { path: { org, workspace: ws, project: p.name } },
          body: { quota: quotaBody(quota, true), pod_security: podSecurity, parent_id: parent, resource_version: p.resource_version },
        }),
      ),
    onSuccess: (np) => {
      qc.setQueryData(["org", org, "ws", ws, "project", p.name], np);
      qc.invalidateQueries({ queryKey: ["org", org, "ws", ws] });
      nav(paths.project(org, ws, np.name), { replace: true });
    },
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    save.mutate();
  };
  return (
    <section aria-labelledby="settings">
      <h2 id="settings">Settings</h2>
      <form className="form form-wide" onSubmit={submit} aria-label="Project settings">
        <QuotaFields q={quota} set={setQuota} error={save.error} />
        <PodSecurityField value={podSecurity} set={setPodSecurity} error={save.error} />
        <ParentField value={parent} set={setParent} error={save.error} candidates={projects.filter((x) => !below.has(x.id))} />
        <ProblemAlert error={save.error} fieldsShown={["quota", "pod_security", "parent_id"]} />
        <div className="row">
          <button type="submit" className="btn btn-primary" disabled={save.isPending}>
            {save.isPending ? "Saving…" : "Save settings"}
          </button>
        </div>
      </form>
    </section>
  );
}

function Delete({ org, ws, p, hasChildren }: { org: string; ws: string; p: Project; hasChildren: boolean }) {
  const qc = useQueryClient();
  const nav = useNavigate();
  const del = useMutation({
    mutationFn: () => call(api.DELETE(P, { params: { path: { org, workspace: ws, project: p.name } } })),
    onSuccess: () => {
      qc.invalidateQueries({ queryKey: ["org", org, "ws", ws] });
      nav(paths.workspacePart(org, ws, "projects"));
    },
  });
  return (
    <section aria-labelledby="delete-project">
      <h2 id="delete-project">Delete the project</h2>
      <p className="muted">{hasChildren ? "Delete its child projects first." : "Its namespace and everything in it are deleted."}</p>
      <ConfirmButton label="Delete project" question={`Delete project ${p.name} and everything in its namespace?`} confirmLabel={`Delete ${p.name}`}
        disabled={hasChildren || del.isPending} onConfirm={() => del.mutate()} />
      <ProblemAlert error={del.error} />
    </section>
  );
}
