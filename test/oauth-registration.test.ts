// Dynamic client registration (RFC 7591/7592): redirect URI policy, errors, rate limit, purge.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import request from "supertest";
import { startTestServer, signUp, type TestServer } from "./support/server.js";
import { authorize, authorizeWithPkce, exchange, pkcePair, register } from "./support/oauth/flow.js";
import { purgeOAuthRecords } from "../src/oauth/purge.js";

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ REGISTRATION_RATE_LIMIT: "40" });
});
afterAll(async () => server?.close());

describe("registration", () => {
  it("registers a public client with a dcr_ id and a registration access token", async () => {
    const res = await register(server, {
      client_name: "VS Code",
      redirect_uris: ["http://127.0.0.1:33418/callback", "https://vscode.dev/redirect"],
    });
    expect(res.status).toBe(201);
    expect(res.body.client_id).toMatch(/^dcr_[0-9A-Za-z]{22}$/);
    expect(res.body.token_endpoint_auth_method).toBe("none");
    expect(res.body.registration_access_token).toBeTruthy();
    expect(res.body.registration_client_uri).toBe(`${server.url}/reg/${res.body.client_id}`);
    // RFC 7592: read it back with the registration access token, and not without.
    const path = `/reg/${res.body.client_id}`;
    const read = await request(server.url).get(path).set("Authorization", `Bearer ${res.body.registration_access_token}`);
    expect(read.status).toBe(200);
    expect(read.body.client_name).toBe("VS Code");
    expect((await request(server.url).get(path)).status).toBe(401);
    // Update through RFC 7592 goes through the same redirect policy.
    const update = await request(server.url)
      .put(path)
      .set("Authorization", `Bearer ${res.body.registration_access_token}`)
      .send({
        client_id: res.body.client_id,
        client_name: "VS Code",
        redirect_uris: ["http://evil.example/cb"],
        token_endpoint_auth_method: "none",
      });
    expect(update.status).toBe(400);
    expect(update.body.error).toBe("invalid_redirect_uri");
  });

  it("accepts private-use schemes and registers such clients as native", async () => {
    const res = await register(server, { client_name: "Cursor", redirect_uris: ["cursor://anysphere.cursor-retrieval/oauth/callback"] });
    expect(res.status, res.text).toBe(201);
    expect(res.body.application_type).toBe("native");
  });

  it.each([
    ["http://evil.example/callback", /http is allowed only on loopback/],
    ["javascript:alert(1)", /javascript scheme is not allowed/],
    ["https://app.example/cb#frag", /fragment/],
    ["https://user:pw@app.example/cb", /user information/],
    ["not a uri", /must not contain spaces/],
    ["no-scheme-at-all", /not a valid URI/],
  ])("refuses redirect URI %s with invalid_redirect_uri", async (uri, message) => {
    const res = await register(server, { redirect_uris: [uri] });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe("invalid_redirect_uri");
    expect(res.body.error_description).toMatch(message);
  });

  it("checks the text of a body nested 30,000 deep without a 5xx, and still refuses a bad string at the bottom", async () => {
    const deep = (inner: string) =>
      `{"client_name":"Deep","redirect_uris":["http://127.0.0.1:33418/callback"],"x":${"[".repeat(30_000)}${inner}${"]".repeat(30_000)}}`;
    const fine = await request(server.url).post("/reg").set("Content-Type", "application/json").send(deep(""));
    expect(fine.status, fine.text.slice(0, 200)).toBe(201);
    const bad = await request(server.url).post("/reg").set("Content-Type", "application/json").send(deep('"\\u202e"'));
    expect(bad.status, bad.text.slice(0, 200)).toBe(400);
    expect(bad.body.error).toBe("invalid_client_metadata");
    expect(bad.body.error_description).toMatch(/^x\[0\]\[0\].*… must not contain control/);
    expect(bad.body.error_description.length).toBeLessThan(300);
  });

  it("refuses bad metadata with invalid_client_metadata", async () => {
    const wrongType = await register(server, { redirect_uris: "https://app.example/cb" });
    expect(wrongType.status).toBe(400);
    expect(wrongType.body.error).toBe("invalid_client_metadata");
    const badMethod = await register(server, { token_endpoint_auth_method: "magic" });
    expect(badMethod.status).toBe(400);
    expect(badMethod.body.error).toBe("invalid_client_metadata");
    const notJson = await request(server.url).post("/reg").set("Content-Type", "application/json").send("{nope");
    expect(notJson.status).toBe(400);
    expect(notJson.body.error).toBe("invalid_client_metadata");
  });

  it("lets a loopback redirect come back on any port (RFC 8252 §7.3), but not another path", async () => {
    const clientId = (await register(server, { redirect_uris: ["http://127.0.0.1:6274/oauth/callback"] })).body.client_id as string;
    const { agent } = await signUp(server);
    const pkce = pkcePair();
    const redirectUri = "http://127.0.0.1:51999/oauth/callback";
    const back = await authorize(agent, server, { clientId, challenge: pkce.challenge, method: "S256", redirectUri });
    expect(back.port).toBe("51999");
    const token = await exchange(server, { clientId, code: back.searchParams.get("code")!, verifier: pkce.verifier, redirectUri });
    expect(token.status, token.text).toBe(200);
    const wrongPath = await agent
      .get(
        `/auth?response_type=code&client_id=${clientId}&redirect_uri=${encodeURIComponent("http://127.0.0.1:51999/other")}&code_challenge=${pkce.challenge}&code_challenge_method=S256`,
      )
      .redirects(0);
    expect(wrongPath.status).toBe(400);
    expect(wrongPath.text).toContain("invalid_redirect_uri");
  });

  it("gives a client that asks for no scope the whole catalogue rather than a denial", async () => {
    const clientId = (await register(server)).body.client_id as string;
    const { agent } = await signUp(server);
    const { code, verifier } = await authorizeWithPkce(agent, server, { clientId });
    const token = await exchange(server, { clientId, code, verifier });
    expect(token.status, token.text).toBe(200);
    expect(token.body.scope).toBe("mcp:read mcp:write");
  });
});

describe("registration limits", () => {
  it("rate-limits registrations per IP with 429", async () => {
    const limited = await startTestServer({ REGISTRATION_RATE_LIMIT: "2" });
    try {
      expect((await register(limited)).status).toBe(201);
      expect((await register(limited)).status).toBe(201);
      const third = await register(limited);
      expect(third.status).toBe(429);
      expect(third.body.error).toBe("too_many_requests");
      expect(third.headers["retry-after"]).toBe("3600");
    } finally {
      await limited.close();
    }
  });

  it("closes registration with REGISTRATION=closed", async () => {
    const closed = await startTestServer({ REGISTRATION: "closed" });
    try {
      const meta = await request(closed.url).get("/.well-known/oauth-authorization-server");
      expect(meta.body.registration_endpoint).toBeUndefined();
      const res = await register(closed);
      expect(res.status).toBe(404);
    } finally {
      await closed.close();
    }
  });

  it("purges clients that never completed an authorization, keeps those that did", async () => {
    const unused = (await register(server, { client_name: "never used" })).body.client_id as string;
    const used = (await register(server, { client_name: "used" })).body.client_id as string;
    const { agent } = await signUp(server);
    const { code, verifier } = await authorizeWithPkce(agent, server, { clientId: used });
    expect((await exchange(server, { clientId: used, code, verifier })).status).toBe(200);

    const { db, keys } = server.services;
    const none = await purgeOAuthRecords(db, keys, 3600_000); // nothing is an hour old yet
    expect(none.clients).toBe(0);
    const later = new Date(Date.now() + 2 * 3600_000);
    const purged = await purgeOAuthRecords(db, keys, 3600_000, later);
    expect(purged.clients).toBeGreaterThanOrEqual(1);
    expect(await db.oidcPayload.findUnique({ where: { model_id: { model: "Client", id: unused } } })).toBeNull();
    expect(await db.oidcPayload.findUnique({ where: { model_id: { model: "Client", id: used } } })).not.toBeNull();
  });
});

describe("RFC 7592 deletion", () => {
  it("revokes every key of a client that deletes its registration", async () => {
    const reg = await register(server, { client_name: "Short-lived" });
    const clientId = reg.body.client_id as string;
    const { agent } = await signUp(server);
    const { code, verifier } = await authorizeWithPkce(agent, server, { clientId });
    const key = (await exchange(server, { clientId, code, verifier })).body.access_token as string;
    const mcp = () =>
      request(server.url)
        .post("/mcp")
        .set("Authorization", `Bearer ${key}`)
        .set("Accept", "application/json, text/event-stream")
        .send({ jsonrpc: "2.0", id: 1, method: "tools/list" });
    expect((await mcp()).status).toBe(200);
    const del = await request(server.url).delete(`/reg/${clientId}`).set("Authorization", `Bearer ${reg.body.registration_access_token}`);
    expect(del.status).toBe(204);
    expect((await mcp()).status).toBe(401);
  });
});
