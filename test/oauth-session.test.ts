// The authorization server's own session (oidc-provider's `_session` cookie) never outlives
// Keyward's browser session (issue 22 items 2 and 12). Everything from the outside: a browser that
// held the provider cookie asks /auth again and must get no code (hence no key); a database copy
// must not contain the cookie value; a shared browser must authorize the user now logged in.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import request from "supertest";
import { browser, csrfFrom, signUp, startTestServer, uniqueEmail, type TestServer } from "./support/server.js";
import { authorizeUrl, exchange, follow, pkcePair, register } from "./support/oauth/flow.js";
import { passwordStep, SECURITY } from "./support/security.js";

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => server?.close());

type Agent = ReturnType<typeof browser>;
const resource = () => `${server.url}/mcp`;
const SCOPE = "mcp:read mcp:write";

const tool = (name: string) => ({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name, arguments: {} } });
const whoami = (raw: string) =>
  request(server.url)
    .post("/mcp")
    .set("Authorization", `Bearer ${raw}`)
    .set("Accept", "application/json, text/event-stream")
    .send(tool("whoami"));

/**
 * One authorization in this browser: follows /auth; on a consent page clicks Allow. Returns the
 * code (or null), whether a consent page was shown and for whom, and where the browser ended.
 */
async function authorizeIn(agent: Agent, clientId: string) {
  const pkce = pkcePair();
  const first = await follow(
    agent,
    server,
    authorizeUrl({ clientId, challenge: pkce.challenge, method: "S256", scope: SCOPE, resource: resource() }),
  );
  let consentFor: string | null = null;
  let end = first;
  if (!first.location && first.text.includes('action="/interaction/') && first.text.includes("/confirm")) {
    consentFor = /wants a key to act as <strong>([^<]+)<\/strong>/.exec(first.text)?.[1] ?? "";
    const uid = /action="\/interaction\/([^/"]+)\/confirm"/.exec(first.text)![1]!;
    const res = await agent
      .post(`/interaction/${uid}/confirm`)
      .type("form")
      .send({ _csrf: csrfFrom(first.text) })
      .redirects(0);
    expect(res.status, res.text.slice(0, 300)).toBe(303);
    end = await follow(agent, server, res.headers.location!);
  }
  const code = end.location ? new URL(end.location).searchParams.get("code") : null;
  return { code, consentFor, end, verifier: pkce.verifier };
}

/** Authorizes and exchanges the code: the raw key, or null when no code came back. */
async function keyFrom(agent: Agent, clientId: string) {
  const out = await authorizeIn(agent, clientId);
  if (!out.code) return { ...out, raw: null };
  const token = await exchange(server, { clientId, code: out.code, verifier: out.verifier, resource: resource() });
  expect(token.status, token.text).toBe(200);
  return { ...out, raw: token.body.access_token as string };
}

const keyCount = (userId: string) => server.services.db.apiKey.count({ where: { userId, source: "oauth" } });
const userId = async (email: string) => (await server.services.db.user.findUniqueOrThrow({ where: { email } })).id;
/** The provider's session cookie as this browser holds it (supertest's cookie jar, read like a browser sending to `/auth`). */
const providerCookie = (agent: Agent) =>
  (agent as unknown as { jar: { getCookie(name: string, info: object): { value: string } | undefined } }).jar.getCookie("_session", {
    domain: "127.0.0.1",
    path: "/auth",
    secure: false,
    script: false,
  })?.value;

/** A user who connected a client in `agent` (provider session + grant in place, one key issued). */
async function connected() {
  const user = await signUp(server);
  const clientId = (await register(server)).body.client_id as string;
  const first = await keyFrom(user.agent, clientId);
  expect(first.consentFor).toBe(user.email);
  expect(first.raw).toBeTruthy();
  // Allowed once: the provider now answers this browser silently (no consent page), as designed.
  const again = await keyFrom(user.agent, clientId);
  expect(again.consentFor).toBeNull();
  expect(again.raw).toBeTruthy();
  expect(providerCookie(user.agent)).toBeTruthy();
  return { ...user, clientId, id: await userId(user.email) };
}

/** The browser ended on the log-in page, with no code and no new key. */
async function expectNoCodeNoKey(agent: Agent, clientId: string, ownerId: string) {
  const before = await keyCount(ownerId);
  const out = await authorizeIn(agent, clientId);
  expect(out.code).toBeNull();
  expect(out.end.status).toBe(200);
  expect(out.end.text).toContain('action="/login"');
  expect(await keyCount(ownerId)).toBe(before);
}

describe("the provider session ends with Keyward's", () => {
  it("after /logout the provider cookie yields no code and no key", async () => {
    const user = await connected();
    const cookie = providerCookie(user.agent);
    await user.agent.post("/logout").type("form").send({ _csrf: user.csrf }).expect(303);
    expect(providerCookie(user.agent)).toBe(cookie); // the browser still holds it
    await expectNoCodeNoKey(user.agent, user.clientId, user.id);
  });

  it("after sign out everywhere in another browser, this browser's provider cookie yields no code at any spelling of /auth (/AUTH/, /Auth)", async () => {
    const user = await connected();
    const { agent: other } = await passwordStep(server, user.email, user.password);
    const page = await other.get(SECURITY).expect(200);
    await other
      .post(`${SECURITY}/sessions/sign-out-everywhere`)
      .type("form")
      .send({ _csrf: csrfFrom(page.text) })
      .expect(303);
    for (const spelling of ["/AUTH/", "/Auth"]) {
      const before = await keyCount(user.id);
      const pkce = pkcePair();
      const url = authorizeUrl({
        clientId: user.clientId,
        challenge: pkce.challenge,
        method: "S256",
        scope: SCOPE,
        resource: resource(),
      }).replace(/^\/auth/, spelling);
      const out = await follow(user.agent, server, url);
      expect(out.location, spelling).toBeUndefined(); // no redirect back to the client with a code
      expect(out.text, spelling).toContain('action="/login"');
      expect(await keyCount(user.id)).toBe(before);
    }
  });

  it("after a password change in another browser, this browser's provider cookie yields no code and no key", async () => {
    const user = await connected();
    const { agent: other, res } = await passwordStep(server, user.email, user.password);
    expect(res.status).toBe(303);
    const page = await other.get(SECURITY).expect(200);
    await other
      .post(`${SECURITY}/password`)
      .type("form")
      .send({
        _csrf: csrfFrom(page.text),
        current_password: user.password,
        new_password: "a brand new pw",
        confirm_password: "a brand new pw",
      })
      .expect(303);
    await expectNoCodeNoKey(user.agent, user.clientId, user.id);
  });

  it("after sign out everywhere, every browser's provider cookie yields no code and no key", async () => {
    const user = await connected();
    // A second browser that connected the same client.
    const { agent: other } = await passwordStep(server, user.email, user.password);
    expect((await keyFrom(other, user.clientId)).raw).toBeTruthy();
    const page = await other.get(SECURITY).expect(200);
    await other
      .post(`${SECURITY}/sessions/sign-out-everywhere`)
      .type("form")
      .send({ _csrf: csrfFrom(page.text) })
      .expect(303);
    await expectNoCodeNoKey(user.agent, user.clientId, user.id);
    await expectNoCodeNoKey(other, user.clientId, user.id);
  });

  it("logging in again after /logout asks for consent again (the old grant is not re-used silently) and works", async () => {
    const user = await connected();
    await user.agent.post("/logout").type("form").send({ _csrf: user.csrf }).expect(303);
    await passwordStep(server, user.email, user.password, undefined, user.agent);
    const out = await keyFrom(user.agent, user.clientId);
    expect(out.consentFor).toBe(user.email);
    expect(out.raw).toBeTruthy();
    expect((await whoami(out.raw!)).body.result.structuredContent.email).toBe(user.email);
  });

  it("a copy of the database does not contain the provider session cookie value", async () => {
    const user = await connected();
    // Start one more authorization so that an Interaction row (which copies the session) exists too.
    const pkce = pkcePair();
    await user.agent
      .get(
        authorizeUrl({
          clientId: user.clientId,
          challenge: pkce.challenge,
          method: "S256",
          scope: "openid mcp:read mcp:write",
          resource: resource(),
        }),
      )
      .redirects(0);
    const cookie = providerCookie(user.agent)!;
    expect(cookie.length).toBeGreaterThan(10);
    const rows = await server.services.db.oidcPayload.findMany();
    expect(rows.some((r) => r.model === "Session")).toBe(true);
    expect(rows.some((r) => r.model === "Interaction")).toBe(true);
    for (const row of rows) expect(JSON.stringify(row)).not.toContain(cookie);
  });
});

describe("a shared browser", () => {
  /** A logs out; B signs up and logs in on A's browser (sign-up alone does not log in). B's email. */
  async function logOutAndLogInAnother(a: { agent: Agent; csrf: string }): Promise<string> {
    await a.agent.post("/logout").type("form").send({ _csrf: a.csrf }).expect(303);
    const bEmail = uniqueEmail("b");
    const signup = await a.agent.get("/signup").expect(200);
    await a.agent
      .post("/signup")
      .type("form")
      .send({ _csrf: csrfFrom(signup.text), email: bEmail, password: "correct horse battery" })
      .expect(303);
    await passwordStep(server, bEmail, "correct horse battery", undefined, a.agent);
    return bEmail;
  }

  it("A logs out, B logs in: B gets the consent page and a key of B's own, no redirect loop", async () => {
    const a = await connected();
    const bEmail = await logOutAndLogInAnother(a);
    const bId = await userId(bEmail);
    const aKeys = await keyCount(a.id);

    const out = await keyFrom(a.agent, a.clientId); // follow() throws on a redirect loop
    expect(out.consentFor).toBe(bEmail);
    expect(out.raw).toBeTruthy();
    const who = await whoami(out.raw!);
    expect(who.status, who.text).toBe(200);
    expect(who.body.result.structuredContent.userId).toBe(bId);
    expect(await keyCount(bId)).toBe(1);
    expect(await keyCount(a.id)).toBe(aKeys);
  });

  it("a user who logs out and another logs in mid-authorization: the authorization starts over for the new user", async () => {
    const a = await connected();
    const pkce = pkcePair();
    // A opens an authorization that stops at consent (a widening: openid is new) …
    const page = await follow(
      a.agent,
      server,
      authorizeUrl({ clientId: a.clientId, challenge: pkce.challenge, method: "S256", scope: `openid ${SCOPE}`, resource: resource() }),
    );
    expect(page.status).toBe(200);
    const uid = /action="\/interaction\/([^/"]+)\/confirm"/.exec(page.text)![1]!;
    // … then logs out, and B logs in on the same browser and opens the same page.
    const bEmail = await logOutAndLogInAnother(a);
    const again = await follow(a.agent, server, `/interaction/${uid}`);
    expect(again.status).toBe(200);
    expect(again.text).toContain(`wants a key to act as <strong>${bEmail}</strong>`);
  });
});
