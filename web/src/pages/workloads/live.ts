// Live status of applications: the Deployments the socket watches (with
// the caller's own identity) laid over the API's answers, so readiness
// changes without a reload.
import type { KubeObject } from "../../live/socket";
import type { Schemas } from "../../api/client";

export type Application = Schemas["Application"];

/** statusOf is the API's AppStatus of a watched Deployment (as the server computes it). */
export function statusOf(d: KubeObject): Application["status"] {
  const want: number = d.spec?.replicas ?? 1;
  const st = d.status ?? {};
  const gen = Number((d.metadata as { generation?: number }).generation ?? 0);
  return {
    replicas: want,
    ready_replicas: st.readyReplicas ?? 0,
    updated_replicas: st.updatedReplicas ?? 0,
    available_replicas: st.availableReplicas ?? 0,
    ready: (st.observedGeneration ?? 0) >= gen && (st.updatedReplicas ?? 0) === want && (st.readyReplicas ?? 0) === want && (st.replicas ?? 0) === want,
    conditions: (st.conditions ?? []).map((c: { type: string; status: string; reason?: string; message?: string }) => ({
      type: c.type,
      status: c.status,
      reason: c.reason,
      message: c.message,
    })),
  };
}

/** withLive lays the watched Deployment's status and image over the API's application. */
export function withLive(a: Application, d?: KubeObject): Application {
  if (!d) return a;
  const image: string | undefined = d.spec?.template?.spec?.containers?.[0]?.image;
  return { ...a, image: image ?? a.image, status: statusOf(d) };
}

/** statusWord is one word for an application's state. */
export function statusWord(a: Application): string {
  const s = a.status;
  if (s.replicas === 0) return "stopped";
  if (s.ready) return "ready";
  const failed = s.conditions?.find((c) => (c.type === "Progressing" && c.status === "False") || c.type === "ReplicaFailure");
  if (failed) return "failed";
  return "pending";
}

/** readyText is "2/2 ready". */
export function readyText(a: Application): string {
  return `${a.status.ready_replicas}/${a.status.replicas} ready`;
}

/** selects tells whether a pod carries every label of a matchLabels selector. */
export function selects(sel: Record<string, string> | undefined, pod: KubeObject): boolean {
  if (!sel || Object.keys(sel).length === 0) return false;
  const labels = (pod.metadata as { labels?: Record<string, string> }).labels ?? {};
  return Object.entries(sel).every(([k, v]) => labels[k] === v);
}
