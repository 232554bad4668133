// Client ID Metadata Documents, restarts mid-flow, the consent page, connected apps.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import request from "supertest";
import { csrfFrom, restartTestServer, startTestServer, signUp, type TestServer } from "./support/server.js";
import { authorize, authorizeUrl, authorizeWithPkce, exchange, follow, pkcePair, register } from "./support/oauth/flow.js";
import { mcpWhoami } from "./support/mcp-status.js";
import { serveClientDocuments, type ClientDocuments } from "./support/client-documents.js";

describe("Client ID Metadata Documents", () => {
  let server: TestServer;
  let docs: ClientDocuments;
  let docBase: string;
  const documents = new Map<string, (id: string) => unknown>();

  beforeAll(async () => {
    server = await startTestServer({ CIMD_ALLOW_LOOPBACK: "true" });
    docs = await serveClientDocuments(documents, { "Cache-Control": "max-age=300" });
    docBase = docs.base;
    documents.set("/good.json", (id) => ({
      client_id: id,
      client_name: "Metadata Client",
      redirect_uris: ["http://127.0.0.1:33418/callback"],
      token_endpoint_auth_method: "none",
      grant_types: ["authorization_code"],
      response_types: ["code"],
    }));
    documents.set("/mismatch.json", () => ({
      client_id: "https://someone-else.example/client.json",
      client_name: "Impostor",
      redirect_uris: ["http://127.0.0.1:33418/callback"],
      token_endpoint_auth_method: "none",
    }));
  });
  afterAll(async () => {
    await server?.close();
    docs?.server.close();
  });

  it("is advertised in the authorization server metadata", async () => {
    const meta = await request(server.url).get("/.well-known/oauth-authorization-server");
    expect(meta.body.client_id_metadata_document_supported).toBe(true);
  });

  it("completes the flow for a client whose id is its metadata URL", async () => {
    const clientId = `${docBase}/good.json`;
    const { agent } = await signUp(server);
    const pkce = pkcePair();
    const consent = await follow(agent, server, authorizeUrl({ clientId, challenge: pkce.challenge, method: "S256", scope: "mcp:read" }));
    expect(consent.status).toBe(200);
    expect(consent.text).toContain("Metadata Client");
    expect(consent.text).toContain(`Published by</dt><dd><code>127.0.0.1:${new URL(docBase).port}</code>`);
    expect(consent.text).toContain("Will return to</dt><dd><code>127.0.0.1:33418</code>");
    const back = await authorize(agent, server, { clientId, challenge: pkce.challenge, method: "S256", scope: "mcp:read" });
    const token = await exchange(server, { clientId, code: back.searchParams.get("code")!, verifier: pkce.verifier });
    expect(token.status, token.text).toBe(200);
    const who = await mcpWhoami(server, token.body.access_token);
    expect(who.status).toBe(200);
    expect(who.text).toContain(`OAuth: ${clientId}`);
    const row = await server.services.db.apiKey.findFirst({ where: { clientId } });
    expect(row?.label).toBe("OAuth: Metadata Client");
  });

  it("caches the document per its Cache-Control header", async () => {
    const before = docs.fetches;
    const { agent } = await signUp(server);
    const pkce = pkcePair();
    await follow(agent, server, authorizeUrl({ clientId: `${docBase}/good.json`, challenge: pkce.challenge, method: "S256" }));
    expect(docs.fetches).toBe(before);
  });

  it("refuses a document whose client_id differs from its URL", async () => {
    const { agent } = await signUp(server);
    const res = await agent
      .get(authorizeUrl({ clientId: `${docBase}/mismatch.json`, challenge: pkcePair().challenge, method: "S256" }))
      .redirects(0);
    expect(res.status).toBe(400);
    expect(res.headers.location).toBeUndefined();
    expect(res.text).toContain("invalid_client");
  });

  it("refuses a redirect URI the document does not list", async () => {
    const { agent } = await signUp(server);
    const res = await agent
      .get(
        authorizeUrl({
          clientId: `${docBase}/good.json`,
          redirectUri: "https://attacker.example/cb",
          challenge: pkcePair().challenge,
          method: "S256",
        }),
      )
      .redirects(0);
    expect(res.status).toBe(400);
    expect(res.headers.location).toBeUndefined();
    expect(res.text).toContain("invalid_redirect_uri");
  });

  it("does not fetch loopback documents outside test mode", async () => {
    const strict = await startTestServer();
    try {
      const { agent } = await signUp(strict);
      const res = await agent
        .get(authorizeUrl({ clientId: `${docBase}/good.json`, challenge: pkcePair().challenge, method: "S256" }))
        .redirects(0);
      expect(res.status).toBe(400);
      expect(res.text).toContain("invalid_client");
      expect(res.text).toContain("client_id metadata document fetch not allowed");
    } finally {
      await strict.close();
    }
  });
});

describe("restarts and the consent page", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(async () => server?.close());

  it("loses nothing when the server restarts between authorize, consent and token", async () => {
    const clientId = (await register(server)).body.client_id as string;
    const signingKeyBefore = (await request(server.url).get("/jwks")).body.keys[0].kid;
    const { agent } = await signUp(server);
    const pkce = pkcePair();
    const consent = await follow(agent, server, authorizeUrl({ clientId, challenge: pkce.challenge, method: "S256", scope: "mcp:read" }));
    const uid = /action="\/interaction\/([^/"]+)\/confirm"/.exec(consent.text)![1]!;

    server = await restartTestServer(server); // between the consent page and the click
    const allowed = await agent
      .post(`/interaction/${uid}/confirm`)
      .type("form")
      .send({ _csrf: csrfFrom(consent.text) })
      .redirects(0);
    expect(allowed.status).toBe(303);
    const back = new URL((await follow(agent, server, allowed.headers.location!)).location!);
    const code = back.searchParams.get("code")!;
    expect(code).toBeTruthy();

    server = await restartTestServer(server); // between the code and the token request
    const token = await exchange(server, { clientId, code, verifier: pkce.verifier });
    expect(token.status, token.text).toBe(200);
    expect((await mcpWhoami(server, token.body.access_token)).status).toBe(200);
    expect((await request(server.url).get("/jwks")).body.keys[0].kid).toBe(signingKeyBefore);
  });

  it("escapes every client-provided value on the consent page", async () => {
    const clientId = (
      await register(server, { client_name: '<script>alert("x")</script>', client_uri: "https://app.example/<img src=x onerror=alert(1)>" })
    ).body.client_id as string;
    const { agent } = await signUp(server);
    const page = await follow(
      agent,
      server,
      authorizeUrl({ clientId, challenge: pkcePair().challenge, method: "S256", scope: "mcp:read" }),
    );
    expect(page.status).toBe(200);
    expect(page.text).not.toContain("<script>alert");
    expect(page.text).toContain("&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;");
    expect(page.text).toContain(clientId);
    expect(page.text).toMatch(/<button type="submit">Allow<\/button>/);
    expect(page.text).toMatch(/<button type="submit" class="secondary"[^>]*>Deny<\/button>/);
  });

  it("disconnecting a connected app revokes every key it received", async () => {
    const clientId = (await register(server, { client_name: "Disconnect me" })).body.client_id as string;
    const { agent, csrf } = await signUp(server);
    const tokens: string[] = [];
    for (let i = 0; i < 2; i++) {
      const { code, verifier } = await authorizeWithPkce(agent, server, { clientId, scope: "mcp:read" });
      tokens.push((await exchange(server, { clientId, code, verifier })).body.access_token);
    }
    const apps = await agent.get("/app/account/connected-apps").expect(200);
    expect(apps.text).toContain("Disconnect me");
    expect(apps.text).toContain(`OAuth: ${clientId}`);
    expect(apps.text).toContain("2 of 2");
    const keysPage = await agent.get("/app/account/api-keys").expect(200);
    expect(keysPage.text.match(new RegExp(`OAuth: ${clientId}`, "g"))?.length).toBe(2);

    const other = await signUp(server);
    const foreign = await other.agent
      .post(`/app/account/connected-apps/${clientId}/disconnect`)
      .type("form")
      .send({ _csrf: other.csrf, confirm: "yes" });
    expect(foreign.status).toBe(404);
    for (const t of tokens) expect((await mcpWhoami(server, t)).status).toBe(200);

    const res = await agent
      .post(`/app/account/connected-apps/${clientId}/disconnect`)
      .type("form")
      .send({ _csrf: csrf, confirm: "yes" })
      .redirects(0);
    expect(res.status).toBe(303);
    for (const t of tokens) expect((await mcpWhoami(server, t)).status).toBe(401);
    expect((await agent.get("/app/account/connected-apps")).text).toContain("0 of 2");
    // The consent is forgotten: the next authorization asks again.
    const again = await follow(
      agent,
      server,
      authorizeUrl({ clientId, challenge: pkcePair().challenge, method: "S256", scope: "mcp:read" }),
    );
    expect(again.text).toContain("Allow");
  });
});
