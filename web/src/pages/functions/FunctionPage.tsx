import { useState, type FormEvent } from "react";
import { useNavigate, useParams } from "react-router";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { ConfirmButton, CopyButton, Empty, Loading, Page, Scroll, StatusBadge, time } from "../../ui/bits";
import { ProblemAlert } from "../../ui/ProblemAlert";
import { SelectField, TextField } from "../../ui/Field";
import { paths } from "../../paths";
import { ProjectNav, useScope, type Scope } from "../workloads/common";
import { fnBase, fnCall, fromBase64, targetsText, type Fn, type FunctionCode, type FunctionTrigger, type FunctionVersion, type List } from "./api";
import { fnCrumbs, fnKey, useRole } from "./common";
import { DeployForm } from "./DeployForm";
import { InvokePanel } from "./InvokePanel";
import { LiveLogs } from "./LiveLogs";

/**
 * FunctionPage is one function: its URL and limits, a test invocation,
 * the code of a version with a form to deploy a new one, its versions and
 * aliases (weights, rollback), its triggers, and its logs, live.
 * Developers change things; viewers see them.
 */
export function FunctionPage() {
  const s = useScope();
  const name = useParams().fn ?? "";
  const nav = useNavigate();
  const qc = useQueryClient();
  const { canWrite } = useRole(s);
  const [invoked, setInvoked] = useState(0);
  const fn = useQuery({ queryKey: fnKey(s, name), queryFn: () => fnCall<Fn>("GET", fnBase(s, name)), refetchInterval: 10_000 });
  const refresh = (next?: Fn) => {
    if (next) qc.setQueryData(fnKey(s, name), next);
    qc.invalidateQueries({ queryKey: fnKey(s) });
  };
  const del = useMutation({
    mutationFn: () => fnCall<void>("DELETE", fnBase(s, name)),
    onSuccess: () => {
      qc.invalidateQueries({ queryKey: fnKey(s) });
      nav(paths.functions(s.org, s.workspace, s.project));
    },
  });
  const d = fn.data;
  return (
    <Page
      title={name}
      crumbs={fnCrumbs(s)}
      actions={canWrite && d && <ConfirmButton label="Delete" question={`Delete function ${name} with its versions, triggers and logs?`} confirmLabel="Delete function" onConfirm={() => del.mutate()} disabled={del.isPending} />}
    >
      <ProjectNav s={s} />
      {fn.isPending && <Loading what="Loading the function" />}
      {fn.error && <ProblemAlert error={fn.error} />}
      <ProblemAlert error={del.error} />
      {d && (
        <>
          <section aria-labelledby="fn-h" className="card">
            <h2 id="fn-h">Function</h2>
            <dl className="facts">
              <dt>URL</dt>
              <dd>
                <code>{d.url}</code> <CopyButton text={d.url} label="Copy URL" />
              </dd>
              <dt>Runtime</dt>
              <dd>{d.runtime}</dd>
              <dt>Access</dt>
              <dd>
                <StatusBadge status={d.access} /> {d.access === "public" ? "anyone with the URL" : "a platform token with developer access to the project"}
              </dd>
              <dt>Latest version</dt>
              <dd>v{d.latest_version}</dd>
              <dt>Instances</dt>
              <dd>{d.instances === 0 ? "0 (scaled to zero)" : d.instances}</dd>
              <dt>Limits</dt>
              <dd>
                {d.limits.memory_mb ?? "?"} MB · {d.limits.timeout_seconds ?? "?"} s · concurrency {d.limits.concurrency ?? 1} · at most {d.limits.max_instances ?? "?"} instances
              </dd>
              {d.secrets.length > 0 && (
                <>
                  <dt>Secrets</dt>
                  <dd>{d.secrets.join(", ")}</dd>
                </>
              )}
              {d.expires_at && (
                <>
                  <dt>Expires</dt>
                  <dd>{time(d.expires_at)}</dd>
                </>
              )}
              {d.description && (
                <>
                  <dt>Description</dt>
                  <dd>{d.description}</dd>
                </>
              )}
            </dl>
          </section>

          {canWrite && (
            <section aria-labelledby="invoke-h" className="card">
              <h2 id="invoke-h">Test invocation</h2>
              <InvokePanel
                s={s}
                fn={d}
                onInvoked={() => {
                  setInvoked((n) => n + 1);
                  refresh();
                }}
              />
            </section>
          )}

          <CodeSection s={s} fn={d} canWrite={canWrite} onDeployed={refresh} />
          <VersionsSection s={s} fn={d} canWrite={canWrite} onChanged={refresh} />
          <TriggersSection s={s} fn={d} canWrite={canWrite} />

          <section aria-labelledby="logs-h" className="card">
            <h2 id="logs-h">Logs</h2>
            <LiveLogs s={s} name={name} refresh={invoked} />
          </section>
        </>
      )}
    </Page>
  );
}

/** CodeSection shows the code of a version (read-only) and deploys a new version from it. */
function CodeSection({ s, fn, canWrite, onDeployed }: { s: Scope; fn: Fn; canWrite: boolean; onDeployed: (f: Fn) => void }) {
  const [version, setVersion] = useState(fn.latest_version);
  const [editing, setEditing] = useState(false);
  const code = useQuery({
    queryKey: fnKey(s, fn.name, "code", version),
    queryFn: () => fnCall<FunctionCode>("GET", `${fnBase(s, fn.name)}/versions/${version}/code`),
    staleTime: Infinity, // a version never changes
  });
  const bytes = code.data ? fromBase64(code.data.content) : null;
  let text: string | null = null;
  if (bytes) {
    try {
      text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    } catch {
      text = null; // a wasm module or an archive
    }
  }
  const versions = Array.from({ length: fn.latest_version }, (_, i) => fn.latest_version - i);
  return (
    <section aria-labelledby="code-h" className="card">
      <h2 id="code-h">Code</h2>
      <div className="row">
        <SelectField label="Version" name="version" value={String(version)} onChange={(e) => setVersion(Number(e.target.value))}>
          {versions.map((v) => (
            <option key={v} value={v}>
              v{v}
            </option>
          ))}
        </SelectField>
        {canWrite && !editing && (
          <button type="button" className="btn" onClick={() => setEditing(true)} disabled={!code.data}>
            Edit and deploy a new version
          </button>
        )}
      </div>
      {code.isPending && <Loading what="Loading the code" />}
      {code.error && <ProblemAlert error={code.error} />}
      {code.data && !editing && (
        <>
          <p className="muted small">
            {code.data.filename} · {bytes?.length ?? 0} bytes
          </p>
          {text !== null ? (
            <pre className="fn-code" tabIndex={0} aria-label={`Code of version ${version}`}>
              {text}
            </pre>
          ) : (
            <p className="muted">A binary file (a WebAssembly module or an archive): its text cannot be shown.</p>
          )}
        </>
      )}
      {editing && code.data && (
        <>
          <DeployForm
            s={s}
            fn={fn}
            code={{ filename: code.data.filename, text: text ?? "" }}
            onDeployed={(f) => {
              setEditing(false);
              setVersion(f.latest_version);
              onDeployed(f);
            }}
          />
          <button type="button" className="btn" onClick={() => setEditing(false)}>
            Cancel
          </button>
        </>
      )}
    </section>
  );
}

/** VersionsSection lists the versions and the aliases, sets an alias (one version or a split), rolls one back and deletes one. */
function VersionsSection({ s, fn, canWrite, onChanged }: { s: Scope; fn: Fn; canWrite: boolean; onChanged: (f?: Fn) => void }) {
  const versions = useQuery({
    queryKey: fnKey(s, fn.name, "versions", fn.latest_version),
    queryFn: () => fnCall<List<FunctionVersion>>("GET", `${fnBase(s, fn.name)}/versions?limit=100`),
  });
  const [alias, setAlias] = useState("");
  const [v1, setV1] = useState(String(fn.latest_version));
  const [w1, setW1] = useState("100");
  const [v2, setV2] = useState("");
  const set = useMutation({
    mutationFn: () => {
      const weight = Number(w1);
      const targets = [{ version: Number(v1), weight }];
      if (v2 && weight < 100) targets.push({ version: Number(v2), weight: 100 - weight });
      return fnCall<Fn>("PUT", `${fnBase(s, fn.name)}/aliases/${encodeURIComponent(alias.trim())}`, { targets });
    },
    onSuccess: (f) => {
      setAlias("");
      onChanged(f);
    },
  });
  const rollback = useMutation({ mutationFn: (a: string) => fnCall<Fn>("POST", `${fnBase(s, fn.name)}/rollback`, { alias: a }), onSuccess: onChanged });
  const delAlias = useMutation({ mutationFn: (a: string) => fnCall<void>("DELETE", `${fnBase(s, fn.name)}/aliases/${encodeURIComponent(a)}`), onSuccess: () => onChanged() });
  function onSet(e: FormEvent) {
    e.preventDefault();
    set.mutate();
  }
  const nums = Array.from({ length: fn.latest_version }, (_, i) => String(fn.latest_version - i));
  return (
    <section aria-labelledby="versions-h" className="card">
      <h2 id="versions-h">Versions and aliases</h2>
      <Scroll label="Aliases">
        <table className="table">
          <caption>Aliases</caption>
          <thead>
            <tr>
              <th scope="col">Alias</th>
              <th scope="col">Versions</th>
              <th scope="col">URL</th>
              {canWrite && <th scope="col">Actions</th>}
            </tr>
          </thead>
          <tbody>
            {fn.aliases.map((a) => (
              <tr key={a.name}>
                <td data-label="Alias">{a.name}</td>
                <td data-label="Versions">{targetsText(a.targets)}</td>
                <td data-label="URL">
                  <code className="small">{a.name === "latest" ? fn.url : `${fn.url}/${a.name}`}</code>
                </td>
                {canWrite && (
                  <td data-label="Actions">
                    <button type="button" className="btn btn-small" disabled={rollback.isPending} onClick={() => rollback.mutate(a.name)}>
                      Roll back {a.name}
                    </button>{" "}
                    {a.name !== "latest" && (
                      <ConfirmButton label={`Delete ${a.name}`} question={`Delete alias ${a.name}? Its URL stops answering.`} confirmLabel="Delete alias" className="btn btn-small btn-danger" onConfirm={() => delAlias.mutate(a.name)} disabled={delAlias.isPending} />
                    )}
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
      </Scroll>
      <ProblemAlert error={rollback.error ?? delAlias.error} />
      {canWrite && (
        <form onSubmit={onSet} className="form form-wide" aria-label="Set an alias" noValidate>
          <h3>Set an alias</h3>
          <div className="row">
            <TextField label="Alias" name="alias" value={alias} onChange={(e) => setAlias(e.target.value)} required error={set.error} placeholder="prod" />
            <SelectField label="Version" name="targets[0].version" value={v1} onChange={(e) => setV1(e.target.value)} error={set.error}>
              {nums.map((v) => (
                <option key={v} value={v}>
                  v{v}
                </option>
              ))}
            </SelectField>
            <TextField label="Weight (%)" name="targets[0].weight" inputMode="numeric" value={w1} onChange={(e) => setW1(e.target.value)} error={set.error} />
            <SelectField label="Rest of the calls to" name="targets[1].version" value={v2} onChange={(e) => setV2(e.target.value)} error={set.error}>
              <option value="">(none: weight 100)</option>
              {nums.map((v) => (
                <option key={v} value={v}>
                  v{v}
                </option>
              ))}
            </SelectField>
          </div>
          <ProblemAlert error={set.error} fieldsShown={["alias", "targets"]} />
          <button type="submit" className="btn btn-primary" disabled={set.isPending || !alias.trim()}>
            {set.isPending ? "Setting…" : "Set alias"}
          </button>
        </form>
      )}
      {versions.error && <ProblemAlert error={versions.error} />}
      {versions.data && (
        <Scroll label="Versions">
          <table className="table">
            <caption>Versions</caption>
            <thead>
              <tr>
                <th scope="col">Version</th>
                <th scope="col">File</th>
                <th scope="col">Size</th>
                <th scope="col">Limits</th>
                <th scope="col">Build</th>
                <th scope="col">Created</th>
              </tr>
            </thead>
            <tbody>
              {[...versions.data.items]
                .sort((a, b) => b.version - a.version)
                .map((v) => (
                  <tr key={v.version}>
                    <td data-label="Version">v{v.version}</td>
                    <td data-label="File">{v.filename}</td>
                    <td data-label="Size">{v.size_bytes} B</td>
                    <td data-label="Limits">
                      {v.limits.memory_mb ?? "?"} MB · {v.limits.timeout_seconds ?? "?"} s
                    </td>
                    <td data-label="Build">{v.build_ms} ms</td>
                    <td data-label="Created">
                      {time(v.created_at)} {v.created_by && <span className="muted small">by {v.created_by}</span>}
                    </td>
                  </tr>
                ))}
            </tbody>
          </table>
        </Scroll>
      )}
    </section>
  );
}

/** TriggersSection lists the function's cron and event triggers, creates and deletes them. */
function TriggersSection({ s, fn, canWrite }: { s: Scope; fn: Fn; canWrite: boolean }) {
  const qc = useQueryClient();
  const k = fnKey(s, fn.name, "triggers");
  const list = useQuery({ queryKey: k, queryFn: () => fnCall<List<FunctionTrigger>>("GET", `${fnBase(s, fn.name)}/triggers?limit=100`) });
  const [name, setName] = useState("");
  const [kind, setKind] = useState("cron");
  const [schedule, setSchedule] = useState("*/5 * * * *");
  const [zone, setZone] = useState("");
  const [topic, setTopic] = useState("");
  const [alias, setAlias] = useState("");
  const create = useMutation({
    mutationFn: () =>
      fnCall<FunctionTrigger>("POST", `${fnBase(s, fn.name)}/triggers`, {
        name: name.trim(),
        kind,
        ...(kind === "cron" ? { schedule, time_zone: zone || undefined } : { topic }),
        alias: alias || undefined,
      }),
    onSuccess: () => {
      setName("");
      qc.invalidateQueries({ queryKey: k });
    },
  });
  const del = useMutation({ mutationFn: (t: string) => fnCall<void>("DELETE", `${fnBase(s, fn.name)}/triggers/${encodeURIComponent(t)}`), onSuccess: () => qc.invalidateQueries({ queryKey: k }) });
  function onCreate(e: FormEvent) {
    e.preventDefault();
    create.mutate();
  }
  return (
    <section aria-labelledby="triggers-h" className="card">
      <h2 id="triggers-h">Triggers</h2>
      <p className="muted small">Besides its URL, a function runs on a schedule (cron) or on each event published to a topic of the project.</p>
      {list.isPending && <Loading what="Loading the triggers" />}
      {list.error && <ProblemAlert error={list.error} />}
      {list.data && list.data.items.length === 0 && (
        <Empty>
          <p>No triggers.</p>
        </Empty>
      )}
      {list.data && list.data.items.length > 0 && (
        <Scroll label="Triggers">
          <table className="table">
            <caption className="sr-only">Triggers of {fn.name}</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Kind</th>
                <th scope="col">When</th>
                <th scope="col">Alias</th>
                {canWrite && <th scope="col">Actions</th>}
              </tr>
            </thead>
            <tbody>
              {list.data.items.map((t) => (
                <tr key={t.name}>
                  <td data-label="Name">{t.name}</td>
                  <td data-label="Kind">{t.kind}</td>
                  <td data-label="When">
                    {t.kind === "cron" ? (
                      <>
                        <code>{t.schedule}</code> <span className="muted small">{t.time_zone || "UTC"}</span>
                      </>
                    ) : (
                      <>topic {t.topic}</>
                    )}
                  </td>
                  <td data-label="Alias">{t.alias || "latest"}</td>
                  {canWrite && (
                    <td data-label="Actions">
                      <ConfirmButton label={`Delete ${t.name}`} question={`Delete trigger ${t.name}?`} confirmLabel="Delete trigger" className="btn btn-small btn-danger" onConfirm={() => del.mutate(t.name)} disabled={del.isPending} />
                    </td>
                  )}
                </tr>
              ))}
            </tbody>
          </table>
        </Scroll>
      )}
      <ProblemAlert error={del.error} />
      {canWrite && (
        <form onSubmit={onCreate} className="form form-wide" aria-label="New trigger" noValidate>
          <h3>New trigger</h3>
          <div className="row">
            <TextField label="Trigger name" name="name" value={name} onChange={(e) => setName(e.target.value)} required error={create.error} />
            <SelectField label="Kind" name="kind" value={kind} onChange={(e) => setKind(e.target.value)} error={create.error}>
              <option value="cron">cron (a schedule)</option>
              <option value="event">event (a topic)</option>
            </SelectField>
            {kind === "cron" ? (
              <>
                <TextField label="Schedule" name="schedule" value={schedule} onChange={(e) => setSchedule(e.target.value)} error={create.error} />
                <TextField label="Time zone" name="time_zone" value={zone} onChange={(e) => setZone(e.target.value)} placeholder="UTC" error={create.error} />
              </>
            ) : (
              <TextField label="Topic" name="topic" value={topic} onChange={(e) => setTopic(e.target.value)} error={create.error} />
            )}
            <SelectField label="Calls alias" name="alias" value={alias} onChange={(e) => setAlias(e.target.value)} error={create.error}>
              <option value="">latest</option>
              {fn.aliases
                .filter((a) => a.name !== "latest")
                .map((a) => (
                  <option key={a.name}>{a.name}</option>
                ))}
            </SelectField>
          </div>
          <ProblemAlert error={create.error} fieldsShown={["name", "kind", "schedule", "time_zone", "topic", "alias"]} />
          <button type="submit" className="btn btn-primary" disabled={create.isPending || !name.trim()}>
            {create.isPending ? "Creating…" : "Create trigger"}
          </button>
        </form>
      )}
    </section>
  );
}
