// The JSON API /api/api-keys: key and session auth, create/list/get/delete, validation, body
// limits, and no way to tell another user's key from a missing one.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import request from "supertest";
import { signUp, startTestServer, type TestServer } from "./support/server.js";
import { keyApi, signUpWithPageKey, type KeyJson } from "./support/keys.js";
import { BY_OPERATOR } from "./support/acting.js";

let server: TestServer;
let alice: Awaited<ReturnType<typeof signUp>> & { raw: string };
let bob: Awaited<ReturnType<typeof signUp>> & { raw: string };

beforeAll(async () => {
  server = await startTestServer();
  alice = await signUpWithPageKey(server, "alice bootstrap");
  bob = await signUpWithPageKey(server, "bob bootstrap");
});
afterAll(async () => server?.close());

const api = (raw: string) => keyApi(server, raw);

describe("with a key", () => {
  it("create returns 201, a Location and the raw key once; list and get never show it", async () => {
    // keys:read: a key with explicit scopes reads the key list only when it names that scope
    const created = await api(alice.raw)
      .post("/api/api-keys")
      .send({ label: "CI deploy", scopes: ["mcp:read", "keys:read"] })
      .expect(201);
    expect(created.headers["content-type"]).toMatch(/^application\/json/);
    expect(created.headers["cache-control"]).toBe("no-store");
    const body = created.body as KeyJson;
    expect(body.key).toMatch(/^kw_user_[0-9A-Za-z]{49}$/);
    expect(created.headers.location).toBe(`/api/api-keys/${body.id}`);
    expect(body).toMatchObject({
      label: "CI deploy",
      last4: body.key!.slice(-4),
      status: "active",
      source: "portal",
      sourceLabel: "Portal",
      scopes: ["mcp:read", "keys:read"],
      lastUsedAt: null,
      revokedAt: null,
    });
    expect(body.id).toMatch(/^key_[0-9A-Za-z]{20}$/);
    const raw = body.key!;

    const got = await api(alice.raw).get(created.headers.location!).expect(200);
    expect(got.body).toEqual({ ...body, key: undefined });
    expect(got.text).not.toContain(raw);
    expect(Object.keys(got.body as object)).not.toContain("key");
    const list = await api(alice.raw).get("/api/api-keys").expect(200);
    expect(list.text).not.toContain(raw);
    const ids = (list.body as { data: KeyJson[] }).data.map((k) => k.id);
    expect(ids).toContain(body.id);
    expect((list.body as { data: KeyJson[] }).data.every((k) => !("key" in k))).toBe(true);

    // the new key authenticates, and sees the same list
    const viaNew = await api(raw).get("/api/api-keys").expect(200);
    expect((viaNew.body as { data: KeyJson[] }).data.map((k) => k.id)).toEqual(ids);
    expect(viaNew.text).not.toContain(raw);
    // X-API-Key works too
    await request(server.url).get("/api/api-keys").set("X-API-Key", raw).expect(200);
  });

  it("lists only the caller's keys, newest first", async () => {
    const mine = (await api(bob.raw).get("/api/api-keys").expect(200)).body as { data: KeyJson[] };
    const theirs = (await api(alice.raw).get("/api/api-keys").expect(200)).body as { data: KeyJson[] };
    expect(mine.data.map((k) => k.label)).toEqual(["bob bootstrap"]);
    expect(theirs.data.map((k) => k.label)).not.toContain("bob bootstrap");
    const created = theirs.data.map((k) => k.createdAt);
    expect([...created].sort().reverse()).toEqual(created);
  });

  it("accepts `name` for the label, scopes as a string, and defaults the label", async () => {
    const a = await api(alice.raw).post("/api/api-keys").send({ name: "named", scopes: "mcp:read mcp:write mcp:read" }).expect(201);
    expect(a.body).toMatchObject({ label: "named", scopes: ["mcp:read", "mcp:write"] });
    const b = await api(alice.raw).post("/api/api-keys").send({}).expect(201);
    expect(b.body).toMatchObject({ label: "Untitled key", scopes: [] });
  });

  it("delete revokes (idempotently) and the key stops working at once", async () => {
    const created = (await api(alice.raw).post("/api/api-keys").send({ label: "short-lived" }).expect(201)).body as KeyJson;
    await api(created.key!).get("/api/api-keys").expect(200);
    const del = await api(alice.raw).delete(`/api/api-keys/${created.id}`).expect(200);
    expect(del.body).toMatchObject({ id: created.id, status: "revoked" });
    expect(Date.parse((del.body as KeyJson).revokedAt!)).toBeGreaterThan(Date.now() - 60_000);
    expect(del.text).not.toContain(created.key!);
    const denied = await api(created.key!).get("/api/api-keys").expect(401);
    // the connection doctor's words, as at /mcp (issue 26)
    expect(denied.body).toEqual({ error: "invalid_token", error_description: "The key has been revoked (just now)" });
    const again = await api(alice.raw).delete(`/api/api-keys/${created.id}`).expect(200);
    expect((again.body as KeyJson).revokedAt).toBe((del.body as KeyJson).revokedAt);
    expect(((await api(alice.raw).get(`/api/api-keys/${created.id}`).expect(200)).body as KeyJson).status).toBe("revoked");
  });

  it("a key can revoke itself", async () => {
    const created = (await api(alice.raw).post("/api/api-keys").send({ label: "self" }).expect(201)).body as KeyJson;
    await api(created.key!).delete(`/api/api-keys/${created.id}`).expect(200);
    await api(created.key!).get("/api/api-keys").expect(401);
  });
});

describe("validation", () => {
  const expectError = (res: request.Response, status: number, error: string, description: RegExp) => {
    expect(res.status).toBe(status);
    expect(res.headers["content-type"]).toMatch(/^application\/json/);
    expect(res.body).toEqual({ error, error_description: expect.stringMatching(description) });
  };

  it("bad fields → 400 {error, error_description}", async () => {
    const before = ((await api(alice.raw).get("/api/api-keys")).body as { data: unknown[] }).data.length;
    expectError(
      await api(alice.raw)
        .post("/api/api-keys")
        .send({ label: "x".repeat(101) }),
      400,
      "invalid_request",
      /^label: Label must be at most 100 characters$/,
    );
    expectError(await api(alice.raw).post("/api/api-keys").send({ label: "tab\there" }), 400, "invalid_request", /control characters/);
    expectError(
      await api(alice.raw)
        .post("/api/api-keys")
        .send({ label: "ok", scopes: ["admin"] }),
      400,
      "invalid_request",
      /^Unknown scope: admin\. Known scopes: mcp:read, mcp:write$/,
    );
    expectError(
      await api(alice.raw)
        .post("/api/api-keys")
        .send({ label: "ok", scopes: ["a b<c"] }),
      400,
      "invalid_request",
      /Scope names use letters/,
    );
    expectError(await api(alice.raw).post("/api/api-keys").send({ label: "ok", admin: true }), 400, "invalid_request", /admin/);
    expectError(await api(alice.raw).post("/api/api-keys").send({ label: 42 }), 400, "invalid_request", /^label: /);
    expectError(await api(alice.raw).post("/api/api-keys").send([1, 2]), 400, "invalid_request", /object/);
    const after = ((await api(alice.raw).get("/api/api-keys")).body as { data: unknown[] }).data.length;
    expect(after).toBe(before);
  });

  it("a body that is not JSON → 415", async () => {
    expectError(
      await api(alice.raw).post("/api/api-keys").set("Content-Type", "text/plain").send('{"label":"x"}'),
      415,
      "unsupported_media_type",
      /application\/json/,
    );
    expectError(
      await api(alice.raw).post("/api/api-keys").type("form").send({ label: "x" }),
      415,
      "unsupported_media_type",
      /application\/json/,
    );
  });

  it("invalid JSON → 400", async () => {
    expectError(
      await api(alice.raw).post("/api/api-keys").set("Content-Type", "application/json").send('{"label": '),
      400,
      "invalid_request",
      /not valid JSON/,
    );
  });

  it("a body over 100 kB → 413", async () => {
    const big = JSON.stringify({ label: "x", padding: "y".repeat(200_000) });
    expectError(
      await api(alice.raw).post("/api/api-keys").set("Content-Type", "application/json").send(big),
      413,
      "request_too_large",
      /larger than 100 kB/,
    );
  });
});

describe("another user's key looks exactly like a missing one", () => {
  const comparable = (res: request.Response) => {
    const headers = { ...res.headers } as Record<string, string>;
    delete headers.date;
    return { status: res.status, text: res.text, headers };
  };

  it("GET and DELETE: same status, body and headers; nothing is revoked", async () => {
    const bobsKeys = ((await api(bob.raw).get("/api/api-keys").expect(200)).body as { data: KeyJson[] }).data;
    const bobsId = bobsKeys[0]!.id;
    const unknownId = `key_${"A".repeat(20)}`;
    expect(unknownId).toHaveLength(bobsId.length);

    const getOther = await api(alice.raw).get(`/api/api-keys/${bobsId}`);
    const getMissing = await api(alice.raw).get(`/api/api-keys/${unknownId}`);
    expect(getOther.status).toBe(404);
    expect(getOther.body).toEqual({ error: "not_found", error_description: "No API key with that id." });
    expect(comparable(getOther)).toEqual(comparable(getMissing));
    expect(getOther.headers["content-type"]).toBe(getMissing.headers["content-type"]);
    expect(getOther.headers["content-length"]).toBe(getMissing.headers["content-length"]);

    const delOther = await api(alice.raw).delete(`/api/api-keys/${bobsId}`);
    const delMissing = await api(alice.raw).delete(`/api/api-keys/${unknownId}`);
    expect(delOther.status).toBe(404);
    expect(comparable(delOther)).toEqual(comparable(delMissing));
    expect(comparable(delOther)).toEqual({ ...comparable(getOther) });

    // Bob's key is untouched and still works
    const still = await api(bob.raw).get(`/api/api-keys/${bobsId}`).expect(200);
    expect(still.body).toMatchObject({ status: "active", revokedAt: null });
    await api(bob.raw).get("/api/api-keys").expect(200);
  });
});

describe("authentication", () => {
  it("no credentials → 401 with a WWW-Authenticate pointing at the resource metadata", async () => {
    for (const res of [
      await request(server.url).get("/api/api-keys"),
      await request(server.url).post("/api/api-keys").send({ label: "x" }),
      await request(server.url).delete("/api/api-keys/key_x"),
    ]) {
      expect(res.status).toBe(401);
      expect(res.headers["www-authenticate"]).toBe(
        `Bearer resource_metadata="${server.config.baseUrl}/.well-known/oauth-protected-resource/mcp"`,
      );
      expect(res.body).toMatchObject({ error: "unauthorized" });
    }
  });

  it("a bad or malformed credential → 401 invalid_token / 400 invalid_request", async () => {
    const bad = await request(server.url).get("/api/api-keys").set("Authorization", "Bearer kw_user_nope");
    expect(bad.status).toBe(401);
    expect(bad.headers["www-authenticate"]).toContain('error="invalid_token"');
    expect(bad.headers["www-authenticate"]).toContain(
      `resource_metadata="${server.config.baseUrl}/.well-known/oauth-protected-resource/mcp"`,
    );
    expect(bad.body).toEqual({ error: "invalid_token", error_description: "The key is malformed or mistyped" });
    const basic = await request(server.url).get("/api/api-keys").set("Authorization", "Basic dXNlcjpwYXNz");
    expect(basic.status).toBe(400);
    expect(basic.body.error).toBe("invalid_request");
    const two = await request(server.url).get("/api/api-keys").set("Authorization", `Bearer ${alice.raw}`).set("X-API-Key", bob.raw);
    expect(two.status).toBe(400);
    expect(two.body.error_description).toMatch(/not two different ones/);
    // a key beats a session: a bad key with a valid session cookie is still refused
    const withSession = await alice.agent.get("/api/api-keys").set("Authorization", "Bearer kw_user_nope");
    expect(withSession.status).toBe(401);
  });

  it("a key bound to /mcp (an OAuth-issued token) cannot use the key-management API", async () => {
    const userId = (await server.services.users.findByEmail(alice.email))!.id;
    const oauth = await server.services.keys.mint(
      {
        userId,
        label: "OAuth: client",
        source: "oauth",
        clientId: "dcr_test",
        scopes: ["mcp:read"],
        resources: [`${server.config.baseUrl}/mcp`],
      },
      BY_OPERATOR,
    );
    // it works where it was issued for...
    const mcp = await request(server.url)
      .post("/mcp")
      .set("Authorization", `Bearer ${oauth.raw}`)
      .set("Accept", "application/json, text/event-stream")
      .send({ jsonrpc: "2.0", id: 1, method: "tools/list", params: {} });
    expect(mcp.status).toBe(200);
    // ...but cannot list, mint (an unscoped key that outlives the client) or revoke keys
    const before = await server.services.db.apiKey.count({ where: { userId } });
    for (const res of [
      await api(oauth.raw).get("/api/api-keys"),
      await api(oauth.raw).post("/api/api-keys").send({ label: "escalated" }),
      await api(oauth.raw).delete(`/api/api-keys/${oauth.key.id}`),
    ]) {
      expect(res.status).toBe(401);
      expect(res.body).toEqual({
        error: "invalid_token",
        error_description: `The key was issued for another resource: the client asked for resource ${server.config.baseUrl}/mcp but is calling ${server.config.baseUrl}/api/api-keys`,
      });
      expect(res.headers["www-authenticate"]).toContain('error="invalid_token"');
    }
    expect(await server.services.db.apiKey.count({ where: { userId } })).toBe(before);
    expect((await server.services.keys.get(userId, oauth.key.id))?.status).toBe("active");
  });

  it("a browser session works for GET; POST and DELETE need the X-CSRF-Token header", async () => {
    const list = await alice.agent.get("/api/api-keys").expect(200);
    expect((list.body as { data: KeyJson[] }).data.length).toBeGreaterThan(0);

    for (const token of [undefined, "wrong", bob.csrf]) {
      const req = alice.agent.post("/api/api-keys");
      if (token) req.set("X-CSRF-Token", token);
      const res = await req.send({ label: "csrf?" });
      expect(res.status, `POST with ${String(token)}`).toBe(403);
      expect(res.body).toEqual({
        error: "invalid_csrf_token",
        error_description: "Missing or invalid CSRF token. Reload the page and try again.",
      });
    }
    // a _csrf field in the JSON body is not enough
    await alice.agent.post("/api/api-keys").send({ _csrf: alice.csrf, label: "csrf?" }).expect(403);
    const names = ((await alice.agent.get("/api/api-keys")).body as { data: KeyJson[] }).data.map((k) => k.label);
    expect(names).not.toContain("csrf?");

    const created = await alice.agent.post("/api/api-keys").set("X-CSRF-Token", alice.csrf).send({ label: "from session" }).expect(201);
    const id = (created.body as KeyJson).id;
    expect((created.body as KeyJson).key).toMatch(/^kw_user_/);

    for (const token of [undefined, "wrong"]) {
      const req = alice.agent.delete(`/api/api-keys/${id}`);
      if (token) req.set("X-CSRF-Token", token);
      expect((await req).status, `DELETE with ${String(token)}`).toBe(403);
    }
    expect(((await alice.agent.get(`/api/api-keys/${id}`).expect(200)).body as KeyJson).status).toBe("active");
    await alice.agent.delete(`/api/api-keys/${id}`).set("X-CSRF-Token", alice.csrf).expect(200);
    expect(((await alice.agent.get(`/api/api-keys/${id}`).expect(200)).body as KeyJson).status).toBe("revoked");
  });
});
