import { useEffect } from "react";
import { Link, useLocation, useNavigate, useSearchParams } from "react-router";
import { useQueryClient } from "@tanstack/react-query";
import { SignInForm } from "../../auth/SignInForm";
import { meKey } from "../../auth/session";

/** safeReturn accepts only a path on this site. */
export function safeReturn(v: string | null): string {
  return v && v.startsWith("/") && !v.startsWith("//") && !v.startsWith("/\\") ? v : "/";
}

/**
 * LoginPage signs in; /login/mfa is where a federated sign-in sends a
 * user who must answer a second factor (the mfa_token in the fragment).
 */
export function LoginPage() {
  const [q] = useSearchParams();
  const loc = useLocation();
  const nav = useNavigate();
  const qc = useQueryClient();
  const returnTo = safeReturn(q.get("return_to"));
  const mfa = new URLSearchParams(loc.hash.replace(/^#/, "")).get("mfa_token") ?? undefined;
  useEffect(() => {
    document.title = "Sign in · Hexabase AI";
  }, []);
  return (
    <main id="main" className="auth-page">
      <div className="auth-card">
        <h1>Sign in to Hexabase AI</h1>
        <SignInForm
          returnTo={returnTo}
          initialMFAToken={mfa}
          onSignedIn={async () => {
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
