import { problemOf } from "../api/problem";

// ProblemAlert is the one way the console shows a failed call: the
// server's own title and detail (a 403 says what the server refused and
// why), the field errors not shown under a field, and the request id to
// quote to an operator.
export function ProblemAlert({ error, fieldsShown = [] }: { error: unknown; fieldsShown?: string[] }) {
  if (!error) return null;
  const p = problemOf(error);
  const rest = p.errors.filter((e) => !fieldsShown.some((f) => e.field === f || e.field.startsWith(f + "[") || e.field.startsWith(f + ".")));
  const hint =
    p.status === 403
      ? "You do not have permission for this. Ask an owner or admin of the organization to give you a role that allows it."
      : p.status === 412
        ? "Someone else changed this meanwhile. Reload to see their change, then try again."
        : p.status === 429
          ? "Too many requests right now. Wait a moment and try again."
          : p.status >= 500
            ? "The server failed. Try again; if it keeps failing, give the request id to your operator."
            : "";
  return (
    <div role="alert" className="alert alert-error" data-status={p.status}>
      <strong>{p.title}</strong>
      {p.detail && <p className="problem-detail">{p.detail}</p>}
      {rest.length > 0 && (
        <ul>
          {rest.map((e) => (
            <li key={e.field + e.message}>
              <code>{e.field}</code> {e.message}
            </li>
          ))}
        </ul>
      )}
      {hint && <p className="hint">{hint}</p>}
      {p.requestId && <p className="muted small">Request id: {p.requestId}</p>}
    </div>
  );
}
