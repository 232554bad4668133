// Helpers for the account-security tests: turn on 2FA through the page (computing codes with
// otplib from the secret the page shows, as an authenticator app would) and log in step by step.
import { generate } from "otplib";
import { expect } from "vitest";
import { browser, csrfFrom, type TestServer } from "./server.js";
import { unescapeHtml } from "./test-db.js";

export const SECURITY = "/app/account/security";
type Agent = ReturnType<typeof browser>;

/** The TOTP code of one 30-second time step. */
export const codeAt = (secret: string, step: number) => generate({ secret, epoch: step * 30 });
export const currentStep = () => Math.floor(Date.now() / 1000 / 30);

export function backupCodesIn(html: string): string[] {
  return [...html.matchAll(/<code class="backup-code">([^<]+)<\/code>/g)].map((m) => m[1]!);
}

/**
 * Enables 2FA for the logged-in agent (enrolment asks for the password, signUp's by default); returns the secret, the step the confirming
 * code used, and the backup codes.
 */
export async function enableTwoFactor(agent: Agent, password = "correct horse battery") {
  const before = await agent.get(SECURITY).expect(200);
  await agent
    .post(`${SECURITY}/2fa/setup`)
    .type("form")
    .send({ _csrf: csrfFrom(before.text), password })
    .expect(303);
  const setup = await agent.get(SECURITY).expect(200);
  expect(setup.text).toMatch(/<img src="data:image\/png;base64,[A-Za-z0-9+/=]+" alt="QR code/);
  const secret = /<code class="secret" id="totp-secret">([A-Z2-7]+)<\/code>/.exec(setup.text)?.[1];
  if (!secret) throw new Error("no secret on the setup page");
  const step = currentStep();
  const done = await agent
    .post(`${SECURITY}/2fa/confirm`)
    .type("form")
    .send({ _csrf: csrfFrom(setup.text), code: await codeAt(secret, step), password })
    .redirects(1); // 303 → the one-time reveal
  expect(done.status, done.text.slice(0, 500)).toBe(200);
  const backupCodes = backupCodesIn(done.text);
  expect(backupCodes).toHaveLength(10);
  return { secret, step, backupCodes, page: unescapeHtml(done.text) };
}

/** Email + password in a fresh browser; returns the agent and the response (303 to /login/2fa for 2FA accounts). */
export async function passwordStep(server: TestServer, email: string, password: string, returnTo?: string, agent: Agent = browser(server)) {
  const form = await agent.get(returnTo ? `/login?return_to=${encodeURIComponent(returnTo)}` : "/login").expect(200);
  const res = await agent
    .post("/login")
    .type("form")
    .send({ _csrf: csrfFrom(form.text), email, password, ...(returnTo ? { return_to: returnTo } : {}) })
    .redirects(0);
  return { agent, res };
}

/** The second step: GET the code form, POST the code. */
export async function codeStep(agent: Agent, code: string) {
  const form = await agent.get("/login/2fa").redirects(0);
  expect(form.status).toBe(200);
  expect(form.text).toContain('<form method="post" action="/login/2fa">');
  return agent
    .post("/login/2fa")
    .type("form")
    .send({ _csrf: csrfFrom(form.text), code })
    .redirects(0);
}

export function setCookies(res: { headers: Record<string, unknown> }): string[] {
  const h = res.headers["set-cookie"];
  return Array.isArray(h) ? (h as string[]) : typeof h === "string" ? [h] : [];
}

export const hasSessionCookie = (res: { headers: Record<string, unknown> }) =>
  setCookies(res).some((c) => /^kw_session=[^;]+/.test(c) && !/^kw_session=;/.test(c));
