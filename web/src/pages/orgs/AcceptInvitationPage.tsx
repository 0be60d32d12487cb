import { useEffect, useState } from "react";
import { Link, useLocation, useNavigate } from "react-router";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { api, call } from "../../api/client";
import { SignInForm } from "../../auth/SignInForm";
import { meKey, signOut, useMe } from "../../auth/session";
import { Loading } from "../../ui/bits";
import { ProblemAlert } from "../../ui/ProblemAlert";
import { paths } from "../../paths";

/**
 * acceptLink is the link an invitation is accepted from. The token goes
 * in the fragment (#token=…), which browsers never send to a server: it
 * stays out of access logs, proxies and Referer headers.
 */
export function acceptLink(token: string): string {
  return `${location.origin}/invitations/accept#token=${encodeURIComponent(token)}`;
}

/**
 * AcceptInvitationPage accepts an invitation for the signed-in user (the
 * invitation's email must be theirs). Someone not signed in signs in
 * right here, so the token in the fragment is kept, then accepts.
 */
export function AcceptInvitationPage() {
  const loc = useLocation();
  const nav = useNavigate();
  const qc = useQueryClient();
  const me = useMe();
  const [token] = useState(() => new URLSearchParams(loc.hash.replace(/^#/, "")).get("token") ?? new URLSearchParams(loc.search).get("token") ?? "");
  useEffect(() => {
    document.title = "Accept an invitation · Hexabase AI";
  }, []);
  const accept = useMutation({
    mutationFn: () => call(api.POST("/api/v1/invitations/accept", { body: { token } })),
    onSuccess: (o) => {
      qc.invalidateQueries({ queryKey: ["orgs"] });
      nav(paths.org(o.slug), { replace: true });
    },
  });
  let body;
  if (!token) {
    body = (
      <p role="alert" className="alert alert-error">
        This link has no invitation token. Open the whole link you were sent, or ask for a new invitation.
      </p>
    );
  } else if (me.isPending) {
    body = <Loading what="Checking your session" />;
  } else if (!me.data) {
    body = (
      <>
        <p>Sign in with the email address the invitation was sent to, then accept it.</p>
        <p className="hint">
          No account on this platform yet? There is no self sign-up: ask whoever invited you to have an operator create one for that
          email (<code>hks admin create-user</code>), or sign in with a federated provider below if there is one.
        </p>
        <SignInForm returnTo={`/invitations/accept#token=${encodeURIComponent(token)}`} onSignedIn={() => qc.invalidateQueries({ queryKey: meKey })} />
      </>
    );
  } else {
    body = (
      <>
        <p>
          You are signed in as <strong>{me.data.email}</strong>. Accepting makes you a member of the organization that invited you.
        </p>
        <ProblemAlert error={accept.error} fieldsShown={[]} />
        <div className="row">
          <button type="button" className="btn btn-primary" disabled={accept.isPending} onClick={() => accept.mutate()}>
            {accept.isPending ? "Accepting…" : "Accept invitation"}
          </button>
          <button type="button" className="btn" onClick={() => signOut(qc).then(() => qc.invalidateQueries({ queryKey: meKey }))}>
            Sign in as someone else
          </button>
        </div>
        <p className="muted small">
          Not for you? <Link to="/">Go to your organizations</Link>.
        </p>
      </>
    );
  }
  return (
    <main id="main" className="auth-page">
      <div className="auth-card">
        <h1>Accept an invitation</h1>
        {body}
      </div>
    </main>
  );
}
