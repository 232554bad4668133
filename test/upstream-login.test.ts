// Log-in through an upstream OpenID Connect provider: a second, real oidc-provider started here
// (test/support/upstream-idp.ts) is the upstream. Everything is driven over HTTP as a browser would:
// the "Continue with …" button, the upstream's log-in, the callback, and what the session can do.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import request from "supertest";
import { browser, csrfFrom, startTestServer, signUp, uniqueEmail, type TestServer } from "./support/server.js";
import { clientsFor, startUpstreamIdp, throughUpstream, type UpstreamIdp } from "./support/upstream-idp.js";
import { authorizeUrl, decideOnConsent, exchange, follow, pkcePair, register } from "./support/oauth/flow.js";
import { mcpWhoami } from "./support/mcp-status.js";

type Agent = ReturnType<typeof browser>;

const ORG_ID = "org_upstreamTestOrganization1";
let idp: UpstreamIdp;
let server: TestServer;

/** Presses "Continue with …" on the log-in page; returns the answer (303 to the upstream, or a page). */
async function start(agent: Agent, id: string, returnTo?: string) {
  const page = await agent.get(`/login${returnTo ? `?return_to=${encodeURIComponent(returnTo)}` : ""}`).expect(200);
  return agent
    .post(`/login/upstream/${id}`)
    .type("form")
    .send({ _csrf: csrfFrom(page.text), ...(returnTo ? { return_to: returnTo } : {}) })
    .redirects(0);
}

/** The whole round trip as `sub`; returns Keyward's answer to the callback. */
async function logIn(agent: Agent, id: string, sub: string, returnTo?: string) {
  const started = await start(agent, id, returnTo);
  expect(started.status, started.text).toBe(303);
  idp.loginAs(sub);
  const back = new URL(await throughUpstream(idp, started.headers.location!));
  expect(back.origin + back.pathname).toBe(`${server.url}/login/upstream/${id}/callback`);
  return agent.get(back.pathname + back.search).redirects(0);
}

const userOf = (email: string) => server.services.db.user.findUnique({ where: { email }, include: { memberships: true } });
const auditOf = async (userId: string) =>
  (await server.services.db.auditEvent.findMany({ where: { userId }, orderBy: { createdAt: "asc" } })).map((e) => e.action);

beforeAll(async () => {
  idp = await startUpstreamIdp();
  const providers = [
    idp.provider("test", { organization: ORG_ID, role: "viewer" }),
    idp.provider("corp", { allowedDomains: ["corp.example"] }),
    idp.provider("linkonly", { createAccounts: false }),
    // Names the upstream as localhost: its metadata says 127.0.0.1, another issuer.
    idp.provider("mismatch", { issuer: idp.issuer.replace("127.0.0.1", "localhost") }),
    idp.provider("down", { issuer: "http://127.0.0.1:9" }),
    idp.provider("ghostorg", { organization: "org_doesNotExist0000000000" }),
  ];
  server = await startTestServer({ UPSTREAM_PROVIDERS: JSON.stringify(providers) });
  idp.configure(clientsFor(server.url, providers));
  await server.services.db.organization.create({ data: { id: ORG_ID, name: "Upstream Org" } });
});
afterAll(async () => {
  await server?.close();
  await idp?.close();
});

describe("upstream log-in", () => {
  it("the log-in page offers every provider, with the password form", async () => {
    const page = await browser(server).get("/login").expect(200);
    for (const id of ["test", "corp", "linkonly"]) {
      expect(page.text).toContain(`action="/login/upstream/${id}"`);
      expect(page.text).toContain(`Continue with Test IdP ${id}`);
    }
    expect(page.text).toContain('name="password"');
  });

  it("a first log-in makes the account in the provider's organisation and role, and the session works", async () => {
    const email = uniqueEmail("fresh");
    const sub = idp.person({ email, email_verified: true });
    const agent = browser(server);
    const res = await logIn(agent, "test", sub, "/app/orgs");
    expect(res.status, res.text).toBe(303);
    expect(res.headers.location).toBe("/app/orgs");
    const user = await userOf(email);
    expect(user).toBeTruthy();
    expect(user!.memberships.find((m) => m.organizationId === ORG_ID)?.role).toBe("viewer");
    expect(user!.memberships.some((m) => m.role === "owner")).toBe(true); // the personal organisation
    expect(await auditOf(user!.id)).toEqual(["upstream.account_created", "login.succeeded"]);
    const page = await agent.get("/app/account/api-keys").expect(200);
    expect(page.text).toContain(email);
    // The activity page says how.
    const activity = await agent.get("/app/account/audit").expect(200);
    expect(activity.text).toContain("with Test IdP test");
    // The security page says where its password and 2FA live, and asks for no Keyward password.
    const security = await agent.get("/app/account/security").expect(200);
    expect(security.text).toContain("You log in with <strong>Test IdP test</strong>");
    expect(security.text).not.toContain('action="/app/account/security/password"');
    expect(security.text).not.toContain('action="/app/account/security/2fa/setup"');
    const change = await agent
      .post("/app/account/security/password")
      .type("form")
      .send({
        _csrf: csrfFrom(security.text),
        current_password: "keyward-dummy-password",
        new_password: "a new password 123",
        confirm_password: "a new password 123",
      });
    expect(change.status).toBe(403);
    // The upstream account has no password here: the password form never lets anyone in as it.
    const login = await browser(server).get("/login");
    const tried = await browser(server)
      .post("/login")
      .set("Cookie", login.headers["set-cookie"]!)
      .type("form")
      .send({ _csrf: csrfFrom(login.text), email, password: "keyward-dummy-password" })
      .redirects(0);
    expect(tried.status).toBe(401);
  });

  it("the next log-in is the same account, found by sub (no second account)", async () => {
    const email = uniqueEmail("again");
    const sub = idp.person({ email, email_verified: true });
    expect((await logIn(browser(server), "test", sub)).status).toBe(303);
    const first = await userOf(email);
    expect((await logIn(browser(server), "test", sub)).status).toBe(303);
    expect(await server.services.db.upstreamIdentity.count({ where: { userId: first!.id } })).toBe(1);
    expect((await auditOf(first!.id)).filter((a) => a === "login.succeeded")).toHaveLength(2);
  });

  it("an account an administrator disabled does not log in through a provider either (403, no session)", async () => {
    const email = uniqueEmail("disabled");
    const sub = idp.person({ email, email_verified: true });
    expect((await logIn(browser(server), "test", sub)).status).toBe(303);
    const user = await userOf(email);
    await server.services.db.user.update({ where: { id: user!.id }, data: { disabledAt: new Date() } });
    const agent = browser(server);
    const refused = await logIn(agent, "test", sub);
    expect(refused.status).toBe(403);
    expect(refused.text).toContain("This account has been disabled by an administrator of this server.");
    expect((await agent.get("/app/account")).status).not.toBe(200);
    expect((await auditOf(user!.id)).at(-1)).toBe("login.failed");
  });

  it("never links a local account whose address Keyward never confirmed (someone may have signed up with another's address)", async () => {
    const squatter = await signUp(server); // signed up with the colleague's address, before the colleague's first log-in
    const sub = idp.person({ email: squatter.email, email_verified: true });
    const agent = browser(server);
    const refused = await logIn(agent, "test", sub);
    expect(refused.status).toBe(403);
    expect(refused.text).toContain("its address was never confirmed, so it cannot be linked");
    const user = await userOf(squatter.email);
    expect(await server.services.db.upstreamIdentity.count({ where: { userId: user!.id } })).toBe(0);
    expect((await agent.get("/app/account")).status).not.toBe(200);
    expect((await auditOf(user!.id)).at(-1)).toBe("login.failed");
  });

  it("links an existing local account by a verified email once its address is confirmed; the password keeps working", async () => {
    const local = await signUp(server);
    await server.services.db.user.update({ where: { email: local.email }, data: { emailVerifiedAt: new Date() } });
    const sub = idp.person({ email: local.email, email_verified: true });
    const res = await logIn(browser(server), "test", sub);
    expect(res.status, res.text).toBe(303);
    const user = await userOf(local.email);
    expect(await server.services.db.upstreamIdentity.findFirst({ where: { userId: user!.id } })).toMatchObject({
      providerId: "test",
      subject: sub,
    });
    expect(await auditOf(user!.id)).toContain("upstream.linked");
    // Not a new member of the provider's organisation: only new accounts join it.
    expect(user!.memberships.some((m) => m.organizationId === ORG_ID)).toBe(false);
    const page = await browser(server).get("/login");
    const again = await browser(server)
      .post("/login")
      .set("Cookie", page.headers["set-cookie"]!)
      .type("form")
      .send({ _csrf: csrfFrom(page.text), email: local.email, password: local.password })
      .redirects(0);
    expect(again.status).toBe(303);
    // It keeps its password, so its security page keeps the password forms.
    expect((await local.agent.get("/app/account/security").expect(200)).text).toContain('action="/app/account/security/password"');
  });

  it("an account keeps one identity per provider: another sub with the same email is refused", async () => {
    const email = uniqueEmail("twice");
    expect((await logIn(browser(server), "test", idp.person({ email, email_verified: true }))).status).toBe(303);
    const other = await logIn(browser(server), "test", idp.person({ email, email_verified: true }));
    expect(other.status).toBe(403);
    expect(other.text).toContain("already linked to another");
  });

  it("a provider whose organisation does not exist refuses new accounts with a clear page", async () => {
    const email = uniqueEmail("ghost");
    const res = await logIn(browser(server), "ghostorg", idp.person({ email, email_verified: true }));
    expect(res.status).toBe(503);
    expect(res.text).toContain("not set up correctly");
    expect(await userOf(email)).toBeNull();
  });

  it("an unverified email neither links nor makes an account", async () => {
    const local = await signUp(server);
    const sub = idp.person({ email: local.email, email_verified: false });
    const res = await logIn(browser(server), "test", sub);
    expect(res.status).toBe(403);
    expect(res.text).toContain("not verified");
    expect([res.headers["set-cookie"] ?? []].flat().join()).not.toContain("kw_session=");
    expect(await server.services.db.upstreamIdentity.count({ where: { subject: sub } })).toBe(0);

    const newcomer = uniqueEmail("unverified");
    const res2 = await logIn(browser(server), "test", idp.person({ email: newcomer }));
    expect(res2.status).toBe(403);
    expect(await userOf(newcomer)).toBeNull();
  });

  it("a domain not allowed is refused, at the first log-in and at every later one", async () => {
    const outsider = uniqueEmail("outsider"); // @example.com
    const res = await logIn(browser(server), "corp", idp.person({ email: outsider, email_verified: true }));
    expect(res.status).toBe(403);
    expect(res.text).toContain("not at a domain allowed");
    expect(await userOf(outsider)).toBeNull();

    const email = `${uniqueEmail("insider").split("@")[0]}@corp.example`;
    const sub = idp.person({ email, email_verified: true });
    expect((await logIn(browser(server), "corp", sub)).status).toBe(303);
    // The person's address at the upstream changes to another domain: the linked identity is refused too.
    idp.accounts.set(sub, { email: uniqueEmail("moved"), email_verified: true });
    const later = await logIn(browser(server), "corp", sub);
    expect(later.status).toBe(403);
    const user = await userOf(email);
    expect(await auditOf(user!.id)).toContain("login.failed");
  });

  it("createAccounts: false only links; nobody new gets in", async () => {
    const email = uniqueEmail("nobody");
    const res = await logIn(browser(server), "linkonly", idp.person({ email, email_verified: true }));
    expect(res.status).toBe(403);
    expect(await userOf(email)).toBeNull();
  });

  it("a callback whose state was changed is refused", async () => {
    const agent = browser(server);
    const started = await start(agent, "test");
    idp.loginAs(idp.person({ email: uniqueEmail("state"), email_verified: true }));
    const back = new URL(await throughUpstream(idp, started.headers.location!));
    back.searchParams.set("state", "forged-state");
    const res = await agent.get(back.pathname + back.search).redirects(0);
    expect(res.status).toBe(400);
    expect(res.text).toContain("could not be verified");
    expect([res.headers["set-cookie"] ?? []].flat().join()).not.toContain("kw_session=");
  });

  it("a callback with another issuer's iss (mix-up) is refused", async () => {
    const agent = browser(server);
    const started = await start(agent, "test");
    idp.loginAs(idp.person({ email: uniqueEmail("iss"), email_verified: true }));
    const back = new URL(await throughUpstream(idp, started.headers.location!));
    expect(back.searchParams.get("iss")).toBe(idp.issuer);
    back.searchParams.set("iss", "https://evil.example");
    const res = await agent.get(back.pathname + back.search).redirects(0);
    expect(res.status).toBe(400);
    expect([res.headers["set-cookie"] ?? []].flat().join()).not.toContain("kw_session=");
  });

  it("an ID token with another nonce is refused (a code obtained outside this log-in)", async () => {
    const agent = browser(server);
    const started = await start(agent, "test");
    // Same client, state and PKCE challenge, but the attacker's own nonce.
    const url = new URL(started.headers.location!);
    url.searchParams.set("nonce", "attackers-nonce");
    const email = uniqueEmail("nonce");
    idp.loginAs(idp.person({ email, email_verified: true }));
    const back = new URL(await throughUpstream(idp, url.href));
    const res = await agent.get(back.pathname + back.search).redirects(0);
    expect(res.status).toBe(400);
    expect(await userOf(email)).toBeNull();
    expect(server.logs.join("")).toContain("OAUTH_JWT_CLAIM_COMPARISON_FAILED"); // openid-client's nonce check
  });

  it("a callback without the browser's pending log-in (another browser, or used twice) is refused", async () => {
    const agent = browser(server);
    const sub = idp.person({ email: uniqueEmail("replay"), email_verified: true });
    const started = await start(agent, "test");
    idp.loginAs(sub);
    const back = new URL(await throughUpstream(idp, started.headers.location!));
    const elsewhere = await browser(server)
      .get(back.pathname + back.search)
      .redirects(0);
    expect(elsewhere.status).toBe(400);
    expect(elsewhere.text).toContain("expired or was started in another browser");
    expect((await agent.get(back.pathname + back.search).redirects(0)).status).toBe(303);
    expect((await agent.get(back.pathname + back.search).redirects(0)).status).toBe(400); // the cookie was used
  });

  it("the pending log-in cookie is sealed: it reveals no verifier, and a changed or made-up one is refused", async () => {
    const agent = browser(server);
    const started = await start(agent, "test");
    const cookie = [started.headers["set-cookie"] ?? []].flat().find((c) => c.startsWith("kw_upstream="))!;
    expect(cookie).toMatch(/HttpOnly/i);
    expect(cookie).toMatch(/SameSite=Lax/i);
    expect(cookie).toContain("path=/login/upstream");
    const sealed = decodeURIComponent(cookie.slice("kw_upstream=".length).split(";")[0]!);
    const state = new URL(started.headers.location!).searchParams.get("state")!;
    expect(sealed).not.toContain(state);
    idp.loginAs(idp.person({ email: uniqueEmail("sealed"), email_verified: true }));
    const back = new URL(await throughUpstream(idp, started.headers.location!));
    const flipped = sealed.slice(0, -2) + (sealed.endsWith("A") ? "B" : "A") + sealed.slice(-1);
    for (const forged of [flipped, "v1.made.up.value"]) {
      const res = await request(server.url)
        .get(back.pathname + back.search)
        .set("Cookie", `kw_upstream=${encodeURIComponent(forged)}`)
        .redirects(0);
      expect(res.status).toBe(400);
    }
  });

  it("the upstream saying no is a page, not a session", async () => {
    const agent = browser(server);
    const started = await start(agent, "test");
    const state = new URL(started.headers.location!).searchParams.get("state")!;
    const res = await agent
      .get(`/login/upstream/test/callback?error=access_denied&state=${state}&iss=${encodeURIComponent(idp.issuer)}`)
      .redirects(0);
    expect(res.status).toBe(403);
    expect(res.text).toContain("You did not allow Test IdP test");
  });

  it("an upstream that is down, or names another issuer, gives a clear page (no 500)", async () => {
    for (const id of ["down", "mismatch"]) {
      const res = await start(browser(server), id);
      expect(res.status, id).toBe(502);
      expect(res.text).toContain(`cannot reach Test IdP ${id}`);
    }
  });

  it("the redirect_uri is ISSUER's, whatever the Host header says; unknown providers are 404", async () => {
    const agent = browser(server);
    const page = await agent.get("/login").expect(200);
    const res = await agent
      .post("/login/upstream/test")
      .set("Host", "evil.example")
      .type("form")
      .send({ _csrf: csrfFrom(page.text) })
      .redirects(0);
    expect(res.status).toBe(303);
    const url = new URL(res.headers.location!);
    expect(url.origin).toBe(idp.issuer);
    expect(url.searchParams.get("redirect_uri")).toBe(`${server.url}/login/upstream/test/callback`);
    expect(url.searchParams.get("code_challenge_method")).toBe("S256");
    expect(url.searchParams.get("nonce")).toBeTruthy();
    expect(
      (
        await agent
          .post("/login/upstream/nope")
          .type("form")
          .send({ _csrf: csrfFrom(page.text) })
      ).status,
    ).toBe(404);
    expect((await agent.get("/login/upstream/nope/callback?code=x&state=y")).status).toBe(404);
    // Without the CSRF token the button does nothing.
    expect((await browser(server).post("/login/upstream/test").type("form").send({})).status).toBe(403);
  });

  it("an MCP host's authorization goes through the upstream log-in and back to consent", async () => {
    const reg = await register(server);
    expect(reg.status, reg.text).toBe(201);
    const clientId = reg.body.client_id as string;
    const { verifier, challenge } = pkcePair();
    const resource = `${server.url}/mcp`;
    const agent = browser(server);
    const params = { clientId, challenge, method: "S256", scope: "mcp:read", resource };
    const login = await follow(agent, server, authorizeUrl(params));
    expect(login.status).toBe(200);
    const returnTo = /name="return_to" value="([^"]+)"/.exec(login.text)![1]!;
    expect(returnTo).toMatch(/^\/interaction\//);
    expect(login.text).toContain(`action="/login/upstream/test"`);
    const email = uniqueEmail("mcp");
    const back = await logIn(agent, "test", idp.person({ email, email_verified: true }), returnTo);
    expect(back.status, back.text).toBe(303);
    expect(back.headers.location).toBe(returnTo);
    const consent = await follow(agent, server, back.headers.location!);
    expect(consent.text).toContain("Authorize");
    const code = (await decideOnConsent(agent, server, consent)).searchParams.get("code")!;
    const token = await exchange(server, { clientId, code, verifier, resource });
    expect(token.status, token.text).toBe(200);
    const mcp = await mcpWhoami(server, token.body.access_token);
    expect(mcp.status, mcp.text).toBe(200);
    expect(mcp.text).toContain(email);
  });

  it("never logs the client secret", () => {
    expect(server.logs.join("")).not.toContain("secret-of-");
  });
});
