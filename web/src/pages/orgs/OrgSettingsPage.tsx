import { useEffect, useState, type FormEvent } from "react";
import { useNavigate, useParams } from "react-router";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { api, call, type Schemas } from "../../api/client";
import { ConfirmButton, Loading, Page } from "../../ui/bits";
import { CheckboxField, TextField } from "../../ui/Field";
import { ProblemAlert } from "../../ui/ProblemAlert";
import { isAdmin, orgKey, useOrg } from "./useOrg";
import { AssistantSettings } from "../assistant/AssistantSettings";

type Org = Schemas["Organization"];
type Update = Schemas["UpdateOrganizationRequest"];

/**
 * OrgSettingsPage: the organization's name and billing email (admins),
 * requiring two-factor authentication of its members (owners) and
 * deleting it (owners). Every change is sent with If-Match: the version
 * the page showed, so a change someone else made meanwhile is refused
 * (412) instead of overwritten.
 */
export function OrgSettingsPage() {
  const { org = "" } = useParams();
  const o = useOrg(org);
  return (
    <Page title="Organization settings">
      {o.isPending && <Loading what="Loading the organization" />}
      <ProblemAlert error={o.error} />
      {o.data && <Settings o={o.data} />}
    </Page>
  );
}

function usePatch(o: Org) {
  const qc = useQueryClient();
  const nav = useNavigate();
  return useMutation({
    mutationFn: (body: Update) =>
      call(
        api.PATCH("/api/v1/organizations/{org}", {
          params: { path: { org: o.slug }, header: { "If-Match": `"${o.resource_version}"` } },
          body,
        }),
      ),
    onSuccess: (n) => {
      qc.setQueryData(orgKey(n.slug), n);
      qc.invalidateQueries({ queryKey: ["orgs"] });
      if (n.slug !== o.slug) nav(`/orgs/${encodeURIComponent(n.slug)}/settings`, { replace: true });
    },
  });
}

function Settings({ o }: { o: Org }) {
  const admin = isAdmin(o.role);
  const owner = o.role === "owner";
  const [name, setName] = useState(o.name);
  const [billing, setBilling] = useState(o.billing_email ?? "");
  const [saved, setSaved] = useState(false);
  const save = usePatch(o);
  const twofa = usePatch(o);
  const qc = useQueryClient();
  const nav = useNavigate();
  const del = useMutation({
    mutationFn: () => call(api.DELETE("/api/v1/organizations/{org}", { params: { path: { org: o.slug } } })),
    onSuccess: () => {
      qc.removeQueries({ queryKey: ["org", o.slug] });
      qc.invalidateQueries({ queryKey: ["orgs"] });
      nav("/", { replace: true });
    },
  });
  // Someone else's change (seen on refetch) shows when this form is untouched.
  useEffect(() => {
    setName(o.name);
    setBilling(o.billing_email ?? "");
  }, [o.name, o.billing_email]);

  function submit(e: FormEvent) {
    e.preventDefault();
    setSaved(false);
    const body: Update = {};
    if (name.trim() !== o.name) body.name = name.trim();
    if (billing.trim() !== (o.billing_email ?? "")) body.billing_email = billing.trim();
    save.mutate(body, { onSuccess: () => setSaved(true) });
  }

  return (
    <>
      <section aria-labelledby="general-title">
        <h2 id="general-title">General</h2>
        <form className="form" onSubmit={submit} aria-label="General settings" noValidate>
          <TextField label="Name" name="name" error={save.error} value={name} onChange={(e) => { setName(e.target.value); setSaved(false); }} disabled={!admin} required maxLength={100} />
          <TextField label="Slug" name="slug" value={o.slug} readOnly disabled hint="The organization's address; it cannot be changed here." />
          <TextField
            label="Billing email"
            name="billing_email"
            type="email"
            error={save.error}
            value={billing}
            onChange={(e) => { setBilling(e.target.value); setSaved(false); }}
            disabled={!admin}
            autoComplete="email"
          />
          <ProblemAlert error={save.error} fieldsShown={["name", "billing_email"]} />
          {saved && (
            <p role="status" className="alert alert-info">
              Saved.
            </p>
          )}
          {admin ? (
            <div className="row">
              <button className="btn btn-primary" type="submit" disabled={save.isPending}>
                {save.isPending ? "Saving…" : "Save changes"}
              </button>
            </div>
          ) : (
            <p className="muted">Only owners and admins change these settings.</p>
          )}
        </form>
      </section>

      <section aria-labelledby="security-title">
        <h2 id="security-title">Security</h2>
        <CheckboxField
          label="Require two-factor authentication"
          name="require_2fa"
          checked={o.require_2fa}
          disabled={!owner || twofa.isPending}
          onChange={(e) => twofa.mutate({ require_2fa: e.target.checked })}
          hint={
            owner
              ? "Members without two-factor authentication are refused on this organization's resources until they turn it on. To turn this on, your own two-factor authentication must be on."
              : "Only owners change this."
          }
        />
        <ProblemAlert error={twofa.error} fieldsShown={[]} />
      </section>

      {admin && <AssistantSettings org={o.slug} />}

      {owner && (
        <section aria-labelledby="danger-title">
          <h2 id="danger-title">Delete the organization</h2>
          <p>Deleting is possible once the organization has no workspaces. Its members, invitations and audit log go with it.</p>
          <ConfirmButton
            label="Delete organization"
            question={`Delete the organization ${o.name} (${o.slug})? This cannot be undone.`}
            confirmLabel={`Delete ${o.slug}`}
            onConfirm={() => del.mutate()}
            disabled={del.isPending}
          />
          <ProblemAlert error={del.error} />
        </section>
      )}
    </>
  );
}
