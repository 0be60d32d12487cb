import { TextField, SelectField } from "../../ui/Field";
import type { Project } from "./common";

export interface QuotaIn {
  cpu: string;
  memory: string;
  storage: string;
  pods: string;
}

export const quotaOf = (p?: Project): QuotaIn => ({
  cpu: p?.quota.cpu ?? "",
  memory: p?.quota.memory ?? "",
  storage: p?.quota.storage ?? "",
  pods: p?.quota.pods ? String(p.quota.pods) : "",
});

/**
 * quotaBody is the API's quota from the form. For a PATCH (a merge patch)
 * an emptied field is null, which removes that limit; a pods count that is
 * not a whole number is sent as typed, for the server to name
 * the field.
 */
export function quotaBody(q: QuotaIn, patch = false) {
  const none = (patch ? null : undefined) as unknown as undefined;
  const pods = q.pods.trim() === "" ? none : /^-?[0-9]+$/.test(q.pods.trim()) ? Number(q.pods) : (q.pods.trim() as unknown as number);
  return { cpu: q.cpu.trim() || none, memory: q.memory.trim() || none, storage: q.storage.trim() || none, pods };
}

/** QuotaFields are the inputs of a project's quota, with the server's errors (quota.cpu …) under them. */
export function QuotaFields({ q, set, error }: { q: QuotaIn; set: (q: QuotaIn) => void; error: unknown }) {
  return (
    <fieldset>
      <legend>Quota</legend>
      <p className="hint">Kubernetes quantities; leave a field empty for no limit.</p>
      <div className="row">
        <TextField label="CPU" name="quota.cpu" error={error} value={q.cpu} placeholder="2 or 500m" onChange={(e) => set({ ...q, cpu: e.target.value })} />
        <TextField label="Memory" name="quota.memory" error={error} value={q.memory} placeholder="4Gi" onChange={(e) => set({ ...q, memory: e.target.value })} />
        <TextField label="Storage" name="quota.storage" error={error} value={q.storage} placeholder="100Gi" onChange={(e) => set({ ...q, storage: e.target.value })} />
        <TextField label="Pods" name="quota.pods" error={error} value={q.pods} inputMode="numeric" placeholder="20" onChange={(e) => set({ ...q, pods: e.target.value })} />
      </div>
    </fieldset>
  );
}

export function PodSecurityField({ value, set, error }: { value: string; set: (v: string) => void; error: unknown }) {
  return (
    <SelectField label="Pod security" name="pod_security" error={error} value={value} onChange={(e) => set(e.target.value)}
      hint="The Pod Security Standard enforced in the project's namespace (warnings are at restricted either way).">
      <option value="baseline">baseline</option>
      <option value="restricted">restricted</option>
    </SelectField>
  );
}

/** ParentField picks a parent project among candidates ("" = top level). */
export function ParentField({ value, set, error, candidates, label = "Parent project" }: { value: string; set: (v: string) => void; error: unknown; candidates: Project[]; label?: string }) {
  return (
    <SelectField label={label} name="parent_id" error={error} value={value} onChange={(e) => set(e.target.value)}>
      <option value="">None (top level)</option>
      {candidates.map((p) => (
        <option key={p.id} value={p.id}>
          {p.name}
        </option>
      ))}
    </SelectField>
  );
}
