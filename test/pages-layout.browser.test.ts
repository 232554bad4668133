// Issue 27, items 1, 2, 3 and 8 in a real (headless) Chromium, at 390×844 (a phone) and 1280×800:
// every signed-in page (and log-in, consent) is no wider than the screen, the top navigation's
// "Log out" is on screen, tables fit their card, the activity page's rows are short, a reload of the
// reveal page shows "shown once", and axe-core finds no WCAG 2.2 AA violation in any of these states.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Browser, type Page } from "playwright-core";
import { launchChromium, noBrowser } from "./support/browser.js";
import { AxeBuilder } from "@axe-core/playwright";
import { signUp, startTestServer, type TestServer } from "./support/server.js";
import { authorizeUrl, pkcePair, register } from "./support/oauth/flow.js";
import { codeAt, currentStep } from "./support/security.js";

const RUNS = [
  { viewport: { width: 390, height: 844 }, colorScheme: "light" },
  { viewport: { width: 1280, height: 800 }, colorScheme: "light" },
  { viewport: { width: 390, height: 844 }, colorScheme: "dark" },
] as const;
const LONG_LABEL = "Continuous-integration deployment key for the production cluster";

describe.skipIf(noBrowser)("pages at phone and desktop widths", () => {
  let server: TestServer;
  let browser: Browser;
  let person: Awaited<ReturnType<typeof signUp>>;
  let clientId: string;

  beforeAll(async () => {
    [server, browser] = await Promise.all([startTestServer(), launchChromium()]);
    person = await signUp(server);
    clientId = (await register(server, { client_name: "Layout test client" })).body.client_id as string;
    // an organisation, so the orgs list and an org page have content
    await person.agent.post("/app/orgs").type("form").send({ _csrf: person.csrf, name: "Acme Widgets International" }).redirects(0);
    // a gateway resource with a long name, a long upstream and a failing health, seen by an organisation owner
    const resource = await server.services.resources.add(
      {
        slug: "engineering-knowledge-base",
        name: "Engineering knowledge base and incident runbooks",
        // a long upstream address nothing listens on: the request below fails and the health says so
        upstream: "http://127.0.0.1:9/internal-mcp-gateway/corp/example/servers/knowledge-base-and-runbooks/mcp",
      },
      { actor: { type: "cli" } },
    );
    const owner = (await server.services.users.findByEmail(person.email))!;
    const { raw } = await server.services.keys.mint(
      { userId: owner.id, label: "gateway probe", source: "portal" },
      { actor: { type: "cli" }, via: "cli" },
    );
    const failed = await fetch(`${server.url}/mcp/${resource.slug}`, {
      method: "POST",
      headers: { authorization: `Bearer ${raw}`, "content-type": "application/json", accept: "application/json, text/event-stream" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list", params: {} }),
    });
    expect(failed.status).toBe(502);
    for (let i = 0; i < 100 && !(await server.services.resources.health(resource.id))?.lastError; i++)
      await new Promise((r) => setTimeout(r, 50));
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  async function logIn(page: Page, who: { email: string; password: string } = person) {
    await page.goto(`${server.url}/login`);
    await page.getByLabel("Email").fill(who.email);
    await page.getByLabel("Password").fill(who.password);
    await page.getByRole("button", { name: "Log in" }).click();
    await page.waitForURL("**/app/account/api-keys");
  }

  /** The page fits the screen, and axe-core finds nothing (WCAG 2.0/2.1/2.2 A and AA). */
  async function check(page: Page, name: string, width: number, problems: string[]) {
    const scroll = await page.evaluate(() => document.documentElement.scrollWidth);
    if (scroll > width) problems.push(`${name} @${width}: ${scroll}px wide`);
    const logout = page.getByRole("button", { name: "Log out" });
    if ((await logout.count()) > 0) {
      const box = (await logout.boundingBox())!;
      if (box.x + box.width > width) problems.push(`${name} @${width}: "Log out" is off screen`);
    }
    // every table fits in its card (or scrolls inside it)
    const spills = await page.evaluate(
      () =>
        [...document.querySelectorAll("table")].filter((t) => {
          const card = t.closest(".card");
          return card && t.getBoundingClientRect().right > card.getBoundingClientRect().right + 1 && card.scrollWidth <= card.clientWidth;
        }).length,
    );
    if (spills) problems.push(`${name} @${width}: ${spills} table(s) spill out of their card`);
    const axe = await new AxeBuilder({ page }).withTags(["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]).analyze();
    for (const v of axe.violations)
      problems.push(`${name} @${width}: axe ${v.id} (${v.nodes.length}): ${v.nodes[0]?.target.join(" ")} ${v.help}`);
  }

  for (const run of RUNS) {
    const size = run.viewport;
    it(`every page fits ${size.width}px and passes axe-core (${run.colorScheme} scheme)`, async () => {
      const problems: string[] = [];
      const context = await browser.newContext({ viewport: size, colorScheme: run.colorScheme });
      const page = await context.newPage();

      await page.goto(`${server.url}/login`);
      await check(page, "login", size.width, problems);
      await logIn(page);
      await check(page, "api keys (empty or listed)", size.width, problems);

      // mint → the one-time reveal; reload → "shown once", and no second key
      await page.getByLabel("Label").fill(`${LONG_LABEL} ${size.width} ${run.colorScheme}`);
      await page.getByRole("button", { name: "Mint new key" }).click();
      await page.locator("#reveal").waitFor();
      expect(page.url()).toMatch(/\/app\/account\/api-keys\/reveal\//);
      await check(page, "reveal", size.width, problems);
      await page.reload();
      await page.locator("#reveal-gone").waitFor();
      expect(await page.locator("#new-key").count()).toBe(0);
      await check(page, "reveal after reload", size.width, problems);
      await page.getByRole("link", { name: "Back to your API keys" }).click();
      expect(await page.locator("table.keys tbody tr", { hasText: `${LONG_LABEL} ${size.width} ${run.colorScheme}` }).count()).toBe(1);
      await check(page, "api keys", size.width, problems);

      // the revoke confirmation page (no-JS path)
      await page.goto(`${server.url}${(await page.locator("a.revoke").first().getAttribute("href"))!}`);
      await check(page, "revoke confirmation", size.width, problems);
      await page.getByRole("button", { name: "Yes, revoke this key" }).click();
      await page.waitForURL("**/app/account/api-keys?revoked=**");
      expect(await page.locator("table.keys tbody tr.revoked").count()).toBeGreaterThan(0);
      await check(page, "api keys with a revoked key", size.width, problems);

      // consent for an OAuth app, then connected apps
      await page.goto(`${server.url}${authorizeUrl({ clientId, challenge: pkcePair().challenge, method: "S256", scope: "mcp:read" })}`);
      await page.getByRole("button", { name: "Allow" }).waitFor();
      await check(page, "consent", size.width, problems);
      await page.goto(`${server.url}/app/account/connected-apps`);
      await check(page, "connected apps", size.width, problems);

      await page.goto(`${server.url}/app/account/security`);
      await check(page, "security", size.width, problems);

      await page.goto(`${server.url}/app/account/audit`);
      await check(page, "activity", size.width, problems);
      const tallest = await page.evaluate(() =>
        Math.max(...[...document.querySelectorAll("table.audit tbody tr")].map((r) => r.getBoundingClientRect().height)),
      );
      if (tallest > (size.width < 500 ? 300 : 100)) problems.push(`activity @${size.width}: a row is ${tallest}px tall`);
      const ua = page.locator("table.audit tbody tr td[data-label=From] span[title]").first();
      expect(await ua.textContent()).toMatch(/^Chrome/);
      expect(await ua.getAttribute("title")).toMatch(/^Mozilla\/5\.0/);
      await page.getByLabel("Event", { exact: true }).selectOption("key.minted");
      await page.getByRole("button", { name: "Show" }).click();
      await page.waitForURL("**/app/account/audit?kind=key.minted**");
      await check(page, "activity filtered", size.width, problems);
      await page.goto(`${server.url}/app/account/audit?kind=nope`);
      await check(page, "activity, bad filter", size.width, problems);

      await page.goto(`${server.url}/app/orgs`);
      await check(page, "organisations", size.width, problems);
      await page.getByRole("link", { name: "Acme Widgets International" }).click();
      await page.waitForURL("**/app/orgs/**");
      await check(page, "organisation", size.width, problems);

      await page.goto(`${server.url}/resources`);
      await page.locator("#resource-engineering-knowledge-base summary").first().click();
      await check(page, "resources (owner's view, a snippet open)", size.width, problems);

      await context.close();
      expect(problems).toEqual([]);
    }, 180_000);

    it(`two-factor states and the backup codes' one-time reveal at ${size.width}px (${run.colorScheme} scheme)`, async () => {
      const problems: string[] = [];
      const someone = await signUp(server);
      const context = await browser.newContext({ viewport: size, colorScheme: run.colorScheme });
      const page = await context.newPage();
      await logIn(page, someone);
      await page.goto(`${server.url}/app/account/security`);
      await page.locator("#two-factor").getByLabel("Password").fill(someone.password);
      await page.getByRole("button", { name: "Enable 2FA" }).click();
      await page.locator("#totp-secret").waitFor();
      await check(page, "security, 2FA pending", size.width, problems);
      const secret = (await page.locator("#totp-secret").textContent())!.trim();
      await page.getByLabel("Code from the app").fill(await codeAt(secret, currentStep()));
      await page.locator("#two-factor").getByLabel("Password").fill(someone.password);
      await page.getByRole("button", { name: "Turn on two-factor authentication" }).click();
      await page.locator("#backup-codes").waitFor();
      expect(page.url()).toMatch(/\/app\/account\/security\/backup-codes\//);
      expect(await page.locator("code.backup-code").count()).toBe(10);
      await check(page, "backup codes reveal", size.width, problems);
      await page.reload();
      await page.locator("#reveal-gone").waitFor();
      expect(await page.locator("code.backup-code").count()).toBe(0);
      await check(page, "backup codes after reload", size.width, problems);
      await page.goto(`${server.url}/app/account/security`);
      await check(page, "security, 2FA on", size.width, problems);
      await context.close();
      expect(problems).toEqual([]);
    }, 120_000);
  }
});
