// Issue 22 item 4 (second half), after the outside review of the first fix: log-in limits that a
// stranger cannot turn into a lock-out (OWASP "Slow Down Online Guessing Attacks with Device Cookies").
//   - The owner's browser holds a device cookie after a complete log-in; with it, only that device's
//     own limit applies: a stranger's wrong passwords (account limit) and a noisy network (address
//     limit) do not stop the right password, nor the right password + code.
//   - A new browser gets the per-account limit (with backoff) as before.
//   - The address limit counts failures and never refuses a right password: over it, checks are slowed.
//   - The code counter can only be filled by someone who passed the password step.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { randomBytes } from "node:crypto";
import { browser, csrfFrom, mintOnPage, signUp, startTestServer, uniqueEmail, type TestServer } from "./support/server.js";
import { SECURITY, codeAt, codeStep, currentStep, enableTwoFactor, hasSessionCookie, setCookies } from "./support/security.js";
import { exhaustAddress, failedLogins, loginAttempt, userIdOf } from "./support/logins.js";
import { mcpStatus } from "./support/mcp-status.js";

type Agent = ReturnType<typeof browser>;
const KEYS_PAGE = "/app/account/api-keys";
const VICTIM_IP = "198.51.100.1";
const STRANGER_IP = "203.0.113.66";
const NOISY_IP = "203.0.113.77";

/** The owner's usual browser: signed up and logged in once (so it holds a device cookie), then logged out. */
async function ownerBrowser(server: TestServer) {
  const owner = await signUp(server);
  await owner.agent.post("/logout").type("form").send({ _csrf: owner.csrf }).expect(303);
  return owner;
}

/** A stranger's wrong passwords for `email`, each from a fresh browser; their statuses. */
async function strangerGuesses(server: TestServer, email: string, n: number, ip?: string): Promise<number[]> {
  const statuses: number[] = [];
  for (let i = 0; i < n; i++) statuses.push((await loginAttempt(server, email, `guess number ${i}`, { ip })).res.status);
  return statuses;
}

const deviceRows = async (server: TestServer, email: string) =>
  server.services.db.deviceCookie.count({ where: { userId: await userIdOf(server, email) } });

/** Puts a cookie into a supertest agent's jar, as a browser holding it would send it. */
function plantCookie(server: TestServer, agent: Agent, cookie: string) {
  const jar = (agent as unknown as { jar: { setCookie(c: string, domain: string, path: string): void } }).jar;
  jar.setCookie(cookie, new URL(server.url).hostname, "/login");
}

describe("a stranger's wrong passwords do not lock the owner out (TRUST_PROXY=true, the reviewer's repro)", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ TRUST_PROXY: "true", LOGIN_MAX_FAILURES: "5" });
  });
  afterAll(async () => server?.close());

  it("the device cookie is HttpOnly, SameSite=Lax, long-lived, sent only to /login, and stored as a hash", async () => {
    const { res } = await loginAttempt(server, (await ownerBrowser(server)).email, "correct horse battery");
    const cookie = setCookies(res).find((c) => c.startsWith("kw_device="));
    expect(cookie).toBeDefined();
    expect(cookie).toMatch(/; path=\/login/i);
    expect(cookie).toMatch(/; httponly/i);
    expect(cookie).toMatch(/; samesite=lax/i);
    const expires = new Date(/expires=([^;]+)/i.exec(cookie!)![1]!).getTime();
    expect(expires - Date.now()).toBeGreaterThan(179 * 24 * 3600_000);
    const token = /^kw_device=([^;]+)/.exec(cookie!)![1]!;
    expect(await server.services.db.deviceCookie.count({ where: { id: token } })).toBe(0); // never the raw token
  });

  it("5, then 50 wrong passwords from another address: the owner's browser still logs in with the right password; a new browser of the owner gets 429", async () => {
    const owner = await ownerBrowser(server);
    const { raw } = await (async () => {
      const again = await loginAttempt(server, owner.email, owner.password, { agent: owner.agent });
      expect(again.res.status).toBe(303);
      const csrf = csrfFrom((await owner.agent.get(KEYS_PAGE).expect(200)).text);
      const minted = await mintOnPage(owner.agent, csrf, "owner's key");
      await owner.agent.post("/logout").type("form").send({ _csrf: csrf }).expect(303);
      return minted;
    })();
    expect(await strangerGuesses(server, owner.email, 5, STRANGER_IP)).toEqual([401, 401, 401, 401, 401]);
    const afterFive = await loginAttempt(server, owner.email, owner.password, { agent: owner.agent, ip: VICTIM_IP });
    expect(afterFive.res.status).toBe(303);
    expect(hasSessionCookie(afterFive.res)).toBe(true);
    expect((await owner.agent.get(KEYS_PAGE).expect(200)).text).toContain(owner.email);
    await owner.agent
      .post("/logout")
      .type("form")
      .send({ _csrf: csrfFrom((await owner.agent.get(KEYS_PAGE)).text) })
      .expect(303);

    const fifty = await strangerGuesses(server, owner.email, 50, STRANGER_IP);
    expect(fifty.every((s) => s === 429)).toBe(true); // the account's window is still full: no check at all
    const afterFifty = await loginAttempt(server, owner.email, owner.password, { agent: owner.agent, ip: VICTIM_IP });
    expect(afterFifty.res.status).toBe(303);
    expect(hasSessionCookie(afterFifty.res)).toBe(true);
    expect(await mcpStatus(server, raw)).toBe(200);

    // A browser without the device cookie (the owner's new phone, or the stranger) gets the account's limit:
    // 429 with Retry-After for the rest of the window, even with the right password.
    const newBrowser = await loginAttempt(server, owner.email, owner.password, { ip: VICTIM_IP });
    expect(newBrowser.res.status).toBe(429);
    expect(Number(newBrowser.res.headers["retry-after"])).toBeGreaterThan(14 * 60);
    expect(hasSessionCookie(newBrowser.res)).toBe(false);
    expect(await failedLogins(server, owner.email)).toBe(5); // 5 checks failed; 50 were refused before argon2
  });

  it("with 2FA: after the stranger's 5 and 50 wrong passwords, the owner's browser gets in with password + code", async () => {
    const owner = await signUp(server);
    const { secret, step, backupCodes } = await enableTwoFactor(owner.agent);
    await owner.agent.post("/logout").type("form").send({ _csrf: owner.csrf }).expect(303);
    // The owner logs in once with both factors on this browser (it keeps its device cookie).
    const first = await loginAttempt(server, owner.email, owner.password, { agent: owner.agent, ip: VICTIM_IP });
    expect(first.res.headers.location).toBe("/login/2fa");
    expect((await codeStep(owner.agent, await codeAt(secret, Math.max(currentStep(), step + 1)))).status).toBe(303);
    await owner.agent
      .post("/logout")
      .type("form")
      .send({ _csrf: csrfFrom((await owner.agent.get(KEYS_PAGE)).text) })
      .expect(303);

    for (const n of [5, 50]) {
      await strangerGuesses(server, owner.email, n, STRANGER_IP);
      const pw = await loginAttempt(server, owner.email, owner.password, { agent: owner.agent, ip: VICTIM_IP });
      expect(pw.res.status, `after ${n}`).toBe(303);
      expect(pw.res.headers.location).toBe("/login/2fa");
      const code = await codeStep(owner.agent, backupCodes.pop()!); // a TOTP code's step cannot be reused: backup codes from here
      expect(code.status, `after ${n}`).toBe(303);
      expect(hasSessionCookie(code)).toBe(true);
      await owner.agent
        .post("/logout")
        .type("form")
        .send({ _csrf: csrfFrom((await owner.agent.get(KEYS_PAGE)).text) })
        .expect(303);
    }
    // A new browser: the password step is refused for the window.
    expect((await loginAttempt(server, owner.email, owner.password, { ip: VICTIM_IP })).res.status).toBe(429);
  });

  it("someone who has the password but not the code fills the account's code counter: the owner's browser still passes the code step", async () => {
    const owner = await signUp(server); // this log-in gave the owner's browser its device cookie
    const { backupCodes } = await enableTwoFactor(owner.agent);
    await owner.agent.post("/logout").type("form").send({ _csrf: owner.csrf }).expect(303);
    const thief = await loginAttempt(server, owner.email, owner.password, { ip: STRANGER_IP });
    expect(thief.res.headers.location).toBe("/login/2fa");
    const statuses = [];
    for (let i = 0; i < 6; i++) statuses.push((await codeStep(thief.agent, "000000")).status);
    expect(statuses).toEqual([401, 401, 401, 401, 401, 429]);
    const own = await loginAttempt(server, owner.email, owner.password, { agent: owner.agent, ip: VICTIM_IP });
    expect(own.res.headers.location).toBe("/login/2fa");
    const code = await codeStep(owner.agent, backupCodes[0]!);
    expect(code.status).toBe(303);
    expect(hasSessionCookie(code)).toBe(true);
    // The thief's browser stays on the account's (full) code counter, even with a right code.
    const again = await loginAttempt(server, owner.email, owner.password, { ip: STRANGER_IP });
    expect((await codeStep(again.agent, backupCodes[1]!)).status).toBe(429);
  });
});

// Its own server with a low limit: the address is over its limit after 9 failures instead of 21, and
// only the first guess waits the address's 2 s (the account refuses the rest before any check).
describe("the code counter, from an address over its limit (TRUST_PROXY=true, LOGIN_MAX_FAILURES=2)", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ TRUST_PROXY: "true", LOGIN_MAX_FAILURES: "2" });
  });
  afterAll(async () => server?.close());

  it("a stranger without the password cannot fill the code counter, even from an address over its limit with a code in the form", async () => {
    const owner = await signUp(server);
    const { secret, step } = await enableTwoFactor(owner.agent);
    // The owner, in a new browser, is at the code step…
    const pending = await loginAttempt(server, owner.email, owner.password, { ip: VICTIM_IP });
    expect(pending.res.headers.location).toBe("/login/2fa");
    // …while a stranger, from an address over its failure limit, sends wrong passwords with codes (the old two-factor form).
    await exhaustAddress(server, NOISY_IP);
    for (let i = 0; i < 10; i++) {
      const agent = browser(server);
      const form = await agent.get("/login").set("X-Forwarded-For", NOISY_IP).expect(200);
      const res = await agent
        .post("/login")
        .set("X-Forwarded-For", NOISY_IP)
        .type("form")
        .send({ _csrf: csrfFrom(form.text), email: owner.email, password: `guess ${i}`, code: "000000" });
      expect([401, 429]).toContain(res.status);
      expect(hasSessionCookie(res)).toBe(false);
    }
    expect(await server.services.db.rateLimit.count({ where: { key: `login:2fa:${await userIdOf(server, owner.email)}` } })).toBe(0);
    const code = await codeStep(pending.agent, await codeAt(secret, Math.max(currentStep(), step + 1)));
    expect(code.status).toBe(303);
    expect(hasSessionCookie(code)).toBe(true);
  }, 60_000);
});

describe("TRUST_PROXY=false behind a proxy: everyone shares one address", () => {
  let server: TestServer;
  beforeAll(async () => {
    // A low limit: the address is over it after 9 failures (4 × 2 + 1) instead of 21; what is proven does not depend on the number.
    server = await startTestServer({ LOGIN_MAX_FAILURES: "2" });
  });
  afterAll(async () => server?.close());

  it("after the address's failure limit (4 × LOGIN_MAX_FAILURES) from 'everyone', a single-factor user with the right password gets in, from a new browser too (slowed, not refused)", async () => {
    const owner = await ownerBrowser(server);
    const other = await signUp(server); // a second user, who will log in from a new browser
    await exhaustAddress(server); // 9 failures on made-up emails
    const usual = await loginAttempt(server, owner.email, owner.password, { agent: owner.agent });
    expect(usual.res.status).toBe(303);
    expect(hasSessionCookie(usual.res)).toBe(true);
    const fresh = await loginAttempt(server, other.email, other.password);
    expect(fresh.res.status).toBe(303);
    expect(hasSessionCookie(fresh.res)).toBe(true);
    expect((await fresh.agent.get(KEYS_PAGE).expect(200)).text).toContain(other.email);
    // The new browser's check waited (BUSY_ADDRESS_DELAY_MS, 2 s) because the address is over its limit…
    expect(fresh.ms).toBeGreaterThanOrEqual(1900);
    // …and a wrong one waits just as long, and gets the usual 401.
    const wrong = await loginAttempt(server, uniqueEmail("sprayed"), "Summer2026!");
    expect(wrong.res.status).toBe(401);
    expect(wrong.ms).toBeGreaterThanOrEqual(1900);
    // The owner's usual browser is judged by its own device's limit: not slowed.
    await owner.agent
      .post("/logout")
      .type("form")
      .send({ _csrf: csrfFrom((await owner.agent.get(KEYS_PAGE)).text) })
      .expect(303);
    const again = await loginAttempt(server, owner.email, owner.password, { agent: owner.agent });
    expect(again.res.status).toBe(303);
    expect(again.ms).toBeLessThan(1900);
  }, 60_000);
});

describe("which device cookies count", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ LOGIN_MAX_FAILURES: "2" });
  });
  afterAll(async () => server?.close());

  /** A user whose account window a stranger has filled: a new browser gets 429 with the right password. */
  async function lockedAccount() {
    const owner = await ownerBrowser(server);
    expect(await strangerGuesses(server, owner.email, 3)).toEqual([401, 401, 429]);
    return owner;
  }

  it("a device cookie for account A means nothing for account B", async () => {
    const a = await ownerBrowser(server);
    const b = await lockedAccount();
    const asB = await loginAttempt(server, b.email, b.password, { agent: a.agent });
    expect(asB.res.status).toBe(429);
    expect(hasSessionCookie(asB.res)).toBe(false);
    // A's device cookie still works for A
    expect((await loginAttempt(server, a.email, a.password, { agent: a.agent })).res.status).toBe(303);
  });

  it("one browser holds one device cookie: logging in to another account replaces (and forgets) it", async () => {
    const a = await ownerBrowser(server);
    const b = await ownerBrowser(server);
    expect(await deviceRows(server, a.email)).toBe(1);
    const bRows = await deviceRows(server, b.email);
    expect((await loginAttempt(server, b.email, b.password, { agent: a.agent })).res.status).toBe(303);
    expect(await deviceRows(server, a.email)).toBe(0);
    expect(await deviceRows(server, b.email)).toBe(bRows + 1);
  });

  it("a forged, unknown or expired device cookie is ignored", async () => {
    const owner = await lockedAccount();
    const forged = browser(server);
    plantCookie(server, forged, `kw_device=${randomBytes(32).toString("base64url")}; Path=/login`);
    expect((await loginAttempt(server, owner.email, owner.password, { agent: forged })).res.status).toBe(429);
    const tooLong = browser(server);
    plantCookie(server, tooLong, `kw_device=${"A".repeat(5000)}; Path=/login`);
    expect((await loginAttempt(server, owner.email, owner.password, { agent: tooLong })).res.status).toBe(429);
    // The owner's real device cookie, expired (its row says so): ignored, and removed.
    await server.services.db.deviceCookie.updateMany({
      where: { userId: await userIdOf(server, owner.email) },
      data: { expiresAt: new Date(Date.now() - 1000) },
    });
    expect((await loginAttempt(server, owner.email, owner.password, { agent: owner.agent })).res.status).toBe(429);
    expect(await deviceRows(server, owner.email)).toBe(0);
  });

  it("sign out everywhere ends every device cookie of the account, this browser's included", async () => {
    const owner = await ownerBrowser(server);
    const second = await loginAttempt(server, owner.email, owner.password); // a second browser of the owner, logged in
    expect(second.res.status).toBe(303);
    expect(await deviceRows(server, owner.email)).toBe(2);
    const csrf = csrfFrom((await second.agent.get(SECURITY).expect(200)).text);
    await second.agent.post(`${SECURITY}/sessions/sign-out-everywhere`).type("form").send({ _csrf: csrf }).expect(303);
    expect(await deviceRows(server, owner.email)).toBe(0);
    expect(await strangerGuesses(server, owner.email, 3)).toEqual([401, 401, 429]);
    expect((await loginAttempt(server, owner.email, owner.password, { agent: owner.agent })).res.status).toBe(429);
    expect((await loginAttempt(server, owner.email, owner.password, { agent: second.agent })).res.status).toBe(429);
  });

  it("a password change ends every other browser's device cookie; the browser that changed it gets a new one", async () => {
    const owner = await ownerBrowser(server);
    const second = await loginAttempt(server, owner.email, owner.password);
    const csrf = csrfFrom((await second.agent.get(SECURITY).expect(200)).text);
    const newPassword = "a brand new passphrase";
    const changed = await second.agent
      .post(`${SECURITY}/password`)
      .type("form")
      .send({ _csrf: csrf, current_password: owner.password, new_password: newPassword, confirm_password: newPassword });
    expect(changed.status).toBe(303);
    expect(await deviceRows(server, owner.email)).toBe(1);
    expect(await strangerGuesses(server, owner.email, 3)).toEqual([401, 401, 429]);
    // the old browser: no longer vouched for
    expect((await loginAttempt(server, owner.email, newPassword, { agent: owner.agent })).res.status).toBe(429);
    await second.agent.post("/logout").type("form").send({ _csrf: csrf }).expect(303);
    expect((await loginAttempt(server, owner.email, newPassword, { agent: second.agent })).res.status).toBe(303);
  });
});

describe("parallel wrong passwords (item 8) with and without a device cookie", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ LOGIN_MAX_FAILURES: "5" });
  });
  afterAll(async () => server?.close());

  it("30 at once from the owner's browser: 5 checked on the device's limit, then the device cookie is ignored and 5 more on the account's; the rest 429", async () => {
    const owner = await ownerBrowser(server);
    const csrf = csrfFrom((await owner.agent.get("/login").expect(200)).text);
    const results = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        owner.agent
          .post("/login")
          .type("form")
          .send({ _csrf: csrf, email: owner.email, password: `guess number ${i}` })
          .then((r) => r.status),
      ),
    );
    expect(results.filter((s) => s === 401)).toHaveLength(10);
    expect(results.filter((s) => s === 429)).toHaveLength(20);
    expect(await failedLogins(server, owner.email)).toBe(10);
    // Both windows are full now: this device waits like any other browser, even with the right password.
    expect((await loginAttempt(server, owner.email, owner.password, { agent: owner.agent })).res.status).toBe(429);
  });

  it("30 at once from new browsers: 5 checked, 25 × 429 (the device cookie changes nothing for them)", async () => {
    const owner = await ownerBrowser(server);
    const forms = await Promise.all(
      Array.from({ length: 30 }, async () => {
        const agent = browser(server);
        return { agent, csrf: csrfFrom((await agent.get("/login").expect(200)).text) };
      }),
    );
    const results = await Promise.all(
      forms.map((f, i) =>
        f.agent
          .post("/login")
          .type("form")
          .send({ _csrf: f.csrf, email: owner.email, password: `guess ${i}` })
          .then((r) => r.status),
      ),
    );
    expect(results.filter((s) => s === 401)).toHaveLength(5);
    expect(results.filter((s) => s === 429)).toHaveLength(25);
    expect(await failedLogins(server, owner.email)).toBe(5);
    // …and the owner's browser still gets in.
    expect((await loginAttempt(server, owner.email, owner.password, { agent: owner.agent })).res.status).toBe(303);
  });
});
