import { useEffect, useMemo, useState } from "react";
import { useQuery } from "@tanstack/react-query";
import { api, call } from "../../api/client";
import { problemOf } from "../../api/problem";
import { SelectField, TextField } from "../../ui/Field";
import { pathOf, type Scope } from "./common";

/** The presets of the builder; "daily" takes its time from the time field. */
const PRESETS: { label: string; schedule: (at: string) => string }[] = [
  { label: "Every 5 minutes", schedule: () => "*/5 * * * *" },
  { label: "Every 15 minutes", schedule: () => "*/15 * * * *" },
  { label: "Hourly", schedule: () => "0 * * * *" },
  { label: "Daily at the time below", schedule: (at) => dailyAt(at) },
  { label: "Weekdays 9–17, every 15 minutes", schedule: () => "*/15 9-17 * * 1-5" },
  { label: "Weekly, Monday at the time below", schedule: (at) => dailyAt(at).replace(/\* \*$/, "* 1") },
  { label: "Monthly, the 1st at the time below", schedule: (at) => dailyAt(at).replace(/^(\S+ \S+) \*/, "$1 1") },
];

function dailyAt(at: string): string {
  const [h, m] = (at || "02:30").split(":").map(Number);
  return `${m} ${h} * * *`;
}

const browserZone = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";

/** zones are the IANA names the browser knows, UTC first. */
function zones(): string[] {
  let all: string[] = [];
  try {
    all = (Intl as unknown as { supportedValuesOf(k: string): string[] }).supportedValuesOf("timeZone");
  } catch {
    all = [browserZone];
  }
  return ["UTC", ...all.filter((z) => z !== "UTC")];
}

function useDebounced<T>(v: T, ms: number): T {
  const [d, setD] = useState(v);
  useEffect(() => {
    const t = setTimeout(() => setD(v), ms);
    return () => clearTimeout(t);
  }, [v, ms]);
  return d;
}

/** fmt is a time in a zone, with the zone's short name. */
export function fmt(iso: string, zone: string): string {
  return new Intl.DateTimeFormat(undefined, { timeZone: zone, weekday: "short", year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", timeZoneName: "short" }).format(new Date(iso));
}

/**
 * ScheduleEditor is the builder of a schedule: presets, the expression
 * checked as it is typed by the server's own parser (GET …/cronjobs/preview,
 * debounced; its message shown under the field), the time zone, and the
 * next five runs in that zone and in the browser's.
 */
export function ScheduleEditor({
  s,
  schedule,
  timeZone,
  onChange,
  error,
}: {
  s: Scope;
  schedule: string;
  timeZone: string;
  onChange: (schedule: string, timeZone: string) => void;
  error?: unknown;
}) {
  const [at, setAt] = useState("02:30");
  const zoneList = useMemo(zones, []);
  const q = useDebounced({ schedule: schedule.trim(), tz: timeZone }, 300);
  const preview = useQuery({
    queryKey: ["org", s.org, "ws", s.workspace, "project", s.project, "preview", q.schedule, q.tz],
    queryFn: () =>
      call(
        api.GET("/api/v1/organizations/{org}/workspaces/{workspace}/projects/{project}/cronjobs/preview", {
          params: { path: pathOf(s), query: { schedule: q.schedule, time_zone: q.tz, count: 5 } },
        }),
      ),
    enabled: q.schedule !== "",
    retry: false,
    staleTime: 60_000,
  });
  const stale = q.schedule !== schedule.trim() || q.tz !== timeZone;
  const p = preview.error ? problemOf(preview.error) : undefined;
  const scheduleMsg = !stale && p ? (p.field("schedule") ?? (p.field("time_zone") ? undefined : p.detail || p.title)) : undefined;
  const zoneMsg = !stale && p ? p.field("time_zone") : undefined;

  return (
    <fieldset className="plain schedule">
      <legend>Schedule</legend>
      <div className="presets" role="group" aria-label="Presets">
        {PRESETS.map((pr) => (
          <button key={pr.label} type="button" className="btn btn-small" onClick={() => onChange(pr.schedule(at), timeZone)}>
            {pr.label}
          </button>
        ))}
      </div>
      <div className="row">
        <TextField label="Time for the daily, weekly and monthly presets" name="at" type="time" value={at} onChange={(e) => setAt(e.target.value)} />
      </div>
      <TextField
        label="Schedule (cron expression)"
        name="schedule"
        value={schedule}
        onChange={(e) => onChange(e.target.value, timeZone)}
        message={scheduleMsg ?? (error ? problemOf(error).field("schedule") : undefined)}
        autoComplete="off"
        spellCheck={false}
        hint="minute hour day-of-month month day-of-week, e.g. */15 9-17 * * 1-5, or @hourly, @daily, @weekly, @monthly, @yearly."
      />
      <SelectField label="Time zone" name="time_zone" value={timeZone} onChange={(e) => onChange(schedule, e.target.value)} message={zoneMsg ?? (error ? problemOf(error).field("time_zone") : undefined)}>
        {zoneList.map((z) => (
          <option key={z} value={z}>
            {z}
          </option>
        ))}
      </SelectField>
      <section aria-labelledby="next-runs-h" className="next-runs" aria-live="polite">
        <h3 id="next-runs-h">Next runs</h3>
        {!schedule.trim() && <p className="muted">Type a schedule or choose a preset.</p>}
        {schedule.trim() && (stale || preview.isFetching) && !preview.data && <p className="muted">Checking…</p>}
        {preview.data && !p && (
          <table className="table">
            <caption className="sr-only">The next five runs</caption>
            <thead>
              <tr>
                <th scope="col">In {preview.data.time_zone}</th>
                <th scope="col">In your time zone ({browserZone})</th>
              </tr>
            </thead>
            <tbody>
              {preview.data.next_runs.map((r) => (
                <tr key={r}>
                  <td data-label={`In ${preview.data.time_zone}`}>{fmt(r, preview.data.time_zone)}</td>
                  <td data-label="In your time zone">{fmt(r, browserZone)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
    </fieldset>
  );
}

export { browserZone };
