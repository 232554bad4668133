// The usage chart in a real (headless) Chromium (issue 28 item 5): the server-rendered SVG draws one
// bar a day with the served and refused parts where the counts say, has an accessible name and
// description, and the key page, the key list with a stale key, the stale-revoke confirmation and
// Connected apps fit a phone's width and pass axe-core (contrast included) in light and dark schemes.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser, Page } from "playwright-core";
import { AxeBuilder } from "@axe-core/playwright";
import { launchChromium, noBrowser } from "./support/browser.js";
import { mintOnPage, signUp, startTestServer, type Person, type TestServer } from "./support/server.js";
import { BY_OPERATOR } from "./support/acting.js";

const RUNS = [
  { viewport: { width: 390, height: 844 }, colorScheme: "light" },
  { viewport: { width: 1280, height: 800 }, colorScheme: "light" },
  { viewport: { width: 390, height: 844 }, colorScheme: "dark" },
] as const;

describe.skipIf(noBrowser)("usage charts in Chromium", () => {
  let server: TestServer;
  let browser: Browser;
  let person: Person;
  let keyId: string;

  const mcp = (raw: string, tool: string) =>
    fetch(`${server.url}/mcp`, {
      method: "POST",
      headers: { authorization: `Bearer ${raw}`, "content-type": "application/json", accept: "application/json, text/event-stream" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: tool, arguments: { text: "x" } } }),
    }).then((r) => r.status);

  beforeAll(async () => {
    [server, browser] = await Promise.all([startTestServer(), launchChromium()]);
    person = await signUp(server);
    const { raw } = await mintOnPage(person.agent, person.csrf, "charted", ["mcp:read", "keys:read"]);
    for (let i = 0; i < 4; i++) expect(await mcp(raw, "whoami")).toBe(200);
    expect(await mcp(raw, "notes_add")).toBe(403);
    const userId = (await server.services.users.findByEmail(person.email))!.id;
    keyId = (await server.services.keys.list(userId)).find((k) => k.label === "charted")!.id;
    // a stale key, and an OAuth client with usage
    // a stale key: imported (a hash from another system) with a creation date 100 days ago, never used
    const created = new Date(Date.now() - 100 * 86_400_000);
    const hash = "ab".repeat(32);
    await server.services.keys.importHashes(userId, [{ line: 1, hash, label: "old", created, last4: "abcd" }]);
    const oauth = await server.services.keys.mint(
      {
        userId,
        label: "OAuth: Chart client",
        source: "oauth",
        clientId: "dcr_chart",
        scopes: ["mcp:read"],
        resources: [`${server.url}/mcp`],
      },
      BY_OPERATOR,
    );
    expect(await mcp(oauth.raw, "whoami")).toBe(200);
    await server.services.keys.tracker.flush();
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  async function logIn(page: Page) {
    await page.goto(`${server.url}/login`);
    await page.getByLabel("Email").fill(person.email);
    await page.getByLabel("Password").fill(person.password);
    await page.getByRole("button", { name: "Log in" }).click();
    await page.waitForURL("**/app/account/api-keys");
  }

  async function check(page: Page, name: string, width: number, problems: string[]) {
    const scroll = await page.evaluate(() => document.documentElement.scrollWidth);
    if (scroll > width) problems.push(`${name} @${width}: ${scroll}px wide`);
    const axe = await new AxeBuilder({ page }).withTags(["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]).analyze();
    for (const v of axe.violations)
      problems.push(`${name} @${width}: axe ${v.id} (${v.nodes.length}): ${v.nodes[0]?.target.join(" ")} ${v.help}`);
  }

  it("draws today's bar as the counts say, with an accessible name", async () => {
    const page = await browser.newPage();
    await logIn(page);
    await page.goto(`${server.url}/app/account/api-keys/${keyId}`);
    const chart = page.getByRole("img", { name: "Requests per day for the key “charted” ending in", exact: false });
    expect(await chart.count()).toBe(1);
    const today = new Date().toISOString().slice(0, 10);
    const served = page.locator(`g.day[data-date="${today}"] rect.served`);
    const refused = page.locator(`g.day[data-date="${today}"] rect.refused`);
    const s = (await served.boundingBox())!;
    const r = (await refused.boundingBox())!;
    expect(s.height).toBeGreaterThan(0);
    expect(r.height).toBeGreaterThan(0);
    // 4 served, 1 refused (the pages' own requests use the session: not counted)
    expect(s.height / r.height).toBeCloseTo(4, 0);
    expect(r.y + r.height).toBeCloseTo(s.y, 0); // refusals stacked on top
    const fills = await page.evaluate(() => {
      const one = (sel: string) => getComputedStyle(document.querySelector(sel)!).fill;
      return [one(".usage-chart rect.served"), one(".usage-chart rect.refused")];
    });
    expect(fills[0]).not.toBe(fills[1]);
    expect(await page.locator(".usage-summary").textContent()).toContain("4 requests served, 1 refusal");
    await page.close();
  });

  for (const run of RUNS) {
    const size = run.viewport;
    it(`the usage pages fit ${size.width}px and pass axe-core (${run.colorScheme} scheme)`, async () => {
      const problems: string[] = [];
      const context = await browser.newContext({ viewport: size, colorScheme: run.colorScheme });
      const page = await context.newPage();
      await logIn(page);
      expect(await page.locator("tr.stale").count()).toBe(1);
      await check(page, "api keys with a stale key", size.width, problems);
      await page.goto(`${server.url}/app/account/api-keys/${keyId}`);
      await page.locator("details.usage-days summary").click();
      await check(page, "key page", size.width, problems);
      await page.goto(`${server.url}/app/account/api-keys/revoke-stale`);
      await check(page, "stale confirmation", size.width, problems);
      await page.goto(`${server.url}/app/account/connected-apps`);
      await check(page, "connected apps", size.width, problems);
      await context.close();
      expect(problems).toEqual([]);
    });
  }
});
