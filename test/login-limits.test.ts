// Issue 22 items 8 and 4 (second half): log-in limits under attack.
//   - 30 parallel wrong passwords may not get more argon2 checks than the limit (check-and-take is one
//     atomic write, before argon2), per account and per client address.
//   - An address over its failure limit (here: every client shares 127.0.0.1, as everyone behind a proxy
//     does with TRUST_PROXY=false) refuses nobody: its password checks are slowed (password spraying),
//     and a right password gets in, with or without 2FA (test/login-lockout.test.ts: device cookies).
//   - Per-account limits back off: each window the account fills again lasts twice as long.
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import argon2 from "argon2";
import { browser, csrfFrom, mintOnPage, signUp, startTestServer, uniqueEmail, type TestServer } from "./support/server.js";
import { BUSY_ADDRESS_DELAY_MS } from "../src/web/login-limits.js";
import { codeAt, codeStep, currentStep, enableTwoFactor, hasSessionCookie, passwordStep } from "./support/security.js";
import { exhaustAddress, failedLogins } from "./support/logins.js";
import { mcpStatus } from "./support/mcp-status.js";

const KEYS_PAGE = "/app/account/api-keys";

/** `n` log-in attempts fired at once, each from its own fresh browser; their statuses. */
async function parallelLogins(server: TestServer, attempts: { email: string; password: string }[]): Promise<number[]> {
  const forms = await Promise.all(
    attempts.map(async () => {
      const agent = browser(server);
      const form = await agent.get("/login").expect(200);
      return { agent, csrf: csrfFrom(form.text) };
    }),
  );
  const results = await Promise.all(
    attempts.map((a, i) =>
      forms[i]!.agent.post("/login")
        .type("form")
        .send({ _csrf: forms[i]!.csrf, ...a }),
    ),
  );
  return results.map((r) => r.status);
}

describe("parallel wrong passwords (item 8)", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ LOGIN_MAX_FAILURES: "5" });
  });
  afterAll(async () => server?.close());

  it("30 at once against one account: at most 5 are checked, the rest get 429 without a check", async () => {
    const { email, password } = await signUp(server);
    const statuses = await parallelLogins(
      server,
      Array.from({ length: 30 }, (_, i) => ({ email, password: `guess number ${i}` })),
    );
    expect(statuses.filter((s) => s === 401)).toHaveLength(5);
    expect(statuses.filter((s) => s === 429)).toHaveLength(25);
    expect(await failedLogins(server, email)).toBe(5); // one audit row per argon2 check that failed
    // and the right password now waits too (the account is locked for the window)
    expect((await passwordStep(server, email, password)).res.status).toBe(429);
  });

  it("30 at once against 30 accounts from one address: 20 checked at once, the 10 over the address limit wait before their check; none refused", async () => {
    const server = await startTestServer({ LOGIN_MAX_FAILURES: "5" });
    onTestFinished(() => server.close());
    const passwordHash = await argon2.hash("correct horse battery", { type: argon2.argon2id });
    const users: { id: string; email: string }[] = [];
    for (let i = 0; i < 30; i++)
      users.push(
        await server.services.db.user.create({ data: { id: `usr_spray${i}_${Date.now()}`, email: uniqueEmail("spray"), passwordHash } }),
      );
    const started = Date.now();
    const timed = await Promise.all(
      (
        await Promise.all(
          users.map(async () => {
            const agent = browser(server);
            return { agent, csrf: csrfFrom((await agent.get("/login").expect(200)).text) };
          }),
        )
      ).map((f, i) =>
        f.agent
          .post("/login")
          .type("form")
          .send({ _csrf: f.csrf, email: users[i]!.email, password: "Winter2026!" })
          .then((r) => ({ status: r.status, ms: Date.now() - started })),
      ),
    );
    // Spraying is slowed, not answered 429: a refusal here would refuse right passwords of everyone on the address.
    expect(timed.map((t) => t.status)).toEqual(Array(30).fill(401));
    expect(timed.filter((t) => t.ms >= BUSY_ADDRESS_DELAY_MS).length).toBeGreaterThanOrEqual(10);
    const failed = await server.services.db.auditEvent.count({ where: { userId: { in: users.map((u) => u.id) }, action: "login.failed" } });
    expect(failed).toBe(30);
  }, 90_000);
});

describe("an address over its failure limit (item 4: TRUST_PROXY=false behind a proxy, everyone is one address)", () => {
  let server: TestServer;
  let twoFactorUser: { email: string; password: string; secret: string; step: number; key: string };
  let plainUser: { email: string; password: string };
  beforeAll(async () => {
    server = await startTestServer({ LOGIN_MAX_FAILURES: "2" });
    const u = await signUp(server);
    const { raw } = await mintOnPage(u.agent, u.csrf, "2fa user's key");
    const { secret, step } = await enableTwoFactor(u.agent);
    twoFactorUser = { email: u.email, password: u.password, secret, step, key: raw };
    plainUser = await signUp(server);
    await exhaustAddress(server);
  }, 60_000);
  afterAll(async () => server?.close());

  it("a user with 2FA, in a new browser, logs in as usual (password, then code); the session works", async () => {
    const first = await passwordStep(server, twoFactorUser.email, twoFactorUser.password);
    expect(first.res.status).toBe(303);
    expect(first.res.headers.location).toBe("/login/2fa");
    expect(hasSessionCookie(first.res)).toBe(false);
    const ok = await codeStep(first.agent, await codeAt(twoFactorUser.secret, Math.max(currentStep(), twoFactorUser.step + 1)));
    expect(ok.status).toBe(303);
    expect(hasSessionCookie(ok)).toBe(true);
    expect((await first.agent.get(KEYS_PAGE).expect(200)).text).toContain(twoFactorUser.email);
    expect(await mcpStatus(server, twoFactorUser.key)).toBe(200);
  });

  it("a wrong password and an unknown email get the same 401 page, after the same wait, and no session", async () => {
    const tries = [
      { email: twoFactorUser.email, password: "wrong password" },
      { email: uniqueEmail("nobody"), password: "whatever pw" },
    ];
    const bodies = [];
    for (const t of tries) {
      const agent = browser(server);
      const csrf = csrfFrom((await agent.get("/login")).text);
      const started = Date.now();
      const res = await agent
        .post("/login")
        .type("form")
        .send({ _csrf: csrf, ...t });
      expect(Date.now() - started).toBeGreaterThanOrEqual(BUSY_ADDRESS_DELAY_MS - 100);
      expect(res.status).toBe(401);
      expect(hasSessionCookie(res)).toBe(false);
      bodies.push(res.text.replace(t.email, "EMAIL").replace(/name="_csrf" value="[^"]+"/, ""));
    }
    expect(new Set(bodies).size).toBe(1);
  });

  it("a correct password alone (no 2FA), in a new browser, gets in: the address limit slows checks, it never refuses a right password", async () => {
    const res = await passwordStep(server, plainUser.email, plainUser.password);
    expect(res.res.status).toBe(303);
    expect(hasSessionCookie(res.res)).toBe(true);
  });

  it("the second step is never refused by the address limit: a right code after the password gets in", async () => {
    const fresh = await startTestServer({ LOGIN_MAX_FAILURES: "2" });
    try {
      const u = await signUp(fresh);
      const { secret, step } = await enableTwoFactor(u.agent);
      const { agent, res } = await passwordStep(fresh, u.email, u.password);
      expect(res.headers.location).toBe("/login/2fa");
      await exhaustAddress(fresh); // others on the network fail meanwhile
      const good = await codeStep(agent, await codeAt(secret, Math.max(currentStep(), step + 1)));
      expect(good.status).toBe(303);
      expect(hasSessionCookie(good)).toBe(true);
    } finally {
      await fresh.close();
    }
  });
});

describe("per-account backoff", () => {
  it("each window the account fills again lasts twice as long; a right password clears it", async () => {
    const server = await startTestServer({ LOGIN_MAX_FAILURES: "2", LOGIN_WINDOW_MINUTES: "0.05" }); // 3 s
    try {
      const { email, password } = await signUp(server);
      const fail = async () => (await passwordStep(server, email, "wrong password")).res;
      expect([(await fail()).status, (await fail()).status]).toEqual([401, 401]);
      const first = await fail();
      expect(first.status).toBe(429);
      expect(Number(first.headers["retry-after"])).toBeLessThanOrEqual(3);
      await new Promise((r) => setTimeout(r, 3100));
      expect([(await fail()).status, (await fail()).status]).toEqual([401, 401]);
      const second = await fail();
      expect(second.status).toBe(429);
      expect(Number(second.headers["retry-after"])).toBeGreaterThan(3); // the window doubled: 6 s
      expect(Number(second.headers["retry-after"])).toBeLessThanOrEqual(6);
      await new Promise((r) => setTimeout(r, 6100));
      expect((await passwordStep(server, email, password)).res.status).toBe(303);
      // cleared: back to the first window's length
      expect([(await fail()).status, (await fail()).status]).toEqual([401, 401]);
      expect(Number((await fail()).headers["retry-after"])).toBeLessThanOrEqual(3);
    } finally {
      await server.close();
    }
  }, 30_000);
});
