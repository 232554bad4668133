// Client secrets at rest (src/oauth/client-secrets/): the database holds only a hash of the secret
// of a self-registered confidential client (dcr_…) or an operator's resource server (rs_…); the
// secret still authenticates at the token, introspection and revocation endpoints, RFC 7592 read
// and update stay correct, and rows older versions wrote in clear keep working and get hashed: at
// server start, by `keyward migrate`, or when first read; never by another CLI command.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import request from "supertest";
import { restartTestServer, signUpWithKey, startTestServer, type TestServer } from "./support/server.js";
import { clientBasic, register } from "./support/oauth/flow.js";
import { createResourceServers } from "../src/oauth/resource-servers.js";
import { clientSecretMatches, storedClientSecret } from "../src/oauth/client-secrets/stored-secret.js";
import { upgradeClientSecrets } from "../src/oauth/client-secrets/upgrade.js";
import { keyward } from "./support/cli-run.js";

let server: TestServer;
let key: string;
let email: string;
beforeAll(async () => {
  server = await startTestServer();
  const owner = await signUpWithKey(server);
  key = owner.admin;
  email = owner.person.email;
});
afterAll(async () => server?.close());

const storedPayload = async (clientId: string) =>
  (await server.services.db.oidcPayload.findUnique({ where: { model_id: { model: "Client", id: clientId } } }))!.payload;

/** True when no OAuth record (of any model) holds the secret, and no log line does. */
const nowhereInClear = async (secret: string) => {
  const rows = await server.services.db.oidcPayload.findMany({ select: { payload: true } });
  return rows.every((r) => !r.payload.includes(secret)) && server.logs.every((line) => !line.includes(secret));
};

const introspect = (auth: { header?: string; form?: Record<string, string> }, token = key) => {
  const req = request(server.url).post("/token/introspection").type("form");
  if (auth.header) void req.set("Authorization", auth.header);
  return req.send({ token, ...auth.form });
};

const confidential = async (method = "client_secret_basic") => {
  const reg = await register(server, {
    client_name: "Confidential app",
    token_endpoint_auth_method: method,
    grant_types: [],
    response_types: [],
    redirect_uris: [],
  });
  expect(reg.status, reg.text).toBe(201);
  return {
    id: reg.body.client_id as string,
    secret: reg.body.client_secret as string,
    rat: reg.body.registration_access_token as string,
    body: reg.body as Record<string, unknown>,
  };
};

/** Writes a client row as a version before this change did: the secret in clear. */
const legacyClient = async (clientId: string, secret: string) => {
  const payload = {
    client_id: clientId,
    client_id_issued_at: Math.floor(Date.now() / 1000),
    client_name: "Written by an older version",
    client_secret: secret,
    client_secret_expires_at: 0,
    token_endpoint_auth_method: "client_secret_basic",
    grant_types: [],
    response_types: [],
    redirect_uris: [],
  };
  await server.services.db.oidcPayload.create({ data: { model: "Client", id: clientId, payload: JSON.stringify(payload) } });
};

describe("a self-registered confidential client", () => {
  it("gets its secret once, at registration; the database holds only its hash", async () => {
    const c = await confidential();
    expect(c.secret.length).toBeGreaterThan(40);
    expect(c.body.client_secret_expires_at).toBe(0);
    expect(await nowhereInClear(c.secret)).toBe(true);
    expect(JSON.parse(await storedPayload(c.id)).client_secret).toBe(storedClientSecret(c.secret));
  });

  it("authenticates with client_secret_basic and client_secret_post", async () => {
    const b = await confidential("client_secret_basic");
    const ok = await introspect({ header: clientBasic(b.id, b.secret) });
    expect(ok.status, ok.text).toBe(200);
    expect(ok.body).toEqual({ active: false }); // authenticated; the key is not one issued to it

    const p = await confidential("client_secret_post");
    const okPost = await introspect({ form: { client_id: p.id, client_secret: p.secret } });
    expect(okPost.status, okPost.text).toBe(200);
    const revoke = await request(server.url)
      .post("/token/revocation")
      .type("form")
      .send({ client_id: p.id, client_secret: p.secret, token: "nope" });
    expect(revoke.status, revoke.text).toBe(200);
  });

  it.each([
    ["a wrong secret", (s: string) => `${s.slice(0, -1)}${s.endsWith("A") ? "B" : "A"}`],
    ["the secret with a character more", (s: string) => `${s}A`],
    ["the stored hash", (s: string) => storedClientSecret(s)],
    ["the stored hash without its prefix", (s: string) => storedClientSecret(s).slice("sha256:".length)],
  ])("refuses %s: 401 invalid_client at introspection, revocation and token", async (_what, wrong) => {
    const c = await confidential();
    const bad = wrong(c.secret);
    const info = await introspect({ header: clientBasic(c.id, bad) });
    expect(info.status).toBe(401);
    expect(info.body.error).toBe("invalid_client");
    const revoke = await request(server.url)
      .post("/token/revocation")
      .set("Authorization", clientBasic(c.id, bad))
      .type("form")
      .send({ token: key });
    expect(revoke.status).toBe(401);
    const token = await request(server.url)
      .post("/token")
      .set("Authorization", clientBasic(c.id, bad))
      .type("form")
      .send({ grant_type: "authorization_code", code: "x", code_verifier: "y".repeat(43), redirect_uri: "http://127.0.0.1/cb" });
    expect(token.status).toBe(401);
    expect(token.body.error).toBe("invalid_client");
  });

  it("refuses an empty secret with a 4xx OAuth error, never a 500", async () => {
    const c = await confidential();
    const basicEmpty = await introspect({ header: clientBasic(c.id, "") });
    expect(basicEmpty.status).toBe(400);
    expect(basicEmpty.body.error).toBe("invalid_request");
    const postEmpty = await introspect({ form: { client_id: c.id, client_secret: "" } });
    expect([400, 401]).toContain(postEmpty.status);
    expect(postEmpty.body.error).toMatch(/^invalid_(client|request)$/);
  });

  it("cannot register client_secret_jwt (it would need the secret in clear)", async () => {
    const reg = await register(server, {
      token_endpoint_auth_method: "client_secret_jwt",
      grant_types: [],
      response_types: [],
      redirect_uris: [],
    });
    expect(reg.status).toBe(400);
    expect(reg.body.error).toBe("invalid_client_metadata");
  });
});

describe("RFC 7592 once the secret is no longer known", () => {
  it("GET returns the registration without client_secret (client_secret_expires_at stays 0)", async () => {
    const c = await confidential();
    const read = await request(server.url).get(`/reg/${c.id}`).set("Authorization", `Bearer ${c.rat}`);
    expect(read.status, read.text).toBe(200);
    expect(read.body).not.toHaveProperty("client_secret");
    expect(read.body.client_secret_expires_at).toBe(0);
    expect(read.body.client_id).toBe(c.id);
  });

  it("PUT with the current secret, or without one, updates and keeps the secret (not rotated, not echoed)", async () => {
    const c = await confidential();
    const base = {
      client_id: c.id,
      token_endpoint_auth_method: "client_secret_basic",
      grant_types: [],
      response_types: [],
      redirect_uris: [],
    };
    const withSecret = await request(server.url)
      .put(`/reg/${c.id}`)
      .set("Authorization", `Bearer ${c.rat}`)
      .send({ ...base, client_secret: c.secret, client_name: "Renamed" });
    expect(withSecret.status, withSecret.text).toBe(200);
    expect(withSecret.body.client_name).toBe("Renamed");
    expect(withSecret.body).not.toHaveProperty("client_secret");
    const without = await request(server.url)
      .put(`/reg/${c.id}`)
      .set("Authorization", `Bearer ${c.rat}`)
      .send({ ...base, client_name: "Renamed again" });
    expect(without.status, without.text).toBe(200);
    expect(without.body).not.toHaveProperty("client_secret");
    expect((await introspect({ header: clientBasic(c.id, c.secret) })).status).toBe(200);
    expect(await nowhereInClear(c.secret)).toBe(true);
  });

  it.each([
    ["a wrong secret", () => "not-the-secret"],
    ["the stored hash", (s: string) => storedClientSecret(s)],
    ["a number", () => 42],
  ])("PUT with %s as client_secret: 400 invalid_request, nothing changes", async (_what, wrong) => {
    const c = await confidential();
    const res = await request(server.url)
      .put(`/reg/${c.id}`)
      .set("Authorization", `Bearer ${c.rat}`)
      .send({
        client_id: c.id,
        client_secret: wrong(c.secret),
        client_name: "Hijacked",
        token_endpoint_auth_method: "client_secret_basic",
        grant_types: [],
        response_types: [],
        redirect_uris: [],
      });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe("invalid_request");
    expect(JSON.parse(await storedPayload(c.id)).client_name).toBe("Confidential app");
  });

  it("PUT with the right secret but no registration access token is refused like any other (401)", async () => {
    const c = await confidential();
    const res = await request(server.url)
      .put(`/reg/${c.id}`)
      .set("Authorization", "Bearer wrong")
      .send({ client_id: c.id, client_secret: c.secret, client_name: "x" });
    expect(res.status).toBe(401);
    expect(res.body.error).toBe("invalid_token");
  });

  it("PUT that makes a public client confidential returns the new secret once, stored hashed", async () => {
    const reg = await register(server, { token_endpoint_auth_method: "none", grant_types: [], response_types: [], redirect_uris: [] });
    const id = reg.body.client_id as string;
    const res = await request(server.url)
      .put(`/reg/${id}`)
      .set("Authorization", `Bearer ${reg.body.registration_access_token as string}`)
      .send({ client_id: id, token_endpoint_auth_method: "client_secret_basic", grant_types: [], response_types: [], redirect_uris: [] });
    expect(res.status, res.text).toBe(200);
    const secret = res.body.client_secret as string;
    expect(secret.length).toBeGreaterThan(40);
    expect(await nowhereInClear(secret)).toBe(true);
    expect((await introspect({ header: clientBasic(id, secret) })).status).toBe(200);
  });
});

describe("a resource server the operator registered (rs_…)", () => {
  it("is stored hashed, introspects and revokes with its secret, and refuses the hash", async () => {
    const rs = await createResourceServers(server.services.db).add("Billing API");
    expect(await nowhereInClear(rs.clientSecret)).toBe(true);
    const info = await introspect({ header: clientBasic(rs.clientId, rs.clientSecret) });
    expect(info.body).toMatchObject({ active: true });
    const byHash = await introspect({ header: clientBasic(rs.clientId, storedClientSecret(rs.clientSecret)) });
    expect(byHash.status).toBe(401);
    const victim = (await signUpWithKey(server)).admin;
    const revoke = await request(server.url)
      .post("/token/revocation")
      .set("Authorization", clientBasic(rs.clientId, rs.clientSecret))
      .type("form")
      .send({ token: victim });
    expect(revoke.status).toBe(200);
    expect((await introspect({ header: clientBasic(rs.clientId, rs.clientSecret) }, victim)).body).toEqual({ active: false });
  });
});

describe("rows an older version wrote, with the secret in clear", () => {
  it("keep working, and the first read replaces the secret by its hash", async () => {
    const secret = "legacy-secret-" + "x".repeat(40);
    await legacyClient("rs_LegacyReadAAAAAAAAAAAA", secret);
    const info = await introspect({ header: clientBasic("rs_LegacyReadAAAAAAAAAAAA", secret) });
    expect(info.status, info.text).toBe(200);
    expect(info.body).toMatchObject({ active: true });
    expect(await storedPayload("rs_LegacyReadAAAAAAAAAAAA")).not.toContain(secret);
    expect((await introspect({ header: clientBasic("rs_LegacyReadAAAAAAAAAAAA", secret) })).status).toBe(200);
    expect((await introspect({ header: clientBasic("rs_LegacyReadAAAAAAAAAAAA", "wrong") })).status).toBe(401);
  });

  it("are all hashed when the server starts, and keep working", async () => {
    const secret = "legacy-secret-" + "y".repeat(40);
    await legacyClient("rs_LegacyStartAAAAAAAAAAA", secret);
    expect(await storedPayload("rs_LegacyStartAAAAAAAAAAA")).toContain(secret);
    server = await restartTestServer(server);
    expect(await storedPayload("rs_LegacyStartAAAAAAAAAAA")).not.toContain(secret);
    expect(await upgradeClientSecrets(server.services.db)).toBe(0); // nothing left in clear
    expect((await introspect({ header: clientBasic("rs_LegacyStartAAAAAAAAAAA", secret) })).body).toMatchObject({ active: true });
    expect(server.logs.some((l) => l.includes("client secrets stored in clear were replaced"))).toBe(true);
  });
});

describe("rows an older version wrote, and the CLI (node bin/keyward.js on the server's database)", () => {
  const cli = (args: string[]) => keyward(args, { env: { DATABASE_URL: server.database.url } });

  it("a command that reads the database (api-keys list, resource-servers list) leaves them as they are", async () => {
    const secret = "legacy-secret-" + "c".repeat(40);
    await legacyClient("rs_LegacyCliReadAAAAAAAAA", secret);
    const before = await storedPayload("rs_LegacyCliReadAAAAAAAAA");
    const keys = await cli(["api-keys", "list", "--user", email]);
    expect(keys.code, keys.stderr).toBe(0);
    const servers = await cli(["resource-servers", "list"]);
    expect(servers.code, servers.stderr).toBe(0);
    expect(servers.stdout).toContain("rs_LegacyCliReadAAAAAAAAA"); // the row was read …
    expect(await storedPayload("rs_LegacyCliReadAAAAAAAAA")).toBe(before); // … and not rewritten
    expect(before).toContain(secret);
    // The running server still hashes it when it first reads it.
    expect((await introspect({ header: clientBasic("rs_LegacyCliReadAAAAAAAAA", secret) })).body).toMatchObject({ active: true });
    expect(await storedPayload("rs_LegacyCliReadAAAAAAAAA")).not.toContain(secret);
  });

  it("keyward migrate hashes them all, says how many, and they keep working", async () => {
    const secrets = ["legacy-secret-" + "m".repeat(40), "legacy-secret-" + "n".repeat(40)];
    await legacyClient("rs_LegacyMigrateAAAAAAAAA", secrets[0]!);
    await legacyClient("rs_LegacyMigrateBBBBBBBBB", secrets[1]!);
    const run = await cli(["migrate"]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^Database is up to date: .+\nClient secrets stored in clear replaced by their hashes: 2\n$/);
    expect(await storedPayload("rs_LegacyMigrateAAAAAAAAA")).toContain(`"client_secret":"${storedClientSecret(secrets[0]!)}"`);
    expect(await storedPayload("rs_LegacyMigrateBBBBBBBBB")).toContain(`"client_secret":"${storedClientSecret(secrets[1]!)}"`);
    expect((await introspect({ header: clientBasic("rs_LegacyMigrateBBBBBBBBB", secrets[1]!) })).body).toMatchObject({ active: true });
    const again = await cli(["migrate"]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout.trim().split("\n")).toHaveLength(1); // nothing left in clear: no count
  });
});

describe("clientSecretMatches", () => {
  const secret = "s3cret-value";
  it.each([
    ["the secret against its hash", storedClientSecret(secret), secret, true],
    ["the secret against a clear stored one (older rows)", secret, secret, true],
    ["a wrong secret of the same length", storedClientSecret(secret), "s3cret-valuX", false],
    ["a prefix of the secret", storedClientSecret(secret), "s3cret", false],
    ["the hash itself", storedClientSecret(secret), storedClientSecret(secret), false],
    ["an empty secret", storedClientSecret(secret), "", false],
    ["no stored secret", undefined, secret, false],
    ["an empty stored secret against an empty one", "", "", false],
    ["a non-string", storedClientSecret(secret), 42, false],
  ])("%s", (_what, stored, presented, expected) => {
    expect(clientSecretMatches(stored, presented)).toBe(expected);
  });

  it("hashes once: the stored form of a stored form is itself", () => {
    expect(storedClientSecret(storedClientSecret(secret))).toBe(storedClientSecret(secret));
  });
});
