// Issue 26 item 3: the metadata details and request shapes MCP hosts depend on, each as a test
// (docs/hosts.md lists which host needs which).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import request from "supertest";
import { signUp, startTestServer, type TestServer } from "./support/server.js";
import { authorizeUrl, authorizeWithPkce, decideOnConsent, exchange, follow, pkcePair, register } from "./support/oauth/flow.js";
import { createResourceServers } from "../src/oauth/resource-servers.js";
import { KEY_LIFETIME_SECONDS } from "../src/oauth/access-token-adapter.js";
import { serveClientDocuments, type ClientDocuments } from "./support/client-documents.js";

let server: TestServer;
let docs: ClientDocuments;
let docBase: string;
const documents = new Map<string, (id: string) => unknown>();

beforeAll(async () => {
  server = await startTestServer({ CIMD_ALLOW_LOOPBACK: "true", REGISTRATION_RATE_LIMIT: "1000" });
  docs = await serveClientDocuments(documents);
  docBase = docs.base;
});
afterAll(async () => {
  await server?.close();
  docs?.server.close();
});

describe("discovery", () => {
  it.each(["/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"])(
    "%s advertises none among the token endpoint auth methods, CIMD and S256",
    async (path) => {
      const meta = await request(server.url).get(path).expect(200);
      // A major host uses CIMD only when both are there.
      expect(meta.body.token_endpoint_auth_methods_supported).toContain("none");
      expect(meta.body.client_id_metadata_document_supported).toBe(true);
      expect(meta.body.code_challenge_methods_supported).toEqual(["S256"]);
      expect(meta.body.registration_endpoint).toBe(`${server.url}/reg`);
    },
  );
});

describe("Client ID Metadata Documents that list several auth methods", () => {
  it("a document naming private_key_jwt but also supporting none is taken as the public client it also is", async () => {
    documents.set("/multi.json", (id) => ({
      client_id: id,
      client_name: "Multi-method CIMD client",
      redirect_uris: ["http://127.0.0.1:33418/callback"],
      token_endpoint_auth_method: "private_key_jwt",
      token_endpoint_auth_methods_supported: ["private_key_jwt", "none"],
      jwks_uri: `${docBase}/jwks.json`,
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
    }));
    const clientId = `${docBase}/multi.json`;
    const { agent } = await signUp(server);
    const { code, verifier } = await authorizeWithPkce(agent, server, {
      clientId,
      scope: "mcp:read",
      resource: `${server.url}/mcp`,
    });
    const token = await exchange(server, {
      clientId,
      code,
      verifier,
      resource: `${server.url}/mcp`,
    });
    expect(token.status, token.text).toBe(200);
    expect(token.body.access_token).toMatch(/^kw_user_/);
  });

  it("a document that supports only private_key_jwt is refused with a page that says why", async () => {
    documents.set("/jwt-only.json", (id) => ({
      client_id: id,
      client_name: "JWT-only CIMD client",
      redirect_uris: ["http://127.0.0.1:33418/callback"],
      token_endpoint_auth_method: "private_key_jwt",
      jwks_uri: `${docBase}/jwks.json`,
    }));
    const { agent } = await signUp(server);
    const res = await follow(
      agent,
      server,
      authorizeUrl({ clientId: `${docBase}/jwt-only.json`, challenge: pkcePair().challenge, method: "S256" }),
    );
    expect(res.status).toBe(400);
    expect(res.text).toContain("token_endpoint_auth_method");
  });

  it("a registration (not a document) is not renegotiated: it names its one method", async () => {
    const reg = await register(server, {
      token_endpoint_auth_method: "private_key_jwt",
      token_endpoint_auth_methods_supported: ["private_key_jwt", "none"],
    });
    expect(reg.status).toBe(400);
    expect(reg.body.error).toBe("invalid_client_metadata");
  });
});

describe("application_type (SEP-837, the 2026-07-28 authorization profile)", () => {
  it.each([
    ["native", ["http://127.0.0.1:33418/callback"], "native"],
    ["native", ["http://localhost/callback"], "native"],
    ["native", ["cursor://anysphere.cursor-mcp/oauth/callback"], "native"],
    ["web", ["https://claude.ai/api/mcp/auth_callback"], "web"],
    // RFC 8252 §7.3: loopback redirects are any client's; a private-use scheme makes a native app.
    ["web", ["http://127.0.0.1:33418/callback"], "web"],
    ["web", ["vscode://vscode.github-authentication/did-authenticate"], "native"],
    [undefined, ["https://chatgpt.com/connector_platform_oauth_redirect"], "web"],
    [undefined, ["http://127.0.0.1:33418/callback"], "web"],
    [undefined, ["cursor://anysphere.cursor-mcp/oauth/callback"], "native"],
    ["native", ["https://app.example/oauth/callback"], "native"],
  ])("%s with %j registers as %s", async (applicationType, redirectUris, registered) => {
    const reg = await register(server, { redirect_uris: redirectUris, ...(applicationType ? { application_type: applicationType } : {}) });
    expect(reg.status, reg.text).toBe(201);
    expect(reg.body.application_type).toBe(registered);
  });

  it("any other value is a 400 that names the two allowed", async () => {
    const reg = await register(server, { application_type: "desktop" });
    expect(reg.status).toBe(400);
    expect(reg.body).toMatchObject({ error: "invalid_client_metadata" });
    expect(reg.body.error_description).toContain("native");
  });
});

describe("loopback redirects on any port (RFC 8252 §7.3)", () => {
  it.each(["127.0.0.1", "localhost"])("a client registered on %s:33418 comes back on another port", async (host) => {
    const reg = await register(server, { redirect_uris: [`http://${host}:33418/callback`], application_type: "native" });
    const clientId = reg.body.client_id as string;
    const { agent } = await signUp(server);
    const redirectUri = `http://${host}:4651/callback`;
    const { back, code, verifier } = await authorizeWithPkce(agent, server, { clientId, redirectUri, scope: "mcp:read" });
    expect(`${back.origin}${back.pathname}`).toBe(redirectUri);
    const token = await exchange(server, { clientId, code, verifier, redirectUri });
    expect(token.status, token.text).toBe(200);
  });

  it("but not on another path or host", async () => {
    const reg = await register(server, { redirect_uris: ["http://127.0.0.1:33418/callback"] });
    const { agent } = await signUp(server);
    for (const redirectUri of ["http://127.0.0.1:4652/elsewhere", "http://127.0.0.2:33418/callback"]) {
      const res = await follow(
        agent,
        server,
        authorizeUrl({ clientId: reg.body.client_id as string, redirectUri, challenge: pkcePair().challenge, method: "S256" }),
      );
      expect(res.status, redirectUri).toBe(400);
      expect(res.location).toBeUndefined();
    }
  });
});

describe("expires_in and introspection exp (keys do not expire unless given an expiry)", () => {
  it("a key without expiry: expires_in is the far-future lifetime, and introspection's exp the same instant", async () => {
    const reg = await register(server);
    const clientId = reg.body.client_id as string;
    const { agent } = await signUp(server);
    const { code, verifier } = await authorizeWithPkce(agent, server, { clientId, scope: "mcp:read" });
    const before = Math.floor(Date.now() / 1000);
    const token = await exchange(server, { clientId, code, verifier });
    expect(token.status).toBe(200);
    expect(token.body.expires_in).toBe(KEY_LIFETIME_SECONDS);
    expect(KEY_LIFETIME_SECONDS).toBe(10 * 365 * 86_400); // the "ten years" docs/hosts.md explains
    const rs = await createResourceServers(server.services.db).add("Compat checker");
    const info = await request(server.url)
      .post("/token/introspection")
      .auth(encodeURIComponent(rs.clientId), encodeURIComponent(rs.clientSecret))
      .type("form")
      .send({ token: token.body.access_token as string })
      .expect(200);
    expect(info.body.active).toBe(true);
    expect(Math.abs((info.body.exp as number) - (before + KEY_LIFETIME_SECONDS))).toBeLessThanOrEqual(2);
    expect(info.body.exp - info.body.iat).toBe(KEY_LIFETIME_SECONDS);
    const row = await server.services.db.apiKey.findFirstOrThrow({ where: { clientId } });
    expect(row.expiresAt).toBeNull();
  });
});

describe("prompt=consent (mcp-remote and the SDK send it when they ask for offline_access)", () => {
  it("asks again even when the grant already holds the scopes, and offline_access is ignored", async () => {
    const reg = await register(server);
    const clientId = reg.body.client_id as string;
    const { agent } = await signUp(server);
    await authorizeWithPkce(agent, server, { clientId, scope: "mcp:read" });
    const again = pkcePair();
    const url = `${authorizeUrl({ clientId, challenge: again.challenge, method: "S256", scope: "mcp:read offline_access" })}&prompt=consent`;
    const page = await follow(agent, server, url);
    expect(page.status).toBe(200);
    expect(page.text).toContain("Authorize");
    const back = await decideOnConsent(agent, server, page);
    const token = await exchange(server, { clientId, code: back.searchParams.get("code")!, verifier: again.verifier });
    expect(token.status, token.text).toBe(200);
    expect(token.body.refresh_token).toBeUndefined();
    expect(token.body.scope).toBe("mcp:read");
  });
});
