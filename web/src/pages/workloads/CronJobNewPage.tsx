import { useState, type FormEvent } from "react";
import { useNavigate } from "react-router";
import { useQueryClient } from "@tanstack/react-query";
import { api, call } from "../../api/client";
import { Page } from "../../ui/bits";
import { CheckboxField, SelectField, TextAreaField, TextField } from "../../ui/Field";
import { ProblemAlert } from "../../ui/ProblemAlert";
import { paths } from "../../paths";
import { key, lines, pathOf, ProjectNav, projectCrumbs, useAccess, useScope } from "./common";
import { browserZone, ScheduleEditor } from "./Schedule";

/** CronJobNewPage is the CronJob builder: the schedule (see ScheduleEditor), then what runs. */
export function CronJobNewPage() {
  const s = useScope();
  const nav = useNavigate();
  const qc = useQueryClient();
  const access = useAccess(s);
  const [schedule, setSchedule] = useState("");
  const [tz, setTz] = useState(browserZone);
  const [f, setF] = useState({ name: "", image: "", command: "", env: "", policy: "Allow", restart: "OnFailure", suspend: false });
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const set = (k: keyof typeof f) => (e: { target: { value: string } }) => setF((x) => ({ ...x, [k]: e.target.value }));

  async function submit(e: FormEvent) {
    e.preventDefault();
    setError(null);
    setBusy(true);
    try {
      const env = lines(f.env).map((l) => {
        const i = l.indexOf("=");
        return i > 0 ? { name: l.slice(0, i), value: l.slice(i + 1) } : { name: l, value: "" };
      });
      const cj = await call(
        api.POST("/api/v1/organizations/{org}/workspaces/{workspace}/projects/{project}/cronjobs", {
          params: { path: pathOf(s) },
          body: {
            name: f.name.trim(),
            schedule: schedule.trim(),
            time_zone: tz,
            concurrency_policy: f.policy,
            suspend: f.suspend || undefined,
            template: {
              image: f.image.trim(),
              command: f.command.trim() ? ["sh", "-c", f.command.trim()] : undefined,
              env: env.length ? env : undefined,
              restart_policy: f.restart,
            },
          },
        }),
      );
      await qc.invalidateQueries({ queryKey: key(s, "cronjobs") });
      nav(paths.cronjob(s.org, s.workspace, s.project, cj.name));
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }

  return (
    <Page title="New CronJob" crumbs={projectCrumbs(s, { to: paths.cronjobs(s.org, s.workspace, s.project), label: "CronJobs" })}>
      <ProjectNav s={s} />
      {access.data && !access.can("cronjobs", "create") && (
        <p className="alert alert-info">Your role in this project does not allow creating CronJobs; the server will refuse it.</p>
      )}
      <form onSubmit={submit} className="form form-wide" aria-label="New CronJob" noValidate>
        <TextField label="Name" name="name" error={error} value={f.name} onChange={set("name")} autoComplete="off" required />
        <ScheduleEditor
          s={s}
          schedule={schedule}
          timeZone={tz}
          error={error}
          onChange={(sc, z) => {
            setSchedule(sc);
            setTz(z);
          }}
        />
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
          <CheckboxField label="Create suspended" name="suspend" checked={f.suspend} onChange={(e) => setF((x) => ({ ...x, suspend: e.target.checked }))} />
        </fieldset>
        <ProblemAlert error={error} fieldsShown={["name", "schedule", "time_zone", "template.image", "template.command", "template.env", "concurrency_policy", "template.restart_policy"]} />
        <button type="submit" className="btn btn-primary" disabled={busy}>
          {busy ? "Creating…" : "Create CronJob"}
        </button>
      </form>
    </Page>
  );
}
