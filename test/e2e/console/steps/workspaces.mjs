// Steps of the workspaces pages (see ../run.mjs for the scenario and ../lib.mjs for the harness).
import { readFileSync } from "node:fs";
import { assert } from "../lib.mjs";

// Provisioning and waking a real workspace take a while.
const SLOW = { timeout: 240_000 };

// Until GET /api/v1/ws lands (built in parallel), the pages fall back to
// polling a status that changes by itself, and their live indicator does
// not say "Live". CONSOLE_EXPECT_LIVE=0 skips only that indicator check;
// everything else (no reload, statuses arriving) is asserted either way.
const expectLive = process.env.CONSOLE_EXPECT_LIVE !== "0";

async function seeLive(h, page) {
  if (!expectLive) return;
  await page.getByRole("status").filter({ hasText: /^\s*Live\s*$/ }).first().waitFor({ state: "visible", timeout: 15_000 });
}

/** markPage marks the document, so that a later check proves no reload happened. */
async function markPage(page) {
  await page.evaluate(() => {
    window.__hksNoReload = true;
  });
}
async function notReloaded(page, what) {
  assert(await page.evaluate(() => window.__hksNoReload === true), `the page was reloaded while waiting for ${what}`);
}

/** statusIn waits for a status badge inside a locator. */
async function statusIn(scope, status, opts = SLOW) {
  await scope.locator(`[data-status="${status}"]`).first().waitFor({ state: "visible", ...opts });
}

const wsPath = (h) => `/orgs/${h.state.org}/workspaces/${h.state.workspace}`;

/** createWorkspace: from the org's (empty) list, create "web", and see it go running on the live list without a reload. */
export async function createWorkspace(h) {
  assert(h.state.org, "no organization: run createOrg first");
  const page = h.admin;
  await page.goto(`/orgs/${h.state.org}`);
  await page.getByRole("heading", { level: 1, name: /workspaces/i }).waitFor();
  await h.see(page, "No workspaces yet");
  await h.axe(page, "workspaces-empty");
  await page.getByRole("link", { name: "New workspace" }).click();
  await page.getByRole("heading", { level: 1, name: "New workspace" }).waitFor();
  // The server's field error shows under the field.
  await page.getByLabel("Name").fill("Not_A_Label");
  await page.getByRole("button", { name: "Create workspace" }).click();
  await page.locator('input[name="name"][aria-invalid="true"]').waitFor();
  await h.axe(page, "workspace-new");
  await page.getByLabel("Name").fill("web");
  await page.getByLabel("Plan").selectOption("shared");
  await page.getByRole("button", { name: "Create workspace" }).click();
  await page.waitForURL(/\/orgs\/[^/]+\/workspaces\/web$/);
  h.state.workspace = "web";
  // Back to the list in the page (no reload), and the row goes running by itself.
  await markPage(page);
  await page.getByRole("navigation", { name: "Organization" }).getByRole("link", { name: "Workspaces" }).click();
  const row = page.getByRole("row").filter({ has: page.getByRole("link", { name: "web", exact: true }) });
  await row.waitFor();
  await seeLive(h, page);
  await statusIn(row, "running");
  await notReloaded(page, "the workspace to run");
  await h.shot(page, "workspaces");
  await h.axe(page, "workspaces");
  await row.getByRole("link", { name: "web", exact: true }).click();
  await page.getByRole("heading", { level: 1, name: "Workspace web" }).waitFor();
  await statusIn(page.getByRole("region", { name: "Status" }), "running", { timeout: 15_000 });
  await page.getByRole("region", { name: "Control plane" }).getByText(/Kubernetes|Health not known/).first().waitFor();
  await h.shot(page, "workspace");
  await h.axe(page, "workspace");
}

/** createProject: a project with a CPU/memory/pods quota, after one attempt the server refuses on quota.cpu; its usage bars. */
export async function createProject(h) {
  const page = h.admin;
  await page.goto(wsPath(h));
  await page.getByRole("navigation", { name: "Workspace" }).getByRole("link", { name: "Projects" }).click();
  await page.getByRole("heading", { level: 1, name: `Projects of ${h.state.workspace}` }).waitFor();
  await h.see(page, "No projects yet");
  await h.axe(page, "projects-empty");
  const form = page.getByRole("form", { name: "New project" });
  await form.getByLabel("Project name").fill("frontend");
  await form.getByLabel("CPU").fill("2 cores");
  await form.getByLabel("Memory").fill("4Gi");
  await form.getByLabel("Pods").fill("10");
  await form.getByRole("button", { name: "Create project" }).click();
  // The server's message under the CPU field.
  const cpu = form.locator('input[name="quota.cpu"][aria-invalid="true"]');
  await cpu.waitFor();
  const msg = await form.locator(`#${await cpu.getAttribute("aria-describedby").then((d) => d.split(" ").pop())}`).innerText();
  assert(msg.trim().length > 0, "no message under the CPU field");
  await h.axe(page, "project-new-error");
  await form.getByLabel("CPU").fill("4");
  await form.getByRole("button", { name: "Create project" }).click();
  await page.waitForURL(/\/projects\/frontend$/);
  h.state.project = "frontend";
  await page.getByRole("heading", { level: 1, name: "Project frontend" }).waitFor();
  const tabs = page.getByRole("navigation", { name: "Project" });
  for (const t of ["Overview", "Applications", "CronJobs"]) await tabs.getByRole("link", { name: t }).waitFor();
  // Usage bars against the quota (the ResourceQuota in the workspace's cluster).
  for (const m of [/^Pods:/, /^CPU requested:/, /^Memory requested:/]) {
    await page.getByRole("meter", { name: m }).waitFor(SLOW).catch(async (e) => {
      const names = await page.getByRole("meter").evaluateAll((ms) => ms.map((x) => x.getAttribute("aria-label")));
      throw new Error(`no meter ${m}; meters: ${names.join(" | ")}: ${e.message}`);
    });
  }
  await h.shot(page, "project");
  await h.axe(page, "project");
  // The tree shows it with its quota.
  await page.getByRole("navigation", { name: "Breadcrumb" }).getByRole("link", { name: "Projects" }).click();
  await page.getByRole("list", { name: "Projects" }).getByRole("link", { name: "frontend" }).waitFor();
  await h.axe(page, "projects");
}

async function openGroups(h, page) {
  await page.goto(wsPath(h));
  await page.getByRole("navigation", { name: "Workspace" }).getByRole("link", { name: "Groups and roles" }).click();
  await page.getByRole("heading", { level: 1, name: /^Groups and roles/ }).waitFor();
}

async function createGroup(page, name, parent) {
  const form = page.getByRole("form", { name: "New group" });
  await form.getByLabel("Group name").fill(name);
  await form.getByLabel("Parent group").selectOption(parent ? { label: parent } : "");
  await form.getByRole("button", { name: "Create group" }).click();
  await page.getByRole("list", { name: "Groups" }).getByRole("button", { name, exact: true }).waitFor();
}

async function bind(page, group, role, project) {
  const form = page.getByRole("form", { name: "New role binding" });
  await form.getByLabel("Group").selectOption({ label: group });
  await form.getByLabel("Role").selectOption(role);
  await form.getByLabel("Scope").selectOption({ label: `project ${project}` });
  await form.getByRole("button", { name: "Bind role" }).click();
  await page
    .getByRole("row")
    .filter({ hasText: group })
    .filter({ hasText: role })
    .filter({ hasText: `project ${project}` })
    .first()
    .waitFor();
}

/** groupAndBinding: a group "devs" with a child group, and devs bound as developer on the project. */
export async function groupAndBinding(h) {
  const page = h.admin;
  await openGroups(h, page);
  await h.see(page, "No groups yet");
  await h.axe(page, "groups-empty");
  await createGroup(page, "devs");
  await createGroup(page, "devs-frontend", "devs");
  // The child sits under its parent in the tree.
  await page.getByRole("list", { name: "Groups" }).getByRole("listitem").filter({ hasText: "devs" }).getByRole("list").getByRole("button", { name: "devs-frontend" }).waitFor();
  h.state.group = "devs";
  await bind(page, "devs", "developer", h.state.project);
  await page.getByRole("list", { name: "Groups" }).getByRole("button", { name: "devs", exact: true }).click();
  await page.getByRole("heading", { name: "Group devs" }).waitFor();
  await h.see(page, "No members.");
  await h.shot(page, "groups");
  await h.axe(page, "groups");
}

async function viewerPage(h) {
  if (h.viewer) return h.viewer;
  const page = await h.newPage();
  await page.goto("/login");
  await page.getByLabel("Email").fill(h.env.viewerEmail);
  await page.getByLabel("Password").fill(h.env.viewerPassword);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL((u) => !u.pathname.startsWith("/login"));
  h.viewer = page;
  return page;
}

/** grantViewer: a second project "other"; the viewer, through a group "viewers", gets viewer on h.state.project only, and sees only it. */
export async function grantViewer(h) {
  const page = h.admin;
  await page.goto(`${wsPath(h)}/projects`);
  const form = page.getByRole("form", { name: "New project" });
  await form.getByLabel("Project name").fill("other");
  await form.getByRole("button", { name: "Create project" }).click();
  await page.waitForURL(/\/projects\/other$/);
  h.state.otherProject = "other";
  // A child of the project, added from its row in the tree.
  await page.goto(`${wsPath(h)}/projects`);
  await page.getByRole("button", { name: `Add child project of ${h.state.project}` }).click();
  await form.getByLabel("Project name").fill(`${h.state.project}-jobs`);
  assert((await form.getByLabel("Parent project").inputValue()) !== "", "Add child did not pick the parent");
  await form.getByRole("button", { name: "Create project" }).click();
  await page.waitForURL(new RegExp(`/projects/${h.state.project}-jobs$`));

  assert(h.viewer, "no viewer: run inviteViewer first");
  await openGroups(h, page);
  await createGroup(page, "viewers");
  await page.getByRole("list", { name: "Groups" }).getByRole("button", { name: "viewers", exact: true }).click();
  const add = page.getByRole("form", { name: "Add a member to viewers" });
  await add.getByLabel("Email or user id").fill(h.env.viewerEmail);
  await add.getByRole("button", { name: "Add member" }).click();
  await page.getByRole("list", { name: "Members of viewers" }).getByText(h.env.viewerEmail, { exact: true }).waitFor();
  await bind(page, "viewers", "viewer", h.state.project);
  await h.axe(page, "groups-members");

  // The viewer sees that project (and the child under it), not "other", and no create button.
  const v = await viewerPage(h);
  await v.goto(`/orgs/${h.state.org}`);
  const row = v.getByRole("row").filter({ has: v.getByRole("link", { name: h.state.workspace, exact: true }) });
  await row.waitFor();
  assert((await v.getByRole("link", { name: "New workspace" }).count()) === 0, "the viewer sees New workspace");
  await h.axe(v, "workspaces-viewer");
  await v.goto(`${wsPath(h)}/projects`);
  const tree = v.getByRole("list", { name: "Projects" });
  await tree.getByRole("link", { name: h.state.project, exact: true }).waitFor();
  assert((await tree.getByRole("link", { name: h.state.otherProject, exact: true }).count()) === 0, "the viewer sees the other project");
  assert((await v.getByRole("form", { name: "New project" }).count()) === 0, "the viewer sees the New project form");
  assert((await v.getByRole("button", { name: /Add child/ }).count()) === 0, "the viewer sees Add child");
  await h.axe(v, "projects-viewer");
  await tree.getByRole("link", { name: h.state.project, exact: true }).click();
  await v.getByRole("heading", { level: 1, name: `Project ${h.state.project}` }).waitFor();
  await h.see(v, "viewer");
  assert((await v.getByRole("button", { name: /Delete project|Save settings/ }).count()) === 0, "the viewer sees delete or settings");
  await h.axe(v, "project-viewer");
  // The other project's page answers what an unknown one does.
  await v.goto(`${wsPath(h)}/projects/${h.state.otherProject}`);
  await v.getByRole("alert").filter({ hasText: /not found/i }).waitFor();
}

/** sleepWakeKubeconfig: sleep and wake from the workspace's page (live, no reload); the kubeconfig file and command. */
export async function sleepWakeKubeconfig(h) {
  const page = h.admin;
  await page.goto(wsPath(h));
  const status = page.getByRole("region", { name: "Status" });
  await statusIn(status, "running", { timeout: 30_000 });
  await markPage(page);
  await seeLive(h, page);
  await page.getByRole("button", { name: "Sleep now" }).click();
  await statusIn(status, "sleeping");
  await h.axe(page, "workspace-sleeping");
  await page.getByRole("button", { name: "Wake now" }).click();
  await statusIn(status, "running");
  await notReloaded(page, "sleep and wake");

  // The copy-command text and the download.
  const command = `hks kubeconfig --org ${h.state.org} --workspace ${h.state.workspace}`;
  await page.getByText(command, { exact: true }).waitFor();
  await page.getByRole("button", { name: "Copy command" }).waitFor();
  const [dl] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: "Download kubeconfig" }).click()]);
  const file = await dl.path();
  const text = readFileSync(file, "utf8");
  assert(text.includes("/k8s/"), "the kubeconfig has no gateway URL: " + text.slice(0, 300));
  assert(dl.suggestedFilename().endsWith(".yaml"), "download name: " + dl.suggestedFilename());

  // A hibernation schedule the server refuses names its field.
  const form = page.getByRole("form", { name: "Sleep settings" });
  await form.getByRole("button", { name: "Add a schedule" }).click();
  await form.getByLabel("Schedule 1: sleep at").fill("61 * * * *");
  await form.getByRole("button", { name: "Save sleep settings" }).click();
  await form.locator('input[name="hibernation[0].start"][aria-invalid="true"]').waitFor();
  await form.getByLabel("Schedule 1: sleep at").fill("0 20 * * 1-5");
  await form.getByLabel("Schedule 1: wake at").fill("0 7 * * 1-5");
  await form.getByRole("button", { name: "Save sleep settings" }).click();
  await form.getByText("Saved.").waitFor();
  await h.axe(page, "workspace-settings");
}

/**
 * workspaceMembers: the workspace's Members tab lists the viewer (a
 * group admitted them); an email of no organization member and a
 * second admission are refused under the field; the admin removes the
 * viewer and admits them again by email. Removing a member also takes
 * them out of the workspace's groups (and a bare member has no role), so
 * the step ends by putting the viewer back in "viewers": the later steps
 * (functions) rely on the viewer role grantViewer gave.
 */
export async function workspaceMembers(h) {
  assert(h.viewer, "no viewer: run inviteViewer and grantViewer first");
  const page = h.admin;
  await page.goto(wsPath(h));
  await page.getByRole("navigation", { name: "Workspace" }).getByRole("link", { name: "Members" }).click();
  await page.getByRole("heading", { level: 1, name: `Members of ${h.state.workspace}` }).waitFor();
  const table = page.getByRole("table", { name: /Members of the workspace/ });
  await table.getByRole("cell", { name: h.env.viewerEmail, exact: true }).waitFor();
  const form = page.getByRole("form", { name: "Add a workspace member" });
  const who = form.getByLabel("Email or user id");
  const under = page.locator(".field", { has: page.getByLabel("Email or user id") }).getByRole("alert");
  await who.fill("nobody@example.com");
  await form.getByRole("button", { name: "Add member" }).click();
  await under.getByText("no member of this organization has it").waitFor();
  await who.fill(h.env.viewerEmail);
  await form.getByRole("button", { name: "Add member" }).click();
  await under.getByText("is a member of the workspace already").waitFor();
  await h.axe(page, "workspace-members");
  await h.shot(page, "workspace-members");

  await page.getByRole("button", { name: `Remove ${h.env.viewerEmail}` }).click();
  await page.getByRole("dialog").getByRole("button", { name: "Remove member" }).click();
  await table.getByRole("cell", { name: h.env.viewerEmail, exact: true }).waitFor({ state: "detached" });
  await who.fill(h.env.viewerEmail);
  await form.getByRole("button", { name: "Add member" }).click();
  await table.getByRole("cell", { name: h.env.viewerEmail, exact: true }).waitFor();
  const got = await h.api(page, "GET", `/api/v1/organizations/${h.state.org}/workspaces/${h.state.workspace}/members`);
  assert(got.json.items.some((m) => m.email === h.env.viewerEmail), `members after re-adding: ${got.text}`);
  const lost = await h.api(h.viewer, "GET", `/api/v1/organizations/${h.state.org}/workspaces/${h.state.workspace}/projects/${h.state.project}`);
  assert(lost.status === 404, `the viewer, out of the group "viewers", still sees the project: ${lost.status}`);

  // Back into "viewers": the viewer role on the project again.
  await openGroups(h, page);
  await page.getByRole("list", { name: "Groups" }).getByRole("button", { name: "viewers", exact: true }).click();
  const add = page.getByRole("form", { name: "Add a member to viewers" });
  await add.getByLabel("Email or user id").fill(h.env.viewerEmail);
  await add.getByRole("button", { name: "Add member" }).click();
  await page.getByRole("list", { name: "Members of viewers" }).getByText(h.env.viewerEmail, { exact: true }).waitFor();
  const back = await h.api(h.viewer, "GET", `/api/v1/organizations/${h.state.org}/workspaces/${h.state.workspace}/projects/${h.state.project}`);
  assert(back.status === 200 && back.json.role === "viewer", `the viewer back in "viewers": ${back.status} ${back.text}`);
}
