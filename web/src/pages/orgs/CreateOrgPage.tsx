import { useState, type FormEvent } from "react";
import { useNavigate } from "react-router";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { api, call } from "../../api/client";
import { useMe } from "../../auth/session";
import { Page } from "../../ui/bits";
import { TextField } from "../../ui/Field";
import { ProblemAlert } from "../../ui/ProblemAlert";
import { paths } from "../../paths";

/** CreateOrgPage creates an organization; the caller becomes its owner. */
export function CreateOrgPage() {
  const me = useMe();
  const [name, setName] = useState("");
  const [slug, setSlug] = useState("");
  const [billing, setBilling] = useState("");
  const qc = useQueryClient();
  const nav = useNavigate();
  const create = useMutation({
    mutationFn: () =>
      call(
        api.POST("/api/v1/organizations", {
          body: { name: name.trim(), slug: slug.trim() || undefined, billing_email: billing.trim() || undefined },
        }),
      ),
    onSuccess: (o) => {
      qc.invalidateQueries({ queryKey: ["orgs"] });
      nav(paths.org(o.slug));
    },
  });
  function submit(e: FormEvent) {
    e.preventDefault();
    create.mutate();
  }
  return (
    <Page title="New organization" crumbs={[{ to: "/", label: "Organizations" }]}>
      <p>An organization holds workspaces, members and billing. You become its owner.</p>
      <form className="form" onSubmit={submit} aria-label="New organization" noValidate>
        <TextField label="Name" name="name" error={create.error} value={name} onChange={(e) => setName(e.target.value)} required maxLength={100} hint="Shown to people, 1 to 100 characters." autoFocus />
        <TextField
          label="Slug (optional)"
          name="slug"
          error={create.error}
          value={slug}
          onChange={(e) => setSlug(e.target.value.toLowerCase())}
          autoComplete="off"
          spellCheck={false}
          hint="Used in addresses: lowercase letters, digits and dashes. Made from the name when left empty."
        />
        <TextField
          label="Billing email (optional)"
          name="billing_email"
          type="email"
          error={create.error}
          value={billing}
          placeholder={me.data?.email}
          onChange={(e) => setBilling(e.target.value)}
          autoComplete="email"
        />
        <ProblemAlert error={create.error} fieldsShown={["name", "slug", "billing_email"]} />
        <div className="row">
          <button className="btn btn-primary" type="submit" disabled={create.isPending}>
            {create.isPending ? "Creating…" : "Create organization"}
          </button>
        </div>
      </form>
    </Page>
  );
}
