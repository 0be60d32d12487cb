import { useState, type FormEvent } from "react";
import { useNavigate } from "react-router";
import { useQueryClient } from "@tanstack/react-query";
import { api, call, type Schemas } from "../../api/client";
import { Page } from "../../ui/bits";
import { TextField } from "../../ui/Field";
import { AppSpecFields, emptyApp, ManifestField, setterOf, SPEC_FIELDS, specOf } from "./AppForm";
import { ProblemAlert } from "../../ui/ProblemAlert";
import { paths } from "../../paths";
import { key, pathOf, ProjectNav, projectCrumbs, useAccess, useScope } from "./common";

type CreateRequest = Schemas["CreateApplicationRequest"];

const SIMPLE_FIELDS = ["name", ...SPEC_FIELDS];

/**
 * AppNewPage creates an application from the simple form or from a
 * manifest. Every submit is first a dry run (the cluster checks every
 * object as the caller, nothing is made); its errors appear under their
 * fields; only then is the application created.
 */
export function AppNewPage() {
  const s = useScope();
  const nav = useNavigate();
  const qc = useQueryClient();
  const access = useAccess(s);
  const [mode, setMode] = useState<"form" | "manifest">("form");
  const [f, setF] = useState({ name: "", manifest: "", ...emptyApp });
  const [error, setError] = useState<unknown>(null);
  const [stage, setStage] = useState<"" | "checking" | "creating">("");
  const set = setterOf(setF);

  function body(): CreateRequest {
    if (mode === "manifest") return { manifest: f.manifest };
    return { name: f.name.trim(), ...specOf(f) };
  }

  async function submit(e: FormEvent) {
    e.preventDefault();
    setError(null);
    const url = "/api/v1/organizations/{org}/workspaces/{workspace}/projects/{project}/applications" as const;
    try {
      const b = body();
      setStage("checking");
      await call(api.POST(url, { params: { path: pathOf(s), query: { dry_run: "true" } }, body: b }));
      setStage("creating");
      const a = await call(api.POST(url, { params: { path: pathOf(s) }, body: b }));
      await qc.invalidateQueries({ queryKey: key(s, "apps") });
      nav(paths.app(s.org, s.workspace, s.project, a.name));
    } catch (err) {
      setError(err);
    } finally {
      setStage("");
    }
  }

  return (
    <Page title="New application" crumbs={projectCrumbs(s, { to: paths.apps(s.org, s.workspace, s.project), label: "Applications" })}>
      <ProjectNav s={s} />
      {access.data && !access.can("deployments", "create") && (
        <p className="alert alert-info">Your role in this project does not allow creating applications; the server will refuse it.</p>
      )}
      <form onSubmit={submit} className="form form-wide" aria-label="New application" noValidate>
        <fieldset className="plain">
          <legend>Create from</legend>
          <div className="row">
            <label>
              <input type="radio" name="mode" value="form" checked={mode === "form"} onChange={() => setMode("form")} /> an image (simple form)
            </label>
            <label>
              <input type="radio" name="mode" value="manifest" checked={mode === "manifest"} onChange={() => setMode("manifest")} /> a manifest (YAML or JSON)
            </label>
          </div>
        </fieldset>
        {mode === "form" ? (
          <>
            <TextField label="Name" name="name" error={error} value={f.name} onChange={set("name")} autoComplete="off" required hint="Lowercase letters, digits and '-' (a DNS-1123 label)." />
            <AppSpecFields f={f} set={set} error={error} />
          </>
        ) : (
          <ManifestField value={f.manifest} onChange={set("manifest")} error={error} />
        )}
        <ProblemAlert error={error} fieldsShown={mode === "form" ? SIMPLE_FIELDS : ["manifest"]} />
        <button className="btn btn-primary" type="submit" disabled={stage !== ""}>
          {stage === "checking" ? "Checking (dry run)…" : stage === "creating" ? "Creating…" : "Create application"}
        </button>
      </form>
    </Page>
  );
}
