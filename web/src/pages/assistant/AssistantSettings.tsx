import { useEffect, useState, type FormEvent } from "react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, call } from "../../api/client";
import { Loading, time, UsageBar } from "../../ui/bits";
import { CheckboxField, TextField } from "../../ui/Field";
import { ProblemAlert } from "../../ui/ProblemAlert";

const fmt = (n: number) => n.toLocaleString();

/**
 * AssistantSettings is the organization settings page's section for the
 * assistant (owners and admins): on or off for the organization, and the
 * monthly token budget with this month's use. Saved with If-Match, so a
 * change someone else made meanwhile is refused (412), not overwritten.
 */
export function AssistantSettings({ org }: { org: string }) {
  const qc = useQueryClient();
  const key = ["org", org, "ai", "settings"];
  const s = useQuery({
    queryKey: key,
    queryFn: () => call(api.GET("/api/v1/organizations/{org}/ai", { params: { path: { org } } })),
  });
  const [enabled, setEnabled] = useState(true);
  const [budget, setBudget] = useState("0");
  const [saved, setSaved] = useState(false);
  useEffect(() => {
    if (!s.data) return;
    setEnabled(s.data.enabled);
    setBudget(String(s.data.monthly_token_budget));
  }, [s.data]);
  const save = useMutation({
    mutationFn: () =>
      call(
        api.PATCH("/api/v1/organizations/{org}/ai", {
          params: { path: { org }, header: { "If-Match": `"${s.data?.resource_version ?? ""}"` } },
          body: { enabled, monthly_token_budget: budget.trim() === "" ? 0 : Number(budget) },
        }),
      ),
    onSuccess: (n) => {
      qc.setQueryData(key, n);
      qc.invalidateQueries({ queryKey: ["org", org, "ai", "status"] });
      setSaved(true);
    },
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    setSaved(false);
    save.mutate();
  };
  return (
    <section aria-labelledby="assistant-title">
      <h2 id="assistant-title">Assistant</h2>
      {s.isPending && <Loading what="Loading the assistant's settings" />}
      <ProblemAlert error={s.error} />
      {s.data && (
        <form className="form" onSubmit={submit} aria-label="Assistant settings" noValidate>
          <CheckboxField
            label="The assistant is on for this organization"
            name="enabled"
            checked={enabled}
            onChange={(e) => {
              setEnabled(e.target.checked);
              setSaved(false);
            }}
            hint="Off, its chats refuse new messages; the analyzers (Diagnose) still work."
          />
          <TextField
            label="Monthly token budget"
            name="monthly_token_budget"
            type="number"
            min={0}
            step={1000}
            inputMode="numeric"
            error={save.error}
            value={budget}
            onChange={(e) => {
              setBudget(e.target.value);
              setSaved(false);
            }}
            hint="Tokens per calendar month (UTC) for all the organization's chats; 0 for no cap. Over it, new messages are refused until the month ends."
          />
          <UsageBar label="Tokens used this month" used={s.data.used_this_month} limit={s.data.monthly_token_budget} format={fmt} />
          <p className="muted small">The count starts again on {time(s.data.resets_at)}.</p>
          <ProblemAlert error={save.error} fieldsShown={["monthly_token_budget"]} />
          {saved && (
            <p role="status" className="alert alert-info">
              Saved.
            </p>
          )}
          <div className="row">
            <button className="btn btn-primary" type="submit" disabled={save.isPending}>
              {save.isPending ? "Saving…" : "Save assistant settings"}
            </button>
          </div>
        </form>
      )}
    </section>
  );
}
