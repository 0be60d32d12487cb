import { useEffect, useRef, useState, type FormEvent, type KeyboardEvent } from "react";
import { Link, useParams } from "react-router";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { api, call } from "../../api/client";
import { Loading, Page } from "../../ui/bits";
import { TextAreaField } from "../../ui/Field";
import { ProblemAlert } from "../../ui/ProblemAlert";
import { paths } from "../../paths";
import { WorkspaceTabs } from "../workspaces/common";
import { PlanCard, prettyArgs } from "./PlanCard";
import { sendMessage } from "./stream";
import { AssistantTabs, aiKey, assistantCrumbs, isProblemType, NoModel, useAIStatus, useNames, useScope, W, type ChatDetail, type Message, type Plan, type Turn } from "./common";

/** merge adds messages and plans to a chat, each once (by id), messages in order. */
function merge(d: ChatDetail, messages: Message[], plans: Plan[]): ChatDetail {
  const ms = new Map(d.messages.map((m) => [m.id, m]));
  messages.forEach((m) => ms.set(m.id, m));
  const ps = new Map(d.plans.map((p) => [p.id, p]));
  plans.forEach((p) => ps.set(p.id, p));
  return { ...d, messages: [...ms.values()].sort((a, b) => a.seq - b.seq), plans: [...ps.values()] };
}

/**
 * ChatPage is a conversation with the assistant: the messages so far, the
 * tool calls it made as the user (each with its result), the plans of its
 * writes as cards to confirm or reject, and the message box. A reply
 * streams in as the model writes it.
 */
export function ChatPage() {
  const { org, ws } = useScope();
  const { chat = "" } = useParams();
  useNames(org, ws);
  const qc = useQueryClient();
  const status = useAIStatus(org);
  const key = aiKey(org, ws, "chat", chat);
  const detail = useQuery({
    queryKey: key,
    queryFn: () => call(api.GET(`${W}/ai/chats/{chat}`, { params: { path: { org, workspace: ws, chat } } })),
  });
  // What the turn running now added, until its end puts it in the chat.
  const [live, setLive] = useState<{ messages: Message[]; plans: Plan[] }>({ messages: [], plans: [] });
  const [draft, setDraft] = useState("");
  const [sent, setSent] = useState("");
  const [running, setRunning] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [text, setText] = useState("");
  // Fresh plans a confirm got when the object had changed (shown with a note).
  const [freshIds, setFreshIds] = useState<Set<string>>(() => new Set());
  const abort = useRef<AbortController | null>(null);
  const end = useRef<HTMLDivElement>(null);
  useEffect(() => () => abort.current?.abort(), []);
  useEffect(() => {
    end.current?.scrollIntoView?.({ block: "nearest" });
  }, [draft, live.messages.length, live.plans.length]);

  const view = detail.data ? merge(detail.data, live.messages, live.plans) : undefined;
  const noModel = status.data && status.data.models.length === 0;
  const off = status.data && !status.data.enabled;

  const updatePlan = (p: Plan) => {
    qc.setQueryData(key, (d: ChatDetail | undefined) => (d ? merge(d, [], [p]) : d));
    setLive((l) => (l.plans.some((x) => x.id === p.id) ? { ...l, plans: l.plans.map((x) => (x.id === p.id ? p : x)) } : l));
  };

  async function send() {
    const content = text.trim();
    if (!content || running) return;
    setRunning(true);
    setError(null);
    setSent(content);
    setText("");
    setDraft("");
    const ctl = new AbortController();
    abort.current = ctl;
    const url = `/api/v1/organizations/${encodeURIComponent(org)}/workspaces/${encodeURIComponent(ws)}/ai/chats/${encodeURIComponent(chat)}/messages`;
    // What this turn added so far (also the page's live state).
    const acc: { messages: Message[]; plans: Plan[] } = { messages: [], plans: [] };
    const put = <T extends { id: string }>(l: T[], x: T) => [...l.filter((y) => y.id !== x.id), x];
    let userKept = false;
    let turn: Turn | undefined;
    try {
      turn = await sendMessage(
        url,
        content,
        {
          onMessage: (m) => {
            if (m.role === "user") {
              userKept = true;
              setSent("");
            }
            if (m.role === "assistant") setDraft("");
            acc.messages = put(acc.messages, m);
            setLive({ ...acc });
          },
          onDelta: (t) => setDraft((d) => d + t),
          onPlan: (p) => {
            acc.plans = put(acc.plans, p);
            setLive({ ...acc });
          },
        },
        ctl.signal,
      );
    } catch (e) {
      if (ctl.signal.aborted) return;
      setError(e);
      // Refused before it began: the message was not kept, so it goes back in the box.
      if (!userKept) setText((t) => t || content);
    }
    if (ctl.signal.aborted) return;
    setRunning(false);
    setDraft("");
    setSent("");
    const msgs = turn ? [...acc.messages, ...turn.messages] : acc.messages;
    const plans = turn ? [...acc.plans, ...turn.plans] : acc.plans;
    qc.setQueryData(key, (d: ChatDetail | undefined) => (d ? merge(d, msgs, plans) : d));
    setLive({ messages: [], plans: [] });
    qc.invalidateQueries({ queryKey: aiKey(org, ws, "chats") });
    qc.invalidateQueries({ queryKey: key });
  }

  const submit = (e: FormEvent) => {
    e.preventDefault();
    send();
  };
  const onKey = (e: KeyboardEvent<HTMLTextAreaElement>) => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      send();
    }
  };

  const title = detail.data?.title || "New chat";
  return (
    <Page title={title} crumbs={assistantCrumbs(org, ws)}>
      <WorkspaceTabs org={org} ws={ws} />
      <AssistantTabs org={org} ws={ws} />
      {detail.isPending && <Loading what="Loading the chat" />}
      <ProblemAlert error={detail.error} />
      {view && (
        <>
          <p className="muted">
            About {view.project ? <>project <Link to={paths.project(org, ws, view.project)}>{view.project}</Link></> : "the whole workspace"}. The assistant reads
            and acts as you: the cluster decides what it may see, and no change is made until you confirm its plan.
          </p>
          <Conversation org={org} ws={ws} chat={view} onPlan={updatePlan} onFresh={(p) => {
              setFreshIds((f) => new Set(f).add(p.id));
              updatePlan(p);
            }} freshIds={freshIds} pendingUser={sent} />
          <div aria-live="polite" className="stream" data-testid="reply-stream">
            {draft && (
              <div className="msg msg-assistant">
                <span className="sr-only">The assistant is writing: </span>
                <div className="bubble">{draft}</div>
              </div>
            )}
          </div>
          {running && (
            <p className="muted small" role="status">
              <span className="spinner" aria-hidden="true" /> The assistant is answering…
            </p>
          )}
          <div ref={end} />
          {isProblemType(error, "no-model") ? (
            <NoModel org={org} ws={ws} detail={(error as { detail?: string }).detail} />
          ) : (
            <ProblemAlert error={error} fieldsShown={["content"]} />
          )}
          {noModel && !isProblemType(error, "no-model") && <NoModel org={org} ws={ws} />}
          {off && (
            <p className="alert alert-info" role="note">
              The assistant is turned off for this organization; its owners and admins turn it on in the organization's settings.
            </p>
          )}
          <form className="form form-wide composer" onSubmit={submit} aria-label="Send a message">
            <TextAreaField
              label="Message"
              name="content"
              error={error}
              value={text}
              onChange={(e) => setText(e.target.value)}
              onKeyDown={onKey}
              maxLength={8000}
              rows={3}
              disabled={noModel || off}
              hint="Ctrl+Enter (⌘+Enter on a Mac) sends. Ask about your objects, or ask for a change: you will see its plan first."
            />
            <div className="row">
              <button type="submit" className="btn btn-primary" disabled={running || !text.trim() || noModel || off}>
                {running ? "Answering…" : "Send"}
              </button>
            </div>
          </form>
        </>
      )}
    </Page>
  );
}

/** Conversation is the messages of a chat in order, with the tool calls and plans between them. */
function Conversation({ org, ws, chat, onPlan, onFresh, freshIds, pendingUser }: {
  org: string;
  ws: string;
  chat: ChatDetail;
  onPlan: (p: Plan) => void;
  onFresh: (p: Plan) => void;
  freshIds: Set<string>;
  pendingUser: string;
}) {
  const plans = new Map(chat.plans.map((p) => [p.id, p]));
  const answered = new Set(chat.messages.filter((m) => m.role === "tool").map((m) => m.tool_call_id));
  const shown = new Set(chat.messages.map((m) => m.plan_id).filter(Boolean));
  // Plans no message shows (yet): the fresh plans of a confirm that found the object changed.
  const other = chat.plans.filter((p) => !shown.has(p.id));
  if (chat.messages.length === 0 && !pendingUser) {
    return <p className="muted">No messages yet. Ask something below.</p>;
  }
  return (
    <ol className="chat" aria-label="Messages">
      {chat.messages.map((m) => {
        if (m.role === "user") {
          return (
            <li key={m.id} className="msg msg-user">
              <span className="sr-only">You said: </span>
              <div className="bubble">{m.content}</div>
            </li>
          );
        }
        if (m.role === "tool") {
          const p = m.plan_id ? plans.get(m.plan_id) : undefined;
          return (
            <li key={m.id} className={"tool" + (m.is_error ? " tool-error" : "")}>
              <details>
                <summary>
                  <span aria-hidden="true">· </span>
                  <code>
                    {m.tool} {clip(prettyArgs(m.tool_args), 120)}
                  </code>
                  {m.is_error && <strong className="tool-flag"> error</strong>}
                  {m.plan_id && <span className="muted small"> plan</span>}
                </summary>
                <pre className="tool-result" tabIndex={0}>
                  {m.content || "(no output)"}
                </pre>
              </details>
              {p && <PlanCard org={org} ws={ws} plan={p} onChange={onPlan} onFresh={onFresh} />}
            </li>
          );
        }
        return (
          <li key={m.id} className="msg msg-assistant">
            {m.content && (
              <>
                <span className="sr-only">The assistant said: </span>
                <div className="bubble">{m.content}</div>
              </>
            )}
            {(m.tool_calls ?? [])
              .filter((c) => !answered.has(c.id))
              .map((c) => (
                <div key={c.id} className="tool tool-running">
                  <span aria-hidden="true">· </span>
                  <code>
                    {c.name} {clip(prettyArgs(c.arguments), 120)}
                  </code>{" "}
                  <span className="muted small">running…</span>
                </div>
              ))}
          </li>
        );
      })}
      {pendingUser && (
        <li className="msg msg-user">
          <span className="sr-only">You said: </span>
          <div className="bubble">{pendingUser}</div>
        </li>
      )}
      {other.map((p) => (
        <li key={p.id} className="tool">
          {freshIds.has(p.id) && (
            <p className="alert alert-info" role="status">
              The object changed; here is a fresh plan.
            </p>
          )}
          <PlanCard org={org} ws={ws} plan={p} onChange={onPlan} onFresh={onFresh} />
        </li>
      ))}
    </ol>
  );
}

function clip(s: string, n: number) {
  return s.length > n ? s.slice(0, n - 1) + "…" : s;
}
