import { useState, type FormEvent } from "react";
import { useParams } from "react-router";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, call } from "../../api/client";
import { problemOf } from "../../api/problem";
import { ConfirmButton, Empty, Loading, Page, Pager, time, useCursor, Scroll } from "../../ui/bits";
import { TextField } from "../../ui/Field";
import { ProblemAlert } from "../../ui/ProblemAlert";
import { crumbsFor, isWsAdmin, useWorkspace, WorkspaceTabs } from "./common";

const URL = "/api/v1/organizations/{org}/workspaces/{workspace}/members" as const;

/**
 * WorkspaceMembersPage lists the workspace's members (organization
 * members admitted to it; adding someone to a group admits them too).
 * Workspace admins admit a member by email or user id and remove one
 * (which also takes them out of the workspace's groups).
 */
export function WorkspaceMembersPage() {
  const { org = "", ws = "" } = useParams();
  const qc = useQueryClient();
  const w = useWorkspace(org, ws);
  const admin = isWsAdmin(w.data?.role);
  const c = useCursor();
  const path = { org, workspace: ws };
  const list = useQuery({
    queryKey: ["org", org, "ws", ws, "members", c.cursor ?? ""],
    queryFn: () => call(api.GET(URL, { params: { path, query: { cursor: c.cursor, limit: 50 } } })),
  });
  const refresh = () => qc.invalidateQueries({ queryKey: ["org", org, "ws", ws] });
  const [who, setWho] = useState("");
  const add = useMutation({
    mutationFn: () => {
      const v = who.trim();
      return call(api.POST(URL, { params: { path }, body: v.includes("@") ? { email: v } : { user_id: v } }));
    },
    onSuccess: () => {
      setWho("");
      refresh();
    },
  });
  const remove = useMutation({
    mutationFn: (user: string) => call(api.DELETE(`${URL}/{user}`, { params: { path: { ...path, user } } })),
    onSuccess: refresh,
  });
  function submit(e: FormEvent) {
    e.preventDefault();
    add.mutate();
  }
  const p = add.error ? problemOf(add.error) : undefined;
  const items = list.data?.items ?? [];

  return (
    <Page title={`Members of ${ws}`} crumbs={crumbsFor(org, ws)}>
      <WorkspaceTabs org={org} ws={ws} />
      {list.isPending && <Loading what="Loading the members" />}
      {list.error && <ProblemAlert error={list.error} />}
      <ProblemAlert error={remove.error} />
      {list.data && items.length === 0 && (
        <Empty>
          <p>No members yet. Organization owners and admins reach every workspace; others are admitted here or by adding them to a group.</p>
        </Empty>
      )}
      {items.length > 0 && (
        <Scroll label="Workspace members">
          <table className="table">
            <caption className="sr-only">Members of the workspace {ws}</caption>
            <thead>
              <tr>
                <th scope="col">Email</th>
                <th scope="col">User id</th>
                <th scope="col">Member since</th>
                {admin && (
                  <th scope="col">
                    <span className="sr-only">Actions</span>
                  </th>
                )}
              </tr>
            </thead>
            <tbody>
              {items.map((m) => (
                <tr key={m.user_id}>
                  <td data-label="Email">{m.email}</td>
                  <td data-label="User id">
                    <code>{m.user_id}</code>
                  </td>
                  <td data-label="Member since">{time(m.created_at)}</td>
                  {admin && (
                    <td data-label="Actions">
                      <ConfirmButton
                        label={`Remove ${m.email}`}
                        question={`Remove ${m.email} from the workspace ${ws} and from its groups?`}
                        confirmLabel="Remove member"
                        className="btn btn-small btn-danger"
                        onConfirm={() => remove.mutate(m.user_id)}
                        disabled={remove.isPending}
                      />
                    </td>
                  )}
                </tr>
              ))}
            </tbody>
          </table>
        </Scroll>
      )}
      <Pager hasPrev={c.hasPrev} next={list.data?.next_cursor} onPrev={c.prev} onNext={c.next} />
      {admin && (
        <section aria-labelledby="add-member-h" className="card">
          <h2 id="add-member-h">Add a member</h2>
          <form className="form" aria-label="Add a workspace member" onSubmit={submit} noValidate>
            <TextField
              label="Email or user id"
              name={who.includes("@") ? "email" : "user_id"}
              message={p?.field("email") ?? p?.field("user_id")}
              value={who}
              onChange={(e) => setWho(e.target.value)}
              required
              autoComplete="off"
              hint="A member of the organization."
            />
            <ProblemAlert error={add.error} fieldsShown={["email", "user_id"]} />
            <div className="row">
              <button type="submit" className="btn btn-primary" disabled={add.isPending || !who.trim()}>
                {add.isPending ? "Adding…" : "Add member"}
              </button>
            </div>
          </form>
        </section>
      )}
    </Page>
  );
}
