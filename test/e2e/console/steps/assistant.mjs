// Steps of the assistant's pages: a chat whose reply streams in and whose
// plan is confirmed, the analyzers' diagnosis, and the organization's
// assistant settings (see ../run.mjs for the scenario and ../lib.mjs for the
// harness). The model is the scripted model server TestConsoleInBrowser
// starts (a test double): CONSOLE_AI_MODEL_URL is its root (PUT/POST
// /_scripted/turns sets the script, GET /_scripted what it received), and
// CONSOLE_AI_GATE_URL a control beside it whose POST /gated adds turns held
// after their first content chunk until POST /open.
import { assert } from "../lib.mjs";

const e = encodeURIComponent;
const wsUrl = (s) => `/orgs/${e(s.org)}/workspaces/${e(s.workspace)}`;
const apiWs = (s) => `/api/v1/organizations/${e(s.org)}/workspaces/${e(s.workspace)}`;
const apiProject = (s, p = s.project) => `${apiWs(s)}/projects/${e(p)}`;
const until = (ms) => new Promise((r) => setTimeout(r, ms));

function ensureApp(h) {
  assert(h.state.org && h.state.workspace && h.state.project && h.state.app, "the earlier steps made no application (run createOrg, createWorkspace, createProject, createApp first)");
}

function model() {
  const m = process.env.CONSOLE_AI_MODEL_URL;
  const g = process.env.CONSOLE_AI_GATE_URL;
  assert(m && g, "CONSOLE_AI_MODEL_URL and CONSOLE_AI_GATE_URL are not set (TestConsoleInBrowser starts the scripted model)");
  return { m, g };
}

async function post(url, method, body) {
  const res = await fetch(url, { method, headers: { "Content-Type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
  assert(res.ok, `${method} ${url}: ${res.status} ${await res.text()}`);
}

/** replicasOf is the application's desired replicas, from the API. */
async function replicasOf(h, page, s) {
  const got = await h.api(page, "GET", `${apiProject(s)}/applications/${e(s.app)}`);
  assert(got.status === 200, `GET application: ${got.status} ${got.text}`);
  return got.json.spec.replicas;
}

/**
 * settled waits until the application's Deployment has n replicas, all
 * ready and available, so that its controller has stopped rewriting its
 * status: a plan made or re-made meanwhile races those writes (see the
 * report of the assistant's console work).
 */
async function settled(h, page, s, n) {
  let last = "";
  for (let i = 0; i < 240; i++) {
    const got = await h.api(page, "GET", `${apiProject(s)}/applications/${e(s.app)}`);
    const st = got.json?.status ?? {};
    if (got.status === 200 && got.json.spec.replicas === n && st.replicas === n && st.ready_replicas === n && st.available_replicas === n && st.updated_replicas === n) return;
    last = got.text;
    await until(250);
  }
  throw new Error(`the application did not settle at ${n} replicas: ${last}`);
}

/**
 * assistantChat: from the workspace's Assistant tab, a new chat about the
 * project; "scale <app> to N" makes the scripted model call the scale tool
 * (a plan, with its diff) and then write its reply, held after its first
 * chunk: the partial reply shows while the turn still runs; the rest
 * arrives once the gate opens. Confirm runs the plan as the user: the
 * card says done and the application has N replicas. The plan's
 * confirm_url (ids in the path) shows the same plan by name.
 */
export async function assistantChat(h) {
  ensureApp(h);
  const { m, g } = model();
  const s = h.state;
  const page = h.admin;
  const before = await replicasOf(h, page, s);
  await settled(h, page, s, before);
  const target = before === 3 ? 2 : 3;
  const ask = `scale ${s.app} to ${target}`;
  const first = "Here is the ";
  const reply = `Here is the plan to scale ${s.app} to ${target} replicas. Review the diff and confirm it to apply it.`;
  await post(`${m}/_scripted/turns`, "PUT", [
    { when: { last_user_contains: "scale" }, tool_calls: [{ id: "call_scale_1", name: "scale", arguments: { project: s.project, name: s.app, replicas: target } }] },
  ]);
  await post(`${g}/gated`, "POST", [{ when: { after_tool_call: "scale" }, content: reply }]);

  await page.goto(wsUrl(s));
  await page.getByRole("navigation", { name: "Workspace" }).getByRole("link", { name: "Assistant" }).click();
  await page.getByRole("heading", { level: 1, name: "Assistant" }).waitFor();
  await h.see(page, "No chats yet");
  await h.axe(page, "assistant-chats-empty");
  const form = page.getByRole("form", { name: "New chat" });
  await form.getByLabel("About").selectOption({ label: `Project ${s.project}` });
  await form.getByRole("button", { name: "New chat" }).click();
  await page.waitForURL(/\/assistant\/chats\/[^/]+$/);
  await h.see(page, "No messages yet");
  await page.getByRole("link", { name: s.project, exact: true }).waitFor();
  await h.axe(page, "assistant-chat-new");

  const box = page.getByRole("textbox", { name: "Message" });
  await box.fill(ask);
  await box.press("Control+Enter");
  // The user's message, the tool call and its plan, then the reply's first chunk,
  // while the turn is still running (the model holds the rest at the gate).
  await page.getByRole("list", { name: "Messages" }).getByText(ask).waitFor();
  const stream = page.getByTestId("reply-stream");
  await stream.getByText(first.trim()).waitFor();
  const partial = await stream.innerText();
  assert(!partial.includes("confirm it to apply"), `the whole reply showed before the turn ended: ${partial}`);
  await page.getByRole("status").filter({ hasText: "The assistant is answering" }).waitFor();
  assert(await page.getByRole("button", { name: "Answering…" }).isDisabled(), "the send button is not disabled while the turn runs");
  await h.axe(page, "assistant-chat-streaming");
  await h.shot(page, "assistant-streaming");
  await post(`${g}/open`, "POST");
  await page.getByRole("list", { name: "Messages" }).getByText(reply).waitFor();
  await page.getByRole("status").filter({ hasText: "The assistant is answering" }).waitFor({ state: "detached" });
  assert((await stream.innerText()).trim() === "", "the streamed reply stayed after the turn ended");

  // The tool call as a compact row, its result in a <details>.
  const row = page.locator("details").filter({ has: page.locator("summary", { hasText: "scale" }) }).first();
  await row.locator("summary").click();
  await row.locator("pre").waitFor();

  // The plan card: the request, the diff with its signs kept, Confirm and Reject.
  const card = page.getByRole("region", { name: /^Plan: / });
  await card.waitFor();
  await card.getByText("Waiting for your decision").waitFor();
  await card.getByText(/^PATCH|^PUT|^POST/).first().waitFor();
  const diff = await card.getByRole("region", { name: /^Diff of the plan/ }).innerText();
  assert(diff.split("\n").some((l) => l.startsWith("+") && l.includes(String(target))), `no added line with ${target} in the diff:\n${diff}`);
  assert(diff.split("\n").some((l) => l.startsWith("-") && l.includes(String(before))), `no removed line with ${before} in the diff:\n${diff}`);
  await card.getByRole("button", { name: /^Reject/ }).waitFor();
  await h.axe(page, "assistant-chat-plan");
  await card.scrollIntoViewIfNeeded();
  await h.shot(page, "assistant-chat");
  const planId = await card.getAttribute("data-plan");

  const confirmed = page.waitForResponse((r) => r.url().endsWith(`/ai/plans/${planId}/confirm`) && r.request().method() === "POST");
  await card.getByRole("button", { name: /^Confirm/ }).click();
  const res = await confirmed;
  assert(res.status() === 200, `confirm: ${res.status()} ${await res.text()}`);
  await card.getByText("Done: the cluster accepted the request.").waitFor();
  assert((await card.getByRole("button", { name: /^Confirm/ }).count()) === 0, "Confirm is still offered after the plan ran");
  await h.axe(page, "assistant-chat-done");
  await h.shot(page, "assistant-plan-done");
  const after = await replicasOf(h, page, s);
  assert(after === target, `the application has ${after} replicas after the confirmed plan, want ${target}`);

  // A second plan, and the application changes before it is confirmed: the
  // confirm answers 409 and a fresh plan shows as a new card, rejected here.
  await settled(h, page, s, target);
  const back = `scale ${s.app} back to ${before}`;
  await post(`${m}/_scripted/turns`, "POST", [
    { when: { last_user_contains: "back to" }, tool_calls: [{ id: "call_scale_2", name: "scale", arguments: { project: s.project, name: s.app, replicas: before } }] },
    { when: { after_tool_call: "scale" }, content: "Another plan is ready." },
  ]);
  await box.fill(back);
  await page.getByRole("button", { name: "Send" }).click();
  await page.getByRole("list", { name: "Messages" }).getByText("Another plan is ready.").waitFor();
  const pendingCard = () => page.getByRole("region", { name: /^Plan: / }).filter({ hasText: "Waiting for your decision" });
  await pendingCard().waitFor();
  const secondId = await pendingCard().getAttribute("data-plan");
  const second = page.getByRole("region", { name: /^Plan: / }).and(page.locator(`[data-plan="${secondId}"]`));
  const meanwhile = await h.api(page, "POST", `${apiProject(s)}/applications/${e(s.app)}/scale`, { replicas: 1 });
  assert(meanwhile.status === 200, `scale meanwhile: ${meanwhile.status} ${meanwhile.text}`);
  await settled(h, page, s, 1);
  const stale = page.waitForResponse((r) => r.url().endsWith("/confirm") && r.request().method() === "POST");
  await second.getByRole("button", { name: /^Confirm/ }).click();
  const staleRes = await stale;
  assert(staleRes.status() === 409, `the confirm of a plan whose object changed is not a 409: ${staleRes.status()} ${await staleRes.text()}`);
  await page.getByRole("status").filter({ hasText: "The object changed; here is a fresh plan." }).waitFor();
  await second.getByText("The object changed after this plan was made").waitFor();
  const fresh = pendingCard();
  await fresh.waitFor();
  const freshDiff = await fresh.getByRole("region", { name: /^Diff of the plan/ }).innerText();
  assert(freshDiff.split("\n").some((l) => l.startsWith("-") && l.includes("replicas: 1")), `the fresh plan does not start from 1 replica:\n${freshDiff}`);
  await h.axe(page, "assistant-chat-fresh-plan");
  await fresh.scrollIntoViewIfNeeded();
  await h.shot(page, "assistant-fresh-plan");
  await fresh.getByRole("button", { name: /^Reject/ }).click();
  await page.getByText("Rejected: nothing was changed.").waitFor();
  assert((await replicasOf(h, page, s)) === 1, "a rejected plan changed the application");
  const restored = await h.api(page, "POST", `${apiProject(s)}/applications/${e(s.app)}/scale`, { replicas: before });
  assert(restored.status === 200, `scale back: ${restored.status} ${restored.text}`);
  await settled(h, page, s, before);

  // The plan's confirm_url names the organization and the workspace by id:
  // the page moves to their names and shows the plan, decided.
  const plan = await h.api(page, "GET", `${apiWs(s)}/ai/plans/${e(planId)}`);
  assert(plan.status === 200 && plan.json.status === "done", `GET plan: ${plan.status} ${plan.text}`);
  const url = new URL(plan.json.confirm_url);
  assert(url.pathname.endsWith(`/assistant/plans/${planId}`), `confirm_url ${plan.json.confirm_url}`);
  await page.goto(url.pathname);
  await page.waitForURL((u) => u.pathname === `${wsUrl(s)}/assistant/plans/${planId}`);
  await page.getByRole("heading", { level: 1, name: "A plan of the assistant" }).waitFor();
  await page.getByRole("region", { name: /^Plan: / }).getByText("Done: the cluster accepted the request.").waitFor();
  await h.axe(page, "assistant-plan");
  await h.shot(page, "assistant-plan");

  // The chat is in the list, titled after its first message.
  await page.getByRole("navigation", { name: "Assistant" }).getByRole("link", { name: "Chats" }).click();
  await page.getByRole("table", { name: "Your chats, newest first" }).getByRole("link").first().waitFor();
  await h.axe(page, "assistant-chats");
  await h.shot(page, "assistant-chats");
  s.chatPlan = planId;

  // A chat about the whole workspace, deleted from the list after a confirmation.
  await page.getByRole("form", { name: "New chat" }).getByRole("button", { name: "New chat" }).click();
  await page.waitForURL(/\/assistant\/chats\/[^/]+$/);
  await page.getByText("About the whole workspace").waitFor();
  await page.getByRole("navigation", { name: "Assistant" }).getByRole("link", { name: "Chats" }).click();
  const table = page.getByRole("table", { name: "Your chats, newest first" });
  const empty = table.getByRole("row").filter({ has: page.getByRole("link", { name: "New chat", exact: true }) });
  await empty.getByRole("button", { name: "Delete" }).click();
  const dialog = page.getByRole("dialog", { name: "Delete" });
  await dialog.waitFor();
  await h.axe(page, "assistant-chat-delete");
  await dialog.getByRole("button", { name: "Delete chat" }).click();
  await empty.waitFor({ state: "detached" });
  await table.getByRole("link", { name: ask }).waitFor();
}

/**
 * assistantDiagnose: an application whose image is on a .invalid registry
 * (one the simulated nodes never pull: docs/controlplane.md) is found by
 * the Diagnose panel (no model involved), grouped by severity with the
 * objects, the evidence and a suggestion. The application is deleted
 * afterwards.
 */
export async function assistantDiagnose(h) {
  ensureApp(h);
  const s = h.state;
  const page = h.admin;
  const name = "broken";
  const made = await h.api(page, "POST", `${apiProject(s)}/applications`, {
    name,
    image: "registry.invalid/broken:1",
    replicas: 1,
  });
  assert(made.status === 201, `create ${name}: ${made.status} ${made.text}`);
  try {
    // The analyzers see the failure once the simulated kubelet reported it.
    let found = false;
    for (let i = 0; i < 120 && !found; i++) {
      const d = await h.api(page, "GET", `${apiProject(s)}/diagnose`);
      assert(d.status === 200, `diagnose: ${d.status} ${d.text}`);
      found = d.json.findings.some((f) => f.objects.some((o) => o.name === name));
      if (!found) await until(500);
    }
    assert(found, `no finding about ${name} within a minute`);

    await page.goto(wsUrl(s) + "/assistant");
    await page.getByRole("navigation", { name: "Assistant" }).getByRole("link", { name: "Diagnose" }).click();
    await page.getByRole("heading", { level: 1, name: "Diagnose" }).waitFor();
    await page.getByLabel("Examine").selectOption({ label: `Project ${s.project}` });
    await page.waitForURL((u) => u.searchParams.get("project") === s.project);
    const finding = page.getByRole("listitem").filter({ has: page.getByRole("heading", { level: 3, name: new RegExp(name) }) }).first();
    await finding.waitFor();
    await finding.getByText("Suggested fix:").waitFor();
    await finding.getByText("Evidence:").waitFor();
    const sev = await finding.locator("[data-status]").first().getAttribute("data-status");
    assert(["critical", "warning", "info"].includes(sev), `severity ${sev}`);
    await page.getByRole("heading", { level: 2, name: /^(Critical|Warnings) \(\d+\)$/ }).first().waitFor();
    await h.axe(page, "assistant-diagnose");
    await h.shot(page, "assistant-diagnose");
  } finally {
    await h.api(page, "DELETE", `${apiProject(s)}/applications/${name}`);
  }
}

/**
 * assistantSettings: the organization settings page's Assistant section
 * (owners and admins) shows this month's token use (the chat used some)
 * and saves a monthly budget with If-Match.
 */
export async function assistantSettings(h) {
  const s = h.state;
  const page = h.admin;
  await page.goto(`/orgs/${e(s.org)}/settings`);
  const form = page.getByRole("form", { name: "Assistant settings" });
  await form.waitFor();
  assert(await form.getByLabel("The assistant is on for this organization").isChecked(), "the assistant is not on");
  await form.getByLabel("Monthly token budget").fill("2000000");
  const patched = page.waitForResponse((r) => r.url().endsWith(`/organizations/${e(s.org)}/ai`) && r.request().method() === "PATCH");
  await form.getByRole("button", { name: "Save assistant settings" }).click();
  const res = await patched;
  assert(res.status() === 200, `PATCH ai: ${res.status()} ${await res.text()}`);
  assert((await res.request().headerValue("if-match"))?.startsWith('"'), "the PATCH was sent without If-Match");
  await form.getByRole("status").filter({ hasText: "Saved." }).waitFor();
  await form.getByRole("meter", { name: /^Tokens used this month: .* of 2.000.000$/ }).waitFor();
  const got = await h.api(page, "GET", `/api/v1/organizations/${e(s.org)}/ai`);
  assert(got.json.monthly_token_budget === 2000000, `budget: ${got.text}`);
  if (s.chatPlan) assert(got.json.used_this_month > 0, `the chat's tokens are not counted: ${got.text}`);
  await h.axe(page, "org-settings-assistant");
  await form.scrollIntoViewIfNeeded();
  await h.shot(page, "org-settings-assistant");
}
