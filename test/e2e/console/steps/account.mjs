// Steps of the account pages (see ../run.mjs for the scenario and ../lib.mjs for the harness).
import { createHmac } from "node:crypto";
import { assert, createUser } from "../lib.mjs";
import { noOverflow, signIn } from "./orgs.mjs";

/** base32 decodes RFC 4648 base32 (no padding needed). */
function base32(s) {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = 0;
  let value = 0;
  const out = [];
  for (const ch of s.replace(/[\s=]/g, "").toUpperCase()) {
    const v = alphabet.indexOf(ch);
    if (v < 0) throw new Error(`not base32: ${ch}`);
    value = (value << 5) | v;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

/** totp is the RFC 6238 code (SHA-1, 30 s, 6 digits) of secret at time step `step`. */
export function totp(secret, step) {
  const msg = Buffer.alloc(8);
  msg.writeBigUInt64BE(BigInt(step));
  const mac = createHmac("sha1", base32(secret)).update(msg).digest();
  const off = mac[mac.length - 1] & 0x0f;
  const bin = ((mac[off] & 0x7f) << 24) | (mac[off + 1] << 16) | (mac[off + 2] << 8) | mac[off + 3];
  return String(bin % 1_000_000).padStart(6, "0");
}

const stepNow = () => Math.floor(Date.now() / 30_000);

/**
 * twoFactor, with a user of its own: enrol in 2FA from the account page
 * (QR code shown, the secret read off the page, the code computed here),
 * see the ten backup codes, sign out, sign in again through the 2FA
 * step, and end another session from the sessions list.
 */
export async function twoFactor(h) {
  const email = "twofa@example.com";
  const password = "twofa-password-1";
  createUser(h, email, password);
  const page = await h.newPage();
  await signIn(page, email, password, "/account");
  // Another session of the same user, to end from the list later.
  const other = await h.newPage();
  await signIn(other, email, password, "/account");

  await page.reload();
  await page.getByRole("heading", { level: 1, name: "Your account" }).waitFor();
  await page.getByRole("table", { name: "Your sessions" }).waitFor();
  await h.axe(page, "account");
  await h.shot(page, "account");
  await page.getByRole("button", { name: "Set up two-factor authentication" }).click();
  const qr = page.getByRole("img", { name: /QR code/ });
  await qr.waitFor();
  await page.waitForFunction(() => {
    const img = document.querySelector("img.qr");
    return img && img.complete && img.naturalWidth > 0;
  });
  const secret = (await page.getByLabel("Secret for manual entry").innerText()).replace(/\s/g, "");
  assert(/^[A-Z2-7]{16,}$/.test(secret), "no secret on the page: " + secret);
  await h.axe(page, "account-2fa-enrol");
  await h.shot(page, "account-2fa-enrol");
  const used = stepNow();
  await page.getByLabel("Code from the app").fill(totp(secret, used));
  await page.getByRole("button", { name: "Turn on" }).click();
  const codes = page.getByRole("list", { name: "Backup codes" }).getByRole("listitem");
  await page.getByRole("heading", { name: "Your backup codes" }).waitFor();
  assert((await codes.count()) === 10, `expected 10 backup codes, saw ${await codes.count()}`);
  await page.getByRole("link", { name: "Download as text" }).waitFor();
  await h.axe(page, "account-backup-codes");
  await h.shot(page, "account-backup-codes");
  await page.getByRole("button", { name: "I have saved them" }).click();
  await h.see(page, "10 backup codes left");

  // Sign out, and in again through the second factor.
  await page.getByRole("button", { name: "Sign out" }).first().click();
  await page.waitForURL(/\/login/);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  const code = page.getByLabel("Code");
  await code.waitFor();
  await h.axe(page, "login-2fa");
  await h.shot(page, "login-2fa");
  // A code of a later step than the one spent at enrolment (the server refuses replays).
  await code.fill(totp(secret, Math.max(stepNow(), used + 1)));
  await page.getByRole("button", { name: "Verify" }).click();
  await page.waitForURL((u) => u.pathname === "/");

  // End the other session from the list.
  await page.goto("/account");
  const end = page.getByRole("button", { name: /^End session of/ });
  await end.waitFor();
  assert((await end.count()) === 1, `expected one other session, saw ${await end.count()}`);
  await end.click();
  await page.getByRole("button", { name: /^End session of/ }).waitFor({ state: "detached" });
  const gone = await h.api(other, "GET", "/auth/sessions");
  assert(gone.status === 401, `the ended session still works: ${gone.status}`);
  await other.context().close();
}

/**
 * phoneAndDark: a 390×844 page in the dark theme: the organization's
 * pages and the account page fit the width, the navigation is there,
 * and axe finds nothing serious.
 */
export async function phoneAndDark(h) {
  const { org } = h.state;
  const page = await h.newPage({ width: 390, height: 844, colorScheme: "dark" });
  await signIn(page, h.env.adminEmail, h.env.adminPassword, `/orgs/${org}/members`);
  const nav = page.getByRole("navigation", { name: "Organization" });
  // The nav knows the caller's org role (Audit log and Tasks are for owners and admins).
  await page.locator('nav[aria-label="Organization"][aria-busy="false"]').waitFor();
  for (const name of ["Members", "Tasks", "Audit log", "Settings"]) {
    assert(await nav.getByRole("link", { name }).isVisible(), `the ${name} link is not reachable`);
  }
  await page.getByRole("table", { name: "Members and their roles" }).waitFor();
  await noOverflow(page, "members (phone)");
  await h.axe(page, "members-phone-dark");
  await h.shot(page, "phone-dark");
  await nav.getByRole("link", { name: "Settings" }).click();
  await page.getByRole("heading", { level: 1, name: "Organization settings" }).waitFor();
  await noOverflow(page, "settings (phone)");
  await h.axe(page, "org-settings-phone-dark");
  await page.goto(`/orgs/${org}`);
  await page.getByRole("heading", { level: 1 }).waitFor();
  await noOverflow(page, "org (phone)");
  await h.axe(page, "org-phone-dark");
  await page.getByRole("link", { name: h.env.adminEmail }).click();
  await page.getByRole("heading", { level: 1, name: "Your account" }).waitFor();
  await page.getByRole("table", { name: "Your sessions" }).waitFor();
  await noOverflow(page, "account (phone)");
  await h.axe(page, "account-phone-dark");
  await h.shot(page, "phone-dark-account");
  await page.context().close();
}
