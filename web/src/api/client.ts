// The one API client of the console: typed by the OpenAPI document
// (schema.d.ts is generated from api/openapi.json by `npm run types`),
// riding on the browser's cookie session. Tokens never reach the page:
// they live in HttpOnly cookies; state-changing calls echo the readable
// CSRF cookie in X-CSRF-Token (the server's double-submit check). An
// answer 401 refreshes the session once; if that fails, the session
// has ended: the call waits while the page asks the user to sign in
// again (SessionExpiredDialog), then goes on, so nothing typed is lost.
import createClient from "openapi-fetch";
import type { paths, components } from "./schema";
import { Problem, fromResponse } from "./problem";

export type Schemas = components["schemas"];

const CSRF_COOKIE = "hks_csrf";
const CSRF_HEADER = "X-CSRF-Token";
const SAFE = new Set(["GET", "HEAD", "OPTIONS"]);
// Calls whose 401 means "wrong credentials", not "session ended".
const SIGN_IN = ["/auth/login", "/auth/login/mfa", "/auth/setup", "/auth/refresh", "/auth/me"];

export function csrfToken(): string {
  for (const part of document.cookie.split(";")) {
    const [k, ...v] = part.trim().split("=");
    if (k === CSRF_COOKIE) return decodeURIComponent(v.join("="));
  }
  return "";
}

type Waiter = () => void;
let refreshing: Promise<boolean> | null = null;
let expiredWaiters: Waiter[] = [];
const expiryListeners = new Set<(expired: boolean) => void>();

/** onSessionExpired registers a listener told when the session ends and when it is back. */
export function onSessionExpired(fn: (expired: boolean) => void): () => void {
  expiryListeners.add(fn);
  return () => expiryListeners.delete(fn);
}

/** sessionRestored resumes the calls that waited for a new sign-in. */
export function sessionRestored() {
  const w = expiredWaiters;
  expiredWaiters = [];
  expiryListeners.forEach((fn) => fn(false));
  w.forEach((fn) => fn());
}

function refreshOnce(): Promise<boolean> {
  if (!refreshing) {
    refreshing = fetch("/auth/refresh", {
      method: "POST",
      credentials: "same-origin",
      headers: { [CSRF_HEADER]: csrfToken() },
    })
      .then((r) => r.ok)
      .catch(() => false)
      .finally(() => {
        setTimeout(() => (refreshing = null), 0);
      });
  }
  return refreshing;
}

/**
 * sessionEnded tells the page the session has ended and resolves once
 * the user has signed in again (for callers outside sessionFetch, such
 * as the check of who is signed in).
 */
export function sessionEnded(): Promise<void> {
  return waitForSignIn();
}

function waitForSignIn(): Promise<void> {
  return new Promise((resolve) => {
    expiredWaiters.push(resolve);
    expiryListeners.forEach((fn) => fn(true));
  });
}

/** sessionFetch is fetch with the session's rules (see the file's comment). */
export async function sessionFetch(input: Request): Promise<Response> {
  const path = new URL(input.url, location.origin).pathname;
  const attempt = () => {
    const req = input.clone();
    const headers = new Headers(req.headers);
    if (!SAFE.has(req.method)) headers.set(CSRF_HEADER, csrfToken());
    return fetch(new Request(req, { headers, credentials: "same-origin" }));
  };
  let res = await attempt();
  if (res.status !== 401 || SIGN_IN.includes(path)) return res;
  if (await refreshOnce()) {
    res = await attempt();
    if (res.status !== 401) return res;
  }
  await waitForSignIn();
  return attempt();
}

export const api = createClient<paths>({ baseUrl: "", fetch: sessionFetch });

/**
 * call awaits an api call and returns its data, or throws its Problem.
 * Use it in every query and mutation: `call(api.GET("/auth/me"))`.
 */
export async function call<T>(p: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
  const { data, error, response } = await p;
  if (error !== undefined || !response.ok) {
    if (error && typeof error === "object") {
      throw new Problem({ ...(error as object), status: response.status }, response.headers.get("X-Request-Id") ?? "");
    }
    throw await fromResponse(response);
  }
  return data as T;
}

export { Problem };
