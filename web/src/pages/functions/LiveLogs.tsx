import { useEffect, useRef, useState } from "react";
import { sessionFetch } from "../../api/client";
import { fromResponse, problemOf } from "../../api/problem";
import { ProblemAlert } from "../../ui/ProblemAlert";
import { StatusBadge, time } from "../../ui/bits";
import { SSEParser } from "../assistant/stream";
import type { Scope } from "../workloads/common";
import { durationText, fnBase, fnCall, type Invocation, type List } from "./api";

/** The page keeps at most this many invocations. */
const MAX = 200;

/**
 * LiveLogs shows the function's latest invocations with their logs (GET
 * …/logs) and, while following, each invocation as it finishes (…/logs?
 * follow=true: Server-Sent Events named "invocation", read from the
 * fetch's body like the assistant's turns). Stopping aborts the request.
 * A change of `refresh` (a test invocation finished) reads the latest again.
 */
export function LiveLogs({ s, name, refresh = 0 }: { s: Scope; name: string; refresh?: number }) {
  const [items, setItems] = useState<Invocation[]>([]);
  const [following, setFollowing] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const abort = useRef<AbortController | null>(null);
  useEffect(() => () => abort.current?.abort(), []);

  function add(list: Invocation[]) {
    setItems((old) => {
      const seen = new Set(old.map((i) => i.id));
      const next = [...old, ...list.filter((i) => !seen.has(i.id))];
      next.sort((a, b) => a.started_at.localeCompare(b.started_at));
      return next.slice(-MAX);
    });
  }

  useEffect(() => {
    fnCall<Invocation[] | List<Invocation>>("GET", `${fnBase(s, name)}/logs`)
      .then((r) => add(Array.isArray(r) ? r : (r?.items ?? [])))
      .catch((e) => setError(problemOf(e)));
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [s.org, s.workspace, s.project, name, refresh]);

  async function follow() {
    abort.current?.abort();
    const ctl = new AbortController();
    abort.current = ctl;
    setError(null);
    setFollowing(true);
    try {
      const res = await sessionFetch(new Request(`${fnBase(s, name)}/logs?follow=true`, { headers: { Accept: "text/event-stream" }, signal: ctl.signal }));
      if (!res.ok) throw await fromResponse(res);
      const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
      const sse = new SSEParser();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        const got = sse
          .push(value)
          .filter((f) => f.event === "invocation")
          .map((f) => JSON.parse(f.data) as Invocation);
        if (got.length) add(got);
      }
    } catch (err) {
      if (!ctl.signal.aborted) setError(problemOf(err));
    } finally {
      if (abort.current === ctl) {
        abort.current = null;
        setFollowing(false);
      }
    }
  }

  function stop() {
    abort.current?.abort();
    abort.current = null;
    setFollowing(false);
  }

  return (
    <div>
      <div className="row">
        {following ? (
          <button type="button" className="btn" onClick={stop}>
            Stop following
          </button>
        ) : (
          <button type="button" className="btn" onClick={follow}>
            Follow live
          </button>
        )}
        <span role="status" className="muted small">
          {following ? "Following: each invocation appears as it finishes." : ""}
        </span>
      </div>
      <ProblemAlert error={error} />
      {items.length === 0 ? (
        <p className="muted">No invocations yet.</p>
      ) : (
        <ol className="fn-logs" aria-label="Invocation logs">
          {items.map((i) => (
            <li key={i.id}>
              <div>
                <span className="small">{time(i.started_at)}</span> <code className="small">{i.id}</code> v{i.version} <StatusBadge status={i.status} /> {durationText(i.duration_ms)}
                {i.exit_reason && ` · ${i.exit_reason}`}
                {i.cold_start && " · cold"} <span className="muted small">({i.trigger})</span>
              </div>
              {i.error && <div className="field-error">{i.error}</div>}
              {i.logs && (
                <pre className="logs" tabIndex={0} aria-label={`Logs of ${i.id}`}>
                  {i.logs}
                </pre>
              )}
            </li>
          ))}
        </ol>
      )}
    </div>
  );
}
