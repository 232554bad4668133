// "Confirm it's you with <provider>" (src/upstream-login/link-routes.ts): an account without a password
// whose session is too old to link or unlink proves it is its person by logging in again at a provider
// it has linked (prompt=login, max_age=0), against a second, real oidc-provider as the upstream
// (test/support/upstream-idp.ts), driven over HTTP as a browser would; attacks included.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { browser, csrfFrom, logInWithPassword, uniqueEmail, type TestServer } from "./support/server.js";
import { SESSION_COOKIE } from "../src/web/session.js";
import { startKeywardsFor, startUpstreamIdp, throughUpstream, type LoginQuirks, type UpstreamIdp } from "./support/upstream-idp.js";

type Agent = ReturnType<typeof browser>;

const PAGE = "/app/account/sign-in-methods";
const HOUR_AGO = () => new Date(Date.now() - 3600_000);
let idp: UpstreamIdp;
let server: TestServer;
/** A server with LOCAL_PASSWORDS=off: a password is no way in, so it is never asked for. */
let withoutPasswords: TestServer;

const csrfOf = async (agent: Agent) => csrfFrom((await agent.get(PAGE).expect(200)).text);

/** The provider's part of a flow Keyward started (`started`: its 303), as `sub`; returns the callback's path + query. */
async function atUpstream(started: { status: number; text: string; headers: Record<string, string> }, sub: string, quirks?: LoginQuirks) {
  expect(started.status, started.text).toBe(303);
  idp.loginAs(sub, quirks);
  const back = new URL(await throughUpstream(idp, started.headers.location!));
  return back.pathname + back.search;
}

const post = async (agent: Agent, path: string) =>
  agent
    .post(`${PAGE}/${path}`)
    .type("form")
    .send({ _csrf: await csrfOf(agent) })
    .redirects(0);

/** Presses "Confirm it's you with …"; returns Keyward's answer (303 to the provider, or a page). */
const startConfirm = (agent: Agent, id: string) => post(agent, `confirm/${id}`);

/** The whole confirmation as `sub`; returns the callback's answer. */
async function confirm(agent: Agent, id: string, sub: string, quirks?: LoginQuirks) {
  return agent.get(await atUpstream(await startConfirm(agent, id), sub, quirks)).redirects(0);
}

/** A log-in through the provider in `agent`, from the log-in page. */
async function logInUpstream(agent: Agent, id: string, sub: string) {
  const page = await agent.get("/login").expect(200);
  const started = await agent
    .post(`/login/upstream/${id}`)
    .type("form")
    .send({ _csrf: csrfFrom(page.text) })
    .redirects(0);
  expect((await agent.get(await atUpstream(started, sub)).redirects(0)).status).toBe(303);
}

/** Puts a cookie into a supertest agent's jar, as a browser holding it would send it. */
function plantCookie(agent: Agent, cookie: string) {
  const jar = (agent as unknown as { jar: { setCookie(c: string, domain: string, path: string): void } }).jar;
  jar.setCookie(cookie, new URL(server.url).hostname, "/");
}

const sessionsOf = (userId: string) => server.services.db.session.findMany({ where: { userId } });
const identitiesOf = async (userId: string) =>
  (await server.services.db.upstreamIdentity.findMany({ where: { userId }, orderBy: { providerId: "asc" } })).map((i) => i.providerId);
const auditOf = async (userId: string) =>
  (await server.services.db.auditEvent.findMany({ where: { userId }, orderBy: { createdAt: "asc" } })).map((e) => e.action);

/**
 * An account a provider made (no password), logged in with alpha and with beta linked, whose session is
 * then an hour old: too old to link or unlink without confirming.
 */
async function providerMadeAccount() {
  const email = uniqueEmail("no-password");
  const alpha = idp.person({ email, email_verified: true });
  const beta = idp.person({ email: uniqueEmail("beta"), email_verified: true });
  const agent = browser(server);
  await logInUpstream(agent, "alpha", alpha);
  const userId = (await server.services.db.user.findUniqueOrThrow({ where: { email } })).id;
  expect((await agent.get(await atUpstream(await post(agent, "link/beta"), beta)).redirects(0)).status).toBe(303);
  await server.services.db.session.updateMany({ where: { userId }, data: { createdAt: HOUR_AGO() } });
  return { agent, userId, alpha, beta };
}

beforeAll(async () => {
  idp = await startUpstreamIdp();
  const providers = [idp.provider("alpha"), idp.provider("beta"), idp.provider("gamma")];
  ({ server, withoutPasswords } = await startKeywardsFor(idp, providers, ["alpha"]));
});
afterAll(async () => {
  await server?.close();
  await withoutPasswords?.close();
  await idp?.close();
});

describe("confirm it's you with a linked provider", () => {
  it("an old session is refused an unlink, and the page offers a confirm button per linked provider", async () => {
    const { agent, userId } = await providerMadeAccount();
    const refused = await post(agent, "unlink/alpha");
    expect(refused.status).toBe(403);
    expect(refused.text).toContain("press “Confirm it&#39;s you” below");
    expect(refused.text).not.toContain("log out, log in again");
    for (const id of ["alpha", "beta"]) {
      expect(refused.text).toContain(`action="${PAGE}/confirm/${id}"`);
      expect(refused.text).toContain(`Confirm it's you with Test IdP ${id}</button>`);
    }
    expect(refused.text).not.toContain(`action="${PAGE}/confirm/gamma"`); // not linked
    expect(await identitiesOf(userId)).toEqual(["alpha", "beta"]);
  });

  it("a fresh session needs no confirming: no button", async () => {
    const agent = browser(server);
    await logInUpstream(agent, "alpha", idp.person({ email: uniqueEmail(), email_verified: true }));
    expect((await agent.get(PAGE).expect(200)).text).not.toContain(`${PAGE}/confirm/`);
  });

  it("confirm → the provider logs in again → back: audited, and unlink now succeeds", async () => {
    const { agent, userId, alpha } = await providerMadeAccount();
    const started = await startConfirm(agent, "alpha");
    const authorize = new URL(started.headers.location!);
    expect(authorize.searchParams.get("prompt")).toBe("login");
    expect(authorize.searchParams.get("max_age")).toBe("0");
    const res = await agent.get(await atUpstream(started, alpha)).redirects(0);
    expect(res.status, res.text).toBe(303);
    expect(res.headers.location).toBe(`${PAGE}?notice=confirmed`);
    const page = await agent.get(`${PAGE}?notice=confirmed`).expect(200);
    expect(page.text).toContain("Confirmed. For the next 10 minutes you can link and unlink sign-in methods.");
    expect(page.text).not.toContain(`${PAGE}/confirm/`);
    expect((await auditOf(userId)).at(-1)).toBe("reauth.upstream");
    expect((await agent.get("/app/account/audit").expect(200)).text).toContain("Confirmed it was you with an identity provider");
    const unlinked = await post(agent, "unlink/beta");
    expect(unlinked.status, unlinked.text).toBe(303);
    expect(await identitiesOf(userId)).toEqual(["alpha"]);
  });

  it("the confirmation lasts 10 minutes: after that, 403 and the button again", async () => {
    const { agent, userId, beta } = await providerMadeAccount();
    expect((await confirm(agent, "beta", beta)).status).toBe(303);
    await server.services.db.session.updateMany({ where: { userId }, data: { reauthenticatedAt: new Date(Date.now() - 11 * 60_000) } });
    const refused = await post(agent, "unlink/alpha");
    expect(refused.status).toBe(403);
    expect(refused.text).toContain(`action="${PAGE}/confirm/alpha"`);
    expect(await identitiesOf(userId)).toEqual(["alpha", "beta"]);
  });

  it("another account at the provider than the linked one is refused; nothing changes", async () => {
    const { agent, userId, beta } = await providerMadeAccount();
    const stranger = idp.person({ email: uniqueEmail("stranger"), email_verified: true });
    for (const sub of [stranger, beta]) {
      // A stranger at alpha, or this account's own beta identity presented at alpha: neither is its alpha identity.
      const res = await confirm(agent, "alpha", sub);
      expect(res.status).toBe(403);
      expect(res.text).toContain("as another account than the one linked");
    }
    expect((await sessionsOf(userId)).map((s) => s.reauthenticatedAt)).toEqual([null]);
    expect((await post(agent, "unlink/beta")).status).toBe(403);
    expect(await auditOf(userId)).not.toContain("reauth.upstream");
  });

  it("a provider whose log-in is not from just now (an auth_time over a minute old), or that gives no auth_time, is refused", async () => {
    const { agent, userId, alpha } = await providerMadeAccount();
    const old = await confirm(agent, "alpha", alpha, { authTime: Math.floor(Date.now() / 1000) - 12 * 60 });
    expect(old.status).toBe(403);
    expect(old.text).toContain("did not say it asked you to log in again just now");
    expect(old.text).toContain("Confirming did not work");
    // A log-in from three minutes ago is within the 10-minute window, but not one the provider just asked for.
    const earlier = await confirm(agent, "alpha", alpha, { authTime: Math.floor(Date.now() / 1000) - 3 * 60 });
    expect(earlier.status).toBe(403);
    expect(earlier.text).toContain("did not say it asked you to log in again just now");
    const none = await confirm(agent, "alpha", alpha, { ignoreReauthParams: true });
    expect(none.status).toBe(403);
    expect(none.text).toContain("did not say it asked you to log in again just now");
    expect((await sessionsOf(userId)).map((s) => s.reauthenticatedAt)).toEqual([null]);
    expect((await post(agent, "unlink/beta")).status).toBe(403);
  });

  it("a confirmation finished in another session (logged in again in between, or another browser) is refused", async () => {
    const { agent, userId, alpha } = await providerMadeAccount();
    const callback = await atUpstream(await startConfirm(agent, "alpha"), alpha);
    // Another browser of the same account has no pending cookie: refused before the provider's answer is read.
    const elsewhere = browser(server);
    await logInUpstream(elsewhere, "alpha", alpha);
    expect((await elsewhere.get(callback).redirects(0)).status).toBe(400);
    // This browser logs out, and holds another (old) session of the same account before the answer comes back.
    await agent
      .post("/logout")
      .type("form")
      .send({ _csrf: await csrfOf(agent) });
    const { token } = await server.services.sessions.create(userId);
    await server.services.db.session.updateMany({ where: { userId }, data: { createdAt: HOUR_AGO() } });
    plantCookie(agent, `${SESSION_COOKIE}=${token}`);
    const res = await agent.get(callback).redirects(0);
    expect(res.status).toBe(403);
    expect(res.text).toContain("no longer logged in as the account that asked to confirm");
    expect((await sessionsOf(userId)).every((s) => s.reauthenticatedAt === null)).toBe(true);
    expect((await post(agent, "unlink/beta")).status).toBe(403);
  });

  it("an unknown provider and a provider this account has not linked are the same 404; CSRF is checked", async () => {
    const { agent } = await providerMadeAccount();
    const unknown = await startConfirm(agent, "nope");
    const notLinked = await startConfirm(agent, "gamma");
    expect(unknown.status).toBe(404);
    expect(notLinked.status).toBe(404);
    expect(notLinked.text).toBe(unknown.text);
    // Spellings of a linked provider's id that are not its id, and ill-formed ones: nothing starts at the provider.
    for (const variant of ["ALPHA", "alpha%20", "%E0%A4%A", "%C0%AF"]) {
      const res = await startConfirm(agent, variant);
      expect([400, 404]).toContain(res.status);
      expect(res.headers.location).toBeUndefined();
      expect(String(res.headers["set-cookie"] ?? "")).not.toContain("kw_upstream=");
    }
    const forged = await agent.post(`${PAGE}/confirm/alpha`).type("form").send({}).redirects(0);
    expect(forged.status).toBe(403);
    expect(forged.headers.location).toBeUndefined();
    expect(String(forged.headers["set-cookie"] ?? "")).not.toContain("kw_upstream=");
    expect((await browser(server).post(`${PAGE}/confirm/alpha`).type("form").send({}).redirects(0)).status).toBe(403);
  });

  it("an account with a password never gets the button and still needs its password", async () => {
    const email = uniqueEmail("with-password");
    const password = "correct horse battery";
    await server.services.users.create(email, password);
    const agent = browser(server);
    await logInWithPassword(agent, email, password);
    const sub = idp.person({ email: uniqueEmail(), email_verified: true });
    const started = await agent
      .post(`${PAGE}/link/alpha`)
      .type("form")
      .send({ _csrf: await csrfOf(agent), password })
      .redirects(0);
    expect((await agent.get(await atUpstream(started, sub)).redirects(0)).status).toBe(303);
    const userId = (await server.services.db.user.findUniqueOrThrow({ where: { email } })).id;
    await server.services.db.session.updateMany({ where: { userId }, data: { createdAt: HOUR_AGO() } });
    const page = await agent.get(PAGE).expect(200);
    expect(page.text).not.toContain(`${PAGE}/confirm/`);
    expect(page.text).toContain('name="password"');
    expect((await startConfirm(agent, "alpha")).status).toBe(409);
    const without = await post(agent, "unlink/alpha");
    expect(without.status).toBe(403);
    expect(without.text).toContain("Your current password is not correct.");
    const withIt = await agent
      .post(`${PAGE}/unlink/alpha`)
      .type("form")
      .send({ _csrf: await csrfOf(agent), password })
      .redirects(0);
    expect(withIt.status).toBe(303);
    expect(await identitiesOf(userId)).toEqual([]);
  });

  it("with LOCAL_PASSWORDS=off an account that has a password is offered the button too", async () => {
    const email = uniqueEmail("passwords-off");
    const user = await withoutPasswords.services.users.create(email, "correct horse battery");
    // A confirmed address, so the provider's first log-in links this existing account.
    await withoutPasswords.services.db.user.update({ where: { id: user.id }, data: { emailVerifiedAt: new Date() } });
    const agent = browser(withoutPasswords);
    await logInUpstream(agent, "alpha", idp.person({ email, email_verified: true }));
    await withoutPasswords.services.db.session.updateMany({ where: { userId: user.id }, data: { createdAt: HOUR_AGO() } });
    const page = await agent.get(PAGE).expect(200);
    expect(page.text).toContain(`action="${PAGE}/confirm/alpha"`);
    expect(page.text).not.toContain('name="password"');
  });
});
