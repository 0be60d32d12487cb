import { useState, type FormEvent } from "react";
import { useMutation, useQuery } from "@tanstack/react-query";
import { ProblemAlert } from "../../ui/ProblemAlert";
import { SelectField, TextAreaField, TextField } from "../../ui/Field";
import type { Scope } from "../workloads/common";
import { fnBase, fnCall, runtimeOf, STARTERS, toBase64, type DeployRequest, type Fn, type FunctionRuntime } from "./api";

/** The API's fields the form shows errors of under its inputs. */
const FIELDS = ["function", "runtime", "source", "source.filename", "source.content", "access", "env", "ttl", "limits.memory_mb", "limits.timeout_seconds", "description"];

/** useRuntimes is GET /api/v1/functions/runtimes (any signed-in user). */
export function useRuntimes() {
  return useQuery({ queryKey: ["functions", "runtimes"], queryFn: () => fnCall<FunctionRuntime[]>("GET", "/api/v1/functions/runtimes"), staleTime: 300_000 });
}

/** envOf reads NAME=VALUE lines; it returns the first bad line instead when there is one. */
export function envOf(text: string): Record<string, string> | string {
  const env: Record<string, string> = {};
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (!line) continue;
    const i = line.indexOf("=");
    if (i <= 0) return line;
    env[line.slice(0, i)] = line.slice(i + 1);
  }
  return env;
}

/**
 * DeployForm deploys code as a new function (no `fn`: the name is asked),
 * or as a new version of `fn` (its runtime is fixed). The code is typed in
 * the editor or chosen as a file (needed for wasm modules and archives).
 */
export function DeployForm({ s, fn, code, onDeployed }: { s: Scope; fn?: Fn; code?: { filename: string; text: string }; onDeployed: (f: Fn) => void }) {
  const runtimes = useRuntimes();
  const [name, setName] = useState("");
  const [runtime, setRuntime] = useState(fn?.runtime ?? "python");
  const [filename, setFilename] = useState(code?.filename ?? STARTERS[fn?.runtime ?? "python"]?.filename ?? "");
  const [text, setText] = useState(code?.text ?? (fn ? "" : STARTERS.python.code));
  const [file, setFile] = useState<File | null>(null);
  const [access, setAccess] = useState(fn?.access ?? "private");
  const [env, setEnv] = useState("");
  const [ttl, setTtl] = useState("");
  const [memory, setMemory] = useState("");
  const [timeout, setTimeoutText] = useState("");
  const [description, setDescription] = useState(fn?.description ?? "");
  const envParsed = envOf(env);
  const deploy = useMutation({
    mutationFn: async () => {
      const bytes = file ? new Uint8Array(await file.arrayBuffer()) : new TextEncoder().encode(text);
      const body: DeployRequest = { runtime, source: { filename: file ? file.name : filename.trim(), content: toBase64(bytes) }, access };
      if (typeof envParsed !== "string" && Object.keys(envParsed).length) body.env = envParsed;
      if (ttl.trim()) body.ttl = ttl.trim();
      if (description.trim()) body.description = description.trim();
      const limits: DeployRequest["limits"] = {};
      if (memory.trim()) limits.memory_mb = Number(memory);
      if (timeout.trim()) limits.timeout_seconds = Number(timeout);
      if (Object.keys(limits).length) body.limits = limits;
      return fnCall<Fn>("PUT", fnBase(s, fn?.name ?? name.trim()), body);
    },
    onSuccess: onDeployed,
  });
  function pickRuntime(r: string) {
    setRuntime(r);
    // A fresh form follows the runtime with its starter code.
    const st = STARTERS[r];
    if (!fn && st && (text === "" || Object.values(STARTERS).some((x) => x.code === text))) {
      setFilename(st.filename);
      setText(st.code);
    }
  }
  function onFile(f: File | null) {
    setFile(f);
    if (f) {
      setFilename(f.name);
      const r = runtimeOf(f.name);
      if (r && !fn) setRuntime(r);
    }
  }
  function onSubmit(e: FormEvent) {
    e.preventDefault();
    if (typeof envParsed === "string") return;
    deploy.mutate();
  }
  const avail = runtimes.data ?? [];
  return (
    <form onSubmit={onSubmit} className="form form-wide" aria-label={fn ? `Deploy a new version of ${fn.name}` : "Deploy a function"} noValidate>
      {!fn && <TextField label="Name" name="function" value={name} onChange={(e) => setName(e.target.value)} required error={deploy.error} hint="lowercase letters, digits and dashes" />}
      <div className="row">
        <SelectField label="Runtime" name="runtime" value={runtime} onChange={(e) => pickRuntime(e.target.value)} disabled={!!fn} error={deploy.error}>
          {(avail.length ? avail : [{ name: runtime, available: true, sandbox: "", entry: "" }]).map((r) => (
            <option key={r.name} value={r.name} disabled={!r.available}>
              {r.name}
              {r.version ? ` (${r.version})` : ""}
              {!r.available ? ` — unavailable${r.reason ? `: ${r.reason}` : ""}` : ""}
            </option>
          ))}
        </SelectField>
        <TextField label="File name" name="source.filename" value={filename} onChange={(e) => setFilename(e.target.value)} disabled={!!file} error={deploy.error} />
        <SelectField label="Access" name="access" value={access} onChange={(e) => setAccess(e.target.value)} error={deploy.error}>
          <option value="private">private (a platform token of a developer)</option>
          <option value="public">public (anyone with the URL)</option>
        </SelectField>
      </div>
      <TextAreaField
        label="Code"
        name="source.content"
        value={text}
        onChange={(e) => setText(e.target.value)}
        disabled={!!file}
        spellCheck={false}
        rows={14}
        error={deploy.error}
        hint={file ? "The chosen file is deployed instead." : "The handler's contract per runtime is in docs/functions.md."}
      />
      <div className="field">
        <label htmlFor="fn-file">Or a file (a .wasm module, a zip or tar.gz archive, …)</label>
        <input id="fn-file" type="file" onChange={(e) => onFile(e.target.files?.[0] ?? null)} />
      </div>
      <TextAreaField
        label="Environment (NAME=VALUE, one a line)"
        name="env"
        value={env}
        onChange={(e) => setEnv(e.target.value)}
        rows={3}
        spellCheck={false}
        error={deploy.error}
        message={typeof envParsed === "string" ? `"${envParsed}" is not NAME=VALUE` : undefined}
      />
      <div className="row">
        <TextField label="Memory (MB)" name="limits.memory_mb" inputMode="numeric" value={memory} onChange={(e) => setMemory(e.target.value)} placeholder="128" error={deploy.error} />
        <TextField label="Timeout (seconds)" name="limits.timeout_seconds" inputMode="numeric" value={timeout} onChange={(e) => setTimeoutText(e.target.value)} placeholder="10" error={deploy.error} />
        <TextField label="Time to live" name="ttl" value={ttl} onChange={(e) => setTtl(e.target.value)} placeholder="e.g. 24h (empty: forever)" error={deploy.error} />
      </div>
      <TextField label="Description" name="description" value={description} onChange={(e) => setDescription(e.target.value)} error={deploy.error} />
      <ProblemAlert error={deploy.error} fieldsShown={FIELDS} />
      <button type="submit" className="btn btn-primary" disabled={deploy.isPending}>
        {deploy.isPending ? "Deploying…" : "Deploy"}
      </button>
    </form>
  );
}
