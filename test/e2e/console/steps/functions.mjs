// Steps of the functions' pages (see ../run.mjs for the scenario and
// ../lib.mjs for the harness): a python function deployed through the
// form, invoked from the test panel (body and logs shown), its invocation
// arriving in the live logs, an alias set, and the viewer's read-only view.
import { assert } from "../lib.mjs";

const e = encodeURIComponent;
const projectUrl = (s) => `/orgs/${e(s.org)}/workspaces/${e(s.workspace)}/projects/${e(s.project)}`;

const HANDLER = `def handle(req):
    print("got", req["body"])
    return {"status": 200, "body": "hello " + req["body"]}
`;

/**
 * functions: from the project's Functions tab, a new python function
 * through the deploy form; the test invocation shows the body, the logs,
 * the duration; with the live logs followed, a second invocation appears
 * there as it finishes; the alias prod is set to version 1; a second
 * version from the code editor moves latest; the viewer sees the function
 * but no deploy or invoke.
 */
export async function functions(h) {
  const s = h.state;
  assert(s.org && s.workspace && s.project, "the earlier steps made no project (run createOrg, createWorkspace, createProject first)");
  const page = h.admin;
  await page.goto(projectUrl(s));
  await page.getByRole("navigation", { name: "Project" }).getByRole("link", { name: "Functions" }).click();
  await page.getByRole("heading", { level: 1, name: "Functions" }).waitFor();
  await h.see(page, "No functions in this project yet");
  await h.axe(page, "functions-empty");

  await page.getByRole("link", { name: "New function" }).first().click();
  const form = page.getByRole("form", { name: "Deploy a function" });
  await form.getByLabel("Name", { exact: true }).fill("hello");
  await form.getByLabel("Runtime").selectOption("python");
  await form.getByLabel("File name").fill("handler.py");
  await form.getByLabel("Code", { exact: true }).fill(HANDLER);
  await h.axe(page, "function-new");
  await form.getByRole("button", { name: "Deploy" }).click();
  await page.waitForURL(/\/functions\/hello$/, { timeout: 60_000 });
  await page.getByRole("heading", { level: 1, name: "hello" }).waitFor();
  await h.see(page, "/fn/");
  await page.getByLabel("Code of version 1").filter({ hasText: 'print("got", req["body"])' }).waitFor();

  // Follow the live logs before invoking: the invocation arrives there too.
  await page.getByRole("button", { name: "Follow live" }).click();
  await page.getByRole("button", { name: "Stop following" }).waitFor();

  const inv = page.getByRole("form", { name: "Test invocation" });
  await inv.getByLabel("Method").selectOption("POST");
  await inv.getByLabel("Request body").fill("ada");
  await inv.getByRole("button", { name: "Invoke" }).click();
  const result = page.getByRole("region", { name: "Invocation result" });
  await result.getByLabel("Response body").filter({ hasText: "hello ada" }).waitFor({ timeout: 30_000 });
  await result.getByLabel("Invocation logs").filter({ hasText: "got ada" }).waitFor();
  await result.getByText("succeeded").waitFor();
  await result.getByText(/HTTP 200/).waitFor();
  await page.getByRole("list", { name: "Invocation logs" }).getByText("got ada").first().waitFor({ timeout: 30_000 });
  await h.axe(page, "function-invoked");
  await page.getByRole("button", { name: "Stop following" }).click();

  // An alias: prod → v1.
  const alias = page.getByRole("form", { name: "Set an alias" });
  await alias.getByLabel("Alias").fill("prod");
  await alias.getByLabel("Version").selectOption("1");
  await alias.getByRole("button", { name: "Set alias" }).click();
  const aliases = page.getByRole("table", { name: "Aliases" });
  await aliases.getByRole("row").filter({ hasText: "prod" }).filter({ hasText: "v1" }).waitFor();

  // A second version from the code editor: latest moves to v2, prod stays.
  await page.getByRole("button", { name: "Edit and deploy a new version" }).click();
  const next = page.getByRole("form", { name: "Deploy a new version of hello" });
  await next.getByLabel("Code", { exact: true }).fill(HANDLER.replace('"hello "', '"hi "'));
  await next.getByRole("button", { name: "Deploy" }).click();
  await aliases.getByRole("row").filter({ hasText: "latest" }).filter({ hasText: "v2" }).waitFor({ timeout: 60_000 });
  await aliases.getByRole("row").filter({ hasText: "prod" }).filter({ hasText: "v1" }).waitFor();
  await page.getByRole("table", { name: "Versions" }).getByRole("row").filter({ hasText: "v2" }).waitFor();
  await h.axe(page, "function-versions");
  s.fn = "hello";

  // The viewer reads the function, and sees no deploy, invoke or delete.
  if (h.viewer) {
    const v = h.viewer;
    await v.goto(`${projectUrl(s)}/functions`);
    await v.getByRole("link", { name: "hello", exact: true }).click();
    await v.getByRole("heading", { level: 1, name: "hello" }).waitFor();
    await v.getByLabel("Code of version 2").waitFor();
    assert((await v.getByRole("form", { name: "Test invocation" }).count()) === 0, "the viewer sees the test invocation");
    assert((await v.getByRole("button", { name: /Edit and deploy|Delete|Set alias/ }).count()) === 0, "the viewer sees deploy, delete or alias buttons");
    await h.axe(v, "function-viewer");
    // A forced invocation gets the server's 403.
    const got = await h.api(v, "POST", `/api/v1/organizations/${e(s.org)}/workspaces/${e(s.workspace)}/projects/${e(s.project)}/functions/hello/invoke`, {});
    assert(got.status === 403, `the viewer's invoke: ${got.status} ${got.text}`);
  }
}
