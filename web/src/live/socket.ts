// One WebSocket per tab (GET /api/v1/ws, docs/websocket.md) carrying every
// live subscription of the page: organization events and watches of a
// project's objects (made by the server with the user's own workspace
// identity). It reconnects with backoff and resumes each subscription
// where it was (the last event seq, the last resourceVersion), so a
// reconnect neither repeats nor loses anything.
import type { Problem } from "../api/problem";
import { sessionFetch } from "../api/client";

export type OrgSpec = { topic: "org"; org: string };
export type WatchKind = "deployments" | "pods" | "jobs" | "cronjobs" | "events";
export type WatchSpec = { topic: "watch"; org: string; workspace: string; project: string; kind: WatchKind };
export type Spec = OrgSpec | WatchSpec;

export interface OrgEvent {
  id: string;
  type: string;
  org_id?: string;
  resource_id?: string;
  time: string;
  data?: Record<string, unknown>;
}

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: { name: string; namespace?: string; uid: string; resourceVersion?: string; creationTimestamp?: string; [k: string]: unknown };
  spec?: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  status?: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  [k: string]: unknown;
}

export type Message =
  | { type: "subscribed"; id: string; seq?: string }
  | { type: "event"; id: string; seq: string; event: OrgEvent }
  | { type: "watch"; id: string; event: { type: "ADDED" | "MODIFIED" | "DELETED"; object: KubeObject } }
  | { type: "synced"; id: string; resource_version: string }
  | { type: "error"; id: string; problem: Problem }
  | { type: "ended"; id: string; reason: string }
  | { type: "pong" };

export interface Handlers {
  /** an org event, or a watch event; for watches, `reset` is called first on a fresh list */
  onMessage(m: Message): void;
  /** the list of a (re)started watch begins: drop what was held */
  onReset?(): void;
  onStatus?(s: Status): void;
}

export type Status = "connecting" | "live" | "offline" | "ended" | "refused";

interface Sub {
  id: string;
  spec: Spec;
  h: Handlers;
  after?: string; // org: last seq
  rv?: string; // watch: last resourceVersion
  status: Status;
}

const MAX_BACKOFF = 15_000;

export class LiveSocket {
  private ws: WebSocket | null = null;
  private subs = new Map<string, Sub>();
  private n = 0;
  private backoff = 500;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private closedForGood = false;
  private user?: string; // the signed-in user's id the subscriptions were made for
  private readonly url: string;

  constructor(url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/api/v1/ws") {
    this.url = url;
  }

  /** subscribe starts a subscription; the returned function ends it. */
  subscribe(spec: Spec, h: Handlers): () => void {
    const id = `s${++this.n}`;
    const sub: Sub = { id, spec, h, status: "connecting" };
    this.subs.set(id, sub);
    this.ensure();
    if (this.ws?.readyState === WebSocket.OPEN) this.send(this.subscribeMsg(sub));
    return () => {
      this.subs.delete(id);
      if (this.ws?.readyState === WebSocket.OPEN) this.send({ type: "unsubscribe", id });
      if (this.subs.size === 0) this.idleClose();
    };
  }

  private subscribeMsg(s: Sub) {
    if (s.spec.topic === "org") return { type: "subscribe", id: s.id, ...s.spec, ...(s.after ? { after: s.after } : {}) };
    return { type: "subscribe", id: s.id, ...s.spec, ...(s.rv ? { resource_version: s.rv } : {}) };
  }

  private setStatus(s: Sub, st: Status) {
    s.status = st;
    s.h.onStatus?.(st);
  }

  private ensure() {
    if (this.ws || this.closedForGood) return;
    const ws = new WebSocket(this.url);
    this.ws = ws;
    ws.onopen = () => {
      this.backoff = 500;
      if (!this.user) {
        void sessionFetch(new Request("/auth/me"))
          .then((r) => (r.ok ? r.json() : null))
          .then((me) => {
            if (me?.id && !this.user) this.user = me.id;
          })
          .catch(() => undefined);
      }
      for (const s of this.subs.values()) {
        if (s.spec.topic === "watch" && !s.rv) s.h.onReset?.();
        this.send(this.subscribeMsg(s));
      }
    };
    ws.onmessage = (ev) => {
      let m: Message;
      try {
        m = JSON.parse(String(ev.data));
      } catch {
        return;
      }
      if (m.type === "pong") return;
      const s = this.subs.get(m.id);
      if (!s) return; // a message about no subscription of ours (or one we just ended)
      switch (m.type) {
        case "subscribed":
          if (s.spec.topic === "org" && m.seq && !s.after) s.after = m.seq;
          this.setStatus(s, "live");
          return;
        case "event":
          s.after = m.seq;
          break;
        case "watch":
          if (m.event.object?.metadata?.resourceVersion) s.rv = m.event.object.metadata.resourceVersion;
          break;
        case "synced":
          s.rv = m.resource_version;
          break;
        case "error":
          if (m.problem?.type?.endsWith("resync-required")) {
            // The resume point is gone: start over from the current state.
            s.rv = undefined;
            s.after = undefined;
            s.h.onReset?.();
            this.send(this.subscribeMsg(s));
            return;
          }
          if (m.problem?.status === 429) {
            // Too many subscribes or resumes at this moment: the same
            // subscription (and resume point) again, a moment later.
            setTimeout(() => {
              if (this.subs.get(s.id) === s && this.ws?.readyState === WebSocket.OPEN) this.send(this.subscribeMsg(s));
            }, 1_000 + Math.random() * 1_000);
            return;
          }
          this.subs.delete(s.id);
          this.setStatus(s, "refused");
          break;
        case "ended":
          this.subs.delete(s.id);
          this.setStatus(s, "ended");
          break;
      }
      s.h.onMessage(m);
    };
    ws.onclose = (ev) => {
      this.ws = null;
      for (const s of this.subs.values()) this.setStatus(s, "offline");
      // 4429: too many connections (other tabs): wait longer before trying again.
      if (this.subs.size > 0) this.schedule(ev.code === 4429 ? MAX_BACKOFF : this.backoff);
      this.backoff = Math.min(this.backoff * 2, MAX_BACKOFF);
    };
  }

  private schedule(ms: number) {
    if (this.timer) return;
    this.timer = setTimeout(async () => {
      this.timer = null;
      if (this.subs.size === 0) return;
      // The handshake fails without a valid access cookie (4401: the
      // session ended; or the access token expired meanwhile): a call
      // through the api client refreshes it, or asks the user to sign in
      // again and waits for that.
      const me = await sessionFetch(new Request("/auth/me"))
        .then((r) => (r.ok ? r.json() : null))
        .catch(() => null);
      // Another user signed in meanwhile (in another tab): this page was
      // built for the previous one; start over rather than resubscribe
      // its subscriptions as someone else.
      if (me?.id && this.user && me.id !== this.user) {
        location.reload();
        return;
      }
      if (me?.id) this.user = me.id;
      if (this.subs.size > 0) this.ensure();
    }, ms);
  }

  private idleClose() {
    // Keep the socket a moment: pages unsubscribe and resubscribe as the user navigates.
    setTimeout(() => {
      if (this.subs.size === 0 && this.ws) {
        this.ws.close(1000, "no subscriptions");
        this.ws = null;
      }
    }, 10_000);
  }

  private send(m: unknown) {
    this.ws?.send(JSON.stringify(m));
  }

  /** close ends every subscription for good (sign-out). */
  close() {
    this.closedForGood = true;
    this.subs.clear();
    this.ws?.close(1000, "signed out");
    this.ws = null;
  }
}

let shared: LiveSocket | null = null;

/** live is the tab's one socket. */
export function live(): LiveSocket {
  if (!shared) shared = new LiveSocket();
  return shared;
}

/** resetLive drops the socket (sign-out); the next live() opens a new one. */
export function resetLive() {
  shared?.close();
  shared = null;
}
