// The sign-in methods page in a real (headless) Chromium at a phone's and a desktop's width, with a
// password and linked identities (one of a provider no longer configured), and after a refused
// unlink: it fits the screen, "Log out" stays on screen, and axe-core finds no WCAG 2.2 AA violation.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser, Page } from "playwright-core";
import { AxeBuilder } from "@axe-core/playwright";
import { launchChromium, noBrowser } from "./support/browser.js";
import { startTestServer, uniqueEmail, type TestServer } from "./support/server.js";

const PROVIDER_NAMES = ["Example Corporate Single Sign-On", "Another identity provider"];

describe.skipIf(noBrowser)("sign-in methods page at phone and desktop widths", () => {
  let server: TestServer;
  let browser: Browser;
  const password = "correct horse battery";
  const email = uniqueEmail("identities-layout");

  beforeAll(async () => {
    // The page never contacts the providers: an issuer nothing listens on is enough.
    const providers = PROVIDER_NAMES.map((name, i) => ({
      id: `p${i}`,
      name,
      issuer: "http://127.0.0.1:9",
      clientId: `c${i}`,
      clientSecret: "a-client-secret-0123456789",
    }));
    [server, browser] = await Promise.all([startTestServer({ UPSTREAM_PROVIDERS: JSON.stringify(providers) }), launchChromium()]);
    const user = await server.services.users.create(email, password);
    await server.services.db.upstreamIdentity.createMany({
      data: [
        { providerId: "p0", subject: "s0", userId: user.id, email: "a.rather.long.address.at.the.provider@corporate.example.com" },
        { providerId: "retired", subject: "s1", userId: user.id, email: null },
      ],
    });
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  async function check(page: Page, name: string, width: number, problems: string[]) {
    const scroll = await page.evaluate(() => document.documentElement.scrollWidth);
    if (scroll > width) problems.push(`${name} @${width}: ${scroll}px wide`);
    const box = (await page.getByRole("button", { name: "Log out" }).boundingBox())!;
    if (box.x + box.width > width) problems.push(`${name} @${width}: "Log out" is off screen`);
    const axe = await new AxeBuilder({ page }).withTags(["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]).analyze();
    for (const v of axe.violations) problems.push(`${name} @${width}: axe ${v.id}: ${v.nodes[0]?.target.join(" ")} ${v.help}`);
  }

  for (const width of [390, 1280]) {
    it(`fits ${width}px and passes axe-core`, async () => {
      const problems: string[] = [];
      const context = await browser.newContext({ viewport: { width, height: 844 } });
      const page = await context.newPage();
      await page.goto(`${server.url}/login`);
      await page.getByLabel("Email").fill(email);
      await page.getByLabel("Password").fill(password);
      await page.getByRole("button", { name: "Log in" }).click();
      await page.waitForURL("**/app/account/api-keys");
      await page.getByRole("link", { name: "Sign-in methods" }).click();
      await page.waitForURL("**/app/account/sign-in-methods");
      expect(await page.locator("tr[data-provider]").count()).toBe(2);
      await check(page, "sign-in methods", width, problems);
      // A wrong password on an unlink: the page again, with its error.
      await page.locator('tr[data-provider="p0"]').getByLabel("Password").fill("not the password");
      await page.locator('tr[data-provider="p0"]').getByRole("button", { name: "Unlink" }).click();
      await page.getByRole("alert").waitFor();
      await check(page, "sign-in methods, refused", width, problems);
      await context.close();
      expect(problems).toEqual([]);
    }, 120_000);
  }
});
