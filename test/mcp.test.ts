// /mcp: the RFC 6750/9728 challenge, the protected-resource metadata, and a real MCP client
// (the official SDK) listing tools and calling whoami with either header style.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import request from "supertest";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { mintOnPage, signUp, startTestServer, type TestServer } from "./support/server.js";
import { BY_OPERATOR } from "./support/acting.js";
import type { WhoAmI } from "./support/oauth/strict.js";

let server: TestServer;
let user: Awaited<ReturnType<typeof signUp>>;
let raw: string;
let keyId: string;

beforeAll(async () => {
  server = await startTestServer();
  user = await signUp(server);
  const minted = await mintOnPage(user.agent, user.csrf, "mcp client", ["mcp:read"]);
  raw = minted.raw;
  keyId = /data-key-id="(key_[^"]+)"/.exec(minted.html)![1]!;
});
afterAll(async () => server?.close());

const prmUrl = () => `${server.config.baseUrl}/.well-known/oauth-protected-resource/mcp`;
const initialize = {
  jsonrpc: "2.0",
  id: 1,
  method: "initialize",
  params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "t", version: "1" } },
};
const post = () => request(server.url).post("/mcp").set("Accept", "application/json, text/event-stream");

async function connect(headers: Record<string, string>) {
  const client = new Client({ name: "keyward-test", version: "1.0.0" });
  const transport = new StreamableHTTPClientTransport(new URL(`${server.url}/mcp`), { requestInit: { headers } });
  await client.connect(transport);
  return client;
}

describe("the 401 challenge", () => {
  it("without a key: Bearer resource_metadata=<base>/.well-known/oauth-protected-resource/mcp", async () => {
    const res = await post().send(initialize);
    expect(res.status).toBe(401);
    expect(res.headers["www-authenticate"]).toBe(`Bearer resource_metadata="${prmUrl()}"`);
    expect(res.headers["cache-control"]).toBe("no-store");
    expect(res.body).toMatchObject({ error: "unauthorized" });
    // other methods are challenged the same way
    const get = await request(server.url).get("/mcp");
    expect(get.status).toBe(401);
    expect(get.headers["www-authenticate"]).toBe(`Bearer resource_metadata="${prmUrl()}"`);
  });

  it('with a bad, unknown or revoked key: the same plus error="invalid_token"', async () => {
    const cases: [string, string][] = [
      ["garbage", "The key is malformed or mistyped"],
      [raw.slice(0, -1) + (raw.endsWith("a") ? "b" : "a"), "The key is malformed or mistyped"],
      [server.services.keys.newRawKey(), "The key is not recognised"],
    ];
    for (const [key, description] of cases) {
      for (const header of ["Authorization", "X-API-Key"] as const) {
        const res = await post()
          .set(header, header === "Authorization" ? `Bearer ${key}` : key)
          .send(initialize);
        expect(res.status).toBe(401);
        expect(res.headers["www-authenticate"]).toBe(
          `Bearer resource_metadata="${prmUrl()}", error="invalid_token", error_description="${description}"`,
        );
        expect(res.body).toEqual({ error: "invalid_token", error_description: description });
      }
    }
  });

  it("a key bound to another resource is refused; one bound to this /mcp works", async () => {
    const userId = (await server.services.users.findByEmail(user.email))!.id;
    const elsewhere = await server.services.keys.mint(
      { userId, label: "elsewhere", source: "oauth", clientId: "dcr_x", resources: ["https://other.example/mcp"] },
      BY_OPERATOR,
    );
    const here = await server.services.keys.mint(
      { userId, label: "here", source: "oauth", clientId: "dcr_x", resources: [`${server.config.baseUrl}/mcp`] },
      BY_OPERATOR,
    );
    const refused = await post().set("Authorization", `Bearer ${elsewhere.raw}`).send(initialize);
    expect(refused.status).toBe(401);
    expect(refused.body.error_description).toMatch(/^The key was issued for another resource: the client asked for resource /);
    const ok = await post().set("Authorization", `Bearer ${here.raw}`).send(initialize);
    expect(ok.status).toBe(200);
  });

  it("GET with a valid key → 405 (stateless server, POST only)", async () => {
    const res = await request(server.url).get("/mcp").set("Authorization", `Bearer ${raw}`);
    expect(res.status).toBe(405);
    expect(res.headers.allow).toBe("POST");
  });
});

describe("protected-resource metadata (RFC 9728)", () => {
  it("is served at the address the challenge names", async () => {
    const res = await request(server.url).get(new URL(prmUrl()).pathname).expect(200);
    expect(res.headers["content-type"]).toMatch(/^application\/json/);
    expect(res.headers["access-control-allow-origin"]).toBe("*");
    expect(res.body).toMatchObject({
      resource: `${server.config.baseUrl}/mcp`,
      authorization_servers: [server.config.baseUrl],
      bearer_methods_supported: ["header"],
      scopes_supported: ["mcp:read", "mcp:write"],
    });
  });
});

describe("a real MCP client", () => {
  for (const style of ["Authorization: Bearer", "X-API-Key"] as const) {
    it(`lists tools and calls whoami (${style})`, async () => {
      const client = await connect(style === "X-API-Key" ? { "X-API-Key": raw } : { Authorization: `Bearer ${raw}` });
      try {
        const { tools } = await client.listTools();
        // Every tool is listed whatever the key's scopes; each description names the scope it needs.
        expect(tools.map((t) => t.name)).toEqual(["whoami", "notes_list", "notes_add"]);
        expect(tools.find((t) => t.name === "notes_add")!.description).toMatch(/Requires scope mcp:write\.$/);
        expect(tools[0]!.annotations?.readOnlyHint).toBe(true);
        const result = await client.callTool({ name: "whoami", arguments: {} });
        expect(result.isError).toBeFalsy();
        const info = result.structuredContent as unknown as WhoAmI;
        expect(info).toEqual({
          email: user.email,
          userId: expect.stringMatching(/^usr_/),
          role: "owner",
          organizationId: expect.stringMatching(/^org_/),
          keyId,
          keySource: "Portal",
          scopes: ["mcp:read"],
          effectiveScopes: ["mcp:read"],
        });
        const text = (result.content as { type: string; text: string }[])[0]!;
        expect(text.type).toBe("text");
        expect(JSON.parse(text.text)).toEqual(info);
        expect(JSON.stringify(result)).not.toContain(raw);
      } finally {
        await client.close();
      }
    });
  }

  it("cannot connect with a revoked key", async () => {
    const { raw: doomed, html } = await mintOnPage(user.agent, user.csrf, "doomed");
    const id = /data-key-id="(key_[^"]+)"/.exec(html)![1]!;
    const client = await connect({ Authorization: `Bearer ${doomed}` });
    expect(((await client.callTool({ name: "whoami", arguments: {} })).structuredContent as unknown as WhoAmI).keyId).toBe(id);
    await user.agent.post(`/app/account/api-keys/${id}/revoke`).type("form").send({ _csrf: user.csrf }).expect(303);
    await expect(client.callTool({ name: "whoami", arguments: {} })).rejects.toMatchObject({
      code: 401,
      message: expect.stringContaining("The key has been revoked"),
    });
    await client.close().catch(() => {});
    await expect(connect({ Authorization: `Bearer ${doomed}` })).rejects.toMatchObject({ code: 401 });
  });
});
