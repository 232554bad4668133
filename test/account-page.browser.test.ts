// The account page in a real (headless) Chromium: sign up through the form, mint, the reveal
// banner, "I have copied this key", the revoke dialog, and no CSP violations for our script.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Browser, type ConsoleMessage, type Page } from "playwright-core";
import { launchChromium, noBrowser } from "./support/browser.js";
import { startTestServer, uniqueEmail, type TestServer } from "./support/server.js";

// Skipped only on a developer machine without Chromium; in CI it must run (and fail if missing).

describe.skipIf(noBrowser)("account page in a browser", () => {
  let server: TestServer;
  let browser: Browser;

  beforeAll(async () => {
    [server, browser] = await Promise.all([startTestServer(), launchChromium()]);
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  /**
   * On the sign-up form: signs up as `email`, then, sign-up not logging in (it must not tell whether the
   * email was taken), logs in on the form that comes next; ends on the keys page.
   */
  async function signUpAndLogIn(page: Page, email: string): Promise<void> {
    await page.getByLabel("Email").fill(email);
    await page.getByLabel("Password").fill("correct horse battery");
    await page.getByRole("button", { name: "Sign up" }).click();
    await page.waitForURL("**/login?signed_up=1**");
    await page.getByLabel("Email").fill(email);
    await page.getByLabel("Password").fill("correct horse battery");
    await page.getByRole("button", { name: "Log in" }).click();
    await page.waitForURL("**/app/account/api-keys");
  }

  it("sign up, mint, reveal once, copy-dismiss, revoke through the dialog", async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    const problems: string[] = [];
    page.on("console", (msg: ConsoleMessage) => {
      if (msg.type() === "error" || /Content Security Policy|Refused to/i.test(msg.text()))
        problems.push(`${msg.text()} @ ${msg.location().url}`);
    });
    page.on("pageerror", (err) => problems.push(`pageerror: ${err.message}`));
    const scriptLoads: number[] = [];
    page.on("response", (res) => {
      if (res.url().endsWith("/static/app.js")) scriptLoads.push(res.status());
    });

    // sign up through the form
    const home = await page.goto(`${server.url}/`);
    // the CSP is really in force (so "no CSP errors" below means something)
    expect(home!.headers()["content-security-policy"]).toContain("script-src 'self'");
    await page.getByRole("link", { name: "Create an account" }).click();
    await page.waitForURL("**/signup");
    const email = uniqueEmail("browser");
    await signUpAndLogIn(page, email);
    expect(await page.locator(".who").textContent()).toBe(email);
    expect(await page.getByText("No keys yet.").isVisible()).toBe(true);

    // mint: the reveal banner shows the key
    await page.getByLabel("Label").fill("Browser key");
    await page.getByRole("checkbox", { name: /^mcp:read —/ }).check();
    await page.getByRole("button", { name: "Mint new key" }).click();
    const banner = page.locator("#reveal");
    await banner.waitFor();
    expect(await banner.getByRole("heading").textContent()).toBe("Copy your new key now");
    const raw = (await page.locator("#new-key").textContent())!.trim();
    expect(raw).toMatch(/^kw_user_[0-9A-Za-z]{49}$/);
    const row = page.locator("table.keys tbody tr", { hasText: "Browser key" });
    expect(await row.locator("td").nth(1).textContent()).toBe(`…${raw.slice(-4)}`);
    expect((await row.locator("td").nth(3).textContent())!.trim()).toBe("Portal");
    expect((await row.locator("td").nth(4).textContent())!.trim()).toBe("mcp:read");

    // the copy button works (or falls back to selecting the key)
    await banner.getByRole("button", { name: "Copy" }).click();
    await expect.poll(() => banner.getByRole("button").first().textContent()).toMatch(/^(Copied|Press Ctrl\+C)$/);

    // one screenshot of the page with the banner, to look at the layout
    await page.screenshot({ path: "/tmp/keys-page.png", fullPage: true });

    // "I have copied this key" → the key is gone for good
    await page.getByRole("link", { name: "I have copied this key" }).click();
    await page.waitForLoadState("load");
    expect(await page.locator("#reveal").count()).toBe(0);
    expect(await page.content()).not.toContain(raw);
    await page.reload();
    expect(await page.content()).not.toContain(raw);

    // revoke through the dialog: it names the last 4
    const dialog = page.locator("#revoke-dialog");
    expect(await dialog.isVisible()).toBe(false);
    await row.getByRole("link", { name: "Revoke" }).click();
    await dialog.waitFor({ state: "visible" });
    expect(page.url()).toMatch(/\/app\/account\/api-keys$/); // the dialog, not the no-JS page
    expect(await page.locator("#revoke-dialog-last4").textContent()).toBe(raw.slice(-4));
    expect(await page.locator("#revoke-dialog-label").textContent()).toBe("Browser key");
    // Cancel closes it and changes nothing
    await dialog.getByRole("button", { name: "Cancel" }).click();
    await dialog.waitFor({ state: "hidden" });
    expect(await row.getAttribute("class")).toBe("");
    await row.getByRole("link", { name: "Revoke" }).click();
    await dialog.getByRole("button", { name: "Yes, revoke this key" }).click();
    await page.waitForURL(/\?revoked=key_/);
    const revokedRow = page.locator("table.keys tbody tr", { hasText: "Browser key" });
    expect(await revokedRow.getAttribute("class")).toBe("revoked");
    expect(await revokedRow.locator(".status").textContent()).toBe("Revoked");
    expect(await page.getByRole("status").textContent()).toContain(`ending in ${raw.slice(-4)} was revoked`);
    // set apart by colour, not by opacity (which would fail text contrast: issue 27)
    expect(Number(await revokedRow.evaluate((el) => getComputedStyle(el).opacity))).toBe(1);
    expect(
      await revokedRow
        .locator("td")
        .first()
        .evaluate((el) => getComputedStyle(el).backgroundColor),
    ).not.toBe("rgba(0, 0, 0, 0)");

    // the key no longer works
    const res = await fetch(`${server.url}/api/api-keys`, { headers: { Authorization: `Bearer ${raw}` } });
    expect(res.status).toBe(401);

    // our script loaded and ran under the CSP (the dialog above is its work); nothing was blocked or thrown
    expect(scriptLoads.length).toBeGreaterThan(0);
    expect(scriptLoads.every((s) => s === 200 || s === 304)).toBe(true);
    expect(problems).toEqual([]);
    await context.close();
  });

  it("with JavaScript off, Revoke goes to the confirmation page", async () => {
    const context = await browser.newContext({ javaScriptEnabled: false });
    const page = await context.newPage();
    await page.goto(`${server.url}/signup`);
    const email = uniqueEmail("nojs");
    await signUpAndLogIn(page, email);
    await page.getByRole("button", { name: "Mint new key" }).click();
    const raw = (await page.locator("#new-key").textContent())!.trim();
    await page.getByRole("link", { name: "Revoke" }).click();
    await page.waitForURL(/\/revoke$/);
    expect(await page.locator("main code").first().textContent()).toBe(raw.slice(-4));
    await page.getByRole("button", { name: "Yes, revoke this key" }).click();
    await page.waitForURL(/\?revoked=key_/);
    expect(await page.locator("table.keys tbody tr").getAttribute("class")).toBe("revoked");
    await context.close();
  });
});
