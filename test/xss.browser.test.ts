// Stored XSS: hostile key labels and client metadata render inert in a real Chromium, even with
// the CSP out of the picture (escaping is what stops them; the CSP is the second wall).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Browser, type Page } from "playwright-core";
import { launchChromium, noBrowser } from "./support/browser.js";
import { startTestServer, signUp, mintOnPage, type TestServer } from "./support/server.js";
import { authorizeUrl, pkcePair, register } from "./support/oauth/flow.js";

const PAYLOADS = [
  `<img src=x onerror="window.__xss=(window.__xss||0)+1">`,
  `<script>window.__xss=(window.__xss||0)+1</script>`,
  `"><svg onload="window.__xss=(window.__xss||0)+1">`,
  `javascript:window.__xss=1`,
];

describe.skipIf(noBrowser)("stored XSS payloads render inert in Chromium", () => {
  let server: TestServer;
  let browser: Browser;
  beforeAll(async () => {
    [server, browser] = await Promise.all([startTestServer(), launchChromium()]);
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  async function visit(page: Page, path: string) {
    const dialogs: string[] = [];
    page.on("dialog", (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    await page.goto(`${server.url}${path}`);
    await page.waitForLoadState("load");
    expect(await page.evaluate(() => (window as unknown as { __xss?: number }).__xss)).toBeUndefined();
    expect(dialogs).toEqual([]);
  }

  it("in key labels on the keys page and the revoke confirmation, with and without the CSP", async () => {
    const { agent, csrf, email, password } = await signUp(server);
    for (const p of PAYLOADS) await mintOnPage(agent, csrf, p.slice(0, 100));
    const keys = await server.services.keys.list((await server.services.users.findByEmail(email))!.id);

    for (const bypassCSP of [false, true]) {
      const context = await browser.newContext({ bypassCSP });
      const page = await context.newPage();
      await page.goto(`${server.url}/login`);
      await page.getByLabel("Email").fill(email);
      await page.getByLabel("Password").fill(password);
      await page.getByRole("button", { name: "Log in" }).click();
      await page.waitForURL("**/app/account/api-keys");
      await visit(page, "/app/account/api-keys");
      for (const p of PAYLOADS) expect(await page.getByText(p.slice(0, 100), { exact: true }).count()).toBeGreaterThan(0);
      await visit(page, `/app/account/api-keys/${keys[0]!.id}/revoke`);
      // The JS revoke dialog fills labels with textContent, never innerHTML.
      await page.goto(`${server.url}/app/account/api-keys`);
      await page.locator("a.revoke").first().click();
      expect(await page.locator("#revoke-dialog-label").textContent()).toBe(keys[0]!.label);
      expect(await page.evaluate(() => (window as unknown as { __xss?: number }).__xss)).toBeUndefined();
      await context.close();
    }
  });

  it("in a registered client's name and URIs on the consent page", async () => {
    const clientId = (
      await register(server, { client_name: PAYLOADS[1], client_uri: "https://app.example/", logo_uri: "https://app.example/logo.png" })
    ).body.client_id as string;
    const { email, password } = await signUp(server);
    for (const bypassCSP of [false, true]) {
      const context = await browser.newContext({ bypassCSP });
      const page = await context.newPage();
      await page.goto(`${server.url}${authorizeUrl({ clientId, challenge: pkcePair().challenge, method: "S256", scope: "mcp:read" })}`);
      await page.waitForURL("**/login**");
      await page.getByLabel("Email").fill(email);
      await page.getByLabel("Password").fill(password);
      await page.getByRole("button", { name: "Log in" }).click();
      await page.getByRole("button", { name: "Allow" }).waitFor();
      expect(await page.evaluate(() => (window as unknown as { __xss?: number }).__xss)).toBeUndefined();
      expect(await page.getByText(PAYLOADS[1]!).first().isVisible()).toBe(true);
      const frameAncestors = (await page.request.get(page.url())).headers()["content-security-policy"];
      expect(frameAncestors).toContain("frame-ancestors 'none'");
      await context.close();
    }
  });
});
