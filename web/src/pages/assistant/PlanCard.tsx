import { useEffect, useState } from "react";
import { useMutation } from "@tanstack/react-query";
import { api, call } from "../../api/client";
import { Problem, fromResponse } from "../../api/problem";
import { Scroll, StatusBadge, time } from "../../ui/bits";
import { ProblemAlert } from "../../ui/ProblemAlert";
import { isProblemType, W, type Plan } from "./common";

const STATUS_TEXT: Record<string, string> = {
  pending: "Waiting for your decision. Nothing has changed yet.",
  confirmed: "Confirmed: the request is running as you.",
  done: "Done: the cluster accepted the request.",
  failed: "Failed: the cluster refused the request.",
  rejected: "Rejected: nothing was changed.",
  expired: "Expired before a decision: nothing was changed.",
  stale: "The object changed after this plan was made: nothing was changed.",
};

/** useNow ticks every second while on. */
function useNow(on: boolean) {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (!on) return;
    const t = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(t);
  }, [on]);
  return now;
}

/** left formats the time until an instant as m:ss. */
function left(ms: number): string {
  const s = Math.max(0, Math.ceil(ms / 1000));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

/** prettyArgs shows a tool's JSON arguments on one line. */
export function prettyArgs(args?: string): string {
  if (!args) return "{}";
  try {
    return JSON.stringify(JSON.parse(args));
  } catch {
    return args;
  }
}

/**
 * Diff is a unified diff as text, each line keeping its sign (+ added,
 * - removed) so that the change reads without its colours.
 */
export function Diff({ text, label }: { text: string; label: string }) {
  const lines = text.replace(/\n$/, "").split("\n");
  return (
    <Scroll label={label} className="diff-wrap">
      <pre className="diff">
        {lines.map((l, i) => {
          const kind = l.startsWith("+++") || l.startsWith("---") ? "meta" : l.startsWith("@@") ? "hunk" : l.startsWith("+") ? "add" : l.startsWith("-") ? "del" : "ctx";
          return (
            <span key={i} className={`diff-line diff-${kind}`}>
              {l}
              {"\n"}
            </span>
          );
        })}
      </pre>
    </Scroll>
  );
}

/**
 * PlanCard is a write the assistant proposed: its summary, the exact
 * request, the diff of the object (from the server's dry run) and, while
 * it waits, the time left and Confirm and Reject. Confirming runs the
 * request as the user: the cluster's answer shows on the card, a refusal
 * as what it is. An object changed since the plan gives a fresh plan
 * (onFresh, or shown below the card).
 */
export function PlanCard({ org, ws, plan, level = 3, onChange, onFresh }: {
  org: string;
  ws: string;
  plan: Plan;
  level?: 2 | 3;
  onChange?: (p: Plan) => void;
  onFresh?: (p: Plan) => void;
}) {
  const [current, setCurrent] = useState(plan);
  useEffect(() => setCurrent(plan), [plan]);
  const [fresh, setFresh] = useState<Plan>();
  const pending = current.status === "pending";
  const now = useNow(pending);
  const expiresIn = new Date(current.expires_at).getTime() - now;
  const expired = pending && expiresIn <= 0;
  const path = { org, workspace: ws, plan: current.id };
  const changed = (p: Plan) => {
    setCurrent(p);
    onChange?.(p);
  };
  const decide = useMutation({
    mutationFn: async (what: "confirm" | "reject") => {
      const r =
        what === "confirm"
          ? await api.POST(`${W}/ai/plans/{plan}/confirm`, { params: { path } })
          : await api.POST(`${W}/ai/plans/{plan}/reject`, { params: { path } });
      if (r.response.ok && r.data) return r.data;
      const p =
        r.error && typeof r.error === "object"
          ? new Problem({ ...(r.error as object), status: r.response.status }, r.response.headers.get("X-Request-Id") ?? "")
          : await fromResponse(r.response);
      if (isProblemType(p, "plan-stale")) {
        // This plan is stale now (the refetch below confirms it): say so before its fresh plan shows.
        changed({ ...current, status: "stale" });
        const loc = r.response.headers.get("Location");
        const id = loc?.split("?")[0].split("/").filter(Boolean).pop();
        if (id) {
          const np = await call(api.GET(`${W}/ai/plans/{plan}`, { params: { path: { org, workspace: ws, plan: id } } }));
          if (onFresh) onFresh(np);
          else setFresh(np);
        }
      }
      throw p;
    },
    onSuccess: changed,
    onError: (e) => {
      // The plan was decided or went stale meanwhile: show what it is now.
      if (e instanceof Problem && (e.status === 409 || e.status === 410)) {
        call(api.GET(`${W}/ai/plans/{plan}`, { params: { path } })).then(changed, () => {});
      }
    },
  });
  const H = level === 2 ? "h2" : "h3";
  const id = `plan-${current.id}`;
  const refused = decide.error instanceof Problem && decide.error.status === 403;
  // A platform plan (a function's deploy, invocation, delete, run_code)
  // goes to the platform's own API; its diff is the code and settings.
  const platform = current.target === "platform";
  const who = platform ? "platform" : "cluster";
  return (
    <>
      <section className="card plan" aria-labelledby={id} data-plan={current.id}>
        <H id={id} className="plan-title">
          Plan: {current.summary}
        </H>
        <p className="row">
          <StatusBadge status={expired ? "expired" : current.status} />
          <span>
            {expired ? STATUS_TEXT.expired : (STATUS_TEXT[current.status] ?? current.status).replace("the cluster", `the ${who}`)}
          </span>
        </p>
        <dl className="facts">
          <dt>Request</dt>
          <dd>
            <code>
              {current.method} {current.path}
            </code>
            {platform && <span className="muted small"> (the platform's API)</span>}
          </dd>
          <dt>Tool</dt>
          <dd>
            <code>
              {current.tool} {prettyArgs(current.args)}
            </code>
          </dd>
          {pending ? (
            <>
              <dt>Expires</dt>
              <dd>
                <time dateTime={current.expires_at} title={time(current.expires_at)}>
                  {expired ? "expired" : `in ${left(expiresIn)}`}
                </time>
              </dd>
            </>
          ) : (
            current.decided_at && (
              <>
                <dt>Decided</dt>
                <dd>{time(current.decided_at)}</dd>
              </>
            )
          )}
        </dl>
        {current.diff ? (
          <>
            <p className="small muted">
              {platform
                ? "The code and settings before and after, checked by the platform's dry run where it has one (lines with + are added, lines with - removed):"
                : "The object before and after, from the cluster's dry run (lines with + are added, lines with - removed):"}
            </p>
            <Diff text={current.diff} label={`Diff of the plan: ${current.summary}`} />
          </>
        ) : (
          <p className="muted small">The dry run changed nothing in the object.</p>
        )}
        {current.result && (
          <>
            <p className="small muted">The {who} answered:</p>
            <pre className="plan-result" tabIndex={0}>
              {current.result}
            </pre>
          </>
        )}
        {pending && !expired && (
          <div className="row">
            <button type="button" className="btn btn-primary" disabled={decide.isPending} onClick={() => decide.mutate("confirm")}>
              {decide.isPending && decide.variables === "confirm" ? "Confirming…" : "Confirm"}
              <span className="sr-only"> the plan: {current.summary}</span>
            </button>
            <button type="button" className="btn" disabled={decide.isPending} onClick={() => decide.mutate("reject")}>
              Reject<span className="sr-only"> the plan: {current.summary}</span>
            </button>
          </div>
        )}
        {refused && <p className="problem-detail">The request ran with your own identity and the {who} refused it; nothing was changed.</p>}
        {isProblemType(decide.error, "plan-stale") && (
          <p className="problem-detail">The object changed since this plan was made; here is a fresh plan{onFresh ? " below" : ""}.</p>
        )}
        <ProblemAlert error={decide.error} />
      </section>
      {fresh && (
        <>
          <p className="alert alert-info" role="status">
            The object changed; here is a fresh plan.
          </p>
          <PlanCard org={org} ws={ws} plan={fresh} level={level} onChange={onChange} />
        </>
      )}
    </>
  );
}
