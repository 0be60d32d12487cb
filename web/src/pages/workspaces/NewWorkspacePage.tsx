import { useState, type FormEvent } from "react";
import { useNavigate, useParams } from "react-router";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { api, call } from "../../api/client";
import { Page } from "../../ui/bits";
import { SelectField, TextField } from "../../ui/Field";
import { ProblemAlert } from "../../ui/ProblemAlert";
import { paths } from "../../paths";
import { crumbsFor } from "./common";

/** NewWorkspacePage creates a workspace; provisioning then runs as a task, followed on the workspace's page. */
export function NewWorkspacePage() {
  const { org = "" } = useParams();
  const nav = useNavigate();
  const qc = useQueryClient();
  const [name, setName] = useState("");
  const [plan, setPlan] = useState<"shared" | "dedicated">("shared");
  const create = useMutation({
    mutationFn: () => call(api.POST("/api/v1/organizations/{org}/workspaces", { params: { path: { org } }, body: { name: name.trim(), plan } })),
    onSuccess: (ws) => {
      qc.invalidateQueries({ queryKey: ["org", org] });
      nav(paths.workspace(org, ws.name), { state: { taskId: ws.task_id } });
    },
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    create.mutate();
  };
  return (
    <Page title="New workspace" crumbs={crumbsFor(org)}>
      <form className="form" onSubmit={submit} aria-label="New workspace">
        <TextField
          label="Name"
          name="name"
          error={create.error}
          value={name}
          onChange={(e) => setName(e.target.value)}
          required
          autoComplete="off"
          hint="Lowercase letters, digits and hyphens, starting with a letter; unique in the organization."
        />
        <SelectField label="Plan" name="plan" error={create.error} value={plan} onChange={(e) => setPlan(e.target.value as "shared" | "dedicated")}
          hint="Shared: its pods run on the platform's shared nodes. Dedicated: on two nodes of its own.">
          <option value="shared">shared</option>
          <option value="dedicated">dedicated</option>
        </SelectField>
        <ProblemAlert error={create.error} fieldsShown={["name", "plan"]} />
        <div className="row">
          <button type="submit" className="btn btn-primary" disabled={create.isPending}>
            {create.isPending ? "Creating…" : "Create workspace"}
          </button>
        </div>
      </form>
    </Page>
  );
}
