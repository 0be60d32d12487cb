// Steps of the orgs pages (see ../run.mjs for the scenario and ../lib.mjs for the harness).
import { assert, createUser } from "../lib.mjs";

/** signIn signs page in at /login as email (no second factor). */
export async function signIn(page, email, password, returnTo = "/") {
  await page.goto(`/login?return_to=${encodeURIComponent(returnTo)}`);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL((u) => u.pathname === returnTo.split("?")[0]);
}

/** noOverflow asserts the page's body is not wider than its viewport. */
export async function noOverflow(page, what) {
  const { sw, vw } = await page.evaluate(() => ({ sw: document.documentElement.scrollWidth, vw: window.innerWidth }));
  assert(sw <= vw, `${what}: the page is ${sw} px wide in a ${vw} px viewport`);
}

/**
 * createOrg: /orgs/new, one attempt refused with the server's field
 * error under the slug field, then the organization is created and the
 * console goes to it.
 */
export async function createOrg(h) {
  const page = h.admin;
  await page.goto("/orgs/new");
  await page.getByRole("heading", { level: 1, name: "New organization" }).waitFor();
  await page.getByLabel("Name", { exact: true }).fill("Acme");
  await page.getByLabel("Slug (optional)").fill("-acme-");
  await page.getByLabel("Billing email (optional)").fill("billing@acme.example");
  await page.getByRole("button", { name: "Create organization" }).click();
  // The server's message, under the field it names.
  await h.see(page, /must be a DNS-1123 label/);
  const slug = page.getByLabel("Slug (optional)");
  assert((await slug.getAttribute("aria-invalid")) === "true", "the slug field is not marked invalid");
  await h.axe(page, "org-new");
  await h.shot(page, "org-new");
  await slug.fill("acme");
  await page.getByRole("button", { name: "Create organization" }).click();
  await page.waitForURL((u) => u.pathname === "/orgs/acme");
  h.state.org = "acme";
  await page.getByRole("combobox", { name: "Organization" }).waitFor();
  await h.axe(page, "org");
  await h.shot(page, "org");
}

/**
 * inviteViewer: the admin invites the viewer as a member and gets the
 * accept link once; the viewer, not signed in, opens it, signs in on the
 * page, accepts and lands in the organization.
 */
export async function inviteViewer(h) {
  const { org } = h.state;
  createUser(h, h.env.viewerEmail, h.env.viewerPassword);
  const page = h.admin;
  await page.goto(`/orgs/${org}/members`);
  await page.getByRole("heading", { name: "Invitations" }).waitFor();
  // A refused invitation names the field.
  await page.getByLabel("Email to invite").fill("not-an-email");
  await page.getByRole("button", { name: "Send invitation" }).click();
  await h.see(page, "must be an email address like name@example.com");
  await page.getByLabel("Email to invite").fill(h.env.viewerEmail);
  await page.getByLabel("Role", { exact: true }).selectOption("member");
  await page.getByRole("button", { name: "Send invitation" }).click();
  const linkBox = page.getByLabel("Invitation link");
  await linkBox.waitFor();
  const link = await linkBox.inputValue();
  assert(link.startsWith(h.base + "/invitations/accept#token="), "unexpected accept link: " + link);
  await h.see(page, h.env.viewerEmail); // in the pending list
  await h.axe(page, "invitations");
  await h.shot(page, "invitations");

  const viewer = await h.newPage();
  h.viewer = viewer;
  await viewer.goto(link);
  await viewer.getByRole("heading", { name: "Accept an invitation" }).waitFor();
  await viewer.getByLabel("Email").fill(h.env.viewerEmail);
  await viewer.getByLabel("Password").fill(h.env.viewerPassword);
  await viewer.getByRole("button", { name: "Sign in" }).click();
  const accept = viewer.getByRole("button", { name: "Accept invitation" });
  await accept.waitFor();
  await h.see(viewer, `You are signed in as ${h.env.viewerEmail}`);
  await h.axe(viewer, "invitation-accept");
  await h.shot(viewer, "invitation-accept");
  await accept.click();
  await viewer.waitForURL((u) => u.pathname === `/orgs/${org}`);
  const me = await h.api(viewer, "GET", `/api/v1/organizations/${org}`);
  assert(me.status === 200 && me.json.role === "member", `the viewer is not a member: ${me.status} ${me.text}`);
}

/**
 * settingsMembersAudit: the settings page saves a new name and billing
 * email; the members page lists both users with roles; the audit log
 * shows the organization's records and a filter narrows it.
 */
export async function settingsMembersAudit(h) {
  const { org } = h.state;
  const page = h.admin;
  await page.goto(`/orgs/${org}/settings`);
  const name = page.getByLabel("Name", { exact: true });
  await name.waitFor();
  await name.fill("Acme Corporation");
  await page.getByLabel("Billing email").fill("invoices@acme.example");
  await page.getByRole("button", { name: "Save changes" }).click();
  await page.getByRole("status").filter({ hasText: "Saved." }).waitFor();
  await h.axe(page, "org-settings");
  await h.shot(page, "org-settings");
  const got = await h.api(page, "GET", `/api/v1/organizations/${org}`);
  assert(got.json.name === "Acme Corporation" && got.json.billing_email === "invoices@acme.example", "settings not saved: " + got.text);

  await page.goto(`/orgs/${org}/members`);
  const rows = page.getByRole("table", { name: "Members and their roles" }).getByRole("row");
  await rows.filter({ hasText: h.env.viewerEmail }).waitFor();
  const adminRow = rows.filter({ hasText: h.env.adminEmail });
  await adminRow.getByText("owner").waitFor();
  // The owner may change the viewer's role: the select is there, set to member.
  const sel = page.getByLabel(`Role of ${h.env.viewerEmail}`);
  assert((await sel.inputValue()) === "member", "the viewer's role is not member");
  // Change the role and back: saved with the button, shown after the refetch.
  for (const role of ["admin", "member"]) {
    await sel.selectOption(role);
    await page.getByRole("button", { name: "Save role" }).click();
    await page.getByRole("button", { name: "Save role" }).waitFor({ state: "detached" });
    const ms = await h.api(page, "GET", `/api/v1/organizations/${org}/members`);
    const v = ms.json.items.find((m) => m.email === h.env.viewerEmail);
    assert(v && v.role === role, `the viewer's role is ${v && v.role}, want ${role}`);
  }
  await h.axe(page, "members");
  await h.shot(page, "members");

  await page.goto(`/orgs/${org}/audit`);
  const table = page.getByRole("table", { name: /Audit records/ });
  await table.getByText("organization.create", { exact: true }).waitFor();
  await table.getByText("organization.invitation.create", { exact: true }).first().waitFor();
  await h.axe(page, "audit");
  await h.shot(page, "audit");
  await page.getByLabel("Action").fill("organization.invitation.*");
  await page.getByRole("button", { name: "Apply filters" }).click();
  await page.waitForURL(/action=organization\.invitation/);
  await table.getByText("organization.invitation.accept", { exact: true }).waitFor();
  assert((await table.getByText("organization.create", { exact: true }).count()) === 0, "the filter did not narrow the log");
  await h.axe(page, "audit-filtered");
}

/** orgNavReady waits until the organization's nav knows the caller's role (it is aria-busy before). */
async function orgNavReady(page) {
  await page.locator('nav[aria-label="Organization"][aria-busy="false"]').waitFor();
}

/**
 * viewerNav: the viewer, a plain member of the organization, sees no
 * "Audit log" or "Tasks" link, and the API refuses them the tasks.
 */
export async function viewerNav(h) {
  const { org } = h.state;
  assert(h.viewer, "no viewer: run inviteViewer first");
  const page = h.viewer;
  await page.goto(`/orgs/${org}`);
  await orgNavReady(page);
  const nav = page.getByRole("navigation", { name: "Organization" });
  await nav.getByRole("link", { name: "Members" }).waitFor();
  for (const name of ["Audit log", "Tasks"]) {
    assert((await nav.getByRole("link", { name }).count()) === 0, `the viewer sees the ${name} link`);
  }
  const tasks = await h.api(page, "GET", `/api/v1/organizations/${org}/tasks`);
  assert(tasks.status === 403, `the viewer's GET of the tasks: ${tasks.status} ${tasks.text}`);
  await h.axe(page, "org (viewer)");
}

/**
 * tasks: the admin reaches the tasks from the org nav, sees the
 * workspace's provisioning task succeeded, and opens it.
 */
export async function tasks(h) {
  const { org } = h.state;
  const page = h.admin;
  await page.goto(`/orgs/${org}`);
  await orgNavReady(page);
  const nav = page.getByRole("navigation", { name: "Organization" });
  await nav.getByRole("link", { name: "Audit log" }).waitFor();
  await nav.getByRole("link", { name: "Tasks" }).click();
  await page.getByRole("heading", { level: 1, name: "Tasks" }).waitFor();
  const row = page.getByRole("table", { name: /Tasks of the organization/ }).getByRole("row").filter({ hasText: "workspace.provision" }).last();
  await row.getByText("succeeded", { exact: true }).waitFor();
  await h.axe(page, "tasks");
  await h.shot(page, "tasks");
  await row.getByRole("link", { name: "workspace.provision" }).click();
  await page.getByRole("heading", { level: 1, name: "Task workspace.provision" }).waitFor();
  await page.getByTestId("task-status").getByText("succeeded", { exact: true }).waitFor();
  await h.axe(page, "task");
  await h.shot(page, "task");
}
