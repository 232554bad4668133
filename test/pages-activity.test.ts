// Issue 27, item 2 (and the small ones of item 7 that show in HTML), from the outside: the activity
// page says what happened in words, "You" for the viewer's own actions, the browser as "X on Y"
// (the full user agent in a title), pages past 200 events with an "Older events" link, filters by
// event kind and by key (bad values: a 400 page with a message, never a 500).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import request from "supertest";
import { EVENT_KINDS } from "../src/audit/describe.js";
import { browser, csrfFrom, mintOnPage, signUp, startTestServer, type TestServer } from "./support/server.js";
import { unescapeHtml } from "./support/test-db.js";
import { sourceFiles } from "./support/source-files.js";

const AUDIT = "/app/account/audit";
const CHROME_MAC = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
const rows = (html: string) => html.match(/<tr data-action="/g)?.length ?? 0;
const olderLink = (html: string) =>
  /<a href="(\/app\/account\/audit\?[^"]*before=[^"]+)">Older events/.exec(html)?.[1]?.replace(/&amp;/g, "&");

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => server?.close());

const userIdOf = async (email: string) => (await server.services.users.findByEmail(email))!.id;

describe("the activity page in words", () => {
  it("names every event kind Keyward writes, says You, and reads the browser", async () => {
    const user = await signUp(server);
    await user.agent
      .post("/app/account/api-keys")
      .set("User-Agent", CHROME_MAC)
      .type("form")
      .send({ _csrf: user.csrf, label: "Laptop script" })
      .redirects(0)
      .expect(303);
    const page = unescapeHtml((await user.agent.get(AUDIT).expect(200)).text);
    expect(page).toContain("API key created");
    expect(page).toContain("“Laptop script” ending in");
    expect(page).toContain("on the API keys page, full access");
    expect(page).toMatch(/<td data-label="By">You<\/td>/);
    expect(page).toContain(`<span title="${CHROME_MAC}">Chrome on macOS</span>`);
    expect(page).not.toMatch(/via: page|last4:|backupCodesLeft/);

    // every event kind written anywhere in src/ has words (no raw "app.created" in the Event column)
    const written = new Set<string>();
    for (const { text } of sourceFiles())
      for (const m of text.matchAll(/(?:action: |keyEvent\(|record\(ctx, actor, |event\()"([a-z0-9_]+\.[a-z0-9_.]+)"/g)) written.add(m[1]!);
    expect(written.size).toBeGreaterThan(20);
    expect([...written].filter((kind) => !Object.hasOwn(EVENT_KINDS, kind))).toEqual([]);
    for (const [kind, words] of Object.entries(EVENT_KINDS)) expect(words, kind).not.toMatch(/[._]/);
  });

  it("org and app events, facts in sentences, and another user's actions are not You", async () => {
    const user = await signUp(server);
    const userId = await userIdOf(user.email);
    const org = (await user.agent.post("/api/orgs").set("X-CSRF-Token", user.csrf).send({ name: "Acme" }).expect(201)).body.id as string;
    await server.services.audit.recordAll([
      { userId, actor: { type: "user", id: userId }, action: "2fa.backup_code_used", details: { backupCodesLeft: 8 } },
      {
        userId,
        actor: { type: "org_admin", id: "usr_someone_else" },
        action: "org.role_changed",
        targetId: org,
        details: { role: "viewer" },
      },
      {
        userId,
        actor: { type: "org_admin", id: userId },
        action: "app.created",
        targetId: "app_1",
        details: { organizationId: org, name: "Deploy bot" },
      },
      { userId, actor: { type: "system" }, action: "app_key.minted", details: { someCount: 3 } },
    ]);
    const page = unescapeHtml((await user.agent.get(AUDIT).expect(200)).text);
    expect(page).toContain("8 backup codes left");
    expect(page).toContain("Now viewer in “Acme”");
    expect(page).toContain("An organisation admin");
    expect(page).toContain("You (as organisation admin)");
    expect(page).toContain("“Deploy bot” in “Acme”");
    expect(page).toContain("Organisation created");
    // a kind without a sentence still reads as words
    expect(page).toContain('<td data-label="Event">App key minted</td>');
    expect(page).toContain("some count: 3");
    expect(page).not.toMatch(/<td data-label="Event">[a-z0-9_]+\.[a-z_]+<\/td>/);
  });
});

describe("paging and filters", () => {
  it("walks past 200 events with Older links, newest first, none twice", async () => {
    const user = await signUp(server);
    const userId = await userIdOf(user.email);
    const t0 = Date.now() - 3600_000;
    // 230 events, created one second apart (plus the sign-up's own)
    for (let i = 0; i < 230; i += 50) {
      await server.services.db.auditEvent.createMany({
        data: Array.from({ length: Math.min(50, 230 - i) }, (_, j) => ({
          id: `evt_${String(i + j).padStart(32, "0")}`,
          userId,
          actorType: "user",
          actorId: userId,
          action: "login.succeeded",
          details: JSON.stringify({ method: "password", n: i + j }),
          createdAt: new Date(t0 + (i + j) * 1000),
        })),
      });
    }
    const seen = new Set<string>();
    let url: string | undefined = AUDIT;
    let pages = 0;
    while (url) {
      const res = await user.agent.get(url).expect(200);
      for (const m of res.text.matchAll(/<time datetime="([^"]+)">/g)) seen.add(m[1]!);
      expect(rows(res.text)).toBeLessThanOrEqual(50);
      url = olderLink(res.text);
      pages++;
      expect(pages).toBeLessThan(10);
    }
    const total = await server.services.db.auditEvent.count({ where: { userId } });
    expect(total).toBeGreaterThan(230);
    expect(seen.size).toBeGreaterThanOrEqual(230); // every seeded second, each once
    expect(pages).toBe(Math.ceil(total / 50));
  });

  it("filters by event kind and by key; another user's key shows nothing", async () => {
    const user = await signUp(server);
    const other = await signUp(server);
    await mintOnPage(user.agent, user.csrf, "first");
    const second = await mintOnPage(user.agent, user.csrf, "second");
    const secondId = /data-key-id="(key_[^"]+)">\s*<td class="label">second</.exec(second.html)![1]!;
    await mintOnPage(other.agent, other.csrf, "theirs");

    const minted = await user.agent.get(`${AUDIT}?kind=key.minted`).expect(200);
    expect(rows(minted.text)).toBe(2);
    expect(minted.text.match(/data-action="([^"]+)"/g)!.every((a) => a === 'data-action="key.minted"')).toBe(true);
    expect(minted.text).toContain('<option value="key.minted" selected>');

    const byKey = await user.agent.get(`${AUDIT}?key=${secondId}`).expect(200);
    expect(rows(byKey.text)).toBe(1);
    expect(unescapeHtml(byKey.text)).toContain("“second”");

    const theirs = await other.agent.get(`${AUDIT}?key=${secondId}`).expect(200);
    expect(rows(theirs.text)).toBe(0);
    expect(theirs.text).toContain("No events match these filters.");

    // empty fields of the GET form mean "all"
    expect(rows((await user.agent.get(`${AUDIT}?kind=&key=`).expect(200)).text)).toBeGreaterThan(2);
  });

  it("refuses bad filter values with a 400 page that says why", async () => {
    const user = await signUp(server);
    const cases: [string, string][] = [
      ["kind=nope", "There is no such event kind"],
      ["kind=key.minted&kind=key.revoked", "Choose one event kind."],
      ["key=%3Cscript%3E", "That is not a key id"],
      ["before=yesterday", "The link to older events is not valid"],
      [`before=${"9".repeat(40)}-evt_1`, "The link to older events is not valid"],
    ];
    for (const [query, message] of cases) {
      const res = await user.agent.get(`${AUDIT}?${query}`);
      expect(res.status, query).toBe(400);
      expect(res.text).toContain(message);
      expect(res.text).toContain('<form method="get" action="/app/account/audit"');
      expect(res.text).not.toContain("<script>");
    }
  });
});

describe("small but visible", () => {
  it("a session that ended sends the browser to log in with a notice", async () => {
    const user = await signUp(server);
    await user.agent.post("/app/account/security/sessions/sign-out-everywhere").type("form").send({ _csrf: user.csrf }).expect(303);
    // the browser still has a stale cookie (another tab): simulate it
    const stale = browser(server);
    const first = await stale.get("/app/account/api-keys").set("Cookie", "kw_session=no-longer-valid").redirects(0).expect(302);
    expect(first.headers.location).toBe("/login?return_to=%2Fapp%2Faccount%2Fapi-keys&session=expired");
    const login = await request(server.url).get(first.headers.location!).expect(200);
    expect(login.text).toContain("Your session has expired.");
    // no cookie at all: a plain log-in link, no notice
    expect((await request(server.url).get("/app/account/audit").expect(302)).headers.location).toBe(
      "/login?return_to=%2Fapp%2Faccount%2Faudit",
    );
  });

  it("copy buttons are hidden until the script marks the page; the navigation is labelled", async () => {
    const user = await signUp(server);
    const html = (await user.agent.get("/app/account/api-keys").expect(200)).text;
    const css = (await request(server.url).get("/static/app.css").expect(200)).text;
    const js = (await request(server.url).get("/static/app.js").expect(200)).text;
    expect(css).toMatch(/(^|\n)button\.copy\s*\{\s*display:\s*none;\s*\}/);
    expect(css).toMatch(/\.js button\.copy\s*\{\s*display:\s*inline-block;\s*\}/);
    expect(js).toContain('document.documentElement.classList.add("js")');
    expect(html).toContain('class="copy"');
    expect(html).toContain('<nav aria-label="Main">');
    expect(csrfFrom(html)).toBeTruthy();
  });

  it("no Sign up link when sign-up is closed", async () => {
    const closed = await startTestServer({ ALLOW_SIGNUP: "false" });
    try {
      for (const path of ["/", "/login"]) expect((await request(closed.url).get(path).expect(200)).text).not.toContain('href="/signup');
    } finally {
      await closed.close();
    }
    expect((await request(server.url).get("/login").expect(200)).text).toContain('href="/signup');
  });
});
