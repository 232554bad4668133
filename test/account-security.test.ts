// Account security: TOTP 2FA (enrol, log in with a code or a backup code, no replay), the OAuth
// flow's log-in asking for the code before consent, brute-force limits, no user enumeration,
// password change and sign out everywhere.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import request from "supertest";
import { browser, csrfFrom, mintOnPage, signUp, startTestServer, uniqueEmail, type TestServer } from "./support/server.js";
import { authorizeUrl, exchange, follow, pkcePair, register } from "./support/oauth/flow.js";
import { SECURITY, codeAt, codeStep, enableTwoFactor, hasSessionCookie, passwordStep, setCookies } from "./support/security.js";
import { loadConfig, ConfigError } from "../src/config.js";

const KEYS_PAGE = "/app/account/api-keys";

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => server?.close());

describe("turning on 2FA", () => {
  it("shows a QR code and the secret, refuses a wrong code, then shows 10 backup codes once", async () => {
    const { agent, csrf, password } = await signUp(server);
    const off = await agent.get(SECURITY).expect(200);
    expect(off.text).toContain('action="/app/account/security/2fa/setup"');
    expect(off.text).toContain("Enable 2FA");

    await agent.post(`${SECURITY}/2fa/setup`).type("form").send({ _csrf: csrf, password }).expect(303);
    const pending = await agent.get(SECURITY).expect(200);
    const secret = /<code class="secret" id="totp-secret">([A-Z2-7]+)<\/code>/.exec(pending.text)![1]!;
    expect(secret.length).toBeGreaterThanOrEqual(32); // 20 random bytes, base32
    const wrong = await agent.post(`${SECURITY}/2fa/confirm`).type("form").send({ _csrf: csrf, code: "000000", password });
    expect(wrong.status).toBe(400);
    expect(wrong.text).toContain("That code did not match");
    expect(wrong.text).toContain(secret); // still enrolling, same secret

    const step = Math.floor(Date.now() / 30_000);
    const ok = await agent
      .post(`${SECURITY}/2fa/confirm`)
      .type("form")
      .send({ _csrf: csrf, code: await codeAt(secret, step), password })
      .redirects(1)
      .expect(200);
    expect(ok.headers["cache-control"]).toBe("no-store");
    const codes = [...ok.text.matchAll(/<code class="backup-code">([0-9a-z]{5}-[0-9a-z]{5})<\/code>/g)].map((m) => m[1]);
    expect(new Set(codes).size).toBe(10);

    const on = await agent.get(SECURITY).expect(200);
    expect(on.text).toContain('<span class="status active">On</span>');
    expect(on.text).toContain("<strong>10</strong> unused backup codes left");
    for (const c of codes) expect(on.text).not.toContain(c!); // shown once only
    expect(on.text).not.toContain(secret);
  });

  it("stores the TOTP secret encrypted and the backup codes only as keyed hashes", async () => {
    const { agent, email } = await signUp(server);
    const { secret, backupCodes } = await enableTwoFactor(agent);
    const stored = (await server.database.contents()).toString("latin1");
    expect(stored).toContain(email); // the dump is readable…
    expect(stored).not.toContain(secret); // …but holds no secret in clear
    for (const c of backupCodes) {
      expect(stored).not.toContain(c);
      expect(stored).not.toContain(c.replace("-", ""));
    }
    const row = await server.services.db.user.findUniqueOrThrow({ where: { email } });
    expect(row.totpSecret).toMatch(/^v1\.[\w-]+\.[\w-]+\.[\w-]+$/);
    expect(row.totpPending).toBeNull();
  });

  it("needs a logged-in user", async () => {
    const res = await request(server.url).get(SECURITY).expect(302);
    expect(res.headers.location).toBe(`/login?return_to=${encodeURIComponent(SECURITY)}`);
  });
});

describe("log-in with 2FA", () => {
  let email: string;
  let password: string;
  let secret: string;
  let step: number;
  let backupCodes: string[];
  beforeAll(async () => {
    const user = await signUp(server);
    ({ email, password } = user);
    ({ secret, step, backupCodes } = await enableTwoFactor(user.agent));
  });

  it("asks for the code after the password and grants no session before it", async () => {
    const { agent, res } = await passwordStep(server, email, password, "/app/account/api-keys?from=2fa");
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe("/login/2fa");
    expect(hasSessionCookie(res)).toBe(false);
    const pendingCookie = setCookies(res).find((c) => c.startsWith("kw_login="))!;
    expect(pendingCookie.toLowerCase()).toContain("httponly");
    // half-logged-in: no page, no API
    expect((await agent.get(KEYS_PAGE).redirects(0)).status).toBe(302);
    expect((await agent.get("/api/api-keys")).status).toBe(401);

    const bad = await codeStep(agent, "123456");
    expect(bad.status).toBe(401);
    expect(bad.text).toContain("That code is not valid");
    expect(hasSessionCookie(bad)).toBe(false);

    const good = await codeStep(agent, await codeAt(secret, step + 1));
    expect(good.status).toBe(303);
    expect(good.headers.location).toBe("/app/account/api-keys?from=2fa");
    expect(hasSessionCookie(good)).toBe(true);
    expect((await agent.get(KEYS_PAGE).expect(200)).text).toContain(email);
    // the pending log-in is spent
    expect((await agent.get("/login/2fa").redirects(0)).headers.location).toBe("/login?expired=1");
  });

  it("refuses the same TOTP code a second time (replay inside its window)", async () => {
    const { agent, res } = await passwordStep(server, email, password);
    expect(res.headers.location).toBe("/login/2fa");
    const replay = await codeStep(agent, await codeAt(secret, step + 1));
    expect(replay.status).toBe(401);
    expect(hasSessionCookie(replay)).toBe(false);
    // and the code that enabled 2FA is just as dead
    expect((await codeStep(agent, await codeAt(secret, step))).status).toBe(401);
  });

  it("accepts a backup code once, and never again", async () => {
    const code = backupCodes[3]!;
    const first = await passwordStep(server, email, password);
    const ok = await codeStep(first.agent, ` ${code.toUpperCase()} `); // typed loosely
    expect(ok.status).toBe(303);
    expect(hasSessionCookie(ok)).toBe(true);
    const page = await first.agent.get(SECURITY).expect(200);
    expect(page.text).toContain("<strong>9</strong> unused backup codes left");

    const second = await passwordStep(server, email, password);
    const again = await codeStep(second.agent, code);
    expect(again.status).toBe(401);
    expect(hasSessionCookie(again)).toBe(false);
    // another unused one still works
    expect((await codeStep(second.agent, backupCodes[4]!)).status).toBe(303);
  });

  it("a pending log-in expires and then grants nothing", async () => {
    const { agent, res } = await passwordStep(server, email, password);
    expect(res.headers.location).toBe("/login/2fa");
    const form = await agent.get("/login/2fa").expect(200);
    await server.services.db.pendingLogin.updateMany({ data: { expiresAt: new Date(Date.now() - 1000) } });
    const late = await agent
      .post("/login/2fa")
      .type("form")
      .send({ _csrf: csrfFrom(form.text), code: backupCodes[5]! })
      .redirects(0);
    expect(late.status).toBe(303);
    expect(late.headers.location).toBe("/login?expired=1");
    expect(hasSessionCookie(late)).toBe(false);
    expect((await agent.get("/login?expired=1")).text).toContain("Your log-in timed out");
    // the backup code was not spent by the expired attempt
    const fresh = await passwordStep(server, email, password);
    expect((await codeStep(fresh.agent, backupCodes[5]!)).status).toBe(303);
  });

  it("unknown email and wrong password give identical responses for a 2FA account", async () => {
    const agent = browser(server);
    const csrf = csrfFrom((await agent.get("/login")).text);
    const nobody = uniqueEmail("nobody");
    const wrong = await agent.post("/login").type("form").send({ _csrf: csrf, email, password: "not the password" });
    const unknown = await agent.post("/login").type("form").send({ _csrf: csrf, email: nobody, password: "not the password" });
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
    expect(wrong.text).toContain("Invalid email or password.");
    expect(unknown.text.replace(nobody, "EMAIL")).toBe(wrong.text.replace(email, "EMAIL"));
    expect(setCookies(wrong).map((c) => c.split("=")[0])).toEqual(setCookies(unknown).map((c) => c.split("=")[0]));
  });
});

describe("OAuth consent for a 2FA account", () => {
  it("asks for the code after the password, before the consent page, then issues a working key", async () => {
    const owner = await signUp(server);
    const { secret, step } = await enableTwoFactor(owner.agent);
    const client = (await register(server)).body as { client_id: string };
    const { verifier, challenge } = pkcePair();
    const agent = browser(server);

    const start = await follow(agent, server, authorizeUrl({ clientId: client.client_id, challenge, method: "S256", scope: "mcp:read" }));
    expect(start.status).toBe(200);
    expect(start.text).toContain('<form method="post" action="/login">');
    const returnTo = /name="return_to" value="([^"]+)"/.exec(start.text)![1]!;
    expect(returnTo).toMatch(/^\/interaction\//);

    const pw = await agent
      .post("/login")
      .type("form")
      .send({ _csrf: csrfFrom(start.text), email: owner.email, password: owner.password, return_to: returnTo })
      .redirects(0);
    expect(pw.status).toBe(303);
    expect(pw.headers.location).toBe("/login/2fa");
    // no consent without the code: the interaction still sends the browser to log in
    const early = await follow(agent, server, returnTo);
    expect(early.text).not.toContain("/confirm");
    expect(early.text).toContain('<form method="post" action="/login">');

    const done = await codeStep(agent, await codeAt(secret, step + 1));
    expect(done.status).toBe(303);
    expect(done.headers.location).toBe(returnTo);
    const consent = await follow(agent, server, done.headers.location!);
    expect(consent.status).toBe(200);
    expect(consent.text).toContain("Authorize Test MCP client?");
    const uid = /action="\/interaction\/([^/"]+)\/confirm"/.exec(consent.text)![1]!;
    const allow = await agent
      .post(`/interaction/${uid}/confirm`)
      .type("form")
      .send({ _csrf: csrfFrom(consent.text), scope: "mcp:read" })
      .redirects(0);
    expect(allow.status).toBe(303);
    const back = new URL((await follow(agent, server, allow.headers.location!)).location!);
    const code = back.searchParams.get("code");
    expect(code).toBeTruthy();
    const token = await exchange(server, { clientId: client.client_id, code: code!, verifier });
    expect(token.status).toBe(200);
    expect(token.body.access_token).toMatch(/^kw_user_/);
  });
});

describe("re-authentication, password change and sign out everywhere", () => {
  it("turning 2FA off and making new backup codes need the password", async () => {
    const user = await signUp(server);
    const { backupCodes } = await enableTwoFactor(user.agent);
    const csrf = user.csrf;

    const badRegen = await user.agent.post(`${SECURITY}/2fa/backup-codes`).type("form").send({ _csrf: csrf, password: "wrong password" });
    expect(badRegen.status).toBe(403);
    expect(badRegen.text).toContain("Your current password is not correct.");
    const regen = await user.agent
      .post(`${SECURITY}/2fa/backup-codes`)
      .type("form")
      .send({ _csrf: csrf, password: user.password })
      .redirects(1)
      .expect(200);
    const fresh = [...regen.text.matchAll(/<code class="backup-code">([^<]+)<\/code>/g)].map((m) => m[1]!);
    expect(fresh).toHaveLength(10);
    const old = await passwordStep(server, user.email, user.password);
    expect((await codeStep(old.agent, backupCodes[0]!)).status).toBe(401); // old codes are gone

    const badOff = await user.agent.post(`${SECURITY}/2fa/disable`).type("form").send({ _csrf: csrf, password: "wrong password" });
    expect(badOff.status).toBe(403);
    expect((await user.agent.get(SECURITY)).text).toContain('<span class="status active">On</span>');
    const off = await user.agent.post(`${SECURITY}/2fa/disable`).type("form").send({ _csrf: csrf, password: user.password }).expect(303);
    expect(off.headers.location).toBe(`${SECURITY}?notice=2fa-off`);
    expect((await user.agent.get(off.headers.location!)).text).toContain("Two-factor authentication is off.");
    // log-in is one step again
    const plain = await passwordStep(server, user.email, user.password);
    expect(plain.res.status).toBe(303);
    expect(plain.res.headers.location).toBe(KEYS_PAGE);
    expect(hasSessionCookie(plain.res)).toBe(true);
  });

  it("changes the password with the current one, signing out the other sessions only", async () => {
    const user = await signUp(server);
    const other = await passwordStep(server, user.email, user.password);
    await other.agent.get(KEYS_PAGE).expect(200);

    const wrongCurrent = await user.agent
      .post(`${SECURITY}/password`)
      .type("form")
      .send({ _csrf: user.csrf, current_password: "nope nope", new_password: "a brand new pw", confirm_password: "a brand new pw" });
    expect(wrongCurrent.status).toBe(403);
    const mismatch = await user.agent
      .post(`${SECURITY}/password`)
      .type("form")
      .send({ _csrf: user.csrf, current_password: user.password, new_password: "a brand new pw", confirm_password: "a brand new px" });
    expect(mismatch.status).toBe(400);
    expect(mismatch.text).toContain("differ");
    const short = await user.agent
      .post(`${SECURITY}/password`)
      .type("form")
      .send({ _csrf: user.csrf, current_password: user.password, new_password: "short", confirm_password: "short" });
    expect(short.status).toBe(400);
    expect(short.text).toContain("at least 8 characters");
    // none of those changed anything
    expect((await passwordStep(server, user.email, user.password)).res.headers.location).toBe(KEYS_PAGE);

    const ok = await user.agent
      .post(`${SECURITY}/password`)
      .type("form")
      .send({ _csrf: user.csrf, current_password: user.password, new_password: "a brand new pw", confirm_password: "a brand new pw" })
      .expect(303);
    expect(ok.headers.location).toBe(`${SECURITY}?notice=password`);
    await user.agent.get(KEYS_PAGE).expect(200); // this browser stays in
    expect((await other.agent.get(KEYS_PAGE).redirects(0)).status).toBe(302); // the other one is out
    expect((await passwordStep(server, user.email, user.password)).res.status).toBe(401);
    expect((await passwordStep(server, user.email, "a brand new pw")).res.headers.location).toBe(KEYS_PAGE);
  });

  it("sign out everywhere ends every browser session, this one included, and leaves keys working", async () => {
    const user = await signUp(server);
    const { raw } = await mintOnPage(user.agent, user.csrf, "survives sign-out");
    const other = await passwordStep(server, user.email, user.password);
    await other.agent.get(KEYS_PAGE).expect(200);
    const page = await user.agent.get(SECURITY).expect(200);
    expect(page.text).toContain("This browser");
    expect(page.text).toContain("API keys and connected apps are not touched");

    const res = await user.agent.post(`${SECURITY}/sessions/sign-out-everywhere`).type("form").send({ _csrf: user.csrf }).expect(303);
    expect(res.headers.location).toBe("/login?signed_out=everywhere");
    expect((await user.agent.get(KEYS_PAGE).redirects(0)).status).toBe(302);
    expect((await other.agent.get(KEYS_PAGE).redirects(0)).status).toBe(302);
    expect(await server.services.db.session.count({ where: { user: { email: user.email } } })).toBe(0);
    expect((await user.agent.get(res.headers.location!)).text).toContain("Your API keys were not touched");
    const api = await request(server.url).get("/api/api-keys").set("Authorization", `Bearer ${raw}`);
    expect(api.status).toBe(200);
  });
});

describe("brute-force limits on the code step", () => {
  let limited: TestServer;
  beforeAll(async () => {
    limited = await startTestServer({ LOGIN_MAX_FAILURES: "3" });
  });
  afterAll(async () => limited?.close());

  it("are per account: a new password log-in does not reset them, and a right code is refused while blocked", async () => {
    const user = await signUp(limited);
    const { secret, step } = await enableTwoFactor(user.agent);
    const a = await passwordStep(limited, user.email, user.password);
    for (let i = 0; i < 3; i++) expect((await codeStep(a.agent, "000000")).status).toBe(401);
    const blocked = await codeStep(a.agent, "000000");
    expect(blocked.status).toBe(429);
    expect(blocked.text).toContain("Too many failed code attempts");
    expect(Number(blocked.headers["retry-after"])).toBeGreaterThan(0);

    const b = await passwordStep(limited, user.email, user.password);
    expect(b.res.headers.location).toBe("/login/2fa");
    const stillBlocked = await codeStep(b.agent, await codeAt(secret, step + 1));
    expect(stillBlocked.status).toBe(429);
    expect(hasSessionCookie(stillBlocked)).toBe(false);
    // another account is not affected by this one's failures
    const other = await signUp(limited);
    const o = await enableTwoFactor(other.agent);
    const c = await passwordStep(limited, other.email, other.password);
    expect((await codeStep(c.agent, await codeAt(o.secret, o.step + 1))).status).toBe(303);
  });

  it("re-entering the password on the security page is limited too", async () => {
    const user = await signUp(limited);
    await enableTwoFactor(user.agent);
    for (let i = 0; i < 3; i++) {
      expect(
        (await user.agent.post(`${SECURITY}/2fa/disable`).type("form").send({ _csrf: user.csrf, password: "wrong password" })).status,
      ).toBe(403);
    }
    const blocked = await user.agent.post(`${SECURITY}/2fa/disable`).type("form").send({ _csrf: user.csrf, password: user.password });
    expect(blocked.status).toBe(429);
    expect((await user.agent.get(SECURITY)).text).toContain('<span class="status active">On</span>');
  });
});

describe("TOTP_ENCRYPTION_KEY", () => {
  it("must be 32 bytes of base64", () => {
    expect(() => loadConfig({ TOTP_ENCRYPTION_KEY: "too-short" })).toThrow(ConfigError);
    expect(() => loadConfig({ TOTP_ENCRYPTION_KEY: Buffer.alloc(16, 1).toString("base64") })).toThrow(/32 bytes/);
    expect(loadConfig({ TOTP_ENCRYPTION_KEY: Buffer.alloc(32, 7).toString("base64") }).totpEncryptionKey).toBe(
      Buffer.alloc(32, 7).toString("base64"),
    );
  });
});
