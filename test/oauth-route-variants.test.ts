// Issue 22 #3: oidc-provider routes `/REG`, `/reg/` and `/Reg/<id>/` exactly like `/reg` and
// `/reg/<id>`. Every spelling that reaches a provider endpoint must meet the same policy: the
// redirect URI and text rules, the per-IP registration limit, and "a deleted client's keys die".
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import request from "supertest";
import { startTestServer, signUp, type TestServer } from "./support/server.js";
import { authorizeWithPkce, exchange, register } from "./support/oauth/flow.js";
import { mcpWhoami } from "./support/mcp-status.js";

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ REGISTRATION_RATE_LIMIT: "100" });
});
afterAll(async () => server?.close());

const SPELLINGS = ["/reg/", "/REG", "/Reg/", "/rEg"];
const base = { client_name: "Variant", token_endpoint_auth_method: "none", grant_types: ["authorization_code"], response_types: ["code"] };

/** A registered client with a key issued to it that works at /mcp. */
async function clientWithKey() {
  const reg = await register(server, { client_name: "Short-lived", redirect_uris: ["http://127.0.0.1:33418/callback"] });
  expect(reg.status, reg.text).toBe(201);
  const clientId = reg.body.client_id as string;
  const { agent } = await signUp(server);
  const { code, verifier } = await authorizeWithPkce(agent, server, { clientId });
  const key = (await exchange(server, { clientId, code, verifier })).body.access_token as string;
  expect((await mcpWhoami(server, key)).status).toBe(200);
  return { clientId, key, rat: reg.body.registration_access_token as string };
}

const clientRows = () => server.services.db.oidcPayload.count({ where: { model: "Client" } });

describe("registration under another spelling of /reg", () => {
  it.each(SPELLINGS)("POST %s refuses an http redirect URI on a foreign host and stores nothing", async (path) => {
    const before = await clientRows();
    const res = await request(server.url)
      .post(path)
      .send({ ...base, redirect_uris: ["http://evil.example/cb"] });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe("invalid_redirect_uri");
    expect(res.body.error_description).toMatch(/http is allowed only on loopback/);
    expect(await clientRows()).toBe(before);
  });

  it.each(SPELLINGS)("POST %s refuses control characters in client_name", async (path) => {
    const res = await request(server.url)
      .post(path)
      .send({ ...base, client_name: "Good\r\nEvil", redirect_uris: ["http://127.0.0.1:33418/callback"] });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe("invalid_client_metadata");
  });

  it("counts every spelling against the per-IP limit", async () => {
    const limited = await startTestServer({ REGISTRATION_RATE_LIMIT: "2" });
    try {
      const statuses = [];
      for (const path of ["/reg", ...SPELLINGS]) {
        statuses.push(
          (
            await request(limited.url)
              .post(path)
              .send({ ...base, redirect_uris: ["http://127.0.0.1:33418/callback"] })
          ).status,
        );
      }
      expect(statuses).toEqual([201, 201, 429, 429, 429]);
    } finally {
      await limited.close();
    }
  });

  it("RFC 7592 PUT under another spelling goes through the redirect policy too", async () => {
    const reg = await register(server);
    const clientId = reg.body.client_id as string;
    const res = await request(server.url)
      .put(`/REG/${clientId}/`)
      .set("Authorization", `Bearer ${reg.body.registration_access_token}`)
      .send({ ...base, client_id: clientId, redirect_uris: ["http://evil.example/cb"] });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe("invalid_redirect_uri");
    const read = await request(server.url).get(`/reg/${clientId}`).set("Authorization", `Bearer ${reg.body.registration_access_token}`);
    expect(read.body.redirect_uris).toEqual(["http://127.0.0.1:33418/callback"]);
  });
});

describe("RFC 7592 DELETE under any spelling", () => {
  it.each([(id: string) => `/reg/${id}/`, (id: string) => `/REG/${id}`, (id: string) => `/Reg/${encodeURIComponent(id)}/`])(
    "revokes the client's keys (%#)",
    async (path) => {
      const { clientId, key, rat } = await clientWithKey();
      const del = await request(server.url).delete(path(clientId)).set("Authorization", `Bearer ${rat}`);
      expect(del.status).toBe(204);
      expect(await server.services.db.oidcPayload.findUnique({ where: { model_id: { model: "Client", id: clientId } } })).toBeNull();
      const after = await mcpWhoami(server, key);
      expect(after.status).toBe(401);
      expect(await server.services.db.apiKey.count({ where: { clientId, revokedAt: null } })).toBe(0);
    },
  );
});

describe("errors on provider endpoints under another spelling", () => {
  it("are JSON, like the canonical path's", async () => {
    for (const path of ["/token", "/TOKEN", "/Token/", "/token/INTROSPECTION", "/REG"]) {
      const res = await request(server.url).get(path).set("Accept", "text/html");
      expect(res.status, path).toBe(404);
      expect(res.headers["content-type"], path).toMatch(/application\/json/);
      expect(res.body.error, path).toBe("not_found");
    }
  });
});
