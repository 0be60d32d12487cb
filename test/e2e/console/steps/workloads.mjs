// Steps of the workloads pages: applications and CronJobs of a project
// (see ../run.mjs for the scenario and ../lib.mjs for the harness).
import { assert } from "../lib.mjs";

const e = encodeURIComponent;
const projectUrl = (s, p = s.project) => `/orgs/${e(s.org)}/workspaces/${e(s.workspace)}/projects/${e(p)}`;
const apiProject = (s, p = s.project) => `/api/v1/organizations/${e(s.org)}/workspaces/${e(s.workspace)}/projects/${e(p)}`;
const until = (ms) => new Promise((r) => setTimeout(r, ms));

/** ensureProject: the steps before (createOrg, createWorkspace, createProject) made the project. */
function ensureProject(h) {
  assert(h.state.org && h.state.workspace && h.state.project, "the earlier steps made no project (run createOrg, createWorkspace, createProject first)");
}

async function signIn(h, email, password) {
  const page = await h.newPage();
  await page.goto("/login");
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL((u) => !u.pathname.startsWith("/login"));
  return page;
}

/** ensureViewer: inviteViewer signed the viewer in and grantViewer gave them the project. */
function ensureViewer(h) {
  assert(h.viewer && h.state.otherProject, "the earlier steps made no viewer (run inviteViewer and grantViewer first)");
}

/** createApp: the simple form, a dry run refused on the name first, then 2/2 ready arriving live. */
export async function createApp(h) {
  ensureProject(h);
  const s = h.state;
  const page = h.admin;
  await page.goto(projectUrl(s) + "/apps");
  await page.getByRole("heading", { name: "Applications", level: 1 }).waitFor();
  await page.getByRole("link", { name: "New application" }).click();
  await page.waitForURL(/\/apps\/new$/);
  await page.getByLabel("Name", { exact: true }).fill("Web_App");
  await page.getByLabel("Image", { exact: true }).fill("nginx:1.27");
  await page.getByLabel("Replicas").fill("2");
  const dry = page.waitForResponse((r) => r.url().includes("/applications?dry_run=true") && r.request().method() === "POST");
  await page.getByRole("button", { name: "Create application" }).click();
  assert((await dry).status() === 422, "the dry run of a bad name is not a 422");
  // The server's message, under the Name field.
  const nameError = page.locator(".field", { has: page.getByLabel("Name", { exact: true }) }).getByRole("alert");
  await nameError.getByText("must be a DNS-1123 label").waitFor();
  await h.axe(page, "application-create");
  await page.getByLabel("Name", { exact: true }).fill("web");
  await page.getByRole("button", { name: "Create application" }).click();
  await page.waitForURL(/\/apps\/web$/);
  // Readiness arrives without a reload.
  await page.getByTestId("readiness").getByText("2/2 ready").waitFor({ timeout: 120_000 });
  await h.axe(page, "application");
  await h.shot(page, "application");
  s.app = "web";
  await page.getByRole("link", { name: "Applications" }).first().click();
  await page.getByRole("cell", { name: "2/2 ready" }).waitFor();
  await h.axe(page, "applications");
  await h.shot(page, "applications");
}

/** cronJob: the schedule checked as typed, five runs in Asia/Tokyo, create, trigger, the run in the history. */
export async function cronJob(h) {
  ensureProject(h);
  const s = h.state;
  const page = h.admin;
  await page.goto(projectUrl(s) + "/cronjobs");
  await page.getByRole("heading", { name: "CronJobs", level: 1 }).waitFor();
  await page.getByRole("link", { name: "New CronJob" }).first().click();
  await page.waitForURL(/\/cronjobs\/new$/);
  const schedule = page.getByLabel("Schedule (cron expression)");
  await schedule.fill("61 * * * *");
  const under = page.locator(".field", { has: schedule }).getByRole("alert");
  await under.getByText('minute "61": 61 is above the maximum 59').waitFor();
  await schedule.fill("*/15 9-17 * * 1-5");
  await page.getByLabel("Time zone").selectOption("Asia/Tokyo");
  const runs = page.getByRole("table", { name: "The next five runs" }).locator("tbody tr");
  await page.getByRole("columnheader", { name: "In Asia/Tokyo" }).waitFor();
  const n = await runs.count();
  assert(n === 5, `${n} next runs shown, want 5`);
  const first = await runs.first().locator("td").first().textContent();
  assert(/(09|10|11|12|13|14|15|16|17):(00|15|30|45)/.test(first ?? ""), `first run in Asia/Tokyo: ${first}`);
  await page.getByLabel("Name", { exact: true }).fill("report");
  await page.getByLabel("Image", { exact: true }).fill("busybox:1.36");
  await page.getByLabel("Command (run with sh -c, optional)").fill("echo hello");
  await h.axe(page, "cronjob-builder");
  await h.shot(page, "cronjob-builder");
  await page.getByRole("button", { name: "Create CronJob" }).click();
  await page.waitForURL(/\/cronjobs\/report$/);
  await page.getByRole("heading", { name: "History" }).waitFor();
  await page.getByRole("button", { name: "Run now" }).click();
  // The run appears in the history (the platform's record of the Job).
  await page.getByRole("table", { name: /Runs of report/ }).getByRole("cell", { name: "manual", exact: true }).waitFor({ timeout: 60_000 });
  s.cronjob = "report";
  await h.axe(page, "cronjob");
  await h.shot(page, "cronjob");
  await page.getByRole("link", { name: "CronJobs" }).first().click();
  await page.getByRole("link", { name: "report" }).waitFor();
  await h.axe(page, "cronjobs");
}

/** viewerView: the viewer sees their one project, no create/scale/delete; a forced POST gets the 403 detail. */
export async function viewerView(h) {
  ensureProject(h);
  ensureViewer(h);
  const s = h.state;
  const page = h.viewer;
  const wsApi = `/api/v1/organizations/${e(s.org)}/workspaces/${e(s.workspace)}`;
  // Only that project: the API's list as the page sees it, and the page.
  const list = await h.api(page, "GET", `${wsApi}/projects`);
  assert(list.status === 200, `projects: ${list.status} ${list.text}`);
  const names = list.json.items.map((p) => p.name);
  assert(names.includes(s.project) && !names.includes(s.otherProject ?? "backend"), `the viewer's projects: ${names}`);
  const accessLoaded = () => page.waitForResponse((r) => r.url().endsWith(`/projects/${e(s.project)}/access`) && r.status() === 200, { timeout: 60_000 });

  let a = accessLoaded();
  await page.goto(projectUrl(s) + "/apps");
  await a;
  await page.getByRole("table").getByRole("link", { name: s.app, exact: true }).waitFor();
  assert((await page.getByRole("link", { name: "New application" }).count()) === 0, "the viewer sees New application");
  await h.axe(page, "applications (viewer)");

  a = accessLoaded();
  await page.goto(projectUrl(s) + "/apps/" + e(s.app ?? "web"));
  await a;
  await page.getByTestId("readiness").waitFor();
  for (const name of ["Scale", "Delete", "Restart", "Set image", "Edit", "Edit as manifest"]) {
    assert((await page.getByRole("button", { name }).count()) === 0, `the viewer sees ${name}`);
  }
  await h.axe(page, "application (viewer)");

  a = accessLoaded();
  await page.goto(projectUrl(s) + "/cronjobs");
  await a;
  await page.getByRole("heading", { name: "CronJobs", level: 1 }).waitFor();
  assert((await page.getByRole("link", { name: "New CronJob" }).count()) === 0, "the viewer sees New CronJob");
  if (s.cronjob) {
    a = accessLoaded();
    await page.goto(projectUrl(s) + "/cronjobs/" + e(s.cronjob));
    await a;
    await page.getByRole("heading", { name: "History" }).waitFor();
    for (const name of ["Run now", "Suspend", "Delete", "Edit"]) {
      assert((await page.getByRole("button", { name }).count()) === 0, `the viewer sees ${name}`);
    }
    await h.axe(page, "cronjob (viewer)");
  }

  // A forced POST from the page's own context: the cluster's 403 and its detail.
  const forced = await h.api(page, "POST", `${apiProject(s)}/applications`, { name: "sneaky", image: "nginx:1.27" });
  assert(forced.status === 403, `forced POST: ${forced.status} ${forced.text}`);
  assert(forced.json?.detail && /forbidden/i.test(forced.json.detail), `forced POST detail: ${forced.text}`);
  h.log(`  forced POST: 403 "${forced.json.detail}"`);

  // The create form is reachable by URL: the server's refusal shows there.
  await page.goto(projectUrl(s) + "/apps/new");
  await page.getByText("does not allow creating applications").waitFor();
  await page.getByLabel("Name", { exact: true }).fill("sneaky");
  await page.getByLabel("Image", { exact: true }).fill("nginx:1.27");
  await page.getByRole("button", { name: "Create application" }).click();
  const alert = page.locator('[role="alert"][data-status="403"]');
  await alert.waitFor();
  const shown = (await alert.locator(".problem-detail").textContent()) ?? "";
  assert(/forbidden/i.test(shown), `the page shows: ${shown}`);
  await h.axe(page, "application-create (viewer)");
}

/** liveScale: two contexts on the application page; a scale to 3 in one shows in the other within 1 s. */
export async function liveScale(h) {
  ensureProject(h);
  const s = h.state;
  const app = s.app ?? "web";
  const url = projectUrl(s) + "/apps/" + e(app);
  const a = h.admin;
  const b = await signIn(h, h.env.adminEmail, h.env.adminPassword);
  await a.goto(url);
  await b.goto(url);
  for (const p of [a, b]) {
    await p.getByText("Live", { exact: true }).waitFor({ timeout: 30_000 });
    await p.getByTestId("readiness").getByText(/^2\/2 ready/).waitFor({ timeout: 60_000 });
  }
  await a.getByLabel("Replicas").fill("3");
  const answered = a.waitForResponse((r) => r.url().endsWith("/scale") && r.request().method() === "POST");
  await a.getByRole("button", { name: "Scale" }).click();
  const res = await answered;
  assert(res.status() === 200, `scale: ${res.status()}`);
  const t0 = performance.now();
  await b.getByTestId("desired").getByText("3 desired").waitFor({ timeout: 10_000 });
  const desiredMs = performance.now() - t0;
  await b.getByTestId("readiness").getByText(/^3\/3 ready/).waitFor({ timeout: 60_000 });
  const readyMs = performance.now() - t0;
  h.log(`  liveScale: the other context showed 3 desired ${desiredMs.toFixed(0)} ms after the scale's answer, 3/3 ready after ${readyMs.toFixed(0)} ms`);
  assert(desiredMs <= 1000, `3 desired appeared after ${desiredMs.toFixed(0)} ms (> 1000 ms)`);
  await b.context().close();
}

/**
 * editApp: the application's Edit form starts from its spec; a line the
 * form cannot read is refused under its field; an added variable is saved
 * (a PUT with the version the form started from) and the rollout ends 2/2 ready.
 */
export async function editApp(h) {
  ensureProject(h);
  const s = h.state;
  const app = s.app ?? "web";
  const page = h.admin;
  await page.goto(projectUrl(s) + "/apps/" + e(app));
  await page.getByTestId("readiness").getByText(/^2\/2 ready/).waitFor({ timeout: 60_000 });
  await page.getByRole("button", { name: "Edit", exact: true }).click();
  const form = page.getByRole("form", { name: "Edit application" });
  const image = form.getByLabel("Image", { exact: true });
  assert((await image.inputValue()) === "nginx:1.27", `the form starts from image ${await image.inputValue()}`);
  assert((await form.getByLabel("Replicas").inputValue()) === "2", "the form does not start from 2 replicas");
  const env = form.getByLabel("Environment (NAME=VALUE, one a line)");
  await env.fill("GREETING");
  await form.getByRole("button", { name: "Save changes" }).click();
  await page.locator(".field", { has: page.getByLabel("Environment (NAME=VALUE, one a line)") }).getByRole("alert").getByText("want NAME=VALUE").waitFor();
  await h.axe(page, "application-edit");
  await env.fill("GREETING=hello from the console");
  await h.shot(page, "application-edit");
  const put = page.waitForResponse((r) => r.url().endsWith(`/applications/${e(app)}`) && r.request().method() === "PUT");
  await form.getByRole("button", { name: "Save changes" }).click();
  const res = await put;
  assert(res.status() === 200, `PUT: ${res.status()}`);
  await form.waitFor({ state: "detached" });
  const got = await h.api(page, "GET", `${apiProject(s)}/applications/${e(app)}`);
  const v = (got.json.spec.env ?? []).find((x) => x.name === "GREETING");
  assert(v && v.value === "hello from the console" && got.json.spec.replicas === 2 && got.json.image === "nginx:1.27", `after the edit: ${got.text}`);
  // The form shows what was saved.
  await page.getByRole("button", { name: "Edit", exact: true }).click();
  assert((await env.inputValue()) === "GREETING=hello from the console", "the reopened form does not show the saved env");
  await page.getByRole("form", { name: "Edit application" }).getByRole("button", { name: "Cancel" }).click();
  await page.getByTestId("readiness").getByText(/^2\/2 ready/).waitFor({ timeout: 120_000 });
}

/**
 * editCronJob: the last run shows the run started with Run now; the next
 * runs name their zone; the Edit form (the builder's fields, filled from
 * the spec) saves a new command and history limit, shown on the page.
 */
export async function editCronJob(h) {
  ensureProject(h);
  const s = h.state;
  assert(s.cronjob, "the earlier steps made no CronJob (run cronJob first)");
  const page = h.admin;
  await page.goto(projectUrl(s) + "/cronjobs/" + e(s.cronjob));
  await page.getByTestId("last-run").getByText("(run now)").waitFor({ timeout: 30_000 });
  await page.getByText("Next runs (in Asia/Tokyo)").waitFor();
  await page.getByRole("button", { name: "Edit", exact: true }).click();
  const form = page.getByRole("form", { name: "Edit CronJob" });
  assert((await form.getByLabel("Schedule (cron expression)").inputValue()) === "*/15 9-17 * * 1-5", "the form does not start from the schedule");
  assert((await form.getByLabel("Time zone").inputValue()) === "Asia/Tokyo", "the form does not start from the zone");
  const image = form.getByLabel("Image", { exact: true });
  assert((await image.inputValue()) === "busybox:1.36", "the form does not start from the image");
  const command = form.getByLabel("Command (run with sh -c, optional)");
  assert((await command.inputValue()) === "echo hello", "the form does not start from the command");
  // The image stays (a scheduled run must find it); the command changes.
  await command.fill("echo edited");
  await form.getByText("More options: retries, deadlines, history, resources").click();
  await form.getByLabel("Succeeded Jobs kept (default 3)").fill("5");
  await h.axe(page, "cronjob-edit");
  await h.shot(page, "cronjob-edit");
  await form.getByRole("button", { name: "Save changes" }).click();
  await form.waitFor({ state: "detached" });
  await page.getByText("sh -c echo edited", { exact: true }).waitFor();
  const got = await h.api(page, "GET", `${apiProject(s)}/cronjobs/${e(s.cronjob)}`);
  const sp = got.json.spec;
  assert(sp.template.image === "busybox:1.36" && sp.template.command?.join(" ") === "sh -c echo edited" && sp.successful_jobs_history_limit === 5 && sp.time_zone === "Asia/Tokyo" && sp.schedule === "*/15 9-17 * * 1-5", `after the edit: ${got.text}`);
  await h.axe(page, "cronjob-edited");
}
