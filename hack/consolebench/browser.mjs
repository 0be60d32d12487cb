// The browser half of consolebench (main.go starts the platform and runs
// this with CONSOLE_* variables): in Debian's chromium, headless,
//  - nav:    navigation to the organization's workspace list until the
//            workspace's link is rendered (performance.now() in the page,
//            whose time origin is the navigation's start), -n times;
//  - status: a workspace's status change (sleep, wake) to the page
//            showing it: the page's MutationObserver stamps when the
//            badge changed (Date.now()), compared with the time of the
//            workspace.status event the server published (read from the
//            workspace's event stream; same machine, same clock).
// It prints one JSON object.
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const { chromium, chromiumArgs, chromiumPath } = await import(path.join(here, "../../test/e2e/console/lib.mjs"));

const env = process.env;
const base = env.CONSOLE_URL;
const org = env.CONSOLE_ORG;
const ws = env.CONSOLE_WORKSPACE;
const wsPath = `/api/v1/organizations/${org}/workspaces/${ws}`;
const token = env.CONSOLE_TOKEN;
const n = Number(env.CONSOLE_NAV_RUNS || 20);
const cycles = Number(env.CONSOLE_STATUS_CYCLES || 5);

const browser = await chromium.launch({ executablePath: chromiumPath(), headless: true, args: chromiumArgs });
const out = { nav_ms: [], status_ms: [] };
try {
  const context = await browser.newContext({ baseURL: base, viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  await page.goto("/login");
  await page.getByLabel("Email").fill(env.CONSOLE_EMAIL);
  await page.getByLabel("Password").fill(env.CONSOLE_PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL((u) => !u.pathname.startsWith("/login"));

  // nav: a fresh navigation each time (assets from the HTTP cache, as a
  // returning user has them); the first one is a cold load, kept too.
  for (let i = 0; i < n; i++) {
    await page.goto(`/orgs/${org}`, { waitUntil: "commit" });
    await page.getByRole("link", { name: ws, exact: true }).first().waitFor({ state: "visible", timeout: 30_000 });
    out.nav_ms.push(await page.evaluate(() => performance.now()));
  }

  // status: stamp every change of the workspace's status badge.
  await page.evaluate((name) => {
    window.__seen = [];
    const badge = () => {
      for (const a of document.querySelectorAll("a")) {
        if (a.textContent?.trim() !== name) continue;
        const row = a.closest("tr, li, article, .card");
        const b = row?.querySelector("[data-status]");
        if (b) return b;
      }
      return null;
    };
    let last = badge()?.getAttribute("data-status");
    new MutationObserver(() => {
      const now = Date.now();
      const s = badge()?.getAttribute("data-status");
      if (s && s !== last) {
        last = s;
        window.__seen.push({ status: s, at: now });
      }
    }).observe(document.body, { subtree: true, childList: true, characterData: true, attributes: true });
  }, ws);

  // The server's side: the workspace's event stream (SSE) gives each
  // workspace.status event's publish time.
  const published = [];
  const ac = new AbortController();
  const sse = await fetch(base + wsPath + "/events", { headers: { Authorization: "Bearer " + token }, signal: ac.signal });
  const reader = sse.body.getReader();
  (async () => {
    const dec = new TextDecoder();
    let buf = "";
    for (;;) {
      const { value, done } = await reader.read().catch(() => ({ done: true }));
      if (done) return;
      buf += dec.decode(value, { stream: true });
      let i;
      while ((i = buf.indexOf("\n\n")) >= 0) {
        const block = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const data = block.split("\n").find((l) => l.startsWith("data: "));
        if (!data) continue;
        const ev = JSON.parse(data.slice(6));
        if (ev.type === "workspace.status" && ev.id) published.push({ status: ev.data?.status, at: Date.parse(ev.time) });
      }
    }
  })();

  const api = async (method, p) => {
    const r = await fetch(base + p, { method, headers: { Authorization: "Bearer " + token } });
    if (r.status >= 300) throw new Error(`${method} ${p}: ${r.status} ${await r.text()}`);
    return r.json().catch(() => null);
  };
  const waitStatus = async (want) => {
    const t0 = Date.now();
    for (;;) {
      const w = await api("GET", wsPath);
      if (w.status === want) return;
      if (Date.now() - t0 > 120_000) throw new Error(`workspace not ${want} after 2 minutes: ${w.status}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  };
  const waitSeen = async (want, from) => {
    const t0 = Date.now();
    for (;;) {
      const seen = await page.evaluate(() => window.__seen);
      if (seen.slice(from).some((s) => s.status === want)) return;
      if (Date.now() - t0 > 30_000) throw new Error(`the page did not show ${want}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  for (let c = 0; c < cycles; c++) {
    let from = (await page.evaluate(() => window.__seen)).length;
    await api("POST", wsPath + "/sleep");
    await waitStatus("sleeping");
    await waitSeen("sleeping", from);
    from = (await page.evaluate(() => window.__seen)).length;
    await api("POST", wsPath + "/wake");
    await waitStatus("running");
    await waitSeen("running", from);
  }
  ac.abort();
  // Pair each change the page showed with the latest published event of
  // that status at or before it.
  const seen = await page.evaluate(() => window.__seen);
  for (const s of seen) {
    const ev = published.filter((p) => p.status === s.status && p.at <= s.at + 5).pop();
    if (ev) out.status_ms.push(s.at - ev.at);
  }
  out.status_pairs = seen.length;
  await context.close();
} finally {
  await browser.close();
}
console.log(JSON.stringify(out));
