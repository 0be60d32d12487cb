import { useState, type FormEvent } from "react";
import { useQuery } from "@tanstack/react-query";
import { api, call } from "../api/client";
import { TextField } from "../ui/Field";
import { ProblemAlert } from "../ui/ProblemAlert";

/**
 * SignInForm signs in with email and password, then the second factor
 * when the account has one, as a browser session (HttpOnly cookies; the
 * page never sees a token). Federated providers are offered as links
 * that start the provider's flow and come back to returnTo.
 */
export function SignInForm({
  onSignedIn,
  returnTo = "/",
  initialMFAToken,
  initialEmail,
}: {
  onSignedIn: () => void | Promise<void>;
  returnTo?: string;
  initialMFAToken?: string;
  initialEmail?: string;
}) {
  const [email, setEmail] = useState(initialEmail ?? "");
  const [password, setPassword] = useState("");
  const [code, setCode] = useState("");
  const [mfaToken, setMFAToken] = useState(initialMFAToken ?? "");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const providers = useQuery({
    queryKey: ["auth-providers"],
    queryFn: () => call(api.GET("/auth/providers")),
    staleTime: 300_000,
  });

  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      if (!mfaToken) {
        const res = await call(api.POST("/auth/login", { body: { email, password, session: "cookie" } }));
        if (res.mfa_required && res.mfa_token) {
          setMFAToken(res.mfa_token);
          return;
        }
      } else {
        await call(api.POST("/auth/login/mfa", { body: { mfa_token: mfaToken, code: code.trim(), session: "cookie" } }));
      }
      await onSignedIn();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }

  if (mfaToken) {
    return (
      <form onSubmit={submit} className="form" aria-label="Second factor">
        <p>Enter the 6-digit code from your authenticator app, or one of your backup codes.</p>
        <TextField label="Code" name="code" error={error} value={code} onChange={(e) => setCode(e.target.value)} autoComplete="one-time-code" inputMode="text" required autoFocus />
        <ProblemAlert error={error} fieldsShown={["code"]} />
        <div className="row">
          <button className="btn btn-primary" type="submit" disabled={busy}>
            {busy ? "Checking…" : "Verify"}
          </button>
          <button className="btn" type="button" onClick={() => { setMFAToken(""); setCode(""); setError(null); }}>
            Start over
          </button>
        </div>
      </form>
    );
  }

  const list = providers.data?.items ?? [];
  return (
    <div className="signin">
      <form onSubmit={submit} className="form" aria-label="Sign in">
        <TextField label="Email" name="email" type="email" error={error} value={email} onChange={(e) => setEmail(e.target.value)} autoComplete="username" required autoFocus={!initialEmail} />
        <TextField label="Password" name="password" type="password" error={error} value={password} onChange={(e) => setPassword(e.target.value)} autoComplete="current-password" required autoFocus={!!initialEmail} />
        <ProblemAlert error={error} fieldsShown={["email", "password"]} />
        <button className="btn btn-primary" type="submit" disabled={busy}>
          {busy ? "Signing in…" : "Sign in"}
        </button>
      </form>
      {list.length > 0 && (
        <div className="providers">
          <p className="muted">or</p>
          <ul className="plain">
            {list.map((p) => (
              <li key={p.id}>
                <a className="btn btn-block" href={`/auth/login/${encodeURIComponent(p.id)}?return_to=${encodeURIComponent(returnTo)}`}>
                  Sign in with {p.name}
                </a>
              </li>
            ))}
          </ul>
        </div>
      )}
    </div>
  );
}
