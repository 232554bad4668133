// Issue 22 item 15: a stolen session must not be able to put its own authenticator on the account
// (and lock the owner out). Enrolment asks for the current password at both steps, limited per account
// like every other password re-entry.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { csrfFrom, signUp, startTestServer, type TestServer } from "./support/server.js";
import { SECURITY, codeAt, currentStep, passwordStep } from "./support/security.js";

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ LOGIN_MAX_FAILURES: "3" });
});
afterAll(async () => server?.close());

const secretOn = (html: string) => /<code class="secret" id="totp-secret">([A-Z2-7]+)<\/code>/.exec(html)?.[1];
const userRow = (email: string) => server.services.db.user.findUniqueOrThrow({ where: { email } });

describe("2FA enrolment from a stolen session (no password)", () => {
  it("setup without or with a wrong password is refused and starts nothing", async () => {
    const victim = await signUp(server);
    const thief = victim.agent; // the session cookie, without the password
    for (const body of [{}, { password: "" }, { password: "a guess at it" }]) {
      const res = await thief
        .post(`${SECURITY}/2fa/setup`)
        .type("form")
        .send({ _csrf: victim.csrf, ...body })
        .redirects(0);
      expect(res.status).toBe(403);
      expect(res.text).toContain("Your current password is not correct.");
    }
    const page = await thief.get(SECURITY).expect(200);
    expect(secretOn(page.text)).toBeUndefined();
    const row = await userRow(victim.email);
    expect([row.totpPending, row.totpSecret, row.totpEnabledAt]).toEqual([null, null, null]);
  });

  it("confirming a pending enrolment needs the password too: the thief's code alone turns nothing on", async () => {
    const victim = await signUp(server);
    // The owner started enrolment and walked away; the thief reads the secret off the page.
    await victim.agent.post(`${SECURITY}/2fa/setup`).type("form").send({ _csrf: victim.csrf, password: victim.password }).expect(303);
    const secret = secretOn((await victim.agent.get(SECURITY).expect(200)).text)!;
    const code = await codeAt(secret, currentStep());
    const res = await victim.agent.post(`${SECURITY}/2fa/confirm`).type("form").send({ _csrf: victim.csrf, code });
    expect(res.status).toBe(403);
    expect((await userRow(victim.email)).totpEnabledAt).toBeNull();
    // the owner still logs in with the password alone
    const login = await passwordStep(server, victim.email, victim.password);
    expect(login.res.status).toBe(303);
    expect(login.res.headers.location).not.toBe("/login/2fa");
  });

  it("password guesses on the security page are limited per account, before argon2", async () => {
    const victim = await signUp(server);
    const statuses = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        victim.agent
          .post(`${SECURITY}/2fa/setup`)
          .type("form")
          .send({ _csrf: victim.csrf, password: `guess ${i}` })
          .then((r) => r.status),
      ),
    );
    expect(statuses.filter((s) => s === 403)).toHaveLength(3);
    expect(statuses.filter((s) => s === 429)).toHaveLength(7);
    const right = await victim.agent.post(`${SECURITY}/2fa/setup`).type("form").send({ _csrf: victim.csrf, password: victim.password });
    expect(right.status).toBe(429); // locked for the window, even with the right password
    expect((await userRow(victim.email)).totpPending).toBeNull();
  });

  it("with the password, enrolment works as before", async () => {
    const owner = await signUp(server);
    const page = await owner.agent.get(SECURITY).expect(200);
    expect(page.text).toMatch(
      /action="\/app\/account\/security\/2fa\/setup">\s*<input type="hidden" name="_csrf"[^>]*>\s*<label>Password <input type="password" name="password"/,
    );
    await owner.agent
      .post(`${SECURITY}/2fa/setup`)
      .type("form")
      .send({ _csrf: csrfFrom(page.text), password: owner.password })
      .expect(303);
    const secret = secretOn((await owner.agent.get(SECURITY).expect(200)).text)!;
    await owner.agent
      .post(`${SECURITY}/2fa/confirm`)
      .type("form")
      .send({ _csrf: owner.csrf, code: await codeAt(secret, currentStep()), password: owner.password })
      .redirects(1)
      .expect(200);
    expect((await userRow(owner.email)).totpEnabledAt).not.toBeNull();
  });
});
