import { useState, type FormEvent } from "react";
import { useParams } from "react-router";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, call } from "../../api/client";
import { ConfirmButton, Empty, Loading, Page, time, Scroll } from "../../ui/bits";
import { SelectField, TextField } from "../../ui/Field";
import { ProblemAlert } from "../../ui/ProblemAlert";
import { crumbsFor, descendants, isWsAdmin, ROLES, tree, useBindings, useGroups, useProjects, useWorkspace, WorkspaceTabs, type Group, type Node } from "./common";

const W = "/api/v1/organizations/{org}/workspaces/{workspace}" as const;

/**
 * GroupsPage is a workspace's groups as a tree (a group's members get the
 * roles bound to it and to every group above it), the members of the
 * chosen group, and the role bindings: a group's role, workspace-wide or
 * on one project. Everyone with a workspace-wide role reads them; only
 * workspace admins change them.
 */
export function GroupsPage() {
  const { org = "", ws = "" } = useParams();
  const w = useWorkspace(org, ws);
  const readable = !!w.data?.role;
  const admin = isWsAdmin(w.data?.role);
  const groups = useGroups(org, ws, readable);
  const [selected, setSelected] = useState<string>();
  const sel = groups.data?.find((g) => g.id === selected);
  return (
    <Page title={`Groups and roles of ${ws}`} crumbs={crumbsFor(org, ws)}>
      <WorkspaceTabs org={org} ws={ws} />
      {w.isPending && <Loading what="Loading" />}
      {w.error && <ProblemAlert error={w.error} />}
      {w.data && !readable && (
        <Empty>
          <p>Groups and role bindings are shown to members with a workspace-wide role; yours are on single projects.</p>
        </Empty>
      )}
      {readable && (
        <div className="split">
          <section aria-labelledby="groups-h">
            <h2 id="groups-h">Groups</h2>
            {groups.isPending && <Loading what="Loading groups" />}
            {groups.error && <ProblemAlert error={groups.error} />}
            {groups.data && groups.data.length === 0 && <Empty>No groups yet.{admin && " Create one below, then bind a role to it."}</Empty>}
            {groups.data && groups.data.length > 0 && (
              <ul className="tree" aria-label="Groups">
                {tree(groups.data).map((n) => (
                  <GroupNode key={n.item.id} n={n} selected={selected} onSelect={setSelected} />
                ))}
              </ul>
            )}
            {admin && groups.data && <CreateGroup org={org} ws={ws} groups={groups.data} />}
          </section>
          {sel && groups.data && <GroupPanel key={sel.id} org={org} ws={ws} g={sel} groups={groups.data} admin={admin} onGone={() => setSelected(undefined)} />}
        </div>
      )}
      {readable && groups.data && <Bindings org={org} ws={ws} groups={groups.data} admin={admin} />}
    </Page>
  );
}

function GroupNode({ n, selected, onSelect }: { n: Node<Group>; selected?: string; onSelect: (id: string) => void }) {
  return (
    <li>
      <button type="button" className="linklike" aria-pressed={selected === n.item.id} onClick={() => onSelect(n.item.id)}>
        {n.item.name}
      </button>
      {n.children.length > 0 && (
        <ul>
          {n.children.map((c) => (
            <GroupNode key={c.item.id} n={c} selected={selected} onSelect={onSelect} />
          ))}
        </ul>
      )}
    </li>
  );
}

function GroupParent({ value, set, error, candidates }: { value: string; set: (v: string) => void; error: unknown; candidates: Group[] }) {
  return (
    <SelectField label="Parent group" name="parent_id" error={error} value={value} onChange={(e) => set(e.target.value)}
      hint="Members of a group get the roles of every group above it.">
      <option value="">None (a root group)</option>
      {candidates.map((g) => (
        <option key={g.id} value={g.id}>
          {g.name}
        </option>
      ))}
    </SelectField>
  );
}

function CreateGroup({ org, ws, groups }: { org: string; ws: string; groups: Group[] }) {
  const qc = useQueryClient();
  const [name, setName] = useState("");
  const [parent, setParent] = useState("");
  const create = useMutation({
    mutationFn: () => call(api.POST(`${W}/groups`, { params: { path: { org, workspace: ws } }, body: { name: name.trim(), parent_id: parent || undefined } })),
    onSuccess: () => {
      setName("");
      qc.invalidateQueries({ queryKey: ["org", org, "ws", ws, "groups"] });
    },
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    create.mutate();
  };
  return (
    <form className="form" onSubmit={submit} aria-label="New group">
      <h3>New group</h3>
      <TextField label="Group name" name="name" error={create.error} value={name} onChange={(e) => setName(e.target.value)} required autoComplete="off" />
      <GroupParent value={parent} set={setParent} error={create.error} candidates={groups} />
      <ProblemAlert error={create.error} fieldsShown={["name", "parent_id"]} />
      <div className="row">
        <button type="submit" className="btn btn-primary" disabled={create.isPending}>
          Create group
        </button>
      </div>
    </form>
  );
}

function GroupPanel({ org, ws, g, groups, admin, onGone }: { org: string; ws: string; g: Group; groups: Group[]; admin: boolean; onGone: () => void }) {
  const qc = useQueryClient();
  const path = { org, workspace: ws, group: g.id };
  const [name, setName] = useState(g.name);
  const [parent, setParent] = useState(g.parent_id ?? "");
  const below = descendants(groups, g.id);
  const refresh = () => qc.invalidateQueries({ queryKey: ["org", org, "ws", ws] });
  const save = useMutation({
    mutationFn: () => call(api.PATCH(`${W}/groups/{group}`, { params: { path }, body: { name: name.trim(), parent_id: parent, resource_version: g.resource_version } })),
    onSuccess: refresh,
  });
  const del = useMutation({
    mutationFn: () => call(api.DELETE(`${W}/groups/{group}`, { params: { path } })),
    onSuccess: () => {
      onGone();
      refresh();
    },
  });
  const hasChildren = groups.some((x) => x.parent_id === g.id);
  return (
    <section aria-labelledby="group-h" className="card">
      <h2 id="group-h">Group {g.name}</h2>
      {admin && (
        <form className="form" aria-label={`Rename or move ${g.name}`} onSubmit={(e) => (e.preventDefault(), save.mutate())}>
          <TextField label="Name" name="name" error={save.error} value={name} onChange={(e) => setName(e.target.value)} required />
          <GroupParent value={parent} set={setParent} error={save.error} candidates={groups.filter((x) => !below.has(x.id))} />
          <ProblemAlert error={save.error} fieldsShown={["name", "parent_id"]} />
          <div className="row">
            <button type="submit" className="btn" disabled={save.isPending}>
              Save group
            </button>
            <ConfirmButton label="Delete group" question={`Delete group ${g.name}? Its members lose the roles bound to it.`} confirmLabel={`Delete ${g.name}`}
              disabled={hasChildren || del.isPending} onConfirm={() => del.mutate()} />
          </div>
          {hasChildren && <p className="hint">A group with child groups cannot be deleted.</p>}
          <ProblemAlert error={del.error} />
        </form>
      )}
      <Members org={org} ws={ws} g={g} admin={admin} />
    </section>
  );
}

function Members({ org, ws, g, admin }: { org: string; ws: string; g: Group; admin: boolean }) {
  const qc = useQueryClient();
  const path = { org, workspace: ws, group: g.id };
  const key = ["org", org, "ws", ws, "groups", g.id, "members"];
  const members = useQuery({
    queryKey: key,
    queryFn: () => call(api.GET(`${W}/groups/{group}/members`, { params: { path, query: { limit: 200 } } })),
  });
  const [who, setWho] = useState("");
  const add = useMutation({
    mutationFn: () => {
      const v = who.trim();
      return call(api.POST(`${W}/groups/{group}/members`, { params: { path }, body: v.includes("@") ? { email: v } : { user_id: v } }));
    },
    onSuccess: () => {
      setWho("");
      qc.invalidateQueries({ queryKey: key });
    },
  });
  const remove = useMutation({
    mutationFn: (user: string) => call(api.DELETE(`${W}/groups/{group}/members/{user}`, { params: { path: { ...path, user } } })),
    onSuccess: () => qc.invalidateQueries({ queryKey: key }),
  });
  return (
    <>
      <h3>Members</h3>
      {members.isPending && <Loading what="Loading members" />}
      {members.error && <ProblemAlert error={members.error} />}
      {members.data && members.data.items.length === 0 && <p className="muted">No members.</p>}
      {members.data && members.data.items.length > 0 && (
        <ul className="plain" aria-label={`Members of ${g.name}`}>
          {members.data.items.map((m) => (
            <li key={m.user_id} className="row">
              <span>{m.email}</span>
              <span className="muted small">since {time(m.created_at)}</span>
              {admin && (
                <button type="button" className="btn btn-small" disabled={remove.isPending} onClick={() => remove.mutate(m.user_id)}>
                  Remove<span className="sr-only"> {m.email} from {g.name}</span>
                </button>
              )}
            </li>
          ))}
        </ul>
      )}
      <ProblemAlert error={remove.error} />
      {admin && (
        <form className="form" aria-label={`Add a member to ${g.name}`} onSubmit={(e) => (e.preventDefault(), add.mutate())}>
          <TextField label="Email or user id" name={who.includes("@") ? "email" : "user_id"} error={add.error} value={who} onChange={(e) => setWho(e.target.value)} required
            autoComplete="off" hint="A member of the organization; they become a member of the workspace too." />
          <ProblemAlert error={add.error} fieldsShown={["email", "user_id"]} />
          <div className="row">
            <button type="submit" className="btn" disabled={add.isPending}>
              Add member
            </button>
          </div>
        </form>
      )}
    </>
  );
}

function Bindings({ org, ws, groups, admin }: { org: string; ws: string; groups: Group[]; admin: boolean }) {
  const qc = useQueryClient();
  const bindings = useBindings(org, ws);
  const projects = useProjects(org, ws);
  const [group, setGroup] = useState("");
  const [role, setRole] = useState("developer");
  const [project, setProject] = useState("");
  const gname = (id: string) => groups.find((g) => g.id === id)?.name ?? id;
  const pname = (id?: string) => (id ? (projects.data?.find((p) => p.id === id)?.name ?? id) : "");
  const refresh = () => qc.invalidateQueries({ queryKey: ["org", org, "ws", ws] });
  const create = useMutation({
    mutationFn: () =>
      call(api.POST(`${W}/rolebindings`, { params: { path: { org, workspace: ws } }, body: { group_id: group, role, project_id: project || undefined } })),
    onSuccess: refresh,
  });
  const del = useMutation({
    mutationFn: (binding: string) => call(api.DELETE(`${W}/rolebindings/{binding}`, { params: { path: { org, workspace: ws, binding } } })),
    onSuccess: refresh,
  });
  return (
    <section aria-labelledby="bindings-h">
      <h2 id="bindings-h">Role bindings</h2>
      <p className="muted">
        viewer reads; developer also deploys and changes workloads; workspace-admin also manages projects, groups and the workspace (workspace-wide only).
      </p>
      {bindings.isPending && <Loading what="Loading role bindings" />}
      {bindings.error && <ProblemAlert error={bindings.error} />}
      {bindings.data && bindings.data.length === 0 && <Empty>No role bindings yet.</Empty>}
      {bindings.data && bindings.data.length > 0 && (
        <Scroll label="Role bindings">
          <table className="table">
            <caption className="sr-only">Role bindings</caption>
            <thead>
              <tr>
                <th scope="col">Group</th>
                <th scope="col">Role</th>
                <th scope="col">On</th>
                {admin && <th scope="col"><span className="sr-only">Actions</span></th>}
              </tr>
            </thead>
            <tbody>
              {bindings.data.map((b) => (
                <tr key={b.id}>
                  <td data-label="Group">{gname(b.group_id)}</td>
                  <td data-label="Role">{b.role}</td>
                  <td data-label="On">{b.project_id ? `project ${pname(b.project_id)}` : "the whole workspace"}</td>
                  {admin && (
                    <td data-label="Actions">
                      <ConfirmButton className="btn btn-small btn-danger" label={`Delete binding ${gname(b.group_id)} ${b.role}${b.project_id ? ` on ${pname(b.project_id)}` : ""}`}
                        question={`Remove the role ${b.role} of ${gname(b.group_id)}${b.project_id ? ` on project ${pname(b.project_id)}` : ""}?`} confirmLabel="Remove the binding"
                        onConfirm={() => del.mutate(b.id)} />
                    </td>
                  )}
                </tr>
              ))}
            </tbody>
          </table>
        </Scroll>
      )}
      <ProblemAlert error={del.error} />
      {admin && groups.length > 0 && (
        <form className="form form-wide" aria-label="New role binding" onSubmit={(e) => (e.preventDefault(), create.mutate())}>
          <h3>New role binding</h3>
          <div className="row">
            <SelectField label="Group" name="group_id" error={create.error} value={group} onChange={(e) => setGroup(e.target.value)} required>
              <option value="">Choose a group</option>
              {groups.map((g) => (
                <option key={g.id} value={g.id}>
                  {g.name}
                </option>
              ))}
            </SelectField>
            <SelectField label="Role" name="role" error={create.error} value={role} onChange={(e) => setRole(e.target.value)}>
              {ROLES.map((r) => (
                <option key={r} value={r}>
                  {r}
                </option>
              ))}
            </SelectField>
            <SelectField label="Scope" name="project_id" error={create.error} value={project} onChange={(e) => setProject(e.target.value)}>
              <option value="">The whole workspace</option>
              {(projects.data ?? []).map((p) => (
                <option key={p.id} value={p.id}>
                  project {p.name}
                </option>
              ))}
            </SelectField>
          </div>
          <ProblemAlert error={create.error} fieldsShown={["group_id", "role", "project_id"]} />
          <div className="row">
            <button type="submit" className="btn btn-primary" disabled={create.isPending}>
              Bind role
            </button>
          </div>
        </form>
      )}
    </section>
  );
}
