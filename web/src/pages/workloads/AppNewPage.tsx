import { useState, type FormEvent } from "react";
import { useNavigate } from "react-router";
import { useQueryClient } from "@tanstack/react-query";
import { api, call, type Schemas } from "../../api/client";
import { Page } from "../../ui/bits";
import { TextAreaField, TextField } from "../../ui/Field";
import { ProblemAlert } from "../../ui/ProblemAlert";
import { Problem } from "../../api/problem";
import { paths } from "../../paths";
import { key, lines, pathOf, ProjectNav, projectCrumbs, useAccess, useScope } from "./common";

type CreateRequest = Schemas["CreateApplicationRequest"];

const SIMPLE_FIELDS = ["name", "image", "replicas", "command", "args", "env", "ports", "resources", "labels"];

/** parseEnv reads NAME=VALUE lines; a line without "=" is a field error of env. */
function parseEnv(text: string): { env: Schemas["EnvVar"][]; bad?: string } {
  const env: Schemas["EnvVar"][] = [];
  for (const l of lines(text)) {
    const i = l.indexOf("=");
    if (i <= 0) return { env, bad: `"${l}": want NAME=VALUE` };
    env.push({ name: l.slice(0, i), value: l.slice(i + 1) });
  }
  return { env };
}

/** parsePorts reads "CONTAINER[:SERVICE]" entries separated by spaces or commas. */
function parsePorts(text: string): { ports: Schemas["Port"][]; bad?: string } {
  const ports: Schemas["Port"][] = [];
  for (const p of text.split(/[\s,]+/).filter(Boolean)) {
    const m = /^(\d+)(?::(\d+))?$/.exec(p);
    if (!m) return { ports, bad: `"${p}": want CONTAINER or CONTAINER:SERVICE, e.g. 8080:80` };
    ports.push({ container_port: Number(m[1]), ...(m[2] ? { service_port: Number(m[2]) } : {}) });
  }
  return { ports };
}

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
  const [f, setF] = useState({ name: "", image: "", replicas: "1", command: "", env: "", ports: "", reqCpu: "", reqMem: "", limCpu: "", limMem: "", manifest: "" });
  const [error, setError] = useState<unknown>(null);
  const [stage, setStage] = useState<"" | "checking" | "creating">("");
  const set = (k: keyof typeof f) => (e: { target: { value: string } }) => setF((x) => ({ ...x, [k]: e.target.value }));

  function body(): CreateRequest {
    if (mode === "manifest") return { manifest: f.manifest };
    const env = parseEnv(f.env);
    const ports = parsePorts(f.ports);
    const local = [
      ...(env.bad ? [{ field: "env", message: env.bad }] : []),
      ...(ports.bad ? [{ field: "ports", message: ports.bad }] : []),
      ...(f.replicas !== "" && !/^\d+$/.test(f.replicas) ? [{ field: "replicas", message: "must be a whole number" }] : []),
    ];
    if (local.length) throw new Problem({ status: 422, title: "Check the form", detail: local.map((e) => `${e.field}: ${e.message}`).join("; "), errors: local });
    const resources =
      f.reqCpu || f.reqMem || f.limCpu || f.limMem
        ? { requests: { cpu: f.reqCpu || undefined, memory: f.reqMem || undefined }, limits: { cpu: f.limCpu || undefined, memory: f.limMem || undefined } }
        : undefined;
    return {
      name: f.name.trim(),
      image: f.image.trim(),
      replicas: f.replicas === "" ? undefined : Number(f.replicas),
      command: f.command.trim() ? ["sh", "-c", f.command.trim()] : undefined,
      env: env.env.length ? env.env : undefined,
      ports: ports.ports.length ? ports.ports : undefined,
      resources,
    };
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
            <TextField label="Image" name="image" error={error} value={f.image} onChange={set("image")} autoComplete="off" required placeholder="nginx:1.27" />
            <TextField label="Replicas" name="replicas" type="number" min={0} error={error} value={f.replicas} onChange={set("replicas")} />
            <TextField label="Command (run with sh -c, optional)" name="command" error={error} value={f.command} onChange={set("command")} autoComplete="off" />
            <TextField label="Ports (container[:service], optional)" name="ports" error={error} value={f.ports} onChange={set("ports")} autoComplete="off" hint="e.g. 8080:80; a port makes a Service of the application's name." />
            <TextAreaField label="Environment (NAME=VALUE, one a line)" name="env" error={error} value={f.env} onChange={set("env")} rows={3} />
            <fieldset className="plain">
              <legend>Resources (optional)</legend>
              <div className="row">
                <TextField label="CPU request" name="resources.requests.cpu" error={error} value={f.reqCpu} onChange={set("reqCpu")} placeholder="100m" />
                <TextField label="Memory request" name="resources.requests.memory" error={error} value={f.reqMem} onChange={set("reqMem")} placeholder="64Mi" />
                <TextField label="CPU limit" name="resources.limits.cpu" error={error} value={f.limCpu} onChange={set("limCpu")} placeholder="200m" />
                <TextField label="Memory limit" name="resources.limits.memory" error={error} value={f.limMem} onChange={set("limMem")} placeholder="128Mi" />
              </div>
            </fieldset>
          </>
        ) : (
          <TextAreaField
            label="Manifest"
            name="manifest"
            error={error}
            value={f.manifest}
            onChange={set("manifest")}
            rows={16}
            spellCheck={false}
            className="mono"
            hint="One Deployment (it names the application) and its Services, ConfigMaps, Secrets, … of this project."
          />
        )}
        <ProblemAlert error={error} fieldsShown={mode === "form" ? SIMPLE_FIELDS : ["manifest"]} />
        <button className="btn btn-primary" type="submit" disabled={stage !== ""}>
          {stage === "checking" ? "Checking (dry run)…" : stage === "creating" ? "Creating…" : "Create application"}
        </button>
      </form>
    </Page>
  );
}
