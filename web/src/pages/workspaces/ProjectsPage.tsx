import { useRef, useState, type FormEvent, type RefObject } from "react";
import { Link, useNavigate, useParams } from "react-router";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { api, call } from "../../api/client";
import { Empty, Loading, Page } from "../../ui/bits";
import { TextField } from "../../ui/Field";
import { ProblemAlert } from "../../ui/ProblemAlert";
import { paths } from "../../paths";
import { crumbsFor, isWsAdmin, tree, useProjects, useWorkspace, WorkspaceTabs, type Node, type Project } from "./common";
import { ParentField, PodSecurityField, QuotaFields, quotaBody, quotaOf, type QuotaIn } from "./ProjectForm";

/**
 * ProjectsPage is a workspace's projects as a tree (the caller's own:
 * a member bound to one project sees that one and those below it), and,
 * for workspace admins, the form that creates one, top-level or a child.
 */
export function ProjectsPage() {
  const { org = "", ws = "" } = useParams();
  const w = useWorkspace(org, ws);
  const projects = useProjects(org, ws);
  const admin = isWsAdmin(w.data?.role);
  const [parent, setParent] = useState("");
  const formRef = useRef<HTMLElement>(null);
  const addChild = (p: Project) => {
    setParent(p.id);
    const name = formRef.current?.querySelector<HTMLInputElement>('input[name="name"]');
    name?.focus();
    name?.scrollIntoView({ block: "center" });
  };
  const roots = projects.data ? tree(projects.data) : [];
  return (
    <Page title={`Projects of ${ws}`} crumbs={crumbsFor(org, ws)}>
      <WorkspaceTabs org={org} ws={ws} />
      {(projects.isPending || w.isPending) && <Loading what="Loading projects" />}
      {projects.error && <ProblemAlert error={projects.error} />}
      {projects.data && projects.data.length === 0 && (
        <Empty>
          <p>No projects {admin ? "yet" : "that you can see"}.</p>
          <p>{admin ? "A project is a namespace with its own quota. Create one below." : "Ask a workspace admin to give you a role in a project."}</p>
        </Empty>
      )}
      {roots.length > 0 && (
        <ul className="tree" aria-label="Projects">
          {roots.map((n) => (
            <ProjectNode key={n.item.id} n={n} org={org} ws={ws} admin={admin} onAddChild={addChild} />
          ))}
        </ul>
      )}
      {admin && projects.data && <CreateProject org={org} ws={ws} projects={projects.data} parent={parent} setParent={setParent} formRef={formRef} />}
    </Page>
  );
}

function ProjectNode({ n, org, ws, admin, onAddChild }: { n: Node<Project>; org: string; ws: string; admin: boolean; onAddChild: (p: Project) => void }) {
  const p = n.item;
  const q = [p.quota.cpu && `CPU ${p.quota.cpu}`, p.quota.memory && `memory ${p.quota.memory}`, p.quota.storage && `storage ${p.quota.storage}`, p.quota.pods && `${p.quota.pods} pods`].filter(Boolean);
  return (
    <li>
      <div className="tree-item">
        <Link to={paths.project(org, ws, p.name)}>{p.name}</Link>
        <span className="muted small">{q.length ? q.join(", ") : "no quota"}</span>
        {p.role && <span className="small">you: {p.role}</span>}
        {admin && (
          <button type="button" className="btn btn-small" onClick={() => onAddChild(p)}>
            Add child<span className="sr-only"> project of {p.name}</span>
          </button>
        )}
      </div>
      {n.children.length > 0 && (
        <ul>
          {n.children.map((c) => (
            <ProjectNode key={c.item.id} n={c} org={org} ws={ws} admin={admin} onAddChild={onAddChild} />
          ))}
        </ul>
      )}
    </li>
  );
}

function CreateProject({ org, ws, projects, parent, setParent, formRef }: {
  org: string; ws: string; projects: Project[]; parent: string; setParent: (p: string) => void; formRef: RefObject<HTMLElement | null>;
}) {
  const qc = useQueryClient();
  const nav = useNavigate();
  const [name, setName] = useState("");
  const [quota, setQuota] = useState<QuotaIn>(quotaOf());
  const [podSecurity, setPodSecurity] = useState("baseline");
  const create = useMutation({
    mutationFn: () =>
      call(
        api.POST("/api/v1/organizations/{org}/workspaces/{workspace}/projects", {
          params: { path: { org, workspace: ws } },
          body: { name: name.trim(), parent_id: parent || undefined, quota: quotaBody(quota), pod_security: podSecurity },
        }),
      ),
    onSuccess: (p) => {
      qc.invalidateQueries({ queryKey: ["org", org, "ws", ws] });
      nav(paths.project(org, ws, p.name));
    },
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    create.mutate();
  };
  return (
    <section aria-labelledby="new-project" ref={formRef}>
      <h2 id="new-project">New project</h2>
      <form className="form form-wide" onSubmit={submit} aria-label="New project">
        <TextField label="Project name" name="name" error={create.error} value={name} onChange={(e) => setName(e.target.value)} required autoComplete="off"
          hint="Lowercase letters, digits and hyphens; it becomes the namespace's name." />
        <ParentField value={parent} set={setParent} error={create.error} candidates={projects} />
        <QuotaFields q={quota} set={setQuota} error={create.error} />
        <PodSecurityField value={podSecurity} set={setPodSecurity} error={create.error} />
        <ProblemAlert error={create.error} fieldsShown={["name", "parent_id", "quota", "pod_security"]} />
        <div className="row">
          <button type="submit" className="btn btn-primary" disabled={create.isPending}>
            {create.isPending ? "Creating…" : "Create project"}
          </button>
        </div>
      </form>
    </section>
  );
}
