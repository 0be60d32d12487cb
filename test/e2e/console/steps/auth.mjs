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
