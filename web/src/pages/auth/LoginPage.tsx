import { useEffect, useState } from "react";
import { Link, Navigate, useLocation, useNavigate, useSearchParams } from "react-router";
import { useQueryClient } from "@tanstack/react-query";
import { SignInForm } from "../../auth/SignInForm";
import { meKey, useMe } from "../../auth/session";
import { Loading } from "../../ui/bits";

/** safeReturn accepts only a path on this site. */
export function safeReturn(v: string | null): string {
  return v && v.startsWith("/") && !v.startsWith("//") && !v.startsWith("/\\") ? v : "/";
}

/**
 * LoginPage signs in; /login/mfa is where a federated sign-in sends a
 * user who must answer a second factor (the mfa_token in the fragment,
 * which never reaches a server log; the page takes it out of the address
 * bar at once). A signed-in visitor goes straight on to return_to.
 */
export function LoginPage() {
  const [q] = useSearchParams();
  const loc = useLocation();
  const nav = useNavigate();
  const qc = useQueryClient();
  const me = useMe();
  const returnTo = safeReturn(q.get("return_to"));
  const [mfa] = useState(() => new URLSearchParams(loc.hash.replace(/^#/, "")).get("mfa_token") ?? undefined);
  const [done, setDone] = useState(false);
  useEffect(() => {
    document.title = "Sign in · Hexabase AI";
    if (location.hash) history.replaceState(history.state, "", location.pathname + location.search);
  }, []);
  if (me.isPending && !mfa) return <Loading what="Checking your session" />;
  if (me.data && !done && !mfa) return <Navigate to={returnTo} replace />;
  return (
    <main id="main" className="auth-page">
      <div className="auth-card">
        <h1>{mfa ? "Second factor" : "Sign in to Hexabase AI"}</h1>
        <SignInForm
          returnTo={returnTo}
          initialMFAToken={mfa}
          onSignedIn={async () => {
            setDone(true);
            await qc.invalidateQueries({ queryKey: meKey });
            nav(returnTo, { replace: true });
          }}
        />
        <p className="muted small">
          First time on a new server? <Link to="/setup">Create the first administrator</Link> with the setup token hks printed.
        </p>
      </div>
    </main>
  );
}
