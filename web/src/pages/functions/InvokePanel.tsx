import { useState, type FormEvent } from "react";
import { useMutation } from "@tanstack/react-query";
import { ProblemAlert } from "../../ui/ProblemAlert";
import { SelectField, TextAreaField, TextField } from "../../ui/Field";
import { StatusBadge } from "../../ui/bits";
import type { Scope } from "../workloads/common";
import { durationText, fnBase, fnCall, type Fn, type Invocation, type InvokeRequest } from "./api";

const METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"];

/** InvokePanel calls the function through the API (POST …/invoke) and shows what it answered, its logs and how it ended. */
export function InvokePanel({ s, fn, onInvoked }: { s: Scope; fn: Fn; onInvoked: () => void }) {
  const [method, setMethod] = useState("POST");
  const [path, setPath] = useState("/");
  const [body, setBody] = useState("");
  const [target, setTarget] = useState("alias:latest");
  const invoke = useMutation({
    mutationFn: () => {
      const req: InvokeRequest = { method, body };
      const [p, q] = path.split("?", 2);
      req.path = p.startsWith("/") ? p : "/" + p;
      if (q) {
        const query: Record<string, string[]> = {};
        new URLSearchParams(q).forEach((v, k) => (query[k] = [...(query[k] ?? []), v]));
        req.query = query;
      }
      const [kind, v] = target.split(":", 2);
      if (kind === "version") req.version = Number(v);
      else if (v !== "latest") req.alias = v;
      return fnCall<Invocation>("POST", `${fnBase(s, fn.name)}/invoke`, req);
    },
    onSettled: onInvoked,
  });
  function onSubmit(e: FormEvent) {
    e.preventDefault();
    invoke.mutate();
  }
  const inv = invoke.data;
  const versions = Array.from({ length: fn.latest_version }, (_, i) => fn.latest_version - i);
  return (
    <div>
      <form onSubmit={onSubmit} className="form form-wide" aria-label="Test invocation" noValidate>
        <div className="row">
          <SelectField label="Method" name="method" value={method} onChange={(e) => setMethod(e.target.value)} error={invoke.error}>
            {METHODS.map((m) => (
              <option key={m}>{m}</option>
            ))}
          </SelectField>
          <TextField label="Path" name="path" value={path} onChange={(e) => setPath(e.target.value)} error={invoke.error} />
          <SelectField label="Call" name="alias" value={target} onChange={(e) => setTarget(e.target.value)} error={invoke.error}>
            {fn.aliases.map((a) => (
              <option key={a.name} value={`alias:${a.name}`}>
                alias {a.name}
              </option>
            ))}
            {versions.map((v) => (
              <option key={v} value={`version:${v}`}>
                version {v}
              </option>
            ))}
          </SelectField>
        </div>
        <TextAreaField label="Request body" name="body" value={body} onChange={(e) => setBody(e.target.value)} rows={4} spellCheck={false} error={invoke.error} />
        <ProblemAlert error={invoke.error} fieldsShown={["method", "path", "alias", "version", "body"]} />
        <button type="submit" className="btn btn-primary" disabled={invoke.isPending}>
          {invoke.isPending ? "Invoking…" : "Invoke"}
        </button>
      </form>
      <div aria-live="polite">
        {inv && (
          <section aria-label="Invocation result" className="fn-result">
            <dl className="facts">
              <dt>Status</dt>
              <dd>
                <StatusBadge status={inv.status} /> {inv.response && <span>HTTP {inv.response.status}</span>}
                {inv.exit_reason && <span> · exit reason {inv.exit_reason}</span>}
              </dd>
              <dt>Duration</dt>
              <dd>
                {durationText(inv.duration_ms)} · version {inv.version}
                {inv.cold_start ? " · cold start" : " · warm"}
              </dd>
              {inv.error && (
                <>
                  <dt>Error</dt>
                  <dd>{inv.error}</dd>
                </>
              )}
            </dl>
            <h3>Response body</h3>
            <pre className="logs" tabIndex={0} aria-label="Response body">
              {inv.response?.body ?? ""}
            </pre>
            <h3>Logs</h3>
            <pre className="logs" tabIndex={0} aria-label="Invocation logs">
              {inv.logs || "(no output)"}
            </pre>
          </section>
        )}
      </div>
    </div>
  );
}
