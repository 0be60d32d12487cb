import { useState, type FormEvent } from "react";
import { useMutation } from "@tanstack/react-query";
import { api, call } from "../../api/client";
import { problemOf } from "../../api/problem";
import { ProblemAlert } from "../../ui/ProblemAlert";
import { AppSpecFields, appFieldsOf, ManifestField, setterOf, SPEC_FIELDS, specOf, type AppFields } from "./AppForm";
import { pathOf, type Scope } from "./common";
import type { Application } from "./live";

const URL = "/api/v1/organizations/{org}/workspaces/{workspace}/projects/{project}/applications/{app}" as const;

/**
 * AppEdit replaces an application's whole spec (PUT …/applications/{app},
 * a rolling update) from the create form's fields filled with the spec as
 * it is, or from a manifest. The version the form started from goes with
 * it: a change someone made meanwhile is refused (412) and the form can
 * start over from the current spec. The API has no dry run of a PUT.
 */
export function AppEdit({ s, app, onSaved }: { s: Scope; app: Application; onSaved: (a: Application) => void }) {
  const [mode, setMode] = useState<"" | "form" | "manifest">("");
  const [f, setF] = useState<AppFields>(() => appFieldsOf(app.spec));
  const [manifest, setManifest] = useState("");
  const [version, setVersion] = useState(app.resource_version);
  const set = setterOf(setF);
  const save = useMutation({
    mutationFn: () =>
      call(
        api.PUT(URL, {
          params: { path: { ...pathOf(s), app: app.name } },
          body: mode === "manifest" ? { manifest, resource_version: version } : { ...specOf(f, app.spec), resource_version: version },
        }),
      ),
    onSuccess: (next) => {
      setMode("");
      onSaved(next);
    },
  });
  function open(m: "form" | "manifest") {
    save.reset();
    setF(appFieldsOf(app.spec));
    setVersion(app.resource_version);
    setMode(m);
  }
  function submit(e: FormEvent) {
    e.preventDefault();
    save.mutate();
  }
  const stale = save.error ? problemOf(save.error).status === 412 : false;

  return (
    <section aria-labelledby="edit-h" className="card">
      <h2 id="edit-h">Edit</h2>
      {mode === "" && (
        <div className="row">
          <button type="button" className="btn" onClick={() => open("form")}>
            Edit
          </button>
          <button type="button" className="btn" onClick={() => open("manifest")}>
            Edit as manifest
          </button>
        </div>
      )}
      {mode === "" && <p className="muted small">Saving replaces the whole spec (a rolling update); what the form leaves empty returns to its default.</p>}
      {mode !== "" && (
        <form onSubmit={submit} className="form form-wide" aria-label={mode === "form" ? "Edit application" : "Edit application as manifest"} noValidate>
          {mode === "form" ? (
            <AppSpecFields f={f} set={set} error={save.error} />
          ) : (
            <ManifestField label="Manifest (replaces the application)" value={manifest} onChange={(e) => setManifest(e.target.value)} error={save.error} />
          )}
          <ProblemAlert error={save.error} fieldsShown={mode === "form" ? SPEC_FIELDS : ["manifest"]} />
          <div className="row">
            <button type="submit" className="btn btn-primary" disabled={save.isPending}>
              {save.isPending ? "Saving…" : "Save changes"}
            </button>
            {stale && (
              <button type="button" className="btn" onClick={() => open(mode)}>
                Start over from the current version
              </button>
            )}
            <button type="button" className="btn" onClick={() => setMode("")}>
              Cancel
            </button>
          </div>
        </form>
      )}
    </section>
  );
}
