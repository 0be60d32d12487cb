// Steps of the sign-in pages.
import { assert } from "../lib.mjs";

/** setupAdmin: the first-run form with the setup token, then the console signed in. */
export async function setupAdmin(h) {
  const page = await h.newPage();
  h.admin = page;
  await page.goto("/");
  await page.waitForURL(/\/login/);
  await h.axe(page, "login");
  await h.shot(page, "login");
  await page.getByRole("link", { name: "Create the first administrator" }).click();
  await page.waitForURL(/\/setup/);
  await page.getByLabel("Setup token").fill("not-the-token");
  await page.getByLabel("Email").fill(h.env.adminEmail);
  await page.getByLabel("Password").fill(h.env.adminPassword);
  await page.getByRole("button", { name: "Create administrator" }).click();
  // The server's field error shows under the field.
  await h.see(page, "is not the setup token this server printed");
  await h.axe(page, "setup");
  await page.getByLabel("Setup token").fill(h.env.setupToken);
  await page.getByRole("button", { name: "Create administrator" }).click();
  await page.waitForURL(/\/orgs\/new/);
  const ls = await page.evaluate(() => JSON.stringify(localStorage) + JSON.stringify(sessionStorage));
  assert(!/eyJ/.test(ls), "a token is in the page's storage: " + ls);
  const cookies = await page.context().cookies();
  const access = cookies.find((c) => c.name === "hks_access");
  assert(access && access.httpOnly, "the access token is not an HttpOnly cookie");
}

/**
 * sessionExpiry: on the organization settings page the user types a new
 * billing email; the session ends meanwhile (revoked, so refreshing fails
 * too); the submit brings up the sign-in dialog over the page; after
 * signing in, the waiting submit goes through and the typed value is
 * still there.
 */
export async function sessionExpiry(h) {
  const { org } = h.state;
  const page = await h.newPage();
  await page.goto(`/login?return_to=${encodeURIComponent(`/orgs/${org}/settings`)}`);
  await page.getByLabel("Email").fill(h.env.adminEmail);
  await page.getByLabel("Password").fill(h.env.adminPassword);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL((u) => u.pathname === `/orgs/${org}/settings`);
  const billing = page.getByLabel("Billing email");
  await billing.waitFor();
  const typed = "typed-before-expiry@acme.example";
  await billing.fill(typed);

  const me = await h.api(page, "GET", "/auth/me");
  assert(me.status === 200 && me.json.session_id, "no session id: " + me.text);
  const del = await h.api(page, "DELETE", `/auth/sessions/${me.json.session_id}`);
  assert(del.status === 204, `revoking the page's session: ${del.status} ${del.text}`);

  await page.getByRole("button", { name: "Save changes" }).click();
  const dialog = page.getByRole("dialog", { name: "Your session has ended" });
  await dialog.waitFor();
  await h.axe(page, "session-expired");
  await h.shot(page, "session-expired");
  assert((await dialog.getByLabel("Email").inputValue()) === h.env.adminEmail, "the dialog does not offer the same email");
  await dialog.getByLabel("Password").fill(h.env.adminPassword);
  await dialog.getByRole("button", { name: "Sign in" }).click();
  await dialog.waitFor({ state: "hidden" });
  await page.getByRole("status").filter({ hasText: "Saved." }).waitFor();
  assert((await billing.inputValue()) === typed, "the typed value was lost");
  const got = await h.api(page, "GET", `/api/v1/organizations/${org}`);
  assert(got.json.billing_email === typed, "the submit did not go through: " + got.text);
  await page.context().close();
}

/**
 * userSwitch: a tab following live updates while another tab of the same
 * browser signs out and signs in as someone else reloads (it was built
 * for the first user) instead of resubscribing its pages as the second.
 */
export async function userSwitch(h) {
  const s = h.state;
  assert(s.org && s.workspace && s.project, "run the steps that make the project first");
  const e = encodeURIComponent;
  const a = await h.newPage();
  const context = a.context();
  await a.goto("/login");
  await a.getByLabel("Email").fill(h.env.adminEmail);
  await a.getByLabel("Password").fill(h.env.adminPassword);
  await a.getByRole("button", { name: "Sign in" }).click();
  await a.waitForURL((u) => !u.pathname.startsWith("/login"));
  await a.goto(`/orgs/${e(s.org)}/workspaces/${e(s.workspace)}/projects/${e(s.project)}/apps`);
  await a.getByText("Live", { exact: true }).first().waitFor({ timeout: 30_000 });
  await a.evaluate(() => {
    window.__builtFor = "admin";
  });
  // Another tab of the same browser: sign out, sign in as the viewer.
  const b = await context.newPage();
  await b.goto("/account");
  await b.getByRole("button", { name: "Sign out" }).first().click();
  await b.waitForURL(/\/login/);
  await b.getByLabel("Email").fill(h.env.viewerEmail);
  await b.getByLabel("Password").fill(h.env.viewerPassword);
  await b.getByRole("button", { name: "Sign in" }).click();
  await b.waitForURL((u) => !u.pathname.startsWith("/login"));
  // The first tab's socket was closed with the admin's session; when it
  // reconnects it finds the viewer signed in and reloads.
  await a.waitForFunction(() => window.__builtFor === undefined, null, { timeout: 30_000 });
  await context.close();
}
