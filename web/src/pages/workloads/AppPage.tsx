import { useEffect, useMemo, useState, type FormEvent } from "react";
import { useNavigate, useParams } from "react-router";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, call } from "../../api/client";
import { useWatch } from "../../live/hooks";
import type { KubeObject } from "../../live/socket";
import { ConfirmButton, Empty, LiveIndicator, Loading, Page, StatusBadge, time, Scroll } from "../../ui/bits";
import { TextField } from "../../ui/Field";
import { ProblemAlert } from "../../ui/ProblemAlert";
import { paths } from "../../paths";
import { key, pathOf, ProjectNav, projectCrumbs, useAccess, useScope } from "./common";
import { readyText, selects, statusWord, withLive, type Application } from "./live";
import { Logs } from "./Logs";
import { AppEdit } from "./AppEdit";

type Pod = NonNullable<Application["pods"]>[number];

function podOf(p: KubeObject): Pod {
  const st = p.status ?? {};
  const ready = (st.conditions ?? []).some((c: { type: string; status: string }) => c.type === "Ready" && c.status === "True");
  const cs: { restartCount?: number; state?: { waiting?: { reason?: string }; terminated?: { reason?: string } } }[] = st.containerStatuses ?? [];
  const reason = cs.map((c) => c.state?.waiting?.reason ?? c.state?.terminated?.reason).find(Boolean) ?? st.reason;
  return {
    name: p.metadata.name,
    phase: p.metadata.deletionTimestamp ? "Terminating" : (st.phase ?? "Pending"),
    ready,
    restarts: cs.reduce((n, c) => n + (c.restartCount ?? 0), 0),
    node: p.spec?.nodeName,
    ip: st.podIP,
    started_at: st.startTime,
    reason,
  };
}

/**
 * AppPage is one application: its readiness, pods and events kept live by
 * watches made with the caller's identity; scale, restart, set image and
 * delete for those whose role allows them; and its logs, followed.
 */
export function AppPage() {
  const s = useScope();
  const name = useParams().app ?? "";
  const nav = useNavigate();
  const qc = useQueryClient();
  const access = useAccess(s);
  const deployments = useWatch(s, "deployments");
  const podWatch = useWatch(s, "pods");
  const eventWatch = useWatch(s, "events");
  const live = deployments.status === "live";
  const path = { ...pathOf(s), app: name };
  const appUrl = "/api/v1/organizations/{org}/workspaces/{workspace}/projects/{project}/applications/{app}" as const;
  const app = useQuery({
    queryKey: key(s, "app", name),
    queryFn: () => call(api.GET(appUrl, { params: { path } })),
    refetchInterval: live ? false : 3000,
  });
  const events = useQuery({
    queryKey: key(s, "app", name, "events"),
    queryFn: () => call(api.GET(`${appUrl}/events`, { params: { path, query: { limit: 100 } } })),
    refetchInterval: live ? false : 5000,
  });
  const d = deployments.items.find((x) => x.metadata.name === name);
  const a = app.data ? withLive(app.data, d) : undefined;
  const sel: Record<string, string> | undefined = d?.spec?.selector?.matchLabels;
  const pods: Pod[] = useMemo(() => {
    if (podWatch.synced && sel) return podWatch.items.filter((p) => selects(sel, p)).map(podOf);
    return app.data?.pods ?? [];
  }, [podWatch.synced, podWatch.items, sel, app.data?.pods]);
  // A new event of the application, its ReplicaSets or pods: the list is asked again.
  const evKey = eventWatch.items
    .filter((e) => {
      const n: string = (e as { involvedObject?: { name?: string } }).involvedObject?.name ?? "";
      return n === name || n.startsWith(name + "-");
    })
    .map((e) => e.metadata.resourceVersion)
    .join(",");
  useEffect(() => {
    if (evKey) qc.invalidateQueries({ queryKey: key(s, "app", name, "events") });
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [evKey]);

  const done = (next: Application) => {
    qc.setQueryData(key(s, "app", name), (old: Application | undefined) => ({ ...next, pods: old?.pods ?? next.pods }));
    qc.invalidateQueries({ queryKey: key(s, "apps") });
    qc.invalidateQueries({ queryKey: key(s, "app", name) });
  };
  const [replicas, setReplicas] = useState("");
  const [image, setImage] = useState("");
  const scale = useMutation({
    mutationFn: (n: number) => call(api.POST(`${appUrl}/scale`, { params: { path }, body: { replicas: n } })),
    onSuccess: done,
  });
  const restart = useMutation({ mutationFn: () => call(api.POST(`${appUrl}/restart`, { params: { path } })), onSuccess: done });
  const setImg = useMutation({
    mutationFn: (img: string) => call(api.PATCH(appUrl, { params: { path }, body: { image: img, resource_version: app.data?.resource_version } })),
    onSuccess: (next) => {
      setImage("");
      done(next);
    },
  });
  const del = useMutation({
    mutationFn: () => call(api.DELETE(appUrl, { params: { path } })),
    onSuccess: () => {
      qc.invalidateQueries({ queryKey: key(s, "apps") });
      nav(paths.apps(s.org, s.workspace, s.project));
    },
  });
  const canScale = access.can("deployments/scale", "update");
  const canUpdate = access.can("deployments", "patch");
  const canReplace = access.can("deployments", "update");
  const canDelete = access.can("deployments", "delete");

  function onScale(e: FormEvent) {
    e.preventDefault();
    scale.mutate(Number(replicas === "" ? a?.status.replicas : replicas));
  }
  function onImage(e: FormEvent) {
    e.preventDefault();
    setImg.mutate(image.trim());
  }

  return (
    <Page
      title={name}
      crumbs={projectCrumbs(s, { to: paths.apps(s.org, s.workspace, s.project), label: "Applications" })}
      actions={
        <>
          {!app.error && <LiveIndicator status={deployments.status} />}
          {canUpdate && a && (
            <button type="button" className="btn" disabled={restart.isPending} onClick={() => restart.mutate()}>
              {restart.isPending ? "Restarting…" : "Restart"}
            </button>
          )}
          {canDelete && a && (
            <ConfirmButton label="Delete" question={`Delete application ${name}, its Service and its pods? This cannot be undone.`} confirmLabel="Delete application" onConfirm={() => del.mutate()} disabled={del.isPending} />
          )}
        </>
      }
    >
      <ProjectNav s={s} />
      {app.isPending && <Loading what="Loading the application" />}
      {app.error && <ProblemAlert error={app.error} />}
      <ProblemAlert error={restart.error ?? del.error} />
      {a && (
        <>
          <section aria-labelledby="status-h" className="card">
            <h2 id="status-h">Status</h2>
            <dl className="facts">
              <dt>Readiness</dt>
              <dd data-testid="readiness" aria-live="polite">
                {readyText(a)} <StatusBadge status={statusWord(a)} />
              </dd>
              <dt>Desired</dt>
              <dd data-testid="desired">{a.status.replicas} desired</dd>
              <dt>Up to date / available</dt>
              <dd>
                {a.status.updated_replicas} / {a.status.available_replicas}
              </dd>
              <dt>Image</dt>
              <dd>
                <code>{a.image}</code>
              </dd>
              {a.service && (
                <>
                  <dt>Service</dt>
                  <dd>
                    {a.service.name} {a.service.cluster_ip} {a.service.ports.map((p) => `${p.port}/${p.protocol ?? "TCP"}`).join(", ")}
                  </dd>
                </>
              )}
              <dt>Created</dt>
              <dd>{time(a.created_at)}</dd>
              <dt>Version</dt>
              <dd>{a.resource_version}</dd>
            </dl>
          </section>

          {(canScale || canUpdate) && (
            <section aria-labelledby="change-h" className="card">
              <h2 id="change-h">Change</h2>
              {canScale && (
                <form onSubmit={onScale} className="row" aria-label="Scale">
                  <TextField label="Replicas" name="replicas" type="number" min={0} value={replicas === "" ? String(a.status.replicas) : replicas} onChange={(e) => setReplicas(e.target.value)} error={scale.error} />
                  <button type="submit" className="btn" disabled={scale.isPending}>
                    {scale.isPending ? "Scaling…" : "Scale"}
                  </button>
                </form>
              )}
              <ProblemAlert error={scale.error} fieldsShown={["replicas"]} />
              {canUpdate && (
                <form onSubmit={onImage} className="row" aria-label="Set image">
                  <TextField label="New image" name="image" value={image} onChange={(e) => setImage(e.target.value)} placeholder={a.image} error={setImg.error} autoComplete="off" />
                  <button type="submit" className="btn" disabled={setImg.isPending || !image.trim()}>
                    {setImg.isPending ? "Setting…" : "Set image"}
                  </button>
                </form>
              )}
              <ProblemAlert error={setImg.error} fieldsShown={["image"]} />
            </section>
          )}

          {canReplace && app.data && <AppEdit s={s} app={app.data} onSaved={done} />}

          <section aria-labelledby="pods-h" className="card">
            <h2 id="pods-h">Pods</h2>
            {pods.length === 0 ? (
              <Empty>
                <p>No pods.</p>
              </Empty>
            ) : (
              <Scroll label="Pods">
                <table className="table">
                  <caption className="sr-only">Pods of {name}</caption>
                  <thead>
                    <tr>
                      <th scope="col">Name</th>
                      <th scope="col">Phase</th>
                      <th scope="col">Ready</th>
                      <th scope="col">Restarts</th>
                      <th scope="col">Node</th>
                    </tr>
                  </thead>
                  <tbody>
                    {pods.map((p) => (
                      <tr key={p.name}>
                        <td data-label="Name">{p.name}</td>
                        <td data-label="Phase">
                          <StatusBadge status={p.phase} title={p.reason} />
                        </td>
                        <td data-label="Ready">{p.ready ? "yes" : "no"}</td>
                        <td data-label="Restarts">{p.restarts}</td>
                        <td data-label="Node">{p.node ?? "—"}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </Scroll>
            )}
          </section>

          <section aria-labelledby="events-h" className="card">
            <h2 id="events-h">Events</h2>
            {events.error && <ProblemAlert error={events.error} />}
            {events.isPending && <Loading what="Loading events" />}
            {events.data && events.data.items.length === 0 && <p className="muted">No events.</p>}
            {events.data && events.data.items.length > 0 && (
              <Scroll label="Events" className="events-scroll">
              <ul className="events">
                {[...events.data.items].reverse().map((e, i) => (
                  <li key={i} className={e.type === "Warning" ? "event-warning" : undefined}>
                    <span className="muted small">{time(e.last_seen)}</span> <strong>{e.reason}</strong> {e.object}: {e.message}
                    {e.count > 1 && <span className="muted small"> ×{e.count}</span>}
                  </li>
                ))}
              </ul>
              </Scroll>
            )}
          </section>

          <section aria-labelledby="logs-h" className="card">
            <h2 id="logs-h">Logs</h2>
            <Logs s={s} app={name} pods={pods.map((p) => p.name)} canRead={!access.data || access.can("pods/log", "get")} />
          </section>
        </>
      )}
    </Page>
  );
}

