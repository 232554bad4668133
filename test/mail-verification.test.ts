// EMAIL_VERIFICATION=required against a real SMTP server: sign-up mails a link, the right password of
// an unconfirmed account gets no session (and a fresh link), the link confirms once, "mail me a new
// link" answers every address alike; the setting needs SMTP_URL.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { browser, csrfFrom, startTestServer, uniqueEmail, type TestServer } from "./support/server.js";
import { linkIn, startSmtp, type ReceivedMail, type TestSmtp } from "./support/smtp.js";
import { hasSessionCookie, passwordStep } from "./support/security.js";
import { askForResetLink, mailedResetLink, submitReset } from "./support/password-reset.js";
import { ConfigError, loadConfig } from "../src/config.js";

const VERIFY_SUBJECT = "Confirm your email address for Keyward";
const PASSWORD = "correct horse battery";

let smtp: TestSmtp;
let server: TestServer;
beforeAll(async () => {
  smtp = await startSmtp();
  server = await startTestServer({ SMTP_URL: smtp.url, MAIL_FROM: "keyward@example.com", EMAIL_VERIFICATION: "required" });
});
afterAll(async () => {
  await server?.close();
  await smtp?.close();
});

async function signUpOnly(email = uniqueEmail()) {
  const agent = browser(server);
  const page = await agent.get("/signup").expect(200);
  const res = await agent
    .post("/signup")
    .type("form")
    .send({ _csrf: csrfFrom(page.text), email, password: PASSWORD })
    .expect(303);
  return { agent, email, location: res.headers.location as string };
}

const linkOf = (mail: ReceivedMail) => linkIn(mail, `${server.url}/verify-email?token=`);

describe("EMAIL_VERIFICATION=required", () => {
  it("mails a link at sign-up, refuses log-in until it is followed, then logs in", async () => {
    const { agent, email, location } = await signUpOnly();
    const signedUp = await agent.get(location).expect(200);
    expect(signedUp.text).toContain("Follow the link we mailed you");
    const [first] = await smtp.waitFor(email, { subject: VERIFY_SUBJECT });

    const refused = await passwordStep(server, email, PASSWORD);
    expect(refused.res.status).toBe(403);
    expect(refused.res.text).toContain("Confirm your email address first");
    expect(refused.res.text).toContain('action="/verify-email/resend"');
    expect(hasSessionCookie(refused.res)).toBe(false);
    await smtp.waitFor(email, { subject: VERIFY_SUBJECT, count: 2 }); // a fresh link with the refusal
    const wrong = await passwordStep(server, email, "not the password");
    expect(wrong.res.status).toBe(401); // a wrong password learns nothing about verification

    // The link opens a page with a button: fetching it confirms nothing.
    const visitor = browser(server);
    const page = await visitor.get(linkOf(first!).slice(server.url.length)).expect(200);
    expect((await passwordStep(server, email, PASSWORD)).res.status).toBe(403);
    const token = new URL(linkOf(first!)).searchParams.get("token")!;
    const confirmed = await visitor
      .post("/verify-email")
      .type("form")
      .send({ _csrf: csrfFrom(page.text), token })
      .redirects(0);
    expect(confirmed.status).toBe(303);
    expect(confirmed.headers.location).toBe("/login?verified=1");
    expect((await visitor.get("/login?verified=1").expect(200)).text).toContain("Your email address is confirmed");

    const ok = await passwordStep(server, email, PASSWORD);
    expect(ok.res.status).toBe(303);
    expect(hasSessionCookie(ok.res)).toBe(true);
    await ok.agent.get("/app/account/api-keys").expect(200);

    // Every link of the account is spent now.
    const again = await browser(server).get(linkOf(first!).slice(server.url.length));
    expect(again.status).toBe(400);
    expect(again.text).toContain("This link is not valid");
    const activity = await ok.agent.get("/app/account/audit").expect(200);
    expect(activity.text).toContain("Email address confirmed");
  });

  it("answers “mail me a new link” alike for every address and mails only an unconfirmed account", async () => {
    const { email } = await signUpOnly();
    await smtp.waitFor(email, { subject: VERIFY_SUBJECT });
    const unknown = uniqueEmail("nobody");
    const ask = async (address: string) => {
      const agent = browser(server);
      const form = await agent.get("/verify-email").expect(400); // no token: the page offers a new link
      return agent
        .post("/verify-email/resend")
        .type("form")
        .send({ _csrf: csrfFrom(form.text), email: address });
    };
    const known = await ask(email);
    const stranger = await ask(unknown);
    expect(known.status).toBe(200);
    expect(stranger.status).toBe(200);
    const strip = (html: string, address: string) => html.replaceAll(address, "EMAIL").replace(/name="_csrf" value="[^"]+"/g, "");
    expect(strip(known.text, email)).toBe(strip(stranger.text, unknown));
    await smtp.waitFor(email, { subject: VERIFY_SUBJECT, count: 2 });
    await server.services.mailer.idle();
    expect(smtp.to(unknown)).toHaveLength(0);
  });

  it("refuses a made-up or expired link", async () => {
    const agent = browser(server);
    const bad = await agent.get("/verify-email?token=made-up").expect(400);
    const posted = await agent
      .post("/verify-email")
      .type("form")
      .send({ _csrf: csrfFrom(bad.text), token: "made-up" });
    expect(posted.status).toBe(400);

    const { email } = await signUpOnly();
    const [mail] = await smtp.waitFor(email, { subject: VERIFY_SUBJECT });
    const userId = (await server.services.users.findByEmail(email))!.id;
    await server.services.db.emailToken.updateMany({ where: { userId }, data: { expiresAt: new Date(Date.now() - 1000) } });
    await browser(server).get(linkOf(mail!).slice(server.url.length)).expect(400);
  });

  it("a password reset link proves the address too", async () => {
    const { email } = await signUpOnly();
    await smtp.waitFor(email, { subject: VERIFY_SUBJECT });
    const agent = browser(server);
    expect((await askForResetLink(agent, email)).status).toBe(200);
    const reset = await submitReset(server, agent, await mailedResetLink(server, smtp, email), "reset and verified");
    expect(reset.form.status).toBe(200);
    expect(reset.res.status).toBe(303);
    expect((await passwordStep(server, email, "reset and verified")).res.status).toBe(303);
  });
});

describe("settings", () => {
  it("EMAIL_VERIFICATION=required needs SMTP_URL; a malformed SMTP_URL is refused without repeating it", () => {
    expect(() => loadConfig({ EMAIL_VERIFICATION: "required" })).toThrow(ConfigError);
    expect(() => loadConfig({ EMAIL_VERIFICATION: "required" })).toThrow(/needs SMTP_URL/);
    expect(() => loadConfig({ SMTP_URL: "http://user:hunter2secret@mail" })).toThrow(/SMTP_URL must look like/);
    expect(() => loadConfig({ SMTP_URL: "http://user:hunter2secret@mail" })).not.toThrow(/hunter2secret/);
    const config = loadConfig({ SMTP_URL: "smtp://mail.example.com:587", ISSUER: "https://keys.example.com" });
    expect(config.mail).toEqual({
      smtpUrl: "smtp://mail.example.com:587",
      from: "Keyward <keyward@keys.example.com>",
      verification: "off",
    });
  });
});
