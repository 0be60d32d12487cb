import { useEffect, useRef, useState, type ReactNode } from "react";
import { Navigate, useLocation } from "react-router";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { api, call, csrfToken, onSessionExpired, sessionEnded, sessionRestored, type Schemas } from "../api/client";
import { Loading } from "../ui/bits";
import { ProblemAlert } from "../ui/ProblemAlert";
import { SignInForm } from "./SignInForm";
import { resetLive } from "../live/socket";

export const meKey = ["me"] as const;

type Me = Schemas["Me"];

/**
 * useMe is the signed-in user; null when nobody is signed in. Once
 * someone was signed in, an ended session does not turn into "nobody"
 * (which would send the page to /login and drop what was typed): the
 * check waits, like every other call, for the sign-in dialog.
 */
export function useMe() {
  const qc = useQueryClient();
  return useQuery({
    queryKey: meKey,
    queryFn: async (): Promise<Me | null> => {
      // No CSRF cookie: no session was started in this browser (it lives
      // as long as the refresh cookie), so nobody is signed in; asking
      // would only log a 401 and a 400 in the browser's console.
      if (!csrfToken() && !qc.getQueryData(meKey)) return null;
      const { data, response } = await api.GET("/auth/me");
      if (response.status === 401) {
        // An expired access cookie: try the refresh cookie once.
        const r = await fetch("/auth/refresh", { method: "POST", credentials: "same-origin", headers: { "X-CSRF-Token": csrfToken() } });
        if (!r.ok) {
          if (!qc.getQueryData(meKey)) return null;
          await sessionEnded();
        }
        return call(api.GET("/auth/me"));
      }
      if (!response.ok) return call(api.GET("/auth/me"));
      return data ?? null;
    },
    staleTime: 60_000,
    retry: false,
  });
}

/** RequireAuth shows its children to a signed-in user, else sends them to /login and back. */
export function RequireAuth({ children }: { children: ReactNode }) {
  const me = useMe();
  const loc = useLocation();
  if (me.isPending) return <Loading what="Checking your session" />;
  if (me.error) return <ProblemAlert error={me.error} />;
  if (!me.data) return <Navigate to={`/login?return_to=${encodeURIComponent(loc.pathname + loc.search)}`} replace />;
  return <>{children}</>;
}

/** signOut ends the session on the server and forgets everything cached. */
export async function signOut(qc: ReturnType<typeof useQueryClient>) {
  await api.POST("/auth/logout").catch(() => undefined);
  resetLive();
  qc.setQueryData(meKey, null);
  qc.clear();
}

/**
 * SessionExpiredDialog appears over the page (a modal <dialog>: the page
 * underneath is inert but stays as it was) when the session ends while
 * the user works; the api client's calls wait meanwhile. Signing in
 * again here resumes them, so a submit that met the ended session goes
 * through and nothing typed is lost. Signing in as someone else reloads
 * the console: one person's page must not carry on as another's.
 */
export function SessionExpiredDialog() {
  const [open, setOpen] = useState(false);
  const ref = useRef<HTMLDialogElement>(null);
  const qc = useQueryClient();
  useEffect(() => onSessionExpired(setOpen), []);
  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (open && !d.open) {
      d.showModal();
      // The email is filled in: the password is what to type.
      if (qc.getQueryData<Me | null>(meKey)?.email) d.querySelector<HTMLInputElement>("input[type=password]")?.focus();
    }
    if (!open && d.open) d.close();
  }, [open, qc]);
  const before = qc.getQueryData<Me | null>(meKey);
  // Signed in again in another tab meanwhile? Then go on here too (the
  // same user), or start over (someone else: this page was theirs).
  useEffect(() => {
    if (!open) return;
    const t = setInterval(async () => {
      const r = await fetch("/auth/me", { credentials: "same-origin" }).catch(() => null);
      if (!r?.ok) return;
      const now = (await r.json().catch(() => null)) as Me | null;
      if (!now) return;
      if (before && now.id !== before.id) {
        location.assign("/");
        return;
      }
      qc.setQueryData(meKey, now);
      sessionRestored();
    }, 2_000);
    return () => clearInterval(t);
  }, [open, before, qc]);
  return (
    <dialog
      ref={ref}
      className="dialog"
      aria-labelledby="expired-title"
      onCancel={(e) => e.preventDefault() /* Escape would leave the calls waiting */}
    >
      {open && (
        <>
          <h2 id="expired-title">Your session has ended</h2>
          <p>Sign in again to go on. What you were doing stays as it was.</p>
          <SignInForm
            initialEmail={before?.email}
            onSignedIn={async () => {
              const now = await call(api.GET("/auth/me")).catch(() => null);
              if (before && now && now.id !== before.id) {
                location.assign("/");
                return;
              }
              qc.setQueryData(meKey, now);
              sessionRestored();
            }}
          />
        </>
      )}
    </dialog>
  );
}
