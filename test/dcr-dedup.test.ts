// Issue 26 item 2: a host that registers a new client on every connect leaves one client, and the
// Connected apps page one row, while every registration still gets valid credentials (RFC 7591) and
// every key it was given keeps working. The rule is docs/hosts.md#registrations.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import request from "supertest";
import { startTestServer, signUp, csrfFrom, type TestServer } from "./support/server.js";
import { authorizeWithPkce, exchange, register } from "./support/oauth/flow.js";
import { clientFingerprint } from "../src/oauth/dedup/fingerprint.js";
import { mcpWhoami } from "./support/mcp-status.js";

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ REGISTRATION_RATE_LIMIT: "1000" });
});
afterAll(async () => server?.close());

type Agent = Awaited<ReturnType<typeof signUp>>["agent"];

/** One connect of a re-registering host: register (this time's loopback port), authorize, exchange. */
async function connect(agent: Agent, metadata: Record<string, unknown>, port: number, path = "/callback") {
  const redirectUri = `http://127.0.0.1:${port}${path}`;
  const reg = await register(server, { redirect_uris: [redirectUri], ...metadata });
  expect(reg.status, reg.text).toBe(201);
  const clientId = reg.body.client_id as string;
  const { back, code, verifier } = await authorizeWithPkce(agent, server, {
    clientId,
    redirectUri,
    scope: "mcp:read",
    resource: `${server.url}/mcp`,
  });
  expect(code, back.toString()).toBeTruthy();
  const token = await exchange(server, { clientId, code, verifier, redirectUri, resource: `${server.url}/mcp` });
  expect(token.status, token.text).toBe(200);
  return { clientId, key: token.body.access_token as string, registration: reg.body as Record<string, unknown> };
}

const dcrClients = async (name: string) =>
  (await server.services.db.oidcPayload.findMany({ where: { model: "Client", id: { startsWith: "dcr_" } } })).filter(
    (c) => (JSON.parse(c.payload) as { client_name?: string }).client_name === name,
  );

const appRows = async (agent: Agent) => {
  const page = await agent.get("/app/account/connected-apps").expect(200);
  return [...page.text.matchAll(/<span class="badge source-oauth">OAuth: ([^<]+)<\/span>/g)].map((m) => m[1]);
};

describe("registration de-duplication", () => {
  it("a host that registers ten times (a new loopback port each time) leaves one client, one row, ten working keys", async () => {
    const { agent } = await signUp(server);
    const metadata = { client_name: "Rereg Host", software_id: "rereg", software_version: "1.0" };
    const connects = [];
    for (let i = 0; i < 10; i++) connects.push(await connect(agent, metadata, 40100 + i));

    // RFC 7591: every registration got its own, valid client id.
    expect(new Set(connects.map((c) => c.clientId)).size).toBe(10);
    const last = connects.at(-1)!.clientId;
    expect((await dcrClients("Rereg Host")).map((c) => c.id)).toEqual([last]);
    expect(await appRows(agent)).toEqual([last]);
    const page = await agent.get("/app/account/connected-apps").expect(200);
    expect(page.text).toContain("10 of 10");
    for (const c of connects) {
      const res = await mcpWhoami(server, c.key);
      expect(res.status, res.text).toBe(200);
    }
    // The earlier ids are gone: an authorization with one is the unknown-client page, not a redirect.
    const old = await agent
      .get(`/auth?response_type=code&client_id=${connects[0]!.clientId}&redirect_uri=http://127.0.0.1:40100/callback`)
      .redirects(0);
    expect(old.status).toBe(400);
    // The activity page says what happened, in words.
    const activity = await agent.get("/app/account/audit").expect(200);
    expect(activity.text).toContain("App registered again");
  });

  it("disconnecting the one row revokes the keys of every registration it superseded", async () => {
    const { agent } = await signUp(server);
    const metadata = { client_name: "Disconnect Host" };
    const a = await connect(agent, metadata, 40201);
    const b = await connect(agent, metadata, 40202);
    const confirm = await agent.get(`/app/account/connected-apps/${b.clientId}/disconnect`).expect(200);
    await agent
      .post(`/app/account/connected-apps/${b.clientId}/disconnect`)
      .type("form")
      .send({ _csrf: csrfFrom(confirm.text), confirm: "yes" })
      .expect(303);
    expect((await mcpWhoami(server, a.key)).status).toBe(401);
    expect((await mcpWhoami(server, b.key)).status).toBe(401);
  });

  it("limits set on the earlier registration carry over, to the new key too", async () => {
    const { agent } = await signUp(server);
    const metadata = { client_name: "Limited Host" };
    const a = await connect(agent, metadata, 40301);
    const form = await agent.get(`/app/account/connected-apps/${a.clientId}/limits`).expect(200);
    await agent
      .post(`/app/account/connected-apps/${a.clientId}/limits`)
      .type("form")
      .send({ _csrf: csrfFrom(form.text), allowedIps: "203.0.113.0/24", rateLimit: "" })
      .expect(303);
    const b = await connect(agent, metadata, 40302);
    // Both keys are refused from 127.0.0.1: the allowlist holds for the key minted after the merge.
    expect((await mcpWhoami(server, a.key)).status).toBe(401);
    expect((await mcpWhoami(server, b.key)).status).toBe(401);
    const limits = await server.services.db.clientKeyLimit.findMany({ where: { clientId: { in: [a.clientId, b.clientId] } } });
    expect(limits.map((l) => l.clientId)).toEqual([b.clientId]);
  });

  it("a different version, name, redirect URI or auth method is another app: nothing merges", async () => {
    const { agent } = await signUp(server);
    const base = { client_name: "Versioned Host", software_id: "v", software_version: "1" };
    const one = await connect(agent, base, 40401);
    const two = await connect(agent, { ...base, software_version: "2" }, 40402);
    const three = await connect(agent, base, 40403, "/other");
    const four = await connect(agent, { ...base, client_name: "Versioned Host (beta)" }, 40404);
    const five = await connect(agent, { ...base, token_endpoint_auth_method: "client_secret_post" }, 40405).catch(() => null);
    expect(five).toBeNull(); // a confidential client's code exchange needs its secret: registered apart all the same
    expect((await appRows(agent)).sort()).toEqual([one.clientId, two.clientId, three.clientId, four.clientId].sort());
  });

  it("a stranger registering the same name and redirect URIs takes nothing over", async () => {
    const alice = await signUp(server);
    const mallory = await signUp(server);
    const metadata = { client_name: "Shared Name Host" };
    const a = await connect(alice.agent, metadata, 40501);
    const m = await connect(mallory.agent, metadata, 40502);
    // Alice's key stays with her registration, which stays; Mallory's client holds only Mallory's key.
    expect(await appRows(alice.agent)).toEqual([a.clientId]);
    expect(await appRows(mallory.agent)).toEqual([m.clientId]);
    expect((await dcrClients("Shared Name Host")).map((c) => c.id).sort()).toEqual([a.clientId, m.clientId].sort());
    const keys = await server.services.db.apiKey.findMany({ where: { clientId: m.clientId } });
    expect(keys.map((k) => k.userId)).toEqual([(await server.services.db.user.findFirstOrThrow({ where: { email: mallory.email } })).id]);
    // Mallory's client cannot introspect Alice's key.
    const intro = await request(server.url).post("/token/introspection").type("form").send({ token: a.key, client_id: m.clientId });
    expect(intro.body.active).not.toBe(true);
    expect((await mcpWhoami(server, a.key)).status).toBe(200);
    // Alice connecting again supersedes her own earlier registration only; Mallory's survives.
    const a2 = await connect(alice.agent, metadata, 40503);
    expect(await appRows(alice.agent)).toEqual([a2.clientId]);
    expect((await dcrClients("Shared Name Host")).map((c) => c.id).sort()).toEqual([a2.clientId, m.clientId].sort());
  });

  it("a registration another user's keys still use is kept when one user's keys move away", async () => {
    const alice = await signUp(server);
    const bob = await signUp(server);
    const metadata = { client_name: "Shared Client Host" };
    const shared = await connect(alice.agent, metadata, 40601);
    // Bob authorizes the very same client (one installation, two accounts).
    const redirectUri = "http://127.0.0.1:40601/callback";
    const { code, verifier } = await authorizeWithPkce(bob.agent, server, {
      clientId: shared.clientId,
      redirectUri,
      scope: "mcp:read",
      resource: `${server.url}/mcp`,
    });
    const bobKey = await exchange(server, {
      clientId: shared.clientId,
      code,
      verifier,
      redirectUri,
      resource: `${server.url}/mcp`,
    });
    expect(bobKey.status).toBe(200);
    const next = await connect(alice.agent, metadata, 40602);
    expect(await appRows(alice.agent)).toEqual([next.clientId]);
    expect(await appRows(bob.agent)).toEqual([shared.clientId]);
    expect((await dcrClients("Shared Client Host")).map((c) => c.id).sort()).toEqual([shared.clientId, next.clientId].sort());
    expect((await mcpWhoami(server, bobKey.body.access_token as string)).status).toBe(200);
  });
});

// The race the rule must survive: one user's connect supersedes client X (their keys move away, X has
// none left and is deleted) while other users' token requests are minting keys for X. Whatever the
// interleaving, no key may end up on a deleted client: each of those requests either got a working key
// (and X stays) or was refused as an unknown client is (and left no key).
describe("superseding while others are minting keys for the old client", () => {
  it("never leaves a key on a deleted client", async () => {
    const owner = await signUp(server);
    const others = await Promise.all([signUp(server), signUp(server), signUp(server)]);
    const resource = `${server.url}/mcp`;
    const codeFor = async (agent: Agent, clientId: string, redirectUri: string) => {
      const { code, verifier } = await authorizeWithPkce(agent, server, { clientId, redirectUri, scope: "mcp:read", resource });
      return { clientId, redirectUri, verifier, code, resource };
    };
    for (let round = 0; round < 4; round++) {
      const metadata = { client_name: `Racing Host ${round}` };
      const old = await connect(owner.agent, metadata, 40700 + 2 * round);
      const oldRedirect = `http://127.0.0.1:${40700 + 2 * round}/callback`;
      const pending = await Promise.all(others.map((o) => codeFor(o.agent, old.clientId, oldRedirect)));
      const newRedirect = `http://127.0.0.1:${40701 + 2 * round}/callback`;
      const reg = await register(server, { redirect_uris: [newRedirect], ...metadata });
      const mine = await codeFor(owner.agent, reg.body.client_id as string, newRedirect);

      const [superseding, ...racing] = await Promise.all([exchange(server, mine), ...pending.map((p) => exchange(server, p))]);
      expect(superseding.status, superseding.text).toBe(200);
      const stored = await server.services.db.oidcPayload.count({ where: { model: "Client", id: old.clientId } });
      const keysOnOld = await server.services.db.apiKey.count({ where: { clientId: old.clientId } });
      expect(keysOnOld === 0 || stored === 1, `round ${round}: ${keysOnOld} keys on a client stored ${stored} times`).toBe(true);
      for (const res of racing) {
        if (res.status === 200) {
          expect(stored).toBe(1);
          expect((await mcpWhoami(server, res.body.access_token as string)).status).toBe(200);
        } else {
          expect(res.status, res.text).toBe(401);
          expect(res.body.error).toBe("invalid_client");
        }
      }
      expect(keysOnOld).toBe(racing.filter((r) => r.status === 200).length);
    }
  }, 300_000);
});

describe("the fingerprint", () => {
  const base = {
    client_name: "X",
    redirect_uris: ["http://127.0.0.1:1234/cb", "https://x.example/cb"],
    grant_types: ["authorization_code"],
    response_types: ["code"],
    token_endpoint_auth_method: "none",
  };
  it("ignores loopback ports and list order", () => {
    expect(clientFingerprint({ ...base, redirect_uris: ["https://x.example/cb", "http://127.0.0.1:9999/cb"] })).toBe(
      clientFingerprint(base),
    );
  });
  it("tells apart what the issue names", () => {
    const fp = clientFingerprint(base);
    for (const change of [
      { client_name: "Y" },
      { redirect_uris: ["http://127.0.0.1:1234/other"] },
      { redirect_uris: ["http://localhost:1234/cb", "https://x.example/cb"] },
      { redirect_uris: ["https://x.example:8443/cb", "http://127.0.0.1:1234/cb"] },
      { software_id: "s" },
      { software_version: "2" },
      { grant_types: ["authorization_code", "client_credentials"] },
      { token_endpoint_auth_method: "client_secret_basic" },
    ])
      expect(clientFingerprint({ ...base, ...change }), JSON.stringify(change)).not.toBe(fp);
  });
});
