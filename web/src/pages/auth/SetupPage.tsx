import { useEffect, useState, type FormEvent } from "react";
import { Link, useNavigate } from "react-router";
import { useQueryClient } from "@tanstack/react-query";
import { api, call } from "../../api/client";
import { TextField } from "../../ui/Field";
import { ProblemAlert } from "../../ui/ProblemAlert";
import { meKey } from "../../auth/session";

/**
 * SetupPage creates the first administrator with the one-time setup
 * token that `hks server` printed at its first start, then signs in.
 */
export function SetupPage() {
  const [token, setToken] = useState("");
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const nav = useNavigate();
  const qc = useQueryClient();
  useEffect(() => {
    document.title = "First-run setup · Hexabase AI";
  }, []);
  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await call(api.POST("/auth/setup", { body: { token: token.trim(), email, password } }));
      await call(api.POST("/auth/login", { body: { email, password, session: "cookie" } }));
      await qc.invalidateQueries({ queryKey: meKey });
      nav("/orgs/new", { replace: true });
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }
  return (
    <main id="main" className="auth-page">
      <div className="auth-card">
        <h1>Set up Hexabase AI</h1>
        <p>
          Create the platform's first administrator. The setup token is in the output of <code>hks server</code> at its first start
          (<code>make run</code> shows it). Lost it? <code>hks admin setup-token --data-dir &lt;data dir&gt;</code> prints a new one.
        </p>
        <form onSubmit={submit} className="form" aria-label="First-run setup">
          <TextField label="Setup token" name="token" error={error} value={token} onChange={(e) => setToken(e.target.value)} autoComplete="off" required />
          <TextField label="Email" name="email" type="email" error={error} value={email} onChange={(e) => setEmail(e.target.value)} autoComplete="username" required />
          <TextField label="Password" name="password" type="password" error={error} value={password} onChange={(e) => setPassword(e.target.value)} autoComplete="new-password" minLength={8} required hint="8 to 256 characters." />
          <ProblemAlert error={error} fieldsShown={["token", "email", "password"]} />
          <button className="btn btn-primary" type="submit" disabled={busy}>
            {busy ? "Creating…" : "Create administrator"}
          </button>
        </form>
        <p className="muted small">
          Already set up? <Link to="/login">Sign in</Link>.
        </p>
      </div>
    </main>
  );
}
