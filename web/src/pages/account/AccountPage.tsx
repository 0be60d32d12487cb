import { useState, type FormEvent } from "react";
import { useNavigate } from "react-router";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, call } from "../../api/client";
import { signOut, useMe } from "../../auth/session";
import { ConfirmButton, CopyButton, Empty, Loading, Page, Pager, time, useCursor, Scroll } from "../../ui/bits";
import { TextField } from "../../ui/Field";
import { ProblemAlert } from "../../ui/ProblemAlert";

/**
 * AccountPage is the signed-in user's own page: who they are, their
 * live sessions (end one, or all but this one), two-factor
 * authentication (enrol with the QR code, backup codes, disable) and
 * their recent security events.
 */
export function AccountPage() {
  const me = useMe();
  return (
    <Page title="Your account">
      {me.data && (
        <p>
          Signed in as <strong>{me.data.email}</strong>
          {me.data.platform_admin && " (platform administrator)"}.
        </p>
      )}
      <TwoFactor />
      <Sessions />
      <SecurityLog />
    </Page>
  );
}

const sessionsKey = ["account", "sessions"];

function Sessions() {
  const qc = useQueryClient();
  const nav = useNavigate();
  const sessions = useQuery({ queryKey: sessionsKey, queryFn: () => call(api.GET("/auth/sessions")) });
  const revoke = useMutation({
    mutationFn: (id: string) => call(api.DELETE("/auth/sessions/{session}", { params: { path: { session: id } } })),
    onSuccess: () => qc.invalidateQueries({ queryKey: sessionsKey }),
  });
  const revokeOthers = useMutation({
    mutationFn: () => call(api.POST("/auth/sessions/revoke-all", { body: { keep_current: true } })),
    onSuccess: () => qc.invalidateQueries({ queryKey: sessionsKey }),
  });
  const items = sessions.data?.items ?? [];
  const others = items.filter((s) => !s.current).length;
  return (
    <section aria-labelledby="sessions-title">
      <h2 id="sessions-title">Sessions</h2>
      <p className="muted">Where you are signed in. End a session you do not recognise; it is signed out at its next request.</p>
      {sessions.isPending && <Loading what="Loading sessions" />}
      <ProblemAlert error={sessions.error || revoke.error || revokeOthers.error} />
      {sessions.data && items.length === 0 && <Empty>No sessions.</Empty>}
      {items.length > 0 && (
        <Scroll label="Sessions">
          <table className="table">
            <caption className="sr-only">Your sessions</caption>
            <thead>
              <tr>
                <th scope="col">Client</th>
                <th scope="col">Address</th>
                <th scope="col">Signed in</th>
                <th scope="col">Last active</th>
                <th scope="col">Expires</th>
                <th scope="col">
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {items.map((s) => (
                <tr key={s.id}>
                  <td data-label="Client">
                    {s.user_agent || "unknown client"} {s.current && <span className="badge badge-active">this session</span>}
                  </td>
                  <td data-label="Address">{s.last_ip || "—"}</td>
                  <td data-label="Signed in">{time(s.created_at)}</td>
                  <td data-label="Last active">{time(s.last_seen_at ?? s.created_at)}</td>
                  <td data-label="Expires">{time(s.expires_at)}</td>
                  <td>
                    {s.current ? (
                      <button
                        type="button"
                        className="btn btn-small"
                        onClick={async () => {
                          await signOut(qc);
                          nav("/login");
                        }}
                      >
                        Sign out
                      </button>
                    ) : (
                      <button
                        type="button"
                        className="btn btn-small btn-danger"
                        disabled={revoke.isPending}
                        aria-label={`End session of ${s.user_agent || "unknown client"} from ${s.last_ip || "unknown address"}, signed in ${time(s.created_at)}`}
                        onClick={() => revoke.mutate(s.id)}
                      >
                        End session
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </Scroll>
      )}
      {others > 0 && (
        <ConfirmButton
          label="End all other sessions"
          question={`End your ${others} other session${others === 1 ? "" : "s"}? Every other browser and CLI signed in as you is signed out; this one stays.`}
          onConfirm={() => revokeOthers.mutate()}
        />
      )}
    </section>
  );
}

const mfaKey = ["account", "2fa"];

function TwoFactor() {
  const qc = useQueryClient();
  const status = useQuery({ queryKey: mfaKey, queryFn: () => call(api.GET("/auth/2fa")) });
  const [enrolment, setEnrolment] = useState<{ secret: string; n: number } | null>(null);
  const [codes, setCodes] = useState<string[] | null>(null);
  const enroll = useMutation({
    mutationFn: () => call(api.POST("/auth/2fa/enroll")),
    onSuccess: (e) => {
      setCodes(null);
      setEnrolment({ secret: e.secret, n: Date.now() });
    },
  });
  const done = (c: string[]) => {
    setEnrolment(null);
    setCodes(c);
    qc.invalidateQueries({ queryKey: mfaKey });
    qc.invalidateQueries({ queryKey: ["account", "security-logs"] });
  };
  const s = status.data;
  return (
    <section aria-labelledby="mfa-title">
      <h2 id="mfa-title">Two-factor authentication</h2>
      {status.isPending && <Loading what="Loading two-factor status" />}
      <ProblemAlert error={status.error || enroll.error} />
      {s && !enrolment && (
        <p>
          {s.enabled ? (
            <>
              <span className="badge badge-active">On</span> since {time(s.enabled_at)}; {s.backup_codes_left} backup code{s.backup_codes_left === 1 ? "" : "s"} left.
            </>
          ) : (
            <>
              <span className="badge badge-pending">Off</span> Sign-ins need only your password. Turn it on to ask for a code from an authenticator app too;
              some organizations require it.
            </>
          )}
        </p>
      )}
      {codes && <BackupCodes codes={codes} onDone={() => setCodes(null)} />}
      {s && !s.enabled && !enrolment && (
        <button type="button" className="btn btn-primary" disabled={enroll.isPending} onClick={() => enroll.mutate()}>
          {enroll.isPending ? "Starting…" : "Set up two-factor authentication"}
        </button>
      )}
      {enrolment && <Enrolment secret={enrolment.secret} n={enrolment.n} onVerified={done} onCancel={() => setEnrolment(null)} />}
      {s?.enabled && !codes && (
        <div className="cards">
          <CodeAction
            title="New backup codes"
            text="Replaces your backup codes: the old ones stop working. Enter a code from your authenticator app."
            button="Make new backup codes"
            run={(code) => call(api.POST("/auth/2fa/backup-codes", { body: { code } })).then((r) => done(r.backup_codes))}
          />
          <CodeAction
            title="Turn off two-factor authentication"
            text="Enter a code from your authenticator app or a backup code, or your password."
            button="Turn off"
            danger
            allowPassword
            run={(code, password) =>
              call(api.POST("/auth/2fa/disable", { body: password ? { password } : { code } })).then(() => {
                qc.invalidateQueries({ queryKey: mfaKey });
                qc.invalidateQueries({ queryKey: ["account", "security-logs"] });
              })
            }
          />
        </div>
      )}
    </section>
  );
}

function Enrolment({ secret, n, onVerified, onCancel }: { secret: string; n: number; onVerified: (codes: string[]) => void; onCancel: () => void }) {
  const [code, setCode] = useState("");
  const verify = useMutation({
    mutationFn: () => call(api.POST("/auth/2fa/verify", { body: { code: code.trim() } })),
    onSuccess: (r) => onVerified(r.backup_codes),
  });
  const grouped = secret.replace(/(.{4})/g, "$1 ").trim();
  return (
    <div className="card mfa-enrol">
      <h3>Scan the code with your authenticator app</h3>
      <div className="mfa-grid">
        <img src={`/auth/2fa/qr.png?n=${n}`} width={200} height={200} alt="QR code of your two-factor secret, for an authenticator app" className="qr" />
        <div>
          <p>Or enter this secret by hand (time-based, 6 digits, 30 seconds):</p>
          <p>
            <code className="secret" aria-label="Secret for manual entry">
              {grouped}
            </code>{" "}
            <CopyButton text={secret} label="Copy secret" />
          </p>
          <form
            className="form"
            aria-label="Confirm two-factor authentication"
            onSubmit={(e: FormEvent) => {
              e.preventDefault();
              verify.mutate();
            }}
          >
            <TextField label="Code from the app" name="code" error={verify.error} value={code} onChange={(e) => setCode(e.target.value)} autoComplete="one-time-code" inputMode="numeric" required />
            <ProblemAlert error={verify.error} fieldsShown={["code"]} />
            <div className="row">
              <button type="submit" className="btn btn-primary" disabled={verify.isPending}>
                {verify.isPending ? "Checking…" : "Turn on"}
              </button>
              <button type="button" className="btn" onClick={onCancel}>
                Cancel
              </button>
            </div>
          </form>
        </div>
      </div>
    </div>
  );
}

/** BackupCodes shows the ten single-use codes once, to copy or download. */
function BackupCodes({ codes, onDone }: { codes: string[]; onDone: () => void }) {
  const text = codes.join("\n") + "\n";
  const href = `data:text/plain;charset=utf-8,${encodeURIComponent(text)}`;
  return (
    <div className="card" role="region" aria-labelledby="codes-title">
      <h3 id="codes-title">Your backup codes</h3>
      <p>
        Each code signs you in once when you do not have your app. <strong>Keep them somewhere safe now: they are not shown again.</strong>
      </p>
      <ol className="codes" aria-label="Backup codes">
        {codes.map((c) => (
          <li key={c}>
            <code>{c}</code>
          </li>
        ))}
      </ol>
      <div className="row">
        <CopyButton text={text} label="Copy codes" />
        <a className="btn btn-small" href={href} download="hexabase-backup-codes.txt">
          Download as text
        </a>
        <button type="button" className="btn btn-small" onClick={onDone}>
          I have saved them
        </button>
      </div>
    </div>
  );
}

function CodeAction({
  title,
  text,
  button,
  danger,
  allowPassword,
  run,
}: {
  title: string;
  text: string;
  button: string;
  danger?: boolean;
  allowPassword?: boolean;
  run: (code: string, password: string) => Promise<unknown>;
}) {
  const [code, setCode] = useState("");
  const [password, setPassword] = useState("");
  const m = useMutation({
    mutationFn: () => run(code.trim(), password),
    onSuccess: () => {
      setCode("");
      setPassword("");
    },
  });
  return (
    <form
      className="card form"
      aria-label={title}
      onSubmit={(e) => {
        e.preventDefault();
        m.mutate();
      }}
    >
      <h3>{title}</h3>
      <p className="muted small">{text}</p>
      <TextField label="Code" name="code" error={m.error} value={code} onChange={(e) => setCode(e.target.value)} autoComplete="one-time-code" required={!allowPassword || !password} />
      {allowPassword && (
        <TextField label="Or password" name="password" type="password" error={m.error} value={password} onChange={(e) => setPassword(e.target.value)} autoComplete="current-password" />
      )}
      <ProblemAlert error={m.error} fieldsShown={["code", "password"]} />
      <button type="submit" className={danger ? "btn btn-danger" : "btn"} disabled={m.isPending}>
        {button}
      </button>
    </form>
  );
}

function SecurityLog() {
  const c = useCursor();
  const logs = useQuery({
    queryKey: ["account", "security-logs", c.cursor ?? ""],
    queryFn: () => call(api.GET("/auth/security-logs", { params: { query: { cursor: c.cursor, limit: 20 } } })),
  });
  const items = logs.data?.items ?? [];
  return (
    <section aria-labelledby="seclog-title">
      <h2 id="seclog-title">Recent security events</h2>
      {logs.isPending && <Loading what="Loading security events" />}
      <ProblemAlert error={logs.error} />
      {logs.data && items.length === 0 && <Empty>No security events yet.</Empty>}
      {items.length > 0 && (
        <Scroll label="Security events">
          <table className="table">
            <caption className="sr-only">Your security events, newest first</caption>
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">Event</th>
                <th scope="col">Result</th>
                <th scope="col">Address</th>
                <th scope="col">Client</th>
              </tr>
            </thead>
            <tbody>
              {items.map((r) => (
                <tr key={r.id}>
                  <td data-label="When">{time(r.time)}</td>
                  <td data-label="Event">
                    <code>{r.action}</code>
                    {r.detail && <div className="muted small">{r.detail}</div>}
                  </td>
                  <td data-label="Result">{r.result}</td>
                  <td data-label="Address">{r.source_ip || "—"}</td>
                  <td data-label="Client" className="small">
                    {r.user_agent || "—"}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </Scroll>
      )}
      <Pager hasPrev={c.hasPrev} next={logs.data?.next_cursor} onPrev={c.prev} onNext={c.next} />
    </section>
  );
}
