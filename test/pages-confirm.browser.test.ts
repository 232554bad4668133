// Issue 27 items 5 and 6 in a real (headless) Chromium at 390×844 and 1280×800: a confirmation page
// starts with the focus on Cancel (first in tab order, Enter goes back and nothing happens); the new
// page states (confirmations, inline errors, the log-in page naming the app, consent with the
// unverified-name warning, the unknown-client page) fit the screen and pass axe-core (WCAG 2.2 AA).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import request from "supertest";
import { type Browser, type Page } from "playwright-core";
import { launchChromium, noBrowser } from "./support/browser.js";
import { AxeBuilder } from "@axe-core/playwright";
import { mintOnPage, signUp, startTestServer, type TestServer } from "./support/server.js";
import { joinOrg } from "./support/orgs.js";
import { authorizeUrl, pkcePair, register } from "./support/oauth/flow.js";

const RUNS = [
  { viewport: { width: 390, height: 844 }, colorScheme: "light" },
  { viewport: { width: 1280, height: 800 }, colorScheme: "light" },
  { viewport: { width: 390, height: 844 }, colorScheme: "dark" },
] as const;

describe.skipIf(noBrowser)("confirmations, inline errors and OAuth pages in a browser", () => {
  let server: TestServer;
  let browser: Browser;
  let owner: Awaited<ReturnType<typeof signUp>>;
  let orgId: string;
  let clientId: string;

  beforeAll(async () => {
    [server, browser] = await Promise.all([startTestServer(), launchChromium()]);
    owner = await signUp(server);
    const root = (await mintOnPage(owner.agent, owner.csrf, "root")).raw;
    orgId = (
      await request(server.url)
        .post("/api/orgs")
        .set("Authorization", `Bearer ${root}`)
        .send({ name: "Acme Widgets International" })
        .expect(201)
    ).body.id;
    for (let i = 0; i < 2; i++) await joinOrg(server, root, orgId, await signUp(server), "member");
    clientId = (
      await register(server, {
        client_name: `A-very-long-self-chosen-application-name-without-any-spaces-${"x".repeat(60)} <script>alert(1)</script>`,
      })
    ).body.client_id as string;
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  async function logIn(page: Page) {
    await page.goto(`${server.url}/login`);
    await page.getByLabel("Email").fill(owner.email);
    await page.getByLabel("Password").fill(owner.password);
    await page.getByRole("button", { name: "Log in" }).click();
    await page.waitForURL("**/app/account/api-keys");
  }

  async function check(page: Page, name: string, width: number, problems: string[]) {
    const scroll = await page.evaluate(() => document.documentElement.scrollWidth);
    if (scroll > width) {
      const wide = await page.evaluate(
        (w) =>
          [...document.querySelectorAll("body *")]
            .filter((e) => e.getBoundingClientRect().right > w)
            .slice(0, 4)
            .map((e) => `${e.tagName}.${e.className}`)
            .join(" "),
        width,
      );
      problems.push(`${name} @${width}: ${scroll}px wide (${wide})`);
    }
    const axe = await new AxeBuilder({ page }).withTags(["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]).analyze();
    for (const v of axe.violations)
      problems.push(`${name} @${width}: axe ${v.id} (${v.nodes.length}): ${v.nodes[0]?.target.join(" ")} ${v.help}`);
  }

  const focused = (page: Page) => page.evaluate(() => document.activeElement?.textContent?.trim() ?? "");

  for (const run of RUNS) {
    const size = run.viewport;
    it(`confirmations start on Cancel, errors show inline, OAuth pages name the app (${size.width}px, ${run.colorScheme})`, async () => {
      const problems: string[] = [];
      const context = await browser.newContext({ viewport: size, colorScheme: run.colorScheme });
      const page = await context.newPage();

      // before logging in: an authorization's log-in page names the app
      await page.goto(`${server.url}${authorizeUrl({ clientId, challenge: pkcePair().challenge, method: "S256", scope: "mcp:read" })}`);
      await page.locator(".asking-app").waitFor();
      expect(await page.locator(".asking-app").textContent()).toContain("A-very-long-self-chosen");
      await check(page, "log-in naming the app", size.width, problems);
      // an unknown client_id: a page in words
      await page.goto(`${server.url}${authorizeUrl({ clientId: "no-such-client", challenge: pkcePair().challenge, method: "S256" })}`);
      await page.getByRole("heading", { name: "This application is not registered with Keyward" }).waitFor();
      await check(page, "unknown client", size.width, problems);

      await logIn(page);
      // the API keys page's own revoke confirmation (no-JS page and the dialog) starts on Cancel too
      await page.getByLabel("Label").fill("confirm me");
      await page.getByRole("button", { name: "Mint new key" }).click();
      await page.locator("#reveal").waitFor();
      await page.goto(`${server.url}/app/account/api-keys`);
      const revokeHref = (await page.locator("a.revoke").first().getAttribute("href"))!;
      await page.locator("a.revoke").first().click();
      await page.locator("#revoke-dialog").waitFor({ state: "visible" });
      expect(await focused(page)).toBe("Cancel");
      await page.keyboard.press("Enter");
      await page.locator("#revoke-dialog").waitFor({ state: "hidden" });
      await page.goto(`${server.url}${revokeHref}`);
      expect(await focused(page)).toBe("Cancel");
      // consent: Allow and Deny side by side, the unverified name warned about, long names wrapped
      await page.goto(`${server.url}${authorizeUrl({ clientId, challenge: pkcePair().challenge, method: "S256", scope: "mcp:read" })}`);
      const allow = await page.getByRole("button", { name: "Allow" }).boundingBox();
      const deny = await page.getByRole("button", { name: "Deny" }).boundingBox();
      expect(Math.abs(allow!.y - deny!.y)).toBeLessThan(2);
      expect(await page.locator(".unverified").count()).toBe(1);
      await check(page, "consent, unverified name", size.width, problems);
      await page.getByRole("button", { name: "Deny" }).click();
      await page.waitForURL("http://127.0.0.1:33418/callback?**").catch(() => undefined);

      // remove a member: the confirmation page focuses Cancel; Enter goes back and removes nobody
      await page.goto(`${server.url}/app/orgs/${orgId}`);
      const rows = await page.locator("table.members tbody tr").count();
      await check(page, "organisation, three members", size.width, problems);
      await page
        .getByRole("link", { name: /^Remove / })
        .first()
        .click();
      await page.getByRole("heading", { name: /^Remove .* from Acme Widgets International\?$/ }).waitFor();
      expect(await focused(page)).toBe("Cancel");
      await check(page, "remove-member confirmation", size.width, problems);
      await page.keyboard.press("Tab");
      expect(await focused(page)).toMatch(/^Yes, remove /);
      await page.keyboard.press("Shift+Tab");
      await page.keyboard.press("Enter");
      await page.waitForURL(`**/app/orgs/${orgId}`);
      expect(await page.locator("table.members tbody tr").count()).toBe(rows);

      // demoting the last owner: the role change is confirmed, then refused next to the Members table
      const self = page.locator("table.members tbody tr", { hasText: owner.email });
      await self.getByRole("combobox").selectOption("member");
      await self.getByRole("button", { name: "Change" }).click();
      await page.getByRole("heading", { name: /^Make .* member of Acme Widgets International\?$/ }).waitFor();
      expect(await focused(page)).toBe("Cancel");
      await check(page, "role-change confirmation", size.width, problems);
      await page.getByRole("button", { name: "Yes, make them member" }).click();
      await page.locator("#members-error").waitFor();
      expect(await page.locator("#members-error").textContent()).toContain("at least one owner");
      await check(page, "organisation, inline error", size.width, problems);

      // a stale form: 403 on the same page, with the message
      await page.goto(`${server.url}/app/orgs/${orgId}`);
      await page.locator('form[action$="/members"] input[name=_csrf]').evaluate((el) => ((el as HTMLInputElement).value = "stale"));
      await page.getByLabel("Email", { exact: true }).fill("friend@example.com");
      await page.getByRole("button", { name: "Invite" }).click();
      await page.locator("#invite-error").waitFor();
      expect(await page.getByLabel("Email", { exact: true }).inputValue()).toBe("friend@example.com");
      await check(page, "organisation, stale form", size.width, problems);

      await context.close();
      expect(problems).toEqual([]);
    }, 180_000);
  }
});
