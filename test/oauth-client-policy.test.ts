// Issue 22 #9: one client policy for every client however it arrived — dynamic registration,
// RFC 7592 update, a Client ID Metadata Document, a record already in the database: redirect URIs
// (https, loopback http, private-use schemes; no userinfo, no fragments), no control, invisible or
// bidirectional characters, no ill-formed Unicode. And metadata documents on internal hosts are
// never fetched, however the host is spelled.
import net from "node:net";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import request from "supertest";
import { signUp, startTestServer, type TestServer } from "./support/server.js";
import { authorizeUrl, authorizeWithPkce, exchange, follow, pkcePair, register } from "./support/oauth/flow.js";
import { serveClientDocuments, type ClientDocuments } from "./support/client-documents.js";

const LOOPBACK_CB = "http://127.0.0.1:33418/callback";
const clientRows = (server: TestServer) => server.services.db.oidcPayload.count({ where: { model: "Client" } });

describe("Client ID Metadata Documents meet the registration policy", () => {
  let server: TestServer;
  let docs: ClientDocuments;
  let docBase: string;
  const documents = new Map<string, (id: string) => Record<string, unknown>>();

  beforeAll(async () => {
    server = await startTestServer({ CIMD_ALLOW_LOOPBACK: "true" });
    docs = await serveClientDocuments(documents, { "Cache-Control": "max-age=300" });
    docBase = docs.base;
    const doc = (extra: Record<string, unknown>) => (id: string) => ({
      client_id: id,
      client_name: "Document Client",
      redirect_uris: [LOOPBACK_CB],
      token_endpoint_auth_method: "none",
      ...extra,
    });
    documents.set("/good.json", doc({}));
    documents.set("/http-foreign.json", doc({ redirect_uris: ["http://evil.example/cb"] }));
    documents.set("/userinfo.json", doc({ redirect_uris: ["https://good.example@evil.example/cb"] }));
    documents.set("/javascript.json", doc({ redirect_uris: ["javascript:alert(1)"] }));
    documents.set("/bidi-name.json", doc({ client_name: "Claude \u202Eedualc" }));
    documents.set("/zero-width-name.json", doc({ client_name: "Cla\u200Bude" }));
    documents.set("/form-post.json", doc({ response_modes: ["form_post"] }));
  });
  afterAll(async () => {
    await server?.close();
    docs?.server.close();
  });

  it("accepts a document within the policy (control)", async () => {
    const { agent } = await signUp(server);
    const page = await follow(
      agent,
      server,
      authorizeUrl({ clientId: `${docBase}/good.json`, challenge: pkcePair().challenge, method: "S256", scope: "mcp:read" }),
    );
    expect(page.status).toBe(200);
    expect(page.text).toContain("Document Client");
  });

  it.each([
    ["/http-foreign.json", "http://evil.example/cb"],
    ["/userinfo.json", "https://good.example@evil.example/cb"],
    ["/javascript.json", "javascript:alert(1)"],
  ])("refuses %s: no consent page, no redirect to %s", async (path, redirectUri) => {
    const { agent } = await signUp(server);
    const res = await agent
      .get(authorizeUrl({ clientId: `${docBase}${path}`, redirectUri, challenge: pkcePair().challenge, method: "S256", scope: "mcp:read" }))
      .redirects(0);
    expect(res.status).toBe(400);
    expect(res.headers.location).toBeUndefined();
    expect(res.text).not.toContain("Allow");
    expect(res.text).toMatch(/invalid_client|invalid_redirect_uri/);
  });

  it.each(["/bidi-name.json", "/zero-width-name.json", "/form-post.json"])("refuses %s before any consent", async (path) => {
    const { agent } = await signUp(server);
    const res = await agent
      .get(authorizeUrl({ clientId: `${docBase}${path}`, challenge: pkcePair().challenge, method: "S256", scope: "mcp:read" }))
      .redirects(0);
    expect(res.status).toBe(400);
    expect(res.headers.location).toBeUndefined();
    expect(res.text).not.toContain("Allow");
    expect(res.text).not.toContain("\u202E");
  });
});

describe("dynamic registration and RFC 7592 refuse invisible and ill-formed text", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(async () => server?.close());

  it.each([
    ["right-to-left override", "Invoice \u202Efdp.exe"],
    ["left-to-right isolate", "Good\u2066 name"],
    ["zero-width space", "Cla\u200Bude"],
    ["line separator", "Claude\u2028Desktop"],
    ["lone high surrogate", "Claude \ud800"],
    ["lone low surrogate", "\udc00Claude"],
  ])("client_name with a %s: 400 invalid_client_metadata, nothing stored", async (_what, name) => {
    const before = await clientRows(server);
    const res = await register(server, { client_name: name });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe("invalid_client_metadata");
    expect(await clientRows(server)).toBe(before);
  });

  it("refuses ill-formed Unicode anywhere in the body, even in members it would not keep", async () => {
    const res = await register(server, { client_name: "fine", software_statement_note: { deep: ["\ud83d"] } });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe("invalid_client_metadata");
  });

  it("RFC 7592 PUT cannot bring a bidi override in", async () => {
    const reg = await register(server, { client_name: "Plain" });
    const clientId = reg.body.client_id as string;
    const res = await request(server.url)
      .put(`/reg/${clientId}`)
      .set("Authorization", `Bearer ${reg.body.registration_access_token}`)
      .send({ client_id: clientId, client_name: "Plain \u202Eevil", redirect_uris: [LOOPBACK_CB], token_endpoint_auth_method: "none" });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe("invalid_client_metadata");
    const read = await request(server.url).get(`/reg/${clientId}`).set("Authorization", `Bearer ${reg.body.registration_access_token}`);
    expect(read.body.client_name).toBe("Plain");
  });

  it("a client stored before the policy (foreign http redirect, bidi name) cannot authorize", async () => {
    const id = "dcr_legacyClient00000000001";
    await server.services.db.oidcPayload.create({
      data: {
        model: "Client",
        id,
        payload: JSON.stringify({
          client_id: id,
          client_name: "Old \u202Eclient",
          redirect_uris: ["http://evil.example/cb"],
          token_endpoint_auth_method: "none",
          grant_types: ["authorization_code"],
          response_types: ["code"],
        }),
      },
    });
    const { agent } = await signUp(server);
    const res = await agent
      .get(authorizeUrl({ clientId: id, redirectUri: "http://evil.example/cb", challenge: pkcePair().challenge, method: "S256" }))
      .redirects(0);
    expect(res.status).toBe(400);
    expect(res.headers.location).toBeUndefined();
    expect(res.text).not.toContain("Allow");
  });

  it("a private-use redirect still registers a native client, and the flow completes (control)", async () => {
    const reg = await register(server, { client_name: "Cursor", redirect_uris: ["cursor://anysphere.cursor-retrieval/oauth/callback"] });
    expect(reg.status, reg.text).toBe(201);
    expect(reg.body.application_type).toBe("native");
    const loop = await register(server, { client_name: "Loopback \u00e9\u00e8 \u{1F600}" });
    expect(loop.status, loop.text).toBe(201);
    const { agent } = await signUp(server);
    const { code, verifier } = await authorizeWithPkce(agent, server, { clientId: loop.body.client_id });
    const token = await exchange(server, { clientId: loop.body.client_id, code, verifier });
    expect(token.status, token.text).toBe(200);
  });
});

describe("metadata documents on internal hosts are never fetched", () => {
  let server: TestServer;
  let listener: net.Server;
  let port: number;
  let connections = 0;
  beforeAll(async () => {
    server = await startTestServer(); // CIMD on, loopback not allowed (production behaviour)
    listener = net.createServer((socket) => {
      connections++;
      socket.destroy();
    });
    await new Promise<void>((r) => listener.listen(0, "::", r));
    port = (listener.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await server?.close();
    listener?.close();
  });

  it.each([
    "localhost.",
    "LOCALHOST.",
    "[::127.0.0.1]",
    "[::ffff:7f00:1]",
    "0x7f.1",
    "2130706433",
    "127.1",
    "metadata.google.internal.",
    "app.localhost.",
  ])("https://%s/… is refused before any connection", async (host) => {
    const { agent } = await signUp(server);
    const clientId = `https://${host}:${port}/client.json`;
    const res = await agent.get(authorizeUrl({ clientId, challenge: pkcePair().challenge, method: "S256" })).redirects(0);
    expect(res.status).toBe(400);
    expect(res.text).toContain("invalid_client");
    expect(res.text).toContain("client_id metadata document fetch not allowed");
    expect(connections).toBe(0);
  });
});
