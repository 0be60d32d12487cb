// The CronJob builder's fields: one component for the create form
// (CronJobNewPage) and the edit form (CronJobPage): the schedule (see
// ScheduleEditor), what runs, and how runs are kept and limited.
import type { Schemas } from "../../api/client";
import { CheckboxField, SelectField, TextAreaField, TextField } from "../../ui/Field";
import { checkForm, commandOf, commandText, envText, parseEnv, resourceFieldsOf, resourcesOf, ResourcesFieldset, setterOf, type ResourceFields } from "./AppForm";
import type { Scope } from "./common";
import { ScheduleEditor } from "./Schedule";

export type CronJobSpec = Schemas["CronJobSpec"];

export interface CronFields extends ResourceFields {
  schedule: string;
  tz: string;
  image: string;
  command: string;
  env: string;
  policy: string;
  restart: string;
  suspend: boolean;
  backoff: string;
  activeDeadline: string;
  serviceAccount: string;
  startingDeadline: string;
  successLimit: string;
  failedLimit: string;
}

/** The API's names of the fields the form shows (for fieldsShown). */
export const CRON_FIELDS = [
  "schedule",
  "time_zone",
  "concurrency_policy",
  "suspend",
  "starting_deadline_seconds",
  "successful_jobs_history_limit",
  "failed_jobs_history_limit",
  "template",
  "template.image",
  "template.command",
  "template.env",
  "template.restart_policy",
  "template.backoff_limit",
  "template.active_deadline_seconds",
  "template.service_account",
  "template.resources",
];

export const emptyCron = (tz: string): CronFields => ({
  schedule: "",
  tz,
  image: "",
  command: "",
  env: "",
  policy: "Allow",
  restart: "OnFailure",
  suspend: false,
  backoff: "",
  activeDeadline: "",
  serviceAccount: "",
  startingDeadline: "",
  successLimit: "",
  failedLimit: "",
  reqCpu: "",
  reqMem: "",
  limCpu: "",
  limMem: "",
});

const num = (n?: number) => (n === undefined || n === null ? "" : String(n));

/** cronFieldsOf is a CronJob's spec as the form's text. */
export function cronFieldsOf(c: CronJobSpec): CronFields {
  const t = c.template;
  return {
    schedule: c.schedule,
    tz: c.time_zone || "UTC",
    image: t.image,
    command: commandText(t.command),
    env: envText(t.env),
    policy: c.concurrency_policy || "Allow",
    restart: t.restart_policy || "OnFailure",
    suspend: !!c.suspend,
    backoff: num(t.backoff_limit),
    activeDeadline: num(t.active_deadline_seconds),
    serviceAccount: t.service_account ?? "",
    startingDeadline: num(c.starting_deadline_seconds),
    successLimit: num(c.successful_jobs_history_limit),
    failedLimit: num(c.failed_jobs_history_limit),
    ...resourceFieldsOf(t.resources),
  };
}

/**
 * cronSpecOf is the spec the form's text means; `was` (the spec being
 * edited) keeps what the form does not show (args, labels) and a command
 * left as it was. Throws a 422 Problem naming the fields it cannot read.
 */
export function cronSpecOf(f: CronFields, was?: CronJobSpec): CronJobSpec {
  const env = parseEnv(f.env);
  const ints: [string, string][] = [
    ["template.backoff_limit", f.backoff],
    ["template.active_deadline_seconds", f.activeDeadline],
    ["starting_deadline_seconds", f.startingDeadline],
    ["successful_jobs_history_limit", f.successLimit],
    ["failed_jobs_history_limit", f.failedLimit],
  ];
  checkForm([
    ...(env.bad ? [{ field: "template.env", message: env.bad }] : []),
    ...ints.filter(([, v]) => v.trim() !== "" && !/^\d+$/.test(v.trim())).map(([field]) => ({ field, message: "must be a whole number" })),
  ]);
  const int = (v: string) => (v.trim() === "" ? undefined : Number(v.trim()));
  const command = commandOf(f.command, was?.template.command);
  return {
    schedule: f.schedule.trim(),
    time_zone: f.tz,
    concurrency_policy: f.policy,
    suspend: f.suspend,
    starting_deadline_seconds: int(f.startingDeadline),
    successful_jobs_history_limit: int(f.successLimit),
    failed_jobs_history_limit: int(f.failedLimit),
    labels: was?.labels,
    template: {
      image: f.image.trim(),
      command,
      args: command === was?.template.command ? was?.template.args : undefined,
      env: env.env.length ? env.env : undefined,
      restart_policy: f.restart,
      backoff_limit: int(f.backoff),
      active_deadline_seconds: int(f.activeDeadline),
      service_account: f.serviceAccount.trim() || undefined,
      resources: resourcesOf(f),
    },
  };
}

/** CronJobFields are the builder's fields (the name is the create form's own). */
export function CronJobFields({ s, f, setF, error, suspendLabel }: { s: Scope; f: CronFields; setF: (u: (f: CronFields) => CronFields) => void; error: unknown; suspendLabel: string }) {
  const set = setterOf(setF);
  return (
    <>
      <ScheduleEditor s={s} schedule={f.schedule} timeZone={f.tz} error={error} onChange={(schedule, tz) => setF((x) => ({ ...x, schedule, tz }))} />
      <fieldset className="plain">
        <legend>What runs</legend>
        <TextField label="Image" name="template.image" error={error} value={f.image} onChange={set("image")} autoComplete="off" required placeholder="busybox:1.36" />
        <TextField label="Command (run with sh -c, optional)" name="template.command" error={error} value={f.command} onChange={set("command")} autoComplete="off" placeholder="date; echo hello" />
        <TextAreaField label="Environment (NAME=VALUE, one a line)" name="template.env" error={error} value={f.env} onChange={set("env")} rows={2} />
        <div className="row">
          <SelectField label="Concurrency" name="concurrency_policy" error={error} value={f.policy} onChange={set("policy")}>
            <option value="Allow">Allow overlapping runs</option>
            <option value="Forbid">Skip a run while one is running</option>
            <option value="Replace">Replace the running one</option>
          </SelectField>
          <SelectField label="Restart policy" name="template.restart_policy" error={error} value={f.restart} onChange={set("restart")}>
            <option value="OnFailure">OnFailure</option>
            <option value="Never">Never</option>
          </SelectField>
        </div>
        <CheckboxField label={suspendLabel} name="suspend" checked={f.suspend} onChange={(e) => setF((x) => ({ ...x, suspend: e.target.checked }))} />
      </fieldset>
      <details className="more">
        <summary>More options: retries, deadlines, history, resources</summary>
        <div className="row">
          <TextField label="Retries before a run fails (default 6)" name="template.backoff_limit" type="number" min={0} error={error} value={f.backoff} onChange={set("backoff")} />
          <TextField label="Run time limit, seconds (optional)" name="template.active_deadline_seconds" type="number" min={1} error={error} value={f.activeDeadline} onChange={set("activeDeadline")} />
          <TextField label="Start deadline after a missed time, seconds (optional)" name="starting_deadline_seconds" type="number" min={0} error={error} value={f.startingDeadline} onChange={set("startingDeadline")} />
        </div>
        <div className="row">
          <TextField label="Succeeded Jobs kept (default 3)" name="successful_jobs_history_limit" type="number" min={0} error={error} value={f.successLimit} onChange={set("successLimit")} />
          <TextField label="Failed Jobs kept (default 1)" name="failed_jobs_history_limit" type="number" min={0} error={error} value={f.failedLimit} onChange={set("failedLimit")} />
          <TextField label="Service account (optional)" name="template.service_account" error={error} value={f.serviceAccount} onChange={set("serviceAccount")} autoComplete="off" />
        </div>
        <ResourcesFieldset f={f} set={set} error={error} prefix="template.resources" />
      </details>
    </>
  );
}
