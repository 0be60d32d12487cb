import { useState, type FormEvent } from "react";
import { useParams, useSearchParams } from "react-router";
import { useQuery } from "@tanstack/react-query";
import { api, call } from "../../api/client";
import { Empty, Loading, Page, Pager, StatusBadge, time, useCursor, Scroll } from "../../ui/bits";
import { SelectField, TextField } from "../../ui/Field";
import { ProblemAlert } from "../../ui/ProblemAlert";

const FILTERS = ["actor", "action", "result", "target", "since", "until"] as const;
type Filter = (typeof FILTERS)[number];

/** toLocalInput turns an RFC 3339 time into a datetime-local value (browser time zone). */
function toLocalInput(iso: string): string {
  const d = new Date(iso);
  if (isNaN(d.getTime())) return "";
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

/**
 * AuditPage is the organization's audit log, newest first, with the
 * API's filters (kept in the address, so a filtered view can be linked)
 * and its cursor pages. Owners and admins only; the server says so to
 * anyone else.
 */
export function AuditPage() {
  const { org = "" } = useParams();
  const [q, setQ] = useSearchParams();
  const c = useCursor();
  const applied = Object.fromEntries(FILTERS.map((f) => [f, q.get(f) ?? ""])) as Record<Filter, string>;
  const [draft, setDraft] = useState({ ...applied, since: applied.since && toLocalInput(applied.since), until: applied.until && toLocalInput(applied.until) });
  const query = Object.fromEntries(Object.entries(applied).filter(([, v]) => v)) as Partial<Record<Filter, string>>;
  const log = useQuery({
    queryKey: ["org", org, "audit", query, c.cursor ?? ""],
    queryFn: () => call(api.GET("/api/v1/organizations/{org}/audit", { params: { path: { org }, query: { ...query, cursor: c.cursor, limit: 50 } } })),
  });
  function apply(e: FormEvent) {
    e.preventDefault();
    const next = new URLSearchParams();
    for (const f of FILTERS) {
      let v = draft[f].trim();
      if (v && (f === "since" || f === "until")) {
        const d = new Date(v);
        v = isNaN(d.getTime()) ? v : d.toISOString();
      }
      if (v) next.set(f, v);
    }
    c.reset();
    setQ(next);
  }
  function clear() {
    setDraft({ actor: "", action: "", result: "", target: "", since: "", until: "" });
    c.reset();
    setQ(new URLSearchParams());
  }
  const set = (f: Filter) => (e: { target: { value: string } }) => setDraft((d) => ({ ...d, [f]: e.target.value }));
  const items = log.data?.items ?? [];
  const filtered = Object.keys(query).length > 0;
  return (
    <Page title="Audit log">
      <form className="form form-wide filters" onSubmit={apply} aria-label="Filter the audit log" noValidate>
        <div className="filter-grid">
          <TextField label="Actor" name="actor" error={log.error} value={draft.actor} onChange={set("actor")} hint="Email or user id" />
          <TextField label="Action" name="action" error={log.error} value={draft.action} onChange={set("action")} hint="e.g. organization.create or organization.*" spellCheck={false} />
          <SelectField label="Result" name="result" error={log.error} value={draft.result} onChange={set("result")}>
            <option value="">any</option>
            <option value="success">success</option>
            <option value="failure">failure</option>
            <option value="denied">denied</option>
          </SelectField>
          <TextField label="Target" name="target" error={log.error} value={draft.target} onChange={set("target")} hint="id, or type:id" spellCheck={false} />
          <TextField label="From" name="since" type="datetime-local" error={log.error} value={draft.since} onChange={set("since")} />
          <TextField label="Until" name="until" type="datetime-local" error={log.error} value={draft.until} onChange={set("until")} />
        </div>
        <div className="row">
          <button type="submit" className="btn btn-primary">
            Apply filters
          </button>
          {filtered && (
            <button type="button" className="btn" onClick={clear}>
              Clear filters
            </button>
          )}
        </div>
      </form>
      {log.isPending && <Loading what="Loading the audit log" />}
      <ProblemAlert error={log.error} fieldsShown={[...FILTERS]} />
      {log.data && items.length === 0 && <Empty>{filtered ? "No records match these filters." : "No records yet."}</Empty>}
      {items.length > 0 && (
        <Scroll label="Audit records">
          <table className="table">
            <caption className="sr-only">Audit records, newest first</caption>
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">Actor</th>
                <th scope="col">Action</th>
                <th scope="col">Target</th>
                <th scope="col">Result</th>
                <th scope="col">From</th>
              </tr>
            </thead>
            <tbody>
              {items.map((r) => (
                <tr key={r.id}>
                  <td data-label="When">{time(r.time)}</td>
                  <td data-label="Actor">{r.actor_email || r.actor_id || "anonymous"}</td>
                  <td data-label="Action">
                    <code>{r.action}</code>
                    {r.detail && <div className="muted small">{r.detail}</div>}
                  </td>
                  <td data-label="Target">{r.target_type ? <code>{`${r.target_type}:${r.target_id ?? ""}`}</code> : "—"}</td>
                  <td data-label="Result">
                    <StatusBadge status={r.result} title={`HTTP ${r.status}`} />
                  </td>
                  <td data-label="From" className="small">
                    {r.source_ip || "—"}
                    {r.request_id && <div className="muted">request {r.request_id}</div>}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </Scroll>
      )}
      <Pager hasPrev={c.hasPrev} next={log.data?.next_cursor} onPrev={c.prev} onNext={c.next} />
    </Page>
  );
}
