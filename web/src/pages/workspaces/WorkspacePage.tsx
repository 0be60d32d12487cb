import { useEffect, useState, type FormEvent } from "react";
import { useLocation, useNavigate, useParams } from "react-router";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { api, call, sessionFetch } from "../../api/client";
import { fromResponse } from "../../api/problem";
import { ConfirmButton, CopyButton, LiveIndicator, Loading, Page, StatusBadge, time } from "../../ui/bits";
import { TextField } from "../../ui/Field";
import { ProblemAlert } from "../../ui/ProblemAlert";
import { useOrgEvents } from "../../live/hooks";
import type { OrgEvent } from "../../live/socket";
import { paths } from "../../paths";
import { crumbsFor, isWsAdmin, useWorkspace, WorkspaceTabs, type Workspace } from "./common";

const WS = "/api/v1/organizations/{org}/workspaces/{workspace}" as const;

interface Step {
  id: string;
  time: string;
  text: string;
  status?: string;
}

/**
 * WorkspacePage is a workspace's overview: its status and what its tasks
 * are doing right now (the organization's live events), the health of its
 * control plane, sleep and wake, its sleep settings and hibernation
 * schedules, the kubeconfig, and deleting it.
 */
export function WorkspacePage() {
  const { org = "", ws = "" } = useParams();
  const loc = useLocation();
  const [tasks, setTasks] = useState<Set<string>>(() => new Set((loc.state as { taskId?: string } | null)?.taskId ? [(loc.state as { taskId: string }).taskId] : []));
  const [steps, setSteps] = useState<Step[]>([]);
  const [wsID, setWsID] = useState<string>();
  const live = useOrgEvents(org, (e: OrgEvent) => {
    const mine = (e.type === "workspace.progress" || e.type === "workspace.status") && e.resource_id === wsID;
    const myTask = e.type === "task.status" && e.resource_id && tasks.has(e.resource_id);
    if (!mine && !myTask) return;
    const d = e.data ?? {};
    const text =
      e.type === "workspace.progress"
        ? String(d.step ?? "")
        : e.type === "workspace.status"
          ? `Status: ${d.status}${d.reason ? ` (${d.reason})` : ""}`
          : `Task ${d.kind}: ${d.status}${d.reason ? ` (${d.reason})` : ""}${Number(d.attempts) > 1 ? `, attempt ${d.attempts}` : ""}`;
    setSteps((s) => (s.some((x) => x.id === e.id) ? s : [...s, { id: e.id, time: e.time, text, status: e.type === "workspace.progress" ? undefined : String(d.status ?? "") }]));
  });
  const w = useWorkspace(org, ws, live);
  useEffect(() => setWsID(w.data?.id), [w.data?.id]);
  const track = (t?: string) => t && setTasks((s) => new Set(s).add(t));

  return (
    <Page title={`Workspace ${ws}`} crumbs={crumbsFor(org)} actions={<LiveIndicator status={live} />}>
      <WorkspaceTabs org={org} ws={ws} />
      {w.isPending && <Loading what="Loading the workspace" />}
      {w.error && <ProblemAlert error={w.error} />}
      {w.data && (
        <>
          <Overview w={w.data} steps={steps} />
          <Power org={org} w={w.data} onTask={track} />
          <SleepSettings org={org} w={w.data} />
          <Kubeconfig org={org} w={w.data} />
          {isWsAdmin(w.data.role) && <Danger org={org} w={w.data} />}
        </>
      )}
    </Page>
  );
}

function Overview({ w, steps }: { w: Workspace; steps: Step[] }) {
  const cp = w.control_plane;
  return (
    <div className="cards">
      <section className="card" aria-labelledby="ws-status">
        <h2 id="ws-status">Status</h2>
        <p>
          <StatusBadge status={w.status} />
        </p>
        {w.status_reason && <p className="problem-detail">{w.status_reason}</p>}
        <dl className="facts">
          <dt>Plan</dt>
          <dd>{w.plan}</dd>
          <dt>Your role</dt>
          <dd>{w.role || "project member"}</dd>
          <dt>Created</dt>
          <dd>{time(w.created_at)}</dd>
          {w.slept_at && (
            <>
              <dt>Asleep since</dt>
              <dd>{time(w.slept_at)}</dd>
            </>
          )}
          {w.wake_at && (
            <>
              <dt>Next scheduled wake</dt>
              <dd>{time(w.wake_at)}</dd>
            </>
          )}
        </dl>
        {steps.length > 0 && (
          <>
            <h3>Progress</h3>
            <ol className="progress" aria-live="polite" aria-label="Progress" tabIndex={0}>
              {steps.map((s) => (
                <li key={s.id}>
                  <span className="muted small">{new Date(s.time).toLocaleTimeString()}</span> {s.status && <StatusBadge status={s.status} />} {s.text}
                </li>
              ))}
            </ol>
          </>
        )}
      </section>
      <section className="card" aria-labelledby="ws-cp">
        <h2 id="ws-cp">Control plane</h2>
        {!cp ? (
          <p className="muted">{w.status === "running" ? "Health not known yet." : `No health while the workspace is ${w.status}.`}</p>
        ) : (
          <>
            <p>
              <StatusBadge status={cp.ready ? "healthy" : "unhealthy"} /> {cp.version && <span>Kubernetes {cp.version}</span>}
            </p>
            <ul className="plain">
              {cp.components.map((c) => (
                <li key={c.name}>
                  <StatusBadge status={c.healthy ? "healthy" : "unhealthy"} /> {c.name}
                  {c.restarts > 0 && <span className="muted small"> ({c.restarts} restarts)</span>}
                  {c.message && <span className="muted small"> {c.message}</span>}
                </li>
              ))}
            </ul>
            <p className="muted small">Checked {time(cp.checked_at)}</p>
          </>
        )}
      </section>
    </div>
  );
}

function Power({ org, w, onTask }: { org: string; w: Workspace; onTask: (t?: string) => void }) {
  const qc = useQueryClient();
  const path = { org, workspace: w.name };
  const act = useMutation({
    mutationFn: (what: "sleep" | "wake") =>
      what === "sleep" ? call(api.POST(`${WS}/sleep`, { params: { path } })) : call(api.POST(`${WS}/wake`, { params: { path } })),
    onSuccess: (nw) => {
      onTask(nw.task_id);
      qc.setQueryData(["org", org, "ws", w.name], (old: Workspace | undefined) => (old ? { ...old, status: nw.status, status_reason: nw.status_reason } : old));
      qc.invalidateQueries({ queryKey: ["org", org] });
    },
  });
  if (!isWsAdmin(w.role)) return null;
  return (
    <section aria-labelledby="ws-power">
      <h2 id="ws-power">Sleep and wake</h2>
      <p className="muted">
        A sleeping workspace keeps its data but runs no control plane; the next request through the gateway (kubectl, say) wakes it.
      </p>
      <div className="row">
        <button type="button" className="btn" disabled={w.status !== "running" || act.isPending} onClick={() => act.mutate("sleep")}>
          Sleep now
        </button>
        <button type="button" className="btn" disabled={w.status !== "sleeping" || act.isPending} onClick={() => act.mutate("wake")}>
          Wake now
        </button>
      </div>
      <ProblemAlert error={act.error} />
    </section>
  );
}

type Sched = { start: string; end: string; location: string };

function SleepSettings({ org, w }: { org: string; w: Workspace }) {
  const qc = useQueryClient();
  const admin = isWsAdmin(w.role);
  const [sleepAfter, setSleepAfter] = useState(w.sleep_after_default ? "default" : w.sleep_after);
  const [sched, setSched] = useState<Sched[]>(() => (w.hibernation ?? []).map((h) => ({ start: h.start ?? "", end: h.end ?? "", location: h.location ?? "" })));
  const [version, setVersion] = useState(w.resource_version);
  const save = useMutation({
    mutationFn: () =>
      call(
        api.PATCH(WS, {
          params: { path: { org, workspace: w.name } },
          body: {
            sleep_after: sleepAfter.trim() || "default",
            hibernation: sched.map((s) => ({ start: s.start.trim() || undefined, end: s.end.trim() || undefined, location: s.location.trim() || undefined })),
            resource_version: version,
          },
        }),
      ),
    onSuccess: (nw) => {
      setVersion(nw.resource_version);
      qc.setQueryData(["org", org, "ws", w.name], (old: Workspace | undefined) => (old ? { ...old, ...nw, control_plane: old.control_plane } : nw));
    },
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    save.mutate();
  };
  const fields = ["sleep_after", "hibernation"];
  return (
    <section aria-labelledby="ws-sleep">
      <h2 id="ws-sleep">Sleep settings</h2>
      {!admin ? (
        <dl className="facts">
          <dt>Sleeps after</dt>
          <dd>{w.sleep_after === "0s" ? "never" : `${w.sleep_after} idle`}{w.sleep_after_default ? " (the platform's default)" : ""}</dd>
          <dt>Hibernation</dt>
          <dd>{w.hibernation?.length ? w.hibernation.map((h) => `${h.start ?? "—"} → ${h.end ?? "—"} ${h.location ?? "UTC"}`).join("; ") : "none"}</dd>
        </dl>
      ) : (
        <form className="form form-wide" onSubmit={submit} aria-label="Sleep settings">
          <TextField
            label="Sleep after idle"
            name="sleep_after"
            error={save.error}
            value={sleepAfter}
            onChange={(e) => setSleepAfter(e.target.value)}
            hint={`A duration such as 30m or 2h, 0 for never, or "default" for the platform's default (now ${w.sleep_after}).`}
          />
          <fieldset>
            <legend>Hibernation schedules</legend>
            <p className="hint">The workspace goes to sleep at each start and wakes at each end (cron expressions of 5 fields, in the time zone given; UTC by default).</p>
            {sched.length === 0 && <p className="muted">No schedule.</p>}
            {sched.map((s, i) => (
              <div className="row sched" key={i}>
                <TextField label={`Schedule ${i + 1}: sleep at`} name={`hibernation[${i}].start`} error={save.error} value={s.start} placeholder="0 20 * * 1-5"
                  onChange={(e) => setSched((l) => l.map((x, j) => (j === i ? { ...x, start: e.target.value } : x)))} />
                <TextField label={`Schedule ${i + 1}: wake at`} name={`hibernation[${i}].end`} error={save.error} value={s.end} placeholder="0 7 * * 1-5"
                  onChange={(e) => setSched((l) => l.map((x, j) => (j === i ? { ...x, end: e.target.value } : x)))} />
                <TextField label={`Schedule ${i + 1}: time zone`} name={`hibernation[${i}].location`} error={save.error} value={s.location} placeholder="Europe/Berlin"
                  onChange={(e) => setSched((l) => l.map((x, j) => (j === i ? { ...x, location: e.target.value } : x)))} />
                <button type="button" className="btn btn-small" onClick={() => setSched((l) => l.filter((_, j) => j !== i))}>
                  Remove schedule {i + 1}
                </button>
              </div>
            ))}
            <button type="button" className="btn btn-small" disabled={sched.length >= 8}
              onClick={() => setSched((l) => [...l, { start: "", end: "", location: Intl.DateTimeFormat().resolvedOptions().timeZone || "" }])}>
              Add a schedule
            </button>
          </fieldset>
          <ProblemAlert error={save.error} fieldsShown={fields} />
          {save.isSuccess && !save.isPending && <p role="status" className="alert alert-info">Saved.</p>}
          <div className="row">
            <button type="submit" className="btn btn-primary" disabled={save.isPending}>
              {save.isPending ? "Saving…" : "Save sleep settings"}
            </button>
          </div>
        </form>
      )}
    </section>
  );
}

function Kubeconfig({ org, w }: { org: string; w: Workspace }) {
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const command = `hks kubeconfig --org ${org} --workspace ${w.name}`;
  const ready = w.status === "running" || w.status === "sleeping" || w.status === "waking";
  async function download() {
    setBusy(true);
    setError(null);
    try {
      const res = await sessionFetch(new Request(`/api/v1/organizations/${encodeURIComponent(org)}/workspaces/${encodeURIComponent(w.name)}/kubeconfig`));
      if (!res.ok) throw await fromResponse(res);
      const url = URL.createObjectURL(await res.blob());
      const a = document.createElement("a");
      a.href = url;
      a.download = `${org}-${w.name}.kubeconfig.yaml`;
      document.body.appendChild(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  }
  return (
    <section aria-labelledby="ws-kube">
      <h2 id="ws-kube">Kubeconfig</h2>
      <p className="muted">
        kubectl reaches the workspace through the platform's gateway and signs in as you: the kubeconfig runs <code>hks kubectl-token</code> for a short-lived
        token, so it holds no credential. A sleeping workspace wakes at kubectl's first request.
      </p>
      <div className="row">
        <button type="button" className="btn" onClick={download} disabled={!ready || busy}>
          {busy ? "Downloading…" : "Download kubeconfig"}
        </button>
        {!ready && <span className="muted small">Available once the workspace runs.</span>}
      </div>
      <p>Or add it to your kubeconfig with the CLI (signed in with <code>hks login --server {location.origin}</code>):</p>
      <div className="row">
        <code className="command" aria-label="Command">{command}</code>
        <CopyButton text={command} label="Copy command" />
      </div>
      <ProblemAlert error={error} />
    </section>
  );
}

function Danger({ org, w }: { org: string; w: Workspace }) {
  const qc = useQueryClient();
  const nav = useNavigate();
  const del = useMutation({
    mutationFn: () => call(api.DELETE(WS, { params: { path: { org, workspace: w.name } } })),
    onSuccess: () => {
      qc.invalidateQueries({ queryKey: ["org", org] });
      nav(paths.org(org));
    },
  });
  return (
    <section aria-labelledby="ws-danger">
      <h2 id="ws-danger">Delete the workspace</h2>
      <p className="muted">Its cluster, projects, applications and data are deleted. This cannot be undone.</p>
      <ConfirmButton label="Delete workspace" question={`Delete workspace ${w.name} and everything in it?`} confirmLabel={`Delete ${w.name}`}
        disabled={w.status === "deleting" || del.isPending} onConfirm={() => del.mutate()} />
      <ProblemAlert error={del.error} />
    </section>
  );
}
