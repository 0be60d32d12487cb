// The simple spec of an application as form fields: one component for the
// create form (AppNewPage) and the edit form (AppPage), and the parsing
// of its text fields into the API's spec (a line the form cannot read is
// a field error under its field, before anything is sent).
import type { ChangeEvent } from "react";
import type { Schemas } from "../../api/client";
import { Problem } from "../../api/problem";
import { TextAreaField, TextField } from "../../ui/Field";
import { lines } from "./common";

export type AppSpec = Schemas["AppSpec"];

/** The spec's fields the form shows (the API's field names, for fieldsShown). */
export const SPEC_FIELDS = ["image", "replicas", "command", "args", "env", "ports", "resources", "labels"];

/** The text of the resources fields (the API's resources.requests/limits). */
export interface ResourceFields {
  reqCpu: string;
  reqMem: string;
  limCpu: string;
  limMem: string;
}

export interface AppFields extends ResourceFields {
  image: string;
  replicas: string;
  command: string;
  env: string;
  ports: string;
}

export const emptyResources: ResourceFields = { reqCpu: "", reqMem: "", limCpu: "", limMem: "" };
export const emptyApp: AppFields = { image: "", replicas: "1", command: "", env: "", ports: "", ...emptyResources };

/** commandText is a command as the form shows it: the script of `sh -c`, else the words. */
export function commandText(command?: string[]): string {
  if (!command || command.length === 0) return "";
  if (command.length === 3 && command[0] === "sh" && command[1] === "-c") return command[2];
  return command.join(" ");
}

/** commandOf is the command the form's text means; unchanged text keeps the command as it was. */
export function commandOf(text: string, was?: string[]): string[] | undefined {
  if (was && text === commandText(was)) return was.length ? was : undefined;
  return text.trim() ? ["sh", "-c", text.trim()] : undefined;
}

export const envText = (env?: Schemas["EnvVar"][]) => (env ?? []).map((e) => `${e.name}=${e.value ?? ""}`).join("\n");

/** parseEnv reads NAME=VALUE lines; a line without "=" is a field error of env. */
export function parseEnv(text: string): { env: Schemas["EnvVar"][]; bad?: string } {
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

const portsText = (ports?: Schemas["Port"][]) => (ports ?? []).map((p) => (p.service_port && p.service_port !== p.container_port ? `${p.container_port}:${p.service_port}` : String(p.container_port))).join(", ");

export function resourceFieldsOf(r?: Schemas["Resources"]): ResourceFields {
  return { reqCpu: r?.requests?.cpu ?? "", reqMem: r?.requests?.memory ?? "", limCpu: r?.limits?.cpu ?? "", limMem: r?.limits?.memory ?? "" };
}

export function resourcesOf(f: ResourceFields): Schemas["Resources"] | undefined {
  if (!(f.reqCpu || f.reqMem || f.limCpu || f.limMem)) return undefined;
  return {
    requests: { cpu: f.reqCpu.trim() || undefined, memory: f.reqMem.trim() || undefined },
    limits: { cpu: f.limCpu.trim() || undefined, memory: f.limMem.trim() || undefined },
  };
}

/** checkForm throws the form's own field errors as one 422 Problem (shown like the server's). */
export function checkForm(errors: { field: string; message: string }[]) {
  if (errors.length) throw new Problem({ status: 422, title: "Check the form", detail: errors.map((e) => `${e.field}: ${e.message}`).join("; "), errors });
}

/** appFieldsOf is an application's spec as the form's text. */
export function appFieldsOf(s: AppSpec): AppFields {
  return {
    image: s.image ?? "",
    replicas: s.replicas === undefined ? "1" : String(s.replicas),
    command: commandText(s.command),
    env: envText(s.env),
    ports: portsText(s.ports),
    ...resourceFieldsOf(s.resources),
  };
}

/**
 * specOf is the spec the form's text means; `was` (the spec being edited)
 * keeps what the form does not show (args, labels) and a command left as
 * it was. Throws a 422 Problem naming the fields it cannot read.
 */
export function specOf(f: AppFields, was?: AppSpec): AppSpec {
  const env = parseEnv(f.env);
  const ports = parsePorts(f.ports);
  checkForm([
    ...(env.bad ? [{ field: "env", message: env.bad }] : []),
    ...(ports.bad ? [{ field: "ports", message: ports.bad }] : []),
    ...(f.replicas !== "" && !/^\d+$/.test(f.replicas) ? [{ field: "replicas", message: "must be a whole number" }] : []),
  ]);
  const command = commandOf(f.command, was?.command);
  return {
    image: f.image.trim(),
    replicas: f.replicas === "" ? undefined : Number(f.replicas),
    command,
    args: command && command === was?.command ? was?.args : undefined,
    env: env.env.length ? env.env : undefined,
    ports: ports.ports.length ? ports.ports : undefined,
    resources: resourcesOf(f),
    labels: was?.labels,
  };
}

type Setter<F> = (k: keyof F) => (e: ChangeEvent<HTMLInputElement | HTMLTextAreaElement | HTMLSelectElement>) => void;

/** setterOf makes the onChange of a text field of a form state. */
export function setterOf<F>(setF: (u: (f: F) => F) => void): Setter<F> {
  return (k) => (e) => setF((x) => ({ ...x, [k]: e.target.value }));
}

/** ResourcesFieldset is the CPU and memory requests and limits; `prefix` is the API's path to them. */
export function ResourcesFieldset<F extends ResourceFields>({ f, set, error, prefix = "resources" }: { f: F; set: Setter<F>; error: unknown; prefix?: string }) {
  return (
    <fieldset className="plain">
      <legend>Resources (optional)</legend>
      <div className="row">
        <TextField label="CPU request" name={`${prefix}.requests.cpu`} error={error} value={f.reqCpu} onChange={set("reqCpu")} placeholder="100m" />
        <TextField label="Memory request" name={`${prefix}.requests.memory`} error={error} value={f.reqMem} onChange={set("reqMem")} placeholder="64Mi" />
        <TextField label="CPU limit" name={`${prefix}.limits.cpu`} error={error} value={f.limCpu} onChange={set("limCpu")} placeholder="200m" />
        <TextField label="Memory limit" name={`${prefix}.limits.memory`} error={error} value={f.limMem} onChange={set("limMem")} placeholder="128Mi" />
      </div>
    </fieldset>
  );
}

/** AppSpecFields are the fields of the simple spec (the name is the create form's own). */
export function AppSpecFields<F extends AppFields>({ f, set, error }: { f: F; set: Setter<F>; error: unknown }) {
  return (
    <>
      <TextField label="Image" name="image" error={error} value={f.image} onChange={set("image")} autoComplete="off" required placeholder="nginx:1.27" />
      <TextField label="Replicas" name="replicas" type="number" min={0} error={error} value={f.replicas} onChange={set("replicas")} />
      <TextField label="Command (run with sh -c, optional)" name="command" error={error} value={f.command} onChange={set("command")} autoComplete="off" />
      <TextField label="Ports (container[:service], optional)" name="ports" error={error} value={f.ports} onChange={set("ports")} autoComplete="off" hint="e.g. 8080:80; a port makes a Service of the application's name." />
      <TextAreaField label="Environment (NAME=VALUE, one a line)" name="env" error={error} value={f.env} onChange={set("env")} rows={3} />
      <ResourcesFieldset f={f} set={set} error={error} />
    </>
  );
}

/** ManifestField is the manifest of an application (YAML or JSON), for create and for replace. */
export function ManifestField({ value, onChange, error, label = "Manifest" }: { value: string; onChange: (e: ChangeEvent<HTMLTextAreaElement>) => void; error: unknown; label?: string }) {
  return (
    <TextAreaField
      label={label}
      name="manifest"
      error={error}
      value={value}
      onChange={onChange}
      rows={16}
      spellCheck={false}
      className="mono"
      hint="One Deployment (it names the application) and its Services, ConfigMaps, Secrets, … of this project."
    />
  );
}
