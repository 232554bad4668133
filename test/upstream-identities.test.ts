// Sign-in methods: seeing, linking and unlinking upstream identities while signed in
// (src/upstream-login/link-routes.ts), against a second, real oidc-provider as the upstream
// (test/support/upstream-idp.ts), driven over HTTP as a browser would; attacks included.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { browser, csrfFrom, logInWithPassword, uniqueEmail, type TestServer } from "./support/server.js";
import { startKeywardsFor, startUpstreamIdp, throughUpstream, type UpstreamIdp } from "./support/upstream-idp.js";
import { startSmtp, type TestSmtp } from "./support/smtp.js";
import { askForResetLink, mailedResetLink, submitReset } from "./support/password-reset.js";
import { unlinkIdentity } from "../src/upstream-login/identities.js";

type Agent = ReturnType<typeof browser>;

const PAGE = "/app/account/sign-in-methods";
const LINKED_MAIL = "A sign-in method was added to your Keyward account";
const UNLINKED_MAIL = "A sign-in method was removed from your Keyward account";
let idp: UpstreamIdp;
let server: TestServer;
/** A server with LOCAL_PASSWORDS=off: a password is no way in. */
let withoutPasswords: TestServer;
let smtp: TestSmtp;

/**
 * A password account, logged in in a fresh browser. Made through the users service, not the sign-up
 * page: this file needs more people than the sign-up page allows one address an hour.
 */
async function member(email = uniqueEmail(), password = "correct horse battery") {
  await server.services.users.create(email, password);
  const agent = browser(server);
  await logInWithPassword(agent, email, password);
  return { agent, email, password };
}

const csrfOf = async (agent: Agent) => csrfFrom((await agent.get(PAGE).expect(200)).text);

/** Presses "Link <name>" on the sign-in methods page; returns Keyward's answer (303 to the upstream, or a page). */
async function startLink(agent: Agent, id: string, password?: string) {
  return agent
    .post(`${PAGE}/link/${id}`)
    .type("form")
    .send({ _csrf: await csrfOf(agent), ...(password === undefined ? {} : { password }) })
    .redirects(0);
}

/** The upstream's part as `sub`: returns the path + query of Keyward's callback the provider sent the browser to. */
async function atUpstream(started: { status: number; text: string; headers: Record<string, string> }, sub: string) {
  expect(started.status, started.text).toBe(303);
  idp.loginAs(sub);
  const back = new URL(await throughUpstream(idp, started.headers.location!));
  return back.pathname + back.search;
}

async function link(agent: Agent, id: string, sub: string, password?: string) {
  const callback = await atUpstream(await startLink(agent, id, password), sub);
  return { callback, res: await agent.get(callback).redirects(0) };
}

/** A whole log-in through the provider in `agent`; returns the callback's answer. */
async function logInUpstream(agent: Agent, id: string, sub: string) {
  // A signed-in browser is sent on from /login: the CSRF token is the browser's, any page has it.
  const page = await agent.get("/login");
  const csrf = page.status === 200 ? csrfFrom(page.text) : await csrfOf(agent);
  const started = await agent.post(`/login/upstream/${id}`).type("form").send({ _csrf: csrf }).redirects(0);
  return agent.get(await atUpstream(started, sub)).redirects(0);
}

const identitiesOf = (userId: string) =>
  server.services.db.upstreamIdentity.findMany({ where: { userId }, orderBy: { providerId: "asc" } });
const userIdOf = async (email: string) => (await server.services.db.user.findUniqueOrThrow({ where: { email } })).id;
const auditOf = async (userId: string) =>
  (await server.services.db.auditEvent.findMany({ where: { userId }, orderBy: { createdAt: "asc" } })).map((e) => e.action);

beforeAll(async () => {
  idp = await startUpstreamIdp();
  smtp = await startSmtp();
  const providers = [idp.provider("alpha"), idp.provider("beta"), idp.provider("corp", { allowedDomains: ["corp.example"] })];
  ({ server, withoutPasswords } = await startKeywardsFor(idp, providers, ["alpha", "beta"], {
    SMTP_URL: smtp.url,
    MAIL_FROM: "keyward@example.com",
  }));
});
afterAll(async () => {
  await server?.close();
  await withoutPasswords?.close();
  await idp?.close();
  await smtp?.close();
});

describe("sign-in methods page", () => {
  it("is in the account navigation and shows the password and a Link button per provider", async () => {
    const { agent } = await member();
    const keys = await agent.get("/app/account/api-keys").expect(200);
    expect(keys.text).toContain(`href="${PAGE}"`);
    const page = await agent.get(PAGE).expect(200);
    expect(page.text).toContain("Sign-in methods");
    expect(page.text).toMatch(/Set<\/span>/);
    expect(page.text).toContain('href="/app/account/security#password"');
    for (const id of ["alpha", "beta", "corp"]) expect(page.text).toContain(`action="${PAGE}/link/${id}"`);
    expect(page.text).toContain('name="password"');
  });

  it("sends a browser without a session to log in", async () => {
    const res = await browser(server).get(PAGE).redirects(0);
    expect(res.status).toBe(302);
    expect(res.headers.location).toBe(`/login?return_to=${encodeURIComponent(PAGE)}`);
  });
});

describe("linking", () => {
  it("links the provider's identity to the signed-in account, audits, mails, and the identity then logs in to it", async () => {
    const me = await member();
    const myId = await userIdOf(me.email);
    const upstreamEmail = uniqueEmail("elsewhere");
    const sub = idp.person({ email: upstreamEmail, email_verified: true });
    const { res } = await link(me.agent, "alpha", sub, me.password);
    expect(res.status, res.text).toBe(303);
    expect(res.headers.location).toBe(`${PAGE}?notice=linked`);
    // Still the same session, now listing the identity with the upstream's email.
    const page = await me.agent.get(`${PAGE}?notice=linked`).expect(200);
    expect(page.text).toContain(me.email);
    expect(page.text).toContain("Linked. You can now log in with it.");
    expect(page.text).toContain('data-provider="alpha"');
    expect(page.text).toContain(upstreamEmail);
    expect(page.text).toContain(`action="${PAGE}/unlink/alpha"`);
    expect(page.text).not.toContain(`action="${PAGE}/link/alpha"`);
    expect((await identitiesOf(myId)).map((i) => [i.providerId, i.subject, i.email])).toEqual([["alpha", sub, upstreamEmail]]);
    expect(await auditOf(myId)).toContain("identity.linked");
    const activity = await me.agent.get("/app/account/audit").expect(200);
    expect(activity.text).toContain("Sign-in method linked");
    const [mail] = await smtp.waitFor(me.email, { subject: LINKED_MAIL });
    expect(mail!.text).toContain("Test IdP alpha");
    // A fresh browser logging in through alpha is this account (found by sub, whatever its email).
    const other = browser(server);
    expect((await logInUpstream(other, "alpha", sub)).status).toBe(303);
    expect((await other.get("/app/account/api-keys").expect(200)).text).toContain(me.email);
  });

  it("needs the password again (a wrong one, or none, starts nothing), and CSRF", async () => {
    const me = await member();
    const wrong = await startLink(me.agent, "alpha", "not my password");
    expect(wrong.status).toBe(403);
    expect(wrong.text).toContain("Your current password is not correct.");
    expect(String(wrong.headers["set-cookie"] ?? "")).not.toContain("kw_upstream=");
    expect((await startLink(me.agent, "alpha")).status).toBe(403);
    const forged = await me.agent.post(`${PAGE}/link/alpha`).type("form").send({ password: me.password }).redirects(0);
    expect(forged.status).toBe(403);
    expect(forged.headers.location).toBeUndefined();
  });

  it("refuses an identity already linked to another account, without saying whose, and never moves it", async () => {
    const holder = await member();
    const sub = idp.person({ email: uniqueEmail("shared"), email_verified: true });
    expect((await link(holder.agent, "alpha", sub, holder.password)).res.status).toBe(303);
    const intruder = await member();
    const { res } = await link(intruder.agent, "alpha", sub, intruder.password);
    expect(res.status).toBe(403);
    expect(res.text).toContain("already linked to another Keyward account");
    expect(res.text).not.toContain(holder.email);
    expect(res.text).toContain(`href="${PAGE}"`);
    expect(await identitiesOf(await userIdOf(intruder.email))).toEqual([]);
    expect((await identitiesOf(await userIdOf(holder.email))).map((i) => i.subject)).toEqual([sub]);
    expect(await auditOf(await userIdOf(intruder.email))).not.toContain("identity.linked");
    // The intruder's browser is still the intruder's.
    expect((await intruder.agent.get(PAGE).expect(200)).text).toContain(intruder.email);
  });

  it("one identity per provider: linking the same provider again is refused before the provider is asked", async () => {
    const me = await member();
    expect((await link(me.agent, "alpha", idp.person({ email: uniqueEmail(), email_verified: true }), me.password)).res.status).toBe(303);
    const again = await startLink(me.agent, "alpha", me.password);
    expect(again.status).toBe(409);
    expect(again.text).toContain("already linked to a Test IdP alpha account");
  });

  it("a replayed callback links nothing more and answers 400", async () => {
    const me = await member();
    const { callback, res } = await link(me.agent, "beta", idp.person({ email: uniqueEmail(), email_verified: true }), me.password);
    expect(res.status).toBe(303);
    const replay = await me.agent.get(callback).redirects(0);
    expect(replay.status).toBe(400);
    // Replayed into another signed-in account's browser: that one has no pending cookie either.
    const other = await member();
    expect((await other.agent.get(callback).redirects(0)).status).toBe(400);
    expect(await identitiesOf(await userIdOf(other.email))).toEqual([]);
  });

  it("a link finished in another session of the browser (logged out, someone else logged in) links nothing", async () => {
    const starter = await member();
    const sub = idp.person({ email: uniqueEmail(), email_verified: true });
    const callback = await atUpstream(await startLink(starter.agent, "alpha", starter.password), sub);
    // Someone else logs in in this browser before the provider's answer comes back.
    const someone = await member();
    await starter.agent
      .post("/logout")
      .type("form")
      .send({ _csrf: await csrfOf(starter.agent) });
    await logInWithPassword(starter.agent, someone.email, someone.password);
    const res = await starter.agent.get(callback).redirects(0);
    expect(res.status).toBe(403);
    expect(res.text).toContain("no longer logged in as the account that started");
    expect(await identitiesOf(await userIdOf(starter.email))).toEqual([]);
    expect(await identitiesOf(await userIdOf(someone.email))).toEqual([]);
    // And logged out entirely: the same.
    const again = await member();
    const callback2 = await atUpstream(await startLink(again.agent, "alpha", again.password), sub);
    await again.agent
      .post("/logout")
      .type("form")
      .send({ _csrf: await csrfOf(again.agent) });
    const res2 = await again.agent.get(callback2).redirects(0);
    expect(res2.status).toBe(403);
    expect(await identitiesOf(await userIdOf(again.email))).toEqual([]);
    expect(await server.services.db.upstreamIdentity.count({ where: { subject: sub } })).toBe(0);
  });

  it("a link flow never logs in or makes an account; a log-in flow never links to the signed-in account", async () => {
    // Link mode: an identity with an unverified email (which could never log in or make an account) links, no session changes.
    const me = await member();
    const myId = await userIdOf(me.email);
    const unverified = idp.person({ email: uniqueEmail("unverified"), email_verified: false });
    const { res } = await link(me.agent, "beta", unverified, me.password);
    expect(res.status).toBe(303);
    expect((await identitiesOf(myId)).map((i) => [i.subject, i.email])).toEqual([[unverified, null]]);
    expect((await me.agent.get(PAGE).expect(200)).text).toContain(me.email);
    // Log-in mode, in a signed-in browser: the unknown identity is not linked to whoever is signed in.
    const other = await member();
    const stranger = idp.person({ email: uniqueEmail("stranger"), email_verified: false });
    const login = await logInUpstream(other.agent, "alpha", stranger);
    expect(login.status).toBe(403);
    expect(await identitiesOf(await userIdOf(other.email))).toEqual([]);
  });

  it("the provider's answer to a link, delivered to a browser with a log-in in progress, is refused (and vice versa)", async () => {
    const me = await member();
    const sub = idp.person({ email: uniqueEmail(), email_verified: true });
    const linkCallback = await atUpstream(await startLink(me.agent, "alpha", me.password), sub);
    // A victim's browser that started a log-in with alpha gets the attacker's link answer: state mismatch.
    const victim = browser(server);
    const page = await victim.get("/login").expect(200);
    const started = await victim
      .post("/login/upstream/alpha")
      .type("form")
      .send({ _csrf: csrfFrom(page.text) })
      .redirects(0);
    const loginCallback = await atUpstream(started, idp.person({ email: uniqueEmail(), email_verified: true }));
    expect((await victim.get(linkCallback).redirects(0)).status).toBe(400);
    expect((await victim.get("/app/account/api-keys").redirects(0)).status).toBe(302); // not logged in
    // The log-in answer delivered to the linking browser: state mismatch, nothing linked.
    expect((await me.agent.get(loginCallback).redirects(0)).status).toBe(400);
    expect(await identitiesOf(await userIdOf(me.email))).toEqual([]);
  });

  it("allowedDomains hold for linking too", async () => {
    const me = await member();
    const { res } = await link(me.agent, "corp", idp.person({ email: uniqueEmail("outside"), email_verified: true }), me.password);
    expect(res.status).toBe(403);
    expect(res.text).toContain("not at a domain allowed");
    expect(await identitiesOf(await userIdOf(me.email))).toEqual([]);
  });

  it("an unknown provider is 404", async () => {
    const me = await member();
    expect((await startLink(me.agent, "nope", me.password)).status).toBe(404);
  });
});

describe("unlinking", () => {
  it("unlinks with the password and CSRF, audits and mails; the identity no longer logs in to the account", async () => {
    const me = await member();
    const myId = await userIdOf(me.email);
    const sub = idp.person({ email: uniqueEmail("gone"), email_verified: true });
    expect((await link(me.agent, "alpha", sub, me.password)).res.status).toBe(303);
    const csrf = await csrfOf(me.agent);
    const forged = await me.agent.post(`${PAGE}/unlink/alpha`).type("form").send({ password: me.password }).redirects(0);
    expect(forged.status).toBe(403);
    const wrong = await me.agent.post(`${PAGE}/unlink/alpha`).type("form").send({ _csrf: csrf, password: "nope nope nope" }).redirects(0);
    expect(wrong.status).toBe(403);
    expect(await identitiesOf(myId)).toHaveLength(1);
    const res = await me.agent.post(`${PAGE}/unlink/alpha`).type("form").send({ _csrf: csrf, password: me.password }).redirects(0);
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe(`${PAGE}?notice=unlinked`);
    expect(await identitiesOf(myId)).toEqual([]);
    expect(await auditOf(myId)).toContain("identity.unlinked");
    await smtp.waitFor(me.email, { subject: UNLINKED_MAIL });
    // That upstream account is now unknown here: its verified email is not this account's, so a new account is made.
    const fresh = browser(server);
    expect((await logInUpstream(fresh, "alpha", sub)).status).toBe(303);
    expect((await fresh.get("/app/account/api-keys").expect(200)).text).not.toContain(me.email);
  });

  it("another account's identity (or an unknown provider) is the same 404 as a missing one", async () => {
    const holder = await member();
    expect((await link(holder.agent, "beta", idp.person({ email: uniqueEmail(), email_verified: true }), holder.password)).res.status).toBe(
      303,
    );
    const other = await member();
    const csrf = await csrfOf(other.agent);
    const theirs = await other.agent.post(`${PAGE}/unlink/beta`).type("form").send({ _csrf: csrf, password: other.password });
    const missing = await other.agent.post(`${PAGE}/unlink/nope`).type("form").send({ _csrf: csrf, password: other.password });
    expect(theirs.status).toBe(404);
    expect(missing.status).toBe(404);
    expect(theirs.text).toBe(missing.text);
    expect(await identitiesOf(await userIdOf(holder.email))).toHaveLength(1);
  });

  it("an account without a password keeps its last identity; with two it may drop one; a stale session must log in again", async () => {
    const email = uniqueEmail("provider-made");
    const first = idp.person({ email, email_verified: true });
    const agent = browser(server);
    expect((await logInUpstream(agent, "alpha", first)).status).toBe(303);
    const userId = await userIdOf(email);
    const page = await agent.get(PAGE).expect(200);
    expect(page.text).toContain("Not set");
    expect(page.text).toContain('href="/forgot-password"'); // mail is configured: the reset link sets one
    expect(page.text).not.toContain('name="password"'); // nothing to ask: a recent log-in is the re-authentication
    const csrf = csrfFrom(page.text);
    const last = await agent.post(`${PAGE}/unlink/alpha`).type("form").send({ _csrf: csrf }).redirects(0);
    expect(last.status).toBe(409);
    expect(last.text).toContain("only way to log in");
    expect(await identitiesOf(userId)).toHaveLength(1);
    // A second provider, then the first may go.
    expect((await link(agent, "beta", idp.person({ email: uniqueEmail(), email_verified: true }))).res.status).toBe(303);
    expect((await agent.post(`${PAGE}/unlink/alpha`).type("form").send({ _csrf: csrf }).redirects(0)).status).toBe(303);
    expect((await agent.post(`${PAGE}/unlink/beta`).type("form").send({ _csrf: csrf }).redirects(0)).status).toBe(409);
    expect((await identitiesOf(userId)).map((i) => i.providerId)).toEqual(["beta"]);
    // The session is older than the re-authentication window: link and unlink ask for a new log-in.
    await server.services.db.session.updateMany({ where: { userId }, data: { createdAt: new Date(Date.now() - 3600_000) } });
    const stale = await startLink(agent, "alpha");
    expect(stale.status).toBe(403);
    expect(stale.text).toContain("needs a recent log-in");
  });

  it("an account a provider made sets a password through the reset mail, and may then unlink its only identity", async () => {
    const email = uniqueEmail("gets-a-password");
    const agent = browser(server);
    expect((await logInUpstream(agent, "alpha", idp.person({ email, email_verified: true }))).status).toBe(303);
    const userId = await userIdOf(email);
    const fresh = browser(server);
    expect((await askForResetLink(fresh, email)).status).toBe(200);
    const password = "a brand new password 42";
    const reset = await submitReset(server, fresh, await mailedResetLink(server, smtp, email), password);
    expect(reset.form.status).toBe(200);
    expect(reset.res.status).toBe(303);
    const me = browser(server);
    await logInWithPassword(me, email, password);
    const page = await me.get(PAGE).expect(200);
    expect(page.text).toMatch(/Set<\/span>/);
    const res = await me
      .post(`${PAGE}/unlink/alpha`)
      .type("form")
      .send({ _csrf: csrfFrom(page.text), password })
      .redirects(0);
    expect(res.status).toBe(303);
    expect(await identitiesOf(userId)).toEqual([]);
  });

  it("with LOCAL_PASSWORDS=off a password is no way in: the last identity stays", async () => {
    const me = await member();
    const myId = await userIdOf(me.email);
    expect((await link(me.agent, "alpha", idp.person({ email: uniqueEmail(), email_verified: true }), me.password)).res.status).toBe(303);
    const providers = server.services.config.upstreamProviders;
    expect(await unlinkIdentity(server.services.db, providers, false, myId, "alpha")).toBe("last_way_in");
    expect(await unlinkIdentity(server.services.db, providers, true, myId, "beta")).toBe("not_found");
    expect(await identitiesOf(myId)).toHaveLength(1);
    expect(await unlinkIdentity(server.services.db, providers, true, myId, "alpha")).toBe("unlinked");
  });
});

describe("with LOCAL_PASSWORDS=off", () => {
  it("the password is shown as not used, asked for nowhere, and is no way in: the last identity stays", async () => {
    const email = uniqueEmail("passwords-off");
    const user = await withoutPasswords.services.users.create(email, "correct horse battery");
    // A confirmed address, so the provider's first log-in links this existing account.
    await withoutPasswords.services.db.user.update({ where: { id: user.id }, data: { emailVerifiedAt: new Date() } });
    const agent = browser(withoutPasswords);
    expect((await logInUpstream(agent, "alpha", idp.person({ email, email_verified: true }))).status).toBe(303);
    const page = await agent.get(PAGE).expect(200);
    expect(page.text).toContain("Not used");
    expect(page.text).not.toContain('name="password"');
    expect(page.text).not.toContain('href="/forgot-password"');
    const csrf = csrfFrom(page.text);
    const last = await agent.post(`${PAGE}/unlink/alpha`).type("form").send({ _csrf: csrf }).redirects(0);
    expect(last.status).toBe(409);
    expect((await link(agent, "beta", idp.person({ email: uniqueEmail(), email_verified: true }))).res.status).toBe(303);
    expect((await agent.post(`${PAGE}/unlink/alpha`).type("form").send({ _csrf: csrf }).redirects(0)).status).toBe(303);
    const left = await withoutPasswords.services.db.upstreamIdentity.findMany({ where: { userId: user.id } });
    expect(left.map((i) => i.providerId)).toEqual(["beta"]);
  });
});

describe("operators", () => {
  it("the admin user page lists the user's identities", async () => {
    const admin = await member();
    await server.services.db.user.update({ where: { email: admin.email }, data: { isAdmin: true } });
    const me = await member();
    const upstreamEmail = uniqueEmail("seen-by-admin");
    expect((await link(me.agent, "beta", idp.person({ email: upstreamEmail, email_verified: true }), me.password)).res.status).toBe(303);
    const page = await admin.agent.get(`/admin/users/${await userIdOf(me.email)}`).expect(200);
    expect(page.text).toContain("Identity providers");
    expect(page.text).toContain("Test IdP beta");
    expect(page.text).toContain(upstreamEmail);
  });
});
