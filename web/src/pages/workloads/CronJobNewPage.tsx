import { useState, type FormEvent } from "react";
import { useNavigate } from "react-router";
import { useQueryClient } from "@tanstack/react-query";
import { api, call } from "../../api/client";
import { Page } from "../../ui/bits";
import { TextField } from "../../ui/Field";
import { ProblemAlert } from "../../ui/ProblemAlert";
import { paths } from "../../paths";
import { key, pathOf, ProjectNav, projectCrumbs, useAccess, useScope } from "./common";
import { browserZone } from "./Schedule";
import { CRON_FIELDS, CronJobFields, cronSpecOf, emptyCron } from "./CronJobForm";

/** CronJobNewPage is the CronJob builder: the schedule (see ScheduleEditor), then what runs. */
export function CronJobNewPage() {
  const s = useScope();
  const nav = useNavigate();
  const qc = useQueryClient();
  const access = useAccess(s);
  const [name, setName] = useState("");
  const [f, setF] = useState(() => emptyCron(browserZone));
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  async function submit(e: FormEvent) {
    e.preventDefault();
    setError(null);
    setBusy(true);
    try {
      const spec = cronSpecOf(f);
      const cj = await call(
        api.POST("/api/v1/organizations/{org}/workspaces/{workspace}/projects/{project}/cronjobs", {
          params: { path: pathOf(s) },
          body: { name: name.trim(), ...spec, suspend: spec.suspend || undefined },
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
        <TextField label="Name" name="name" error={error} value={name} onChange={(e) => setName(e.target.value)} autoComplete="off" required />
        <CronJobFields s={s} f={f} setF={setF} error={error} suspendLabel="Create suspended" />
        <ProblemAlert error={error} fieldsShown={["name", ...CRON_FIELDS]} />
        <button type="submit" className="btn btn-primary" disabled={busy}>
          {busy ? "Creating…" : "Create CronJob"}
        </button>
      </form>
    </Page>
  );
}
