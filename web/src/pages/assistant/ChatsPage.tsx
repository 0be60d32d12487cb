import { useState, type FormEvent } from "react";
import { Link, useNavigate } from "react-router";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, call } from "../../api/client";
import { ConfirmButton, Empty, Loading, Page, Pager, Scroll, time, useCursor } from "../../ui/bits";
import { SelectField } from "../../ui/Field";
import { ProblemAlert } from "../../ui/ProblemAlert";
import { paths } from "../../paths";
import { useProjects, WorkspaceTabs } from "../workspaces/common";
import { AssistantTabs, aiKey, assistantCrumbs, NoModel, useAIStatus, useNames, useScope, W, type Chat } from "./common";

/**
 * ChatsPage is the assistant of a workspace: the caller's chats, newest
 * first (each user sees only their own), and a new chat about the whole
 * workspace or one of its projects.
 */
export function ChatsPage() {
  const { org, ws } = useScope();
  useNames(org, ws);
  const status = useAIStatus(org);
  const cur = useCursor();
  const chats = useQuery({
    queryKey: aiKey(org, ws, "chats", cur.cursor ?? ""),
    queryFn: () => call(api.GET(`${W}/ai/chats`, { params: { path: { org, workspace: ws }, query: { cursor: cur.cursor, limit: 50 } } })),
  });
  const items = [...(chats.data?.items ?? [])].sort((a, b) => b.updated_at.localeCompare(a.updated_at));
  return (
    <Page title="Assistant" crumbs={assistantCrumbs(org, ws, false)}>
      <WorkspaceTabs org={org} ws={ws} />
      <AssistantTabs org={org} ws={ws} />
      <p className="muted">
        The assistant answers about this workspace's objects and proposes changes. It reads and acts with your own identity, so it sees what you can see;
        every change is a plan that runs only once you confirm it.
      </p>
      {status.data && status.data.models.length === 0 && <NoModel org={org} ws={ws} />}
      {status.data && !status.data.enabled && (
        <p className="alert alert-info" role="note">
          The assistant is turned off for this organization; its owners and admins turn it on in the organization's settings.
        </p>
      )}
      <NewChat org={org} ws={ws} />
      <section aria-labelledby="chats-title">
        <h2 id="chats-title">Your chats</h2>
        {chats.isPending && <Loading what="Loading your chats" />}
        <ProblemAlert error={chats.error} />
        {chats.data && items.length === 0 && !cur.hasPrev && (
          <Empty>
            <p>No chats yet.</p>
          </Empty>
        )}
        {items.length > 0 && (
          <Scroll label="Your chats, newest first">
            <table className="table">
              <caption className="sr-only">Your chats, newest first</caption>
              <thead>
                <tr>
                  <th scope="col">Chat</th>
                  <th scope="col">About</th>
                  <th scope="col">Last message</th>
                  <th scope="col">
                    <span className="sr-only">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {items.map((c) => (
                  <ChatRow key={c.id} org={org} ws={ws} c={c} />
                ))}
              </tbody>
            </table>
          </Scroll>
        )}
        <Pager hasPrev={cur.hasPrev} next={chats.data?.next_cursor} onPrev={cur.prev} onNext={cur.next} />
      </section>
    </Page>
  );
}

function ChatRow({ org, ws, c }: { org: string; ws: string; c: Chat }) {
  const qc = useQueryClient();
  const del = useMutation({
    mutationFn: () => call(api.DELETE(`${W}/ai/chats/{chat}`, { params: { path: { org, workspace: ws, chat: c.id } } })),
    onSuccess: () => qc.invalidateQueries({ queryKey: aiKey(org, ws, "chats") }),
  });
  const title = c.title || "New chat";
  return (
    <tr>
      <td data-label="Chat">
        <Link to={paths.chat(org, ws, c.id)}>{title}</Link>
      </td>
      <td data-label="About">{c.project ? `project ${c.project}` : "the whole workspace"}</td>
      <td data-label="Last message">{time(c.updated_at)}</td>
      <td>
        <ConfirmButton
          label="Delete"
          className="btn btn-small btn-danger"
          question={`Delete the chat "${title}" with its messages? Plans already confirmed stay done.`}
          confirmLabel="Delete chat"
          disabled={del.isPending}
          onConfirm={() => del.mutate()}
        />
        <ProblemAlert error={del.error} />
      </td>
    </tr>
  );
}

function NewChat({ org, ws }: { org: string; ws: string }) {
  const qc = useQueryClient();
  const nav = useNavigate();
  const projects = useProjects(org, ws);
  const [project, setProject] = useState("");
  const create = useMutation({
    mutationFn: () => call(api.POST(`${W}/ai/chats`, { params: { path: { org, workspace: ws } }, body: { project: project || undefined } })),
    onSuccess: (c) => {
      qc.invalidateQueries({ queryKey: aiKey(org, ws, "chats") });
      nav(paths.chat(org, ws, c.id));
    },
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    create.mutate();
  };
  return (
    <section aria-labelledby="new-chat">
      <h2 id="new-chat">New chat</h2>
      <form className="form" onSubmit={submit} aria-label="New chat">
        <SelectField label="About" name="project" error={create.error} value={project} onChange={(e) => setProject(e.target.value)}>
          <option value="">The whole workspace</option>
          {(projects.data ?? []).map((p) => (
            <option key={p.id} value={p.name}>
              Project {p.name}
            </option>
          ))}
        </SelectField>
        <ProblemAlert error={create.error} fieldsShown={["project"]} />
        <div className="row">
          <button type="submit" className="btn btn-primary" disabled={create.isPending}>
            {create.isPending ? "Starting…" : "New chat"}
          </button>
        </div>
      </form>
    </section>
  );
}
