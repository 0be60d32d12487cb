// The harness of the console's browser tests: Debian's chromium driven by
// playwright-core (no browser download), an axe-core scan helper, and
// screenshots. The packages come from web/node_modules (npm ci there).
import { createRequire } from "node:module";
import { mkdirSync } from "node:fs";
import { spawnSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
export const repo = path.resolve(here, "../../..");
const require = createRequire(path.join(repo, "web", "package.json"));
export const { chromium } = require("playwright-core");
const { default: AxeBuilder } = require("@axe-core/playwright");

// The flags DEVELOPERS.md gives for headless chromium on these machines.
export const chromiumArgs = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

export function chromiumPath() {
  return process.env.CHROMIUM || "/usr/bin/chromium";
}

/** Harness is what every step gets. */
export class Harness {
  constructor({ browser, base, env, out, shots }) {
    this.browser = browser;
    this.base = base;
    this.env = env;
    this.out = out;
    this.shots = shots; // where the docs' screenshots go ("" = none)
    this.state = {};
    this.violations = [];
    this.scanned = new Set();
    this.pages = [];
    mkdirSync(out, { recursive: true });
  }

  /** newPage opens a page in a fresh browser context (its own cookies). */
  async newPage({ width = 1280, height = 800, colorScheme = "light" } = {}) {
    const context = await this.browser.newContext({ baseURL: this.base, viewport: { width, height }, colorScheme });
    const page = await context.newPage();
    page.on("console", (m) => {
      if (m.type() === "error") this.log(`[browser console] ${m.text()}`);
    });
    page.on("pageerror", (e) => this.log(`[page error] ${e.message}`));
    this.pages.push(page);
    return page;
  }

  log(...a) {
    console.log(...a);
  }

  /** see waits until text (string or RegExp) is visible on the page. */
  async see(page, text, { timeout = 15_000 } = {}) {
    await page.getByText(text).first().waitFor({ state: "visible", timeout });
  }

  /** shot saves a screenshot for the test's output, and for docs/console.md when asked. */
  async shot(page, name) {
    await page.screenshot({ path: path.join(this.out, `${name}.png`), fullPage: false });
    if (this.shots) {
      mkdirSync(this.shots, { recursive: true });
      await page.screenshot({ path: path.join(this.shots, `${name}.png`), fullPage: false });
    }
  }

  /**
   * axe scans the page as it is now for WCAG A/AA rules and records the
   * serious and critical violations; the run fails at its end if any.
   */
  async axe(page, name) {
    const res = await new AxeBuilder({ page }).withTags(["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]).analyze();
    this.scanned.add(name);
    for (const v of res.violations) {
      if (v.impact === "serious" || v.impact === "critical") {
        this.violations.push({ page: name, id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map((n) => n.target.join(" ")) });
      }
    }
  }

  /** api calls the API from the page's own context (its cookies, its CSRF cookie). */
  async api(page, method, path, body) {
    return page.evaluate(
      async ({ method, path, body }) => {
        const m = document.cookie.match(/(?:^|;\s*)hks_csrf=([^;]*)/);
        const res = await fetch(path, {
          method,
          credentials: "same-origin",
          headers: { "Content-Type": "application/json", "X-CSRF-Token": m ? decodeURIComponent(m[1]) : "" },
          body: body === undefined ? undefined : JSON.stringify(body),
        });
        const text = await res.text();
        let json = null;
        try {
          json = JSON.parse(text);
        } catch {
          /* not JSON */
        }
        return { status: res.status, json, text };
      },
      { method, path, body },
    );
  }
}

/**
 * createUser makes an account with `hks admin create-user` on the
 * server's data directory (the platform has no self sign-up).
 */
export function createUser(h, email, password) {
  const r = spawnSync(h.env.hksBin, ["admin", "create-user", "--data-dir", h.env.dataDir, "--email", email, "--password-stdin"], {
    input: password + "\n",
    encoding: "utf8",
  });
  if (r.status !== 0) throw new Error(`hks admin create-user ${email}: ${r.status} ${r.stderr}`);
}

export function assert(cond, msg) {
  if (!cond) throw new Error(msg);
}
