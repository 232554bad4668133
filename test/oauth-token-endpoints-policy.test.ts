// Issue 22 #14: RFC 7662 introspection belongs to resource servers the operator registered
// (`keyward resource-servers add`), not to any client that registered itself; RFC 7009 revocation
// by a client covers the keys issued to it, and anything else is refused with the RFC's error
// while the key keeps working.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import request from "supertest";
import { mintOnPage, signUp, startTestServer, type TestServer } from "./support/server.js";
import { authorizeWithPkce, clientBasic, exchange, register } from "./support/oauth/flow.js";
import { createResourceServers } from "../src/oauth/resource-servers.js";
import { purgeOAuthRecords } from "../src/oauth/purge.js";
import { mcpStatus } from "./support/mcp-status.js";

let server: TestServer;
let victimKey: string;
let portalKey: string;
let victimClient: string;
beforeAll(async () => {
  server = await startTestServer();
  victimClient = (await register(server, { client_name: "Victim app" })).body.client_id as string;
  const user = await signUp(server);
  const { code, verifier } = await authorizeWithPkce(user.agent, server, { clientId: victimClient });
  victimKey = (await exchange(server, { clientId: victimClient, code, verifier })).body.access_token as string;
  portalKey = (await mintOnPage(user.agent, user.csrf, "portal key")).raw;
});
afterAll(async () => server?.close());

describe("a self-registered confidential client", () => {
  let id: string;
  let secret: string;
  beforeAll(async () => {
    const reg = await register(server, {
      client_name: "I am a resource server, honest",
      token_endpoint_auth_method: "client_secret_basic",
      grant_types: [],
      response_types: [],
      redirect_uris: [],
    });
    expect(reg.status, reg.text).toBe(201);
    id = reg.body.client_id as string;
    secret = reg.body.client_secret as string;
  });

  it.each([
    ["an OAuth key of another client", () => victimKey],
    ["a portal key", () => portalKey],
  ])("learns nothing about %s from introspection", async (_what, key) => {
    const res = await request(server.url)
      .post("/token/introspection")
      .set("Authorization", clientBasic(id, secret))
      .type("form")
      .send({ token: key() });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ active: false });
  });

  it.each([
    ["an OAuth key of another client", () => victimKey],
    ["a portal key", () => portalKey],
  ])("cannot revoke %s: 400 invalid_request, and the key still works at /mcp", async (_what, key) => {
    const res = await request(server.url)
      .post("/token/revocation")
      .set("Authorization", clientBasic(id, secret))
      .type("form")
      .send({ token: key() });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe("invalid_request");
    expect(await mcpStatus(server, key())).toBe(200);
  });
});

describe("the first-party client `keyward` (portal, CLI and app keys; it has no secret)", () => {
  it("introspects nothing: a portal key looks inactive to whoever names it", async () => {
    const res = await request(server.url).post("/token/introspection").type("form").send({ client_id: "keyward", token: portalKey });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ active: false });
    expect(await mcpStatus(server, portalKey)).toBe(200);
  });
});

describe("a public client", () => {
  it("cannot revoke a key it was not issued: 400 invalid_request, and the key still works", async () => {
    const attacker = (await register(server, { client_name: "Attacker" })).body.client_id as string;
    for (const key of [victimKey, portalKey]) {
      const res = await request(server.url).post("/token/revocation").type("form").send({ token: key, client_id: attacker });
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ error: "invalid_request", error_description: "client is not authorized to revoke the presented token" });
      expect(await mcpStatus(server, key)).toBe(200);
    }
  });
});

describe("a resource server the operator registered", () => {
  it("introspects and revokes any key", async () => {
    const rs = await createResourceServers(server.services.db).add("Billing API");
    const auth = clientBasic(rs.clientId, rs.clientSecret);
    const info = await request(server.url).post("/token/introspection").set("Authorization", auth).type("form").send({ token: portalKey });
    expect(info.body).toMatchObject({ active: true, client_id: "keyward" });
    const res = await request(server.url).post("/token/revocation").set("Authorization", auth).type("form").send({ token: victimKey });
    expect(res.status).toBe(200);
    expect(await mcpStatus(server, victimKey)).toBe(401);
  });

  it("is not purged with unused registered clients", async () => {
    const rs = await createResourceServers(server.services.db).add("Long-lived API");
    await purgeOAuthRecords(server.services.db, server.services.keys, 3600_000, new Date(Date.now() + 48 * 3600_000));
    const info = await request(server.url)
      .post("/token/introspection")
      .set("Authorization", clientBasic(rs.clientId, rs.clientSecret))
      .type("form")
      .send({ token: portalKey });
    expect(info.status).toBe(200);
    expect(info.body.active).toBe(true);
  });

  it("cannot be made by registration: a client that asks for an rs_ id still gets a dcr_ id", async () => {
    const reg = await register(server, {
      client_id: "rs_AAAAAAAAAAAAAAAAAAAAAA",
      token_endpoint_auth_method: "client_secret_basic",
      grant_types: [],
      response_types: [],
      redirect_uris: [],
    });
    expect(reg.status, reg.text).toBe(201);
    expect(reg.body.client_id).toMatch(/^dcr_/);
  });
});
