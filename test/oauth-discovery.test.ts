// Issue 22 #10 and #13: what Keyward publishes. Every URL derives from ISSUER whatever the Host,
// X-Forwarded-Host / -Proto headers or an absolute-form request target say (with TRUST_PROXY on or
// off), and the metadata lists exactly what works: no refresh tokens, no offline_access, no
// form_post (fragment works and is listed); pushed authorization requests (RFC 9126) are routed.
import http from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import request from "supertest";
import { signUp, startTestServer, type TestServer } from "./support/server.js";
import {
  authorize,
  authorizeParams,
  authorizeUrl,
  authorizeWithPkce,
  decideOnConsent,
  exchange,
  follow,
  pkcePair,
  register,
} from "./support/oauth/flow.js";

const HOSTILE = { Host: "evil.example", "X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "https", "X-Forwarded-Port": "443" };
const DOCUMENTS = [
  "/.well-known/oauth-authorization-server",
  "/.well-known/openid-configuration",
  "/.well-known/oauth-protected-resource/mcp",
  "/.well-known/oauth-protected-resource",
];

/** Every string in a JSON document that looks like a URL. */
function urlsIn(value: unknown): string[] {
  if (typeof value === "string") return /^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? [value] : [];
  if (Array.isArray(value)) return value.flatMap(urlsIn);
  if (value && typeof value === "object") return Object.values(value).flatMap(urlsIn);
  return [];
}

/** GET with an absolute-form request target (`GET http://evil.example/… HTTP/1.1`). */
function absoluteForm(server: TestServer, path: string): Promise<{ status: number; body: string }> {
  const { port } = new URL(server.url);
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: "127.0.0.1", port: Number(port), method: "GET", path: `http://evil.example${path}`, headers: { host: "evil.example" } },
      (res) => {
        let body = "";
        res.on("data", (d: Buffer) => (body += d.toString()));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on("error", reject);
    req.end();
  });
}

describe.each([
  ["TRUST_PROXY=false", "false"],
  ["TRUST_PROXY=true", "true"],
])("published URLs derive from ISSUER (%s)", (_name, trustProxy) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ TRUST_PROXY: trustProxy });
  });
  afterAll(async () => server?.close());

  it.each(DOCUMENTS)("%s names only the issuer, whatever Host and X-Forwarded-* say", async (path) => {
    const res = await request(server.url).get(path).set(HOSTILE);
    expect(res.status).toBe(200);
    const urls = urlsIn(res.body);
    expect(urls.length).toBeGreaterThan(0);
    for (const url of urls) expect(url.startsWith(`${server.url}/`) || url === server.url, url).toBe(true);
    expect(JSON.stringify(res.body)).not.toContain("evil.example");
  });

  it.each(DOCUMENTS)("%s ignores an absolute-form request target", async (path) => {
    const res = await absoluteForm(server, path);
    expect(res.status).toBe(200);
    expect(res.body).not.toContain("evil.example");
    for (const url of urlsIn(JSON.parse(res.body))) expect(url.startsWith(server.url), url).toBe(true);
  });

  it("registration_client_uri, WWW-Authenticate, the interaction redirect and iss name the issuer", async () => {
    const reg = await request(server.url)
      .post("/reg")
      .set(HOSTILE)
      .send({ client_name: "Hosted", redirect_uris: ["http://127.0.0.1:33418/callback"], token_endpoint_auth_method: "none" });
    expect(reg.status, reg.text).toBe(201);
    expect(reg.body.registration_client_uri).toBe(`${server.url}/reg/${reg.body.client_id}`);

    const challenge = await request(server.url)
      .post("/mcp")
      .set(HOSTILE)
      .set("Accept", "application/json, text/event-stream")
      .send({ jsonrpc: "2.0", id: 1, method: "tools/list" });
    expect(challenge.status).toBe(401);
    expect(challenge.headers["www-authenticate"]).toContain(`resource_metadata="${server.url}/.well-known/oauth-protected-resource/mcp"`);
    expect(challenge.headers["www-authenticate"]).not.toContain("evil.example");

    const { agent } = await signUp(server);
    const pkce = pkcePair();
    const start = await agent
      .get(authorizeUrl({ clientId: reg.body.client_id, challenge: pkce.challenge, method: "S256" }))
      .set(HOSTILE)
      .redirects(0);
    expect(start.status).toBe(303);
    expect(start.headers.location).not.toContain("evil.example");
    const back = await authorize(agent, server, { clientId: reg.body.client_id, challenge: pkce.challenge, method: "S256" });
    expect(back.searchParams.get("iss")).toBe(server.url);
  });
});

describe("the metadata lists exactly what works", () => {
  let server: TestServer;
  let meta: Record<string, unknown>;
  beforeAll(async () => {
    server = await startTestServer();
    meta = (await request(server.url).get("/.well-known/oauth-authorization-server")).body as Record<string, unknown>;
  });
  afterAll(async () => server?.close());

  it("advertises the authorization code grant only, no offline_access, query and fragment responses only", async () => {
    expect(meta.grant_types_supported).toEqual(["authorization_code"]);
    expect(meta.scopes_supported).not.toContain("offline_access");
    expect(meta.scopes_supported).toEqual(expect.arrayContaining(["mcp:read", "mcp:write"]));
    expect(meta.response_modes_supported).toEqual(["query", "fragment"]);
    expect(meta.response_types_supported).toEqual(["code"]);
    const oidc = (await request(server.url).get("/.well-known/openid-configuration")).body as Record<string, unknown>;
    expect(oidc.grant_types_supported).toEqual(["authorization_code"]);
    expect(oidc.response_modes_supported).toEqual(["query", "fragment"]);
  });

  it("answers at every endpoint it advertises", async () => {
    const endpoints = Object.entries(meta).filter(([name]) => name.endsWith("_endpoint") || name === "jwks_uri");
    expect(endpoints.map(([name]) => name).sort()).toEqual(
      [
        "authorization_endpoint",
        "introspection_endpoint",
        "jwks_uri",
        "pushed_authorization_request_endpoint",
        "registration_endpoint",
        "revocation_endpoint",
        "token_endpoint",
        "userinfo_endpoint",
      ].sort(),
    );
    expect(meta.pushed_authorization_request_endpoint).toBe(`${server.url}/request`);
    for (const [name, url] of endpoints) {
      const path = new URL(url as string).pathname;
      const res =
        name === "authorization_endpoint" || name === "jwks_uri" || name === "userinfo_endpoint"
          ? await request(server.url).get(path)
          : await request(server.url).post(path).type("form").send({});
      expect(res.status, `${name} ${path}: ${res.text.slice(0, 200)}`).not.toBe(404);
      expect(res.status, name).toBeLessThan(500);
    }
  });

  it("registers refresh_token requests as authorization_code only (RFC 7591 §3.2.1), and issues no refresh token even for offline_access", async () => {
    const reg = await register(server, { grant_types: ["authorization_code", "refresh_token"] });
    expect(reg.status, reg.text).toBe(201);
    expect(reg.body.grant_types).toEqual(["authorization_code"]);
    const clientId = reg.body.client_id as string;
    const { agent } = await signUp(server);
    const { code, verifier } = await authorizeWithPkce(agent, server, { clientId, scope: "mcp:read offline_access" });
    const token = await exchange(server, { clientId, code, verifier });
    expect(token.status, token.text).toBe(200);
    expect(token.body.refresh_token).toBeUndefined();
    expect(token.body.scope).toBe("mcp:read");
    const refresh = await request(server.url)
      .post("/token")
      .type("form")
      .send({ grant_type: "refresh_token", refresh_token: "anything", client_id: clientId });
    expect(refresh.status).toBe(400);
    expect(refresh.body.error).toBe("unsupported_grant_type");
  });

  it("delivers the code with response_mode=fragment, as advertised", async () => {
    const clientId = (await register(server)).body.client_id as string;
    const { agent } = await signUp(server);
    const pkce = pkcePair();
    const first = await follow(
      agent,
      server,
      `${authorizeUrl({ clientId, challenge: pkce.challenge, method: "S256", scope: "mcp:read" })}&response_mode=fragment`,
    );
    const back = await decideOnConsent(agent, server, first);
    expect(back.search).toBe("");
    const fragment = new URLSearchParams(back.hash.slice(1));
    expect(fragment.get("iss")).toBe(server.url);
    const token = await exchange(server, { clientId, code: fragment.get("code")!, verifier: pkce.verifier });
    expect(token.status, token.text).toBe(200);
  });

  it("refuses response_mode=form_post (its auto-submit page cannot run under the CSP)", async () => {
    const clientId = (await register(server)).body.client_id as string;
    const { agent } = await signUp(server);
    const url = `${authorizeUrl({ clientId, challenge: pkcePair().challenge, method: "S256", scope: "mcp:read" })}&response_mode=form_post`;
    const res = await agent.get(url).redirects(0);
    expect(res.status).toBe(400);
    expect(res.headers.location).toBeUndefined();
    expect(res.text).toContain("response_mode form_post is not supported");
    expect(res.text).not.toContain("document.forms[0].submit()");
    expect(res.text).not.toMatch(/name="code"/);
    // Pushed first (RFC 9126), the request is refused by the client's response modes, as JSON.
    const pushed = await request(server.url)
      .post("/request")
      .type("form")
      .send({
        ...authorizeParams({ clientId, challenge: pkcePair().challenge, method: "S256", scope: "mcp:read" }),
        response_mode: "form_post",
      });
    expect(pushed.status).toBe(400);
    expect(pushed.body.error).toBe("invalid_request");
    expect(pushed.body.request_uri).toBeUndefined();
    const registered = await register(server, { response_modes: ["form_post"] });
    expect(registered.status).toBe(400);
    expect(registered.body.error).toBe("invalid_client_metadata");
  });
});
