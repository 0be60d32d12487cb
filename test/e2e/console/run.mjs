// The console's browser tests: one scenario, as people use the console,
// against a real hks server with real workspaces (started by
// TestConsoleInBrowser in test/e2e/console_test.go, which passes its URL
// and the users in CONSOLE_* variables). Each area of the console owns
// its steps in steps/<area>.mjs; they share h.state (the names of what
// earlier steps created). Run by hand:
//   CONSOLE_URL=http://127.0.0.1:8080 CONSOLE_SETUP_TOKEN=… node test/e2e/console/run.mjs
import path from "node:path";
import { Harness, chromium, chromiumArgs, chromiumPath, repo } from "./lib.mjs";
import * as auth from "./steps/auth.mjs";
import * as orgs from "./steps/orgs.mjs";
import * as workspaces from "./steps/workspaces.mjs";
import * as workloads from "./steps/workloads.mjs";
import * as account from "./steps/account.mjs";
import * as assistant from "./steps/assistant.mjs";
import * as functions from "./steps/functions.mjs";

const env = {
  url: process.env.CONSOLE_URL,
  setupToken: process.env.CONSOLE_SETUP_TOKEN,
  adminEmail: process.env.CONSOLE_ADMIN_EMAIL || "admin@example.com",
  adminPassword: process.env.CONSOLE_ADMIN_PASSWORD || "admin-password-1",
  viewerEmail: process.env.CONSOLE_VIEWER_EMAIL || "viewer@example.com",
  viewerPassword: process.env.CONSOLE_VIEWER_PASSWORD || "viewer-password-1",
  hksBin: process.env.CONSOLE_HKS_BIN || path.join(repo, "bin/hks"),
  dataDir: process.env.CONSOLE_DATA_DIR || path.join(repo, ".hks"),
};
if (!env.url) {
  console.error("CONSOLE_URL is not set (the hks server to test)");
  process.exit(2);
}

// The scenario, in order. A step is [name, module, function name].
const scenario = [
  ["first-run setup and sign-in", auth, "setupAdmin"],
  ["create an organization", orgs, "createOrg"],
  ["create a workspace and see it go running live", workspaces, "createWorkspace"],
  ["create a project with a quota", workspaces, "createProject"],
  ["create a group and a role binding", workspaces, "groupAndBinding"],
  ["create an application and see 2/2 ready live", workloads, "createApp"],
  ["edit the application's spec with the edit form", workloads, "editApp"],
  ["build a CronJob, trigger it, see the run", workloads, "cronJob"],
  ["the triggered run is the last run; edit the CronJob's command", workloads, "editCronJob"],
  ["invite the viewer, who accepts from the link", orgs, "inviteViewer"],
  ["give the viewer viewer on one project", workspaces, "grantViewer"],
  ["the viewer sees only that project and no create buttons; a forced POST gets the 403", workloads, "viewerView"],
  ["the viewer sees no Audit log or Tasks link", orgs, "viewerNav"],
  ["workspace members: list, refused adds, remove and add again", workspaces, "workspaceMembers"],
  ["a scale to 3 in one context shows in another within 1 s", workloads, "liveScale"],
  ["a tab whose browser switched user reloads instead of following as the new user", auth, "userSwitch"],
  ["workspace sleep and wake, kubeconfig", workspaces, "sleepWakeKubeconfig"],
  ["organization settings, members, audit log", orgs, "settingsMembersAudit"],
  ["the organization's tasks: the workspace's provisioning succeeded", orgs, "tasks"],
  ["the assistant: a chat streams its reply, a plan confirmed scales the application", assistant, "assistantChat"],
  ["the assistant's Diagnose panel finds a planted fault", assistant, "assistantDiagnose"],
  ["the organization's assistant settings: budget and this month's use", assistant, "assistantSettings"],
  ["functions: deploy a python function through the form, test-invoke it, live logs, an alias, a second version; the viewer reads", functions, "functions"],
  ["account: sessions, 2FA enrolment with QR and backup codes", account, "twoFactor"],
  ["session expiry keeps what the user typed", auth, "sessionExpiry"],
  ["phone width and dark theme", account, "phoneAndDark"],
];

const only = process.env.CONSOLE_STEPS ? new Set(process.env.CONSOLE_STEPS.split(",")) : null;
const out = process.env.CONSOLE_OUT || path.join(repo, "test/e2e/console/out");
const shots = process.env.CONSOLE_SCREENSHOTS || "";

const browser = await chromium.launch({ executablePath: chromiumPath(), headless: true, args: chromiumArgs });
const h = new Harness({ browser, base: env.url, env, out, shots });
let failed = 0;
try {
  for (const [name, mod, fn] of scenario) {
    if (only && !only.has(fn)) continue;
    const step = mod[fn];
    const t0 = performance.now();
    if (typeof step !== "function") {
      console.log(`FAIL ${name}: step ${fn} is not written`);
      failed++;
      break;
    }
    try {
      await step(h);
      console.log(`ok   ${name} (${Math.round(performance.now() - t0)} ms)`);
    } catch (e) {
      failed++;
      console.log(`FAIL ${name}: ${e.stack || e}`);
      for (const [i, p] of h.pages.entries()) {
        if (p.isClosed()) continue;
        console.log(`  page ${i}: ${p.url()}`);
        await p.screenshot({ path: path.join(out, `failure-${fn}-${i}.png`) }).catch(() => {});
      }
      break; // later steps build on this one
    }
  }
  if (h.violations.length > 0) {
    failed++;
    console.log(`FAIL axe: ${h.violations.length} serious or critical violations:`);
    for (const v of h.violations) console.log(`  ${v.page}: [${v.impact}] ${v.id}: ${v.help} at ${v.nodes.join(", ")}`);
  } else {
    console.log(`ok   axe: no serious or critical violation on ${h.scanned.size} pages (${[...h.scanned].join(", ")})`);
  }
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
