import { useEffect, useState, type ReactNode } from "react";
import { Navigate, useLocation } from "react-router";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { api, call, onSessionExpired, sessionRestored } from "../api/client";
import { Loading } from "../ui/bits";
import { ProblemAlert } from "../ui/ProblemAlert";
import { SignInForm } from "./SignInForm";
import { resetLive } from "../live/socket";

export const meKey = ["me"] as const;

/** useMe is the signed-in user; null when nobody is signed in. */
export function useMe() {
  return useQuery({
    queryKey: meKey,
    queryFn: async () => {
      const { data, response } = await api.GET("/auth/me");
      if (response.status === 401) {
        // An expired access cookie: try the refresh cookie once.
        const r = await fetch("/auth/refresh", { method: "POST", credentials: "same-origin", headers: { "X-CSRF-Token": csrf() } });
        if (!r.ok) return null;
        return call(api.GET("/auth/me"));
      }
      if (!response.ok) return call(api.GET("/auth/me"));
      return data ?? null;
    },
    staleTime: 60_000,
    retry: false,
  });
}

function csrf() {
  const m = document.cookie.match(/(?:^|;\s*)hks_csrf=([^;]*)/);
  return m ? decodeURIComponent(m[1]) : "";
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
  qc.clear();
}

/**
 * SessionExpiredDialog appears over the page when the session ends while
 * the user works (the api client's calls wait meanwhile): signing in
 * again here resumes them, and the page underneath, with whatever the
 * user typed, stays as it was.
 */
export function SessionExpiredDialog() {
  const [open, setOpen] = useState(false);
  const qc = useQueryClient();
  useEffect(() => onSessionExpired(setOpen), []);
  if (!open) return null;
  return (
    <div className="overlay">
      <div role="dialog" aria-modal="true" aria-labelledby="expired-title" className="dialog dialog-open">
        <h2 id="expired-title">Your session has ended</h2>
        <p>Sign in again to go on. What you were doing stays as it was.</p>
        <SignInForm
          onSignedIn={() => {
            qc.invalidateQueries({ queryKey: meKey });
            sessionRestored();
          }}
        />
      </div>
    </div>
  );
}
