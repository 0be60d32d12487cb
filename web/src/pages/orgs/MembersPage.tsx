import { useState, type FormEvent } from "react";
import { useNavigate, useParams } from "react-router";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, call, type Schemas } from "../../api/client";
import { useMe } from "../../auth/session";
import { ConfirmButton, CopyButton, Empty, Loading, Page, Pager, time, useCursor, Scroll } from "../../ui/bits";
import { SelectField, TextField } from "../../ui/Field";
import { ProblemAlert } from "../../ui/ProblemAlert";
import { isAdmin, useOrg } from "./useOrg";
import { acceptLink } from "./AcceptInvitationPage";

type Member = Schemas["Member"];
const ROLES = ["member", "admin", "owner"] as const;

/**
 * MembersPage lists the organization's members with their roles and,
 * for owners and admins, changes roles, removes members and invites
 * people (an invitation's link is shown once, to pass on).
 */
export function MembersPage() {
  const { org = "" } = useParams();
  const o = useOrg(org);
  const role = o.data?.role;
  return (
    <Page title="Members">
      <ProblemAlert error={o.error} />
      <MemberList org={org} role={role} />
      {isAdmin(role) && <Invitations org={org} role={role!} />}
    </Page>
  );
}

function MemberList({ org, role }: { org: string; role?: string }) {
  const c = useCursor();
  const me = useMe();
  const qc = useQueryClient();
  const nav = useNavigate();
  const key = ["org", org, "members", c.cursor ?? ""];
  const members = useQuery({
    queryKey: key,
    queryFn: () => call(api.GET("/api/v1/organizations/{org}/members", { params: { path: { org }, query: { cursor: c.cursor, limit: 50 } } })),
  });
  const remove = useMutation({
    mutationFn: (m: Member) => call(api.DELETE("/api/v1/organizations/{org}/members/{user}", { params: { path: { org, user: m.user_id } } })),
    onSuccess: (_, m) => {
      if (m.user_id === me.data?.id) {
        qc.invalidateQueries({ queryKey: ["orgs"] });
        nav("/", { replace: true });
        return;
      }
      qc.invalidateQueries({ queryKey: ["org", org, "members"] });
    },
  });
  const items = members.data?.items ?? [];
  return (
    <section aria-labelledby="members-title">
      <h2 id="members-title">People in the organization</h2>
      {members.isPending && <Loading what="Loading members" />}
      <ProblemAlert error={members.error || remove.error} />
      {members.data && items.length === 0 && <Empty>No members.</Empty>}
      {items.length > 0 && (
        <Scroll label="Members">
          <table className="table">
            <caption className="sr-only">Members and their roles</caption>
            <thead>
              <tr>
                <th scope="col">Email</th>
                <th scope="col">Role</th>
                <th scope="col">Member since</th>
                <th scope="col">
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {items.map((m) => {
                const self = m.user_id === me.data?.id;
                // Admins manage members and admins; owners manage everyone.
                const manage = !self && (role === "owner" || (role === "admin" && m.role !== "owner"));
                return (
                  <tr key={m.user_id}>
                    <td data-label="Email">
                      {m.email} {self && <span className="muted">(you)</span>}
                    </td>
                    <td data-label="Role">{manage ? <RoleEditor org={org} m={m} callerRole={role!} /> : <span className="role">{m.role}</span>}</td>
                    <td data-label="Member since">{time(m.created_at)}</td>
                    <td>
                      {manage && (
                        <ConfirmButton
                          className="btn btn-small btn-danger"
                          label={`Remove ${m.email}`}
                          question={`Remove ${m.email} from the organization? They lose access to its workspaces.`}
                          confirmLabel="Remove"
                          onConfirm={() => remove.mutate(m)}
                        />
                      )}
                      {self && (
                        <ConfirmButton
                          className="btn btn-small"
                          label="Leave organization"
                          question="Leave this organization? You lose access to its workspaces until someone invites you again."
                          confirmLabel="Leave"
                          onConfirm={() => remove.mutate(m)}
                        />
                      )}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </Scroll>
      )}
      <Pager hasPrev={c.hasPrev} next={members.data?.next_cursor} onPrev={c.prev} onNext={c.next} />
    </section>
  );
}

function RoleEditor({ org, m, callerRole }: { org: string; m: Member; callerRole: string }) {
  const qc = useQueryClient();
  const [role, setRole] = useState(m.role);
  const change = useMutation({
    mutationFn: (r: string) => call(api.PATCH("/api/v1/organizations/{org}/members/{user}", { params: { path: { org, user: m.user_id } }, body: { role: r } })),
    onSettled: () => qc.invalidateQueries({ queryKey: ["org", org, "members"] }),
  });
  const roles = ROLES.filter((r) => callerRole === "owner" || r !== "owner");
  // A choice is saved with its button, not on change: arrow keys on a
  // closed select would otherwise send a change per option passed.
  return (
    <form
      className="row"
      onSubmit={(e) => {
        e.preventDefault();
        change.mutate(role);
      }}
    >
      <label className="sr-only" htmlFor={`role-${m.user_id}`}>
        Role of {m.email}
      </label>
      <select id={`role-${m.user_id}`} value={role} disabled={change.isPending} onChange={(e) => setRole(e.target.value)}>
        {roles.map((r) => (
          <option key={r} value={r}>
            {r}
          </option>
        ))}
      </select>
      {role !== m.role && (
        <button type="submit" className="btn btn-small" disabled={change.isPending}>
          {change.isPending ? "Saving…" : "Save role"}
        </button>
      )}
      <ProblemAlert error={change.error} />
    </form>
  );
}

function Invitations({ org, role }: { org: string; role: string }) {
  const qc = useQueryClient();
  const c = useCursor();
  const [email, setEmail] = useState("");
  const [invRole, setInvRole] = useState("member");
  const [sent, setSent] = useState<{ email: string; link: string } | null>(null);
  const list = useQuery({
    queryKey: ["org", org, "invitations", c.cursor ?? ""],
    queryFn: () => call(api.GET("/api/v1/organizations/{org}/invitations", { params: { path: { org }, query: { cursor: c.cursor, limit: 50 } } })),
  });
  const invite = useMutation({
    mutationFn: () => call(api.POST("/api/v1/organizations/{org}/invitations", { params: { path: { org } }, body: { email: email.trim(), role: invRole } })),
    onSuccess: (inv) => {
      setSent({ email: inv.email, link: acceptLink(inv.token ?? "") });
      setEmail("");
      qc.invalidateQueries({ queryKey: ["org", org, "invitations"] });
    },
  });
  const revoke = useMutation({
    mutationFn: (id: string) => call(api.DELETE("/api/v1/organizations/{org}/invitations/{invitation}", { params: { path: { org, invitation: id } } })),
    onSuccess: () => qc.invalidateQueries({ queryKey: ["org", org, "invitations"] }),
  });
  function submit(e: FormEvent) {
    e.preventDefault();
    setSent(null);
    invite.mutate();
  }
  const pending = (list.data?.items ?? []).filter((i) => !i.accepted_at);
  return (
    <section aria-labelledby="inv-title">
      <h2 id="inv-title">Invitations</h2>
      <form className="form" onSubmit={submit} aria-label="Invite someone" noValidate>
        <div className="row row-fields">
          <TextField label="Email to invite" name="email" type="email" error={invite.error} value={email} onChange={(e) => setEmail(e.target.value)} autoComplete="off" required />
          <SelectField label="Role" name="role" error={invite.error} value={invRole} onChange={(e) => setInvRole(e.target.value)}>
            {ROLES.filter((r) => role === "owner" || r !== "owner").map((r) => (
              <option key={r} value={r}>
                {r}
              </option>
            ))}
          </SelectField>
        </div>
        <ProblemAlert error={invite.error} fieldsShown={["email", "role"]} />
        <div className="row">
          <button type="submit" className="btn btn-primary" disabled={invite.isPending}>
            {invite.isPending ? "Inviting…" : "Send invitation"}
          </button>
        </div>
      </form>
      {sent && (
        <div className="alert alert-info" role="status">
          <p>
            <strong>Invitation for {sent.email} created.</strong> Send them this link; it is shown only now. They sign in with that email and accept. Someone without an account here needs one
            first: a platform operator creates it (<code>hks admin create-user</code>), or they sign in with a federated provider if the
            platform has one.
          </p>
          <p className="row">
            <label className="sr-only" htmlFor="invite-link">
              Invitation link
            </label>
            <input id="invite-link" className="link-box" readOnly value={sent.link} onFocus={(e) => e.currentTarget.select()} />
            <CopyButton text={sent.link} label="Copy link" />
          </p>
        </div>
      )}
      <h3>Pending</h3>
      {list.isPending && <Loading what="Loading invitations" />}
      <ProblemAlert error={list.error || revoke.error} />
      {list.data && pending.length === 0 && <Empty>No pending invitations.</Empty>}
      {pending.length > 0 && (
        <Scroll label="Pending invitations">
          <table className="table">
            <caption className="sr-only">Pending invitations</caption>
            <thead>
              <tr>
                <th scope="col">Email</th>
                <th scope="col">Role</th>
                <th scope="col">Expires</th>
                <th scope="col">
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {pending.map((i) => {
                const expired = new Date(i.expires_at).getTime() < Date.now();
                return (
                  <tr key={i.id}>
                    <td data-label="Email">{i.email}</td>
                    <td data-label="Role">{i.role}</td>
                    <td data-label="Expires">
                      {time(i.expires_at)} {expired && <span className="badge badge-failed">expired</span>}
                    </td>
                    <td>
                      <ConfirmButton
                        className="btn btn-small btn-danger"
                        label={`Revoke invitation for ${i.email}`}
                        question={`Revoke the invitation for ${i.email}? Its link stops working.`}
                        confirmLabel="Revoke"
                        onConfirm={() => revoke.mutate(i.id)}
                      />
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </Scroll>
      )}
      <Pager hasPrev={c.hasPrev} next={list.data?.next_cursor} onPrev={c.prev} onNext={c.next} />
    </section>
  );
}
