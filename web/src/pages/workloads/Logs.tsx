import { useEffect, useRef, useState } from "react";
import { sessionFetch } from "../../api/client";
import { fromResponse, problemOf } from "../../api/problem";
import { ProblemAlert } from "../../ui/ProblemAlert";
import { SelectField, TextField } from "../../ui/Field";
import type { Scope } from "./common";

/** The page keeps at most this many lines; older ones scroll away. */
const MAX_LINES = 2000;

/**
 * Logs shows a pod's log and follows it (GET …/logs?follow=true read as a
 * stream), keeping the last MAX_LINES lines. Stopping aborts the request.
 */
export function Logs({ s, app, pods, canRead }: { s: Scope; app: string; pods: string[]; canRead: boolean }) {
  const [pod, setPod] = useState("");
  const [container, setContainer] = useState("");
  const [lines, setLines] = useState<string[]>([]);
  const [following, setFollowing] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const abort = useRef<AbortController | null>(null);
  const box = useRef<HTMLPreElement>(null);
  useEffect(() => () => abort.current?.abort(), []);
  useEffect(() => {
    const el = box.current;
    if (el) el.scrollTop = el.scrollHeight;
  }, [lines]);

  async function follow() {
    abort.current?.abort();
    const ctl = new AbortController();
    abort.current = ctl;
    setError(null);
    setLines([]);
    setFollowing(true);
    const q = new URLSearchParams({ follow: "true", tail_lines: "200" });
    if (pod) q.set("pod", pod);
    if (container.trim()) q.set("container", container.trim());
    const url = `/api/v1/organizations/${encodeURIComponent(s.org)}/workspaces/${encodeURIComponent(s.workspace)}/projects/${encodeURIComponent(s.project)}/applications/${encodeURIComponent(app)}/logs?${q}`;
    try {
      const res = await sessionFetch(new Request(url, { signal: ctl.signal }));
      if (!res.ok) throw await fromResponse(res);
      const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
      let rest = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        const parts = (rest + value).split("\n");
        rest = parts.pop() ?? "";
        if (parts.length) setLines((old) => [...old, ...parts].slice(-MAX_LINES));
      }
      if (rest) setLines((old) => [...old, rest].slice(-MAX_LINES));
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

  if (!canRead) return <p className="muted">Your role does not allow reading this application's logs.</p>;
  return (
    <div>
      <div className="row">
        <SelectField label="Pod" name="pod" value={pod} onChange={(e) => setPod(e.target.value)} disabled={following}>
          <option value="">The first pod</option>
          {pods.map((p) => (
            <option key={p} value={p}>
              {p}
            </option>
          ))}
        </SelectField>
        <TextField label="Container (optional)" name="container" value={container} onChange={(e) => setContainer(e.target.value)} disabled={following} autoComplete="off" />
      </div>
      <div className="row">
        {following ? (
          <button type="button" className="btn" onClick={stop}>
            Stop following
          </button>
        ) : (
          <button type="button" className="btn" onClick={follow}>
            Follow logs
          </button>
        )}
        {following && <span role="status">Following…</span>}
      </div>
      <ProblemAlert error={error} />
      <pre ref={box} className="logs" tabIndex={0} aria-label="Log lines" aria-live="off">
        {lines.length ? lines.join("\n") : following ? "Waiting for lines…" : "Not following."}
      </pre>
    </div>
  );
}
