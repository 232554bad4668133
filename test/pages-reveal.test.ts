// Issue 27, item 3: reloading the page that shows a new key (or new backup codes) neither mints
// again nor shows the secret again. Minting answers 303 → a one-time reveal URL, consumed on its
// first view by the session that minted; nothing raw is held in the database meanwhile.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { browser, signUp, startTestServer, type Person, type TestServer } from "./support/server.js";
import { backupCodesIn, codeStep, enableTwoFactor, passwordStep, SECURITY } from "./support/security.js";
import { csrfFrom } from "./support/server.js";

const KEYS_PAGE = "/app/account/api-keys";
const rawIn = (html: string) => /<code class="secret" id="new-key">([^<]+)<\/code>/.exec(html)?.[1];

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => server?.close());

/** Every text cell of every table, as one string (to prove a secret is in none of them). */
async function everyTableAsText(): Promise<string> {
  const db = server.services.db;
  const postgres = server.database.url.startsWith("postgres");
  const tables = postgres
    ? await db.$queryRawUnsafe<{ name: string }[]>(
        `SELECT table_name AS name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'`,
      )
    : await db.$queryRawUnsafe<{ name: string }[]>(`SELECT name FROM sqlite_master WHERE type = 'table'`);
  const parts: string[] = [];
  for (const { name } of tables)
    parts.push(
      JSON.stringify(await db.$queryRawUnsafe(`SELECT * FROM "${name}"`), (_k, v: unknown) => (typeof v === "bigint" ? String(v) : v)),
    );
  return parts.join("\n");
}

/** New backup codes from the security page's form: the 303's reveal URL, its fragment dropped. */
async function regenerateBackupCodes(user: Person): Promise<string> {
  const csrf = csrfFrom((await user.agent.get(SECURITY).expect(200)).text);
  const regen = await user.agent
    .post(`${SECURITY}/2fa/backup-codes`)
    .type("form")
    .send({ _csrf: csrf, password: user.password })
    .redirects(0)
    .expect(303);
  return (regen.headers.location as string).replace(/#.*$/, "");
}

describe("minting on the page", () => {
  it("redirects to a reveal shown once; a reload shows a clear page and mints nothing", async () => {
    const { agent, csrf } = await signUp(server);
    const mint = await agent.post(KEYS_PAGE).type("form").send({ _csrf: csrf, label: "reload me" }).redirects(0).expect(303);
    const reveal = mint.headers.location as string;
    expect(reveal).toMatch(/^\/app\/account\/api-keys\/reveal\/[A-Za-z0-9_-]{43}$/);
    expect(mint.text).not.toMatch(/kw_user_/);

    // Before the first view the database holds the pending reveal, but not the key in clear.
    const atRest = await everyTableAsText();

    const first = await agent.get(reveal).expect(200);
    expect(first.headers["cache-control"]).toBe("no-store");
    const raw = rawIn(first.text)!;
    expect(raw).toMatch(/^kw_user_/);
    expect(atRest).not.toContain(raw);
    expect(atRest).not.toContain(raw.slice(8, 8 + 43));

    // Reload (twice): the clear "shown once" page with a way back, no key, and still exactly one key.
    for (let i = 0; i < 2; i++) {
      const again = await agent.get(reveal).expect(410);
      expect(again.text).toContain("This key was shown once");
      expect(again.text).toContain('href="/app/account/api-keys"');
      expect(again.text).not.toContain(raw);
      expect(rawIn(again.text)).toBeUndefined();
    }
    const list = await agent.get(KEYS_PAGE).expect(200);
    expect(list.text.match(/data-key-id="/g)).toHaveLength(1);
    expect(await everyTableAsText()).not.toContain(raw);
  });

  it("another browser session cannot read the reveal: the same answer as a reveal that never existed", async () => {
    const owner = await signUp(server);
    const thief = await signUp(server);
    const mint = await owner.agent.post(KEYS_PAGE).type("form").send({ _csrf: owner.csrf, label: "mine" }).redirects(0).expect(303);
    const reveal = mint.headers.location as string;

    const stolen = await thief.agent.get(reveal).expect(410);
    const missing = await thief.agent.get(`${KEYS_PAGE}/reveal/${"A".repeat(43)}`).expect(410);
    const malformed = await thief.agent.get(`${KEYS_PAGE}/reveal/not-a-token`).expect(410);
    expect(rawIn(stolen.text)).toBeUndefined();
    expect(stolen.text).toBe(missing.text);
    expect(malformed.text).toBe(missing.text);
    // logged out: sent to log in, nothing shown
    const anonymous = await browser(server).get(reveal).redirects(0);
    expect(anonymous.status).toBe(302);
    expect(anonymous.headers.location).toMatch(/^\/login\?return_to=/);

    // the thief's attempts did not spend the owner's reveal
    const shown = await owner.agent.get(reveal).expect(200);
    expect(rawIn(shown.text)).toMatch(/^kw_user_/);
  });
});

describe("the reveal URL's variants (trailing slash, case, percent-encoding)", () => {
  /** The same URL written differently: a router that matches it must find the same one-time reveal, never a second copy. */
  const spellings = (reveal: string) => {
    const token = reveal.slice(reveal.lastIndexOf("/") + 1);
    const base = reveal.slice(0, reveal.lastIndexOf("/") + 1);
    const encoded = [...token].map((c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, "0")}`).join("");
    return [reveal, `${reveal}/`, `${base.toUpperCase()}${token}`, `${base}${encoded}`, `${base.toUpperCase()}${encoded}/`];
  };
  /** Other tokens: the token is case-sensitive, so these name reveals that never existed. */
  const otherTokens = (reveal: string) => {
    const token = reveal.slice(reveal.lastIndexOf("/") + 1);
    const base = reveal.slice(0, reveal.lastIndexOf("/") + 1);
    const flipped = [...token].map((c) => (c === c.toUpperCase() ? c.toLowerCase() : c.toUpperCase())).join("");
    return [
      `${base}${flipped}`,
      `${base}${token.slice(0, -1)}`,
      `${base}${token}A`,
      `${base}${token}%00`,
      `${base}${encodeURIComponent(`${token}/..`)}`,
    ];
  };
  const missingText = async (agent: ReturnType<typeof browser>) =>
    (await agent.get(`${KEYS_PAGE}/reveal/${"A".repeat(43)}`).expect(410)).text;

  it("another session gets the answer for a missing reveal under every spelling; the owner's reveal is not spent", async () => {
    const owner = await signUp(server);
    const thief = await signUp(server);
    const mint = await owner.agent.post(KEYS_PAGE).type("form").send({ _csrf: owner.csrf, label: "variants" }).redirects(0).expect(303);
    const reveal = mint.headers.location as string;
    const missing = await missingText(thief.agent);
    for (const url of [...spellings(reveal), ...otherTokens(reveal)]) {
      const res = await thief.agent.get(url).redirects(0);
      expect([400, 410], url).toContain(res.status); // 400: a URL refused before any route (%00)
      if (res.status === 410) expect(res.text, url).toBe(missing);
      expect(res.text, url).not.toMatch(/kw_user_/);
      const anonymous = await browser(server).get(url).redirects(0);
      expect([302, 400], url).toContain(anonymous.status);
      expect(anonymous.text, url).not.toMatch(/kw_user_/);
    }
    // The owner's own wrong tokens are missing reveals too, and spend nothing.
    for (const url of otherTokens(reveal)) expect((await owner.agent.get(url).redirects(0)).text).not.toMatch(/kw_user_/);
    expect(rawIn((await owner.agent.get(reveal).expect(200)).text)).toMatch(/^kw_user_/);
  });

  it("the owner sees the key once, whatever the spelling of the first view; every spelling of a replay is 410", async () => {
    const owner = await signUp(server);
    const missing = await missingText(owner.agent);
    for (const [i, first] of [0, 1, 2, 3, 4].entries()) {
      const mint = await owner.agent
        .post(KEYS_PAGE)
        .type("form")
        .send({ _csrf: owner.csrf, label: `spelling ${i}` })
        .redirects(0)
        .expect(303);
      const urls = spellings(mint.headers.location as string);
      const shown = await owner.agent.get(urls[first]!).redirects(0);
      expect(shown.status, urls[first]).toBe(200);
      const raw = rawIn(shown.text)!;
      expect(raw).toMatch(/^kw_user_/);
      for (const url of urls) {
        const again = await owner.agent.get(url).redirects(0);
        expect(again.status, url).toBe(410);
        expect(again.text, url).toBe(missing);
      }
    }
  });

  it("backup codes: another session and a replay get 410 under every spelling", async () => {
    const user = await signUp(server);
    await enableTwoFactor(user.agent);
    const reveal = await regenerateBackupCodes(user);
    const other = await signUp(server);
    for (const url of [...spellings(reveal), ...otherTokens(reveal)]) {
      const res = await other.agent.get(url).redirects(0);
      expect([400, 410], url).toContain(res.status);
      expect(backupCodesIn(res.text), url).toHaveLength(0);
    }
    expect(backupCodesIn((await user.agent.get(`${reveal}/`).expect(200)).text)).toHaveLength(10);
    for (const url of spellings(reveal)) {
      const again = await user.agent.get(url).redirects(0);
      expect(again.status, url).toBe(410);
      expect(backupCodesIn(again.text), url).toHaveLength(0);
    }
  });
});

describe("backup codes", () => {
  it("after enrolment and after regeneration: shown once, a reload makes no new codes", async () => {
    const user = await signUp(server);
    const { backupCodes } = await enableTwoFactor(user.agent); // follows the 303 to the first view
    expect(backupCodes).toHaveLength(10);

    const reveal = await regenerateBackupCodes(user);
    expect(reveal).toMatch(/^\/app\/account\/security\/backup-codes\/[A-Za-z0-9_-]{43}$/);
    const atRest = await everyTableAsText();

    const shown = await user.agent.get(reveal).expect(200);
    const fresh = backupCodesIn(shown.text);
    expect(fresh).toHaveLength(10);
    expect(shown.text).toContain("New backup codes. The old ones no longer work.");
    for (const c of fresh) expect(atRest).not.toContain(c);

    const again = await user.agent.get(reveal).expect(410);
    expect(again.text).toContain("These backup codes were shown once");
    expect(backupCodesIn(again.text)).toHaveLength(0);
    expect(await browser(server).get(reveal).redirects(0)).toHaveProperty("status", 302);
    const other = await signUp(server);
    expect(backupCodesIn((await other.agent.get(reveal).expect(410)).text)).toHaveLength(0);

    // The reload made nothing: the codes shown on the first view are the ones that work.
    const login = await passwordStep(server, user.email, user.password);
    expect(login.res.headers.location).toBe("/login/2fa");
    expect((await codeStep(login.agent, fresh[0]!)).status).toBe(303);
  });
});
