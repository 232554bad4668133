// "Forgot password?" against a real SMTP server (test/support/smtp.ts): the same answer for known and
// unknown addresses, a single-use 30-minute link stored hashed, every session ended by a reset, 2FA
// still asked afterwards, links per address limited, and pages that do not exist without SMTP.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import request from "supertest";
import { browser, csrfFrom, signUp, startTestServer, uniqueEmail, type TestServer } from "./support/server.js";
import { until } from "./support/waiting.js";
import { startSmtp, type TestSmtp } from "./support/smtp.js";
import { askForResetLink, mailedResetLink, RESET_SUBJECT, submitReset } from "./support/password-reset.js";
import { enableTwoFactor, passwordStep } from "./support/security.js";
import { LINK_REQUESTS_PER_IP_HOUR, RESET_LINKS_PER_HOUR } from "../src/mail/routes.js";

let smtp: TestSmtp;
let server: TestServer;
beforeAll(async () => {
  smtp = await startSmtp();
  // TRUSTED_PROXIES: one test asks from an address of its own (X-Forwarded-For), the others from 127.0.0.1.
  server = await startTestServer({ SMTP_URL: smtp.url, MAIL_FROM: "Keyward <keyward@example.com>", TRUSTED_PROXIES: "127.0.0.1" });
});
afterAll(async () => {
  await server?.close();
  await smtp?.close();
});

describe("forgot password", () => {
  it("offers the link on the log-in page", async () => {
    const page = await browser(server).get("/login").expect(200);
    expect(page.text).toContain('<a href="/forgot-password">Forgot password?</a>');
  });

  it("answers a known and an unknown address alike, and mails only the known one", async () => {
    const user = await signUp(server);
    const unknown = uniqueEmail("nobody");
    const known = await askForResetLink(browser(server), user.email);
    const stranger = await askForResetLink(browser(server), unknown);
    expect(known.status).toBe(200);
    expect(stranger.status).toBe(200);
    const strip = (html: string, email: string) => html.replaceAll(email, "EMAIL").replace(/name="_csrf" value="[^"]+"/, "");
    expect(strip(known.text, user.email)).toBe(strip(stranger.text, unknown));
    expect(known.text).toContain("If an account uses that address, we mailed it a link");
    const [mail] = await smtp.waitFor(user.email, { subject: RESET_SUBJECT });
    expect(mail!.from).toContain("keyward@example.com");
    expect(mail!.text).toContain("30 minutes");
    await server.services.mailer.idle();
    expect(smtp.to(unknown)).toHaveLength(0);
    expect(smtp.to(user.email, RESET_SUBJECT)).toHaveLength(1);
  });

  it("builds the link from ISSUER, whatever Host or X-Forwarded-Host the request names", async () => {
    const user = await signUp(server);
    const agent = browser(server);
    const form = await agent.get("/forgot-password").expect(200);
    await agent
      .post("/forgot-password")
      .set("Host", "evil.example")
      .set("X-Forwarded-Host", "evil.example")
      .set("X-Forwarded-Proto", "https")
      .type("form")
      .send({ _csrf: csrfFrom(form.text), email: user.email })
      .expect(200);
    const [mail] = await smtp.waitFor(user.email, { subject: RESET_SUBJECT });
    expect(mail!.text).toContain(`${server.url}/reset-password?token=`);
    expect(mail!.text + mail!.html).not.toContain("evil.example");
  });

  it("stores only the token's hash, and never logs it", async () => {
    const user = await signUp(server);
    await askForResetLink(browser(server), user.email).then((r) => expect(r.status).toBe(200));
    const link = await mailedResetLink(server, smtp, user.email);
    const token = new URL(link).searchParams.get("token")!;
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect((await server.database.contents()).toString("latin1")).not.toContain(token);
    expect(server.logs.join("")).not.toContain(token);
  });

  it("resets the password once: every session ends, the old password fails, the new one works, the link is spent", async () => {
    const user = await signUp(server);
    const other = await passwordStep(server, user.email, user.password); // a second browser, logged in
    expect(other.res.status).toBe(303);
    await askForResetLink(browser(server), user.email);
    const link = await mailedResetLink(server, smtp, user.email);

    const stranger = browser(server);
    const mismatch = await submitReset(server, stranger, link, "a new password 1", "a new password 2");
    expect(mismatch.form.text).toContain('action="/reset-password"');
    expect(mismatch.res.status).toBe(400);
    expect(mismatch.res.text).toContain("differ");
    const short = await submitReset(server, stranger, link, "short");
    expect(short.res.status).toBe(400); // a typo does not cost the link

    const done = await submitReset(server, stranger, link, "a brand new password");
    expect(done.res.status).toBe(303);
    expect(done.res.headers.location).toBe("/login?reset=1");

    for (const agent of [user.agent, other.agent]) {
      const page = await agent.get("/app/account/api-keys").redirects(0);
      expect(page.status).toBe(302); // signed out: sent to log in
      expect(page.headers.location).toMatch(/^\/login/);
    }
    expect((await passwordStep(server, user.email, user.password)).res.status).toBe(401);
    expect((await passwordStep(server, user.email, "a brand new password")).res.status).toBe(303);

    const again = await submitReset(server, browser(server), link, "yet another password");
    expect(again.form.status).toBe(400);
    expect(again.form.text).toContain("This link is not valid");
    expect(again.res.status).toBe(400);

    const userId = (await server.services.users.findByEmail(user.email))!.id;
    const audit = await server.services.db.auditEvent.findMany({ where: { userId, action: "password.reset" } });
    expect(audit).toHaveLength(1);
    const activity = await (await passwordStep(server, user.email, "a brand new password")).agent.get("/app/account/audit").expect(200);
    expect(activity.text).toContain("Password reset with a link mailed to you");
  });

  it("lets exactly one of two simultaneous uses of a link through", async () => {
    const user = await signUp(server);
    await askForResetLink(browser(server), user.email);
    const link = await mailedResetLink(server, smtp, user.email);
    const token = new URL(link).searchParams.get("token")!;
    const agents = [browser(server), browser(server)];
    const csrfs = await Promise.all(agents.map(async (a) => csrfFrom((await a.get(link.slice(server.url.length)).expect(200)).text)));
    const results = await Promise.all(
      agents.map((a, i) =>
        a
          .post("/reset-password")
          .type("form")
          .send({ _csrf: csrfs[i], token, new_password: `parallel password ${i}`, confirm_password: `parallel password ${i}` }),
      ),
    );
    expect(results.map((r) => r.status).sort()).toEqual([303, 400]);
  });

  it("refuses an expired link", async () => {
    const user = await signUp(server);
    await askForResetLink(browser(server), user.email);
    const link = await mailedResetLink(server, smtp, user.email);
    const userId = (await server.services.users.findByEmail(user.email))!.id;
    await server.services.db.emailToken.updateMany({ where: { userId }, data: { expiresAt: new Date(Date.now() - 1000) } });
    const { form, res } = await submitReset(server, browser(server), link, "too late password");
    expect(form.status).toBe(400);
    expect(res.status).toBe(400);
    expect((await passwordStep(server, user.email, user.password)).res.status).toBe(303);
  });

  it("still asks a 2FA account for its second factor after the reset", async () => {
    const user = await signUp(server);
    const { backupCodes } = await enableTwoFactor(user.agent, user.password);
    await askForResetLink(browser(server), user.email);
    const link = await mailedResetLink(server, smtp, user.email);
    expect((await submitReset(server, browser(server), link, "two factor still on")).res.status).toBe(303);
    const step = await passwordStep(server, user.email, "two factor still on");
    expect(step.res.status).toBe(303);
    expect(step.res.headers.location).toBe("/login/2fa");
    const form = await step.agent.get("/login/2fa").expect(200);
    const code = backupCodes[0]!; // the enrolment used up this period's TOTP code
    const done = await step.agent
      .post("/login/2fa")
      .type("form")
      .send({ _csrf: csrfFrom(form.text), code })
      .redirects(0);
    expect(done.status).toBe(303);
  });

  it(`mails one address at most ${RESET_LINKS_PER_HOUR} links an hour, with the same answer after`, async () => {
    const user = await signUp(server);
    for (let i = 0; i < RESET_LINKS_PER_HOUR + 2; i++) {
      const res = await askForResetLink(browser(server), user.email);
      expect(res.status).toBe(200);
      expect(res.text).toContain("If an account uses that address");
    }
    await server.services.mailer.idle();
    expect(smtp.to(user.email, RESET_SUBJECT)).toHaveLength(RESET_LINKS_PER_HOUR);
  });

  it(`answers 429 with Retry-After after ${LINK_REQUESTS_PER_IP_HOUR} link requests an hour from one address`, async () => {
    const agent = browser(server);
    const form = await agent.get("/forgot-password").expect(200);
    const ask = (email: string) =>
      agent
        .post("/forgot-password")
        .set("X-Forwarded-For", "203.0.113.77")
        .type("form")
        .send({ _csrf: csrfFrom(form.text), email });
    for (let i = 0; i < LINK_REQUESTS_PER_IP_HOUR; i++) expect((await ask(uniqueEmail("sprayed"))).status).toBe(200);
    const refused = await ask(uniqueEmail("sprayed"));
    expect(refused.status).toBe(429);
    expect(Number(refused.headers["retry-after"])).toBeGreaterThan(0);
    expect(refused.text).toContain("Too many links asked for from your address");
    expect((await askForResetLink(browser(server), uniqueEmail("elsewhere"))).status).toBe(200); // another address is not affected
  });

  it("refuses a form without its CSRF token", async () => {
    const res = await request(server.url).post("/forgot-password").type("form").send({ email: "a@example.com" });
    expect(res.status).toBe(403);
    const reset = await request(server.url)
      .post("/reset-password")
      .type("form")
      .send({ token: "x", new_password: "whatever12", confirm_password: "whatever12" });
    expect(reset.status).toBe(403);
  });
});

describe("without SMTP_URL", () => {
  let plain: TestServer;
  beforeAll(async () => {
    plain = await startTestServer();
  });
  afterAll(async () => plain?.close());

  it("has no forgot-password link or pages", async () => {
    const login = await browser(plain).get("/login").expect(200);
    expect(login.text).not.toContain("/forgot-password");
    await request(plain.url).get("/forgot-password").expect(404);
    await request(plain.url).get("/reset-password?token=x").expect(404);
    await request(plain.url).get("/verify-email?token=x").expect(404);
  });
});

describe("a broken SMTP server", () => {
  let broken: TestServer;
  beforeAll(async () => {
    // Nothing listens on port 1: every send fails.
    broken = await startTestServer({ SMTP_URL: "smtp://mailuser:smtp-secret-password@127.0.0.1:1", MAIL_FROM: "keyward@example.com" });
  });
  afterAll(async () => broken?.close());

  it("never fails or holds up the request; the failure is logged without the SMTP password", async () => {
    const user = await signUp(broken);
    const started = Date.now();
    const res = await askForResetLink(browser(broken), user.email);
    expect(res.status).toBe(200);
    expect(Date.now() - started).toBeLessThan(2000);
    // The first try's failure (tried again later: closing the server cuts that short).
    await until(() => broken.logs.join("").includes("mail: sending failed"), "the failed send in the log");
    const logs = broken.logs.join("");
    expect(logs).toContain("mail: sending failed; trying again");
    expect(logs).not.toContain("smtp-secret-password");
  });
});
