// Issue 22 item 7 (sign-up part): sign-up must not tell whether an email already has an account.
// It answers a taken email exactly like a free one (no session either way, same redirect, same page),
// writes nothing for the taken one, and tells the account's owner on their activity page. The residue
// (documented in docs/security-account.md): whoever then logs in with the password they chose learns
// whether it worked; for someone else's email that is a failed log-in on that account, limited and
// recorded on its trail, and every sign-up attempt counts against the address's sign-up limit.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { browser, csrfFrom, signUp, startTestServer, uniqueEmail, type TestServer } from "./support/server.js";
import { passwordStep, setCookies } from "./support/security.js";

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => server?.close());

/** A sign-up from a fresh browser: the response with cookie values and the CSRF token blanked out. */
async function attempt(email: string, password: string) {
  const agent = browser(server);
  const form = await agent.get("/signup?return_to=%2Fapp%2Faccount%2Fsecurity").expect(200);
  const csrf = csrfFrom(form.text);
  const res = await agent
    .post("/signup")
    .type("form")
    .send({ _csrf: csrf, email, password, return_to: "/app/account/security" })
    .redirects(0);
  const landing = await agent.get(res.headers.location ?? "/").redirects(0);
  const shape = (r: typeof res) => ({
    status: r.status,
    location: r.headers.location,
    contentType: r.headers["content-type"],
    cookies: setCookies(r).map((c) => c.replace(/=[^;]*/, "=VALUE")),
    body: r.text.replaceAll(csrf, "CSRF").replace(/name="_csrf" value="[^"]*"/g, 'name="_csrf" value="CSRF"'),
  });
  return { post: shape(res), landing: shape(landing) };
}

describe("sign-up with an email that already has an account", () => {
  it("answers exactly like a free email: same status, redirect, cookies and next page; no session", async () => {
    const owner = await signUp(server);
    const taken = await attempt(owner.email.toUpperCase(), "attacker's password");
    const free = await attempt(uniqueEmail("free"), "attacker's password");
    expect(taken.post).toEqual(free.post);
    expect(taken.landing).toEqual(free.landing);
    expect(taken.post.status).toBe(303);
    expect(taken.post.location).toBe("/login?signed_up=1&return_to=%2Fapp%2Faccount%2Fsecurity");
    expect(taken.post.cookies.some((c) => c.startsWith("kw_session="))).toBe(false);
    expect(taken.landing.status).toBe(200); // the log-in page, with a notice that says nothing about the email
    expect(taken.landing.body).toContain("Thank you for signing up. Log in with your email and password to continue.");
    expect(taken.post.body + taken.landing.body).not.toMatch(/already|exists|taken/i);
  });

  it("writes nothing to the existing account, and tells its owner", async () => {
    const owner = await signUp(server);
    const row = await server.services.db.user.findUniqueOrThrow({ where: { email: owner.email } });
    const users = await server.services.db.user.count();
    await attempt(owner.email, "attacker's password");
    expect(await server.services.db.user.count()).toBe(users);
    expect((await server.services.db.user.findUniqueOrThrow({ where: { email: owner.email } })).passwordHash).toBe(row.passwordHash);
    // the attacker's password does not open the account; the owner's still does
    expect((await passwordStep(server, owner.email, "attacker's password")).res.status).toBe(401);
    expect((await passwordStep(server, owner.email, owner.password)).res.status).toBe(303);
    const activity = await owner.agent.get("/app/account/audit").expect(200);
    expect(activity.text).toContain('data-action="signup.email_taken"');
    expect(activity.text).toContain("Sign-up attempted with your email (nothing was changed)");
    expect(activity.text).toContain('data-action="login.failed"');
  });

  it("a free email gets an account that the chosen password opens", async () => {
    const email = uniqueEmail("fresh");
    await attempt(email, "my own password");
    expect((await passwordStep(server, email, "my own password")).res.status).toBe(303);
  });

  it("every attempt, taken or free, counts against the address's sign-up limit (20 per hour)", async () => {
    const limited = await startTestServer();
    try {
      const owner = await signUp(limited); // 1
      const agent = browser(limited);
      const csrf = csrfFrom((await agent.get("/signup")).text);
      const statuses = [];
      for (let i = 0; i < 20; i++) {
        const email = i % 2 ? owner.email : uniqueEmail("probe");
        statuses.push((await agent.post("/signup").type("form").send({ _csrf: csrf, email, password: "probe password" })).status);
      }
      expect(statuses.slice(0, 19).every((s) => s === 303)).toBe(true);
      expect(statuses[19]).toBe(429);
    } finally {
      await limited.close();
    }
  }, 60_000);
});
