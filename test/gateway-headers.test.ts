// The gateway, seen from a header-recording upstream: what reaches the upstream (identity headers, a
// verifiable assertion) and what never does (the client's credentials, cookies, forwarded headers,
// its own X-Keyward-*), and the gateway's answers before any upstream is involved: route variants,
// methods, body limits, header/body disagreement, per-tool scopes, audience binding.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import request from "supertest";
import { createHash, randomUUID } from "node:crypto";
import { calculateJwkThumbprint, createRemoteJWKSet, exportJWK, generateKeyPair, jwtVerify, SignJWT } from "jose";
import { startTestServer, uniqueEmail, type TestServer } from "./support/server.js";
import { recordingUpstream, type RecordingUpstream } from "./support/upstreams.js";
import { BY_OPERATOR } from "./support/acting.js";
import type { PublicUser } from "../src/accounts/users.js";

let server: TestServer;
let upstream: RecordingUpstream;
let user: PublicUser;
let raw: string;
let keyId: string;
const BY = { actor: { type: "cli" as const } };

beforeAll(async () => {
  // A 1 kB body limit so the 413 is cheap to provoke.
  server = await startTestServer({ GATEWAY_MAX_BODY_KB: "1", SCOPES: "mcp:read mcp:write tools:admin" });
  upstream = await recordingUpstream();
  await server.services.resources.add({ slug: "notes", name: "Notes", upstream: upstream.url, toolScopes: { wipe: "tools:admin" } }, BY);
  await server.services.resources.add({ slug: "other", name: "Other", upstream: upstream.url }, BY);
  user = await server.services.users.create(uniqueEmail("gw"), "correct horse battery");
  const minted = await server.services.keys.mint({ userId: user.id, label: "gw", source: "portal", scopes: ["mcp:read"] }, BY_OPERATOR);
  raw = minted.raw;
  keyId = minted.key.id;
});
afterAll(async () => {
  await server?.close();
  await upstream?.close();
});

const url = (slug = "notes") => `${server.config.baseUrl}/mcp/${slug}`;
const prm = (slug = "notes") => `${server.config.baseUrl}/.well-known/oauth-protected-resource/mcp/${slug}`;
const list = { jsonrpc: "2.0", id: 7, method: "tools/list" };
const call = (name: string, id = 8) => ({ jsonrpc: "2.0", id, method: "tools/call", params: { name, arguments: {} } });
const post = (path = "/mcp/notes") => request(server.url).post(path).set("Accept", "application/json, text/event-stream");
const last = () => upstream.received.at(-1)!;

describe("what the upstream receives", () => {
  it("the body as sent, identity headers, and none of the client's credentials or forwarded headers", async () => {
    const before = upstream.received.length;
    const body = JSON.stringify(list);
    const res = await post()
      .set("Authorization", `Bearer ${raw}`)
      .set("Cookie", "keyward.sid=abc; other=1")
      .set("DPoP", "x.y.z")
      .set("Forwarded", "for=1.2.3.4")
      .set("X-Forwarded-For", "1.2.3.4")
      .set("X-Forwarded-Host", "evil.example")
      .set("X-Real-IP", "1.2.3.4")
      .set("X-Keyward-User-Id", "usr_spoofed")
      .set("x-keyward-scopes", "tools:admin")
      .set("X-Keyward-Assertion", "spoofed")
      .set("Mcp-Session-Id", "sess-1")
      .set("MCP-Protocol-Version", "2025-06-18")
      .set("Last-Event-ID", "ev-9")
      .set("Content-Type", "application/json")
      .send(body);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ jsonrpc: "2.0", id: 7, result: { ok: true } });
    expect(upstream.received.length).toBe(before + 1);
    const got = last();
    expect(got.method).toBe("POST");
    expect(got.url).toBe("/mcp");
    expect(got.body).toBe(body);
    const h = got.headers;
    for (const gone of [
      "authorization",
      "x-api-key",
      "cookie",
      "dpop",
      "forwarded",
      "x-forwarded-for",
      "x-forwarded-host",
      "x-real-ip",
      "x-keyward-client-id",
      "x-keyward-app-id",
    ])
      expect(h[gone], gone).toBeUndefined();
    expect(h["x-keyward-user-id"]).toBe(user.id);
    expect(h["x-keyward-user-email"]).toBe(user.email);
    expect(h["x-keyward-key-id"]).toBe(keyId);
    expect(h["x-keyward-scopes"]).toBe("mcp:read");
    expect(h["x-keyward-organization-id"]).toMatch(/^org_/);
    expect(h["mcp-session-id"]).toBe("sess-1");
    expect(h["mcp-protocol-version"]).toBe("2025-06-18");
    expect(h["last-event-id"]).toBe("ev-9");
    expect(h.accept).toBe("application/json, text/event-stream");
    expect(h["content-type"]).toBe("application/json");
    expect(h["content-length"]).toBe(String(Buffer.byteLength(body)));
    expect(h.host).toBe(new URL(upstream.url).host);
    // The upstream's session id comes back; its cookie does not land on Keyward's origin.
    expect(res.headers["mcp-session-id"]).toBe("upstream-session-1");
    expect(res.headers["set-cookie"]).toBeUndefined();
  });

  it("X-API-Key works too, and never reaches the upstream", async () => {
    const res = await post().set("X-API-Key", raw).send(list);
    expect(res.status).toBe(200);
    expect(last().headers["x-api-key"]).toBeUndefined();
    expect(last().headers["x-keyward-key-id"]).toBe(keyId);
  });

  it("X-Keyward-Assertion verifies against <ISSUER>/jwks with the right iss, aud, sub, exp and claims", async () => {
    await post().set("Authorization", `Bearer ${raw}`).send(list).expect(200);
    const assertion = last().headers["x-keyward-assertion"] as string;
    const jwks = createRemoteJWKSet(new URL(`${server.config.baseUrl}/jwks`));
    const { payload, protectedHeader } = await jwtVerify(assertion, jwks, {
      issuer: server.config.baseUrl,
      audience: url(),
      typ: "kw-assertion+jwt",
      maxTokenAge: "60s",
    });
    expect(payload.sub).toBe(user.id);
    expect(payload.sub_type).toBe("user");
    expect(payload.email).toBe(user.email);
    expect(payload.key_id).toBe(keyId);
    expect(payload.scope).toBe("mcp:read");
    expect(payload.org).toBe(last().headers["x-keyward-organization-id"]);
    expect(payload.client_id).toBeUndefined();
    expect(payload.exp! - payload.iat!).toBeLessThanOrEqual(60);
    expect(payload.exp! * 1000).toBeGreaterThan(Date.now());
    expect(typeof payload.jti).toBe("string");
    expect(protectedHeader).toMatchObject({ alg: "EdDSA", kid: expect.any(String) }); // the Ed25519 key every key set holds (docs/gateway-upstream.md)
    // One per request: a second request carries another jti; the other resource's assertion is not for this one.
    await post("/mcp/other").set("Authorization", `Bearer ${raw}`).send(list).expect(200);
    const other = last().headers["x-keyward-assertion"] as string;
    await expect(jwtVerify(other, jwks, { issuer: server.config.baseUrl, audience: url() })).rejects.toThrow();
    expect((await jwtVerify(other, jwks, { audience: url("other") })).payload.jti).not.toBe(payload.jti);
  });

  it("an OAuth key's client id is sent, in the header and the assertion", async () => {
    const oauth = await server.services.keys.mint(
      { userId: user.id, label: "oauth", source: "oauth", clientId: "dcr_abc", scopes: ["mcp:read"], resources: [url()] },
      BY_OPERATOR,
    );
    await post().set("Authorization", `Bearer ${oauth.raw}`).send(list).expect(200);
    expect(last().headers["x-keyward-client-id"]).toBe("dcr_abc");
    const assertion = last().headers["x-keyward-assertion"] as string;
    const { payload } = await jwtVerify(assertion, createRemoteJWKSet(new URL(`${server.config.baseUrl}/jwks`)), { audience: url() });
    expect(payload.client_id).toBe("dcr_abc");
  });

  it("a DPoP-bound key works with a proof for this resource's URL (not one made for /mcp); neither reaches the upstream", async () => {
    const pair = await generateKeyPair("ES256");
    const jwk = await exportJWK(pair.publicKey);
    const bound = await server.services.keys.mint(
      { userId: user.id, label: "dpop", source: "portal", dpopJkt: await calculateJwkThumbprint(jwk) },
      BY_OPERATOR,
    );
    const proof = (htu: string) =>
      new SignJWT({
        htm: "POST",
        htu,
        iat: Math.floor(Date.now() / 1000),
        jti: randomUUID(),
        ath: createHash("sha256").update(bound.raw).digest("base64url"),
      })
        .setProtectedHeader({ alg: "ES256", typ: "dpop+jwt", jwk })
        .sign(pair.privateKey);
    const elsewhere = await post()
      .set("Authorization", `DPoP ${bound.raw}`)
      .set("DPoP", await proof(`${server.config.baseUrl}/mcp`))
      .send(list);
    expect(elsewhere.status).toBe(401);
    expect(elsewhere.body.error).toBe("invalid_dpop_proof");
    expect(elsewhere.headers["www-authenticate"]).toContain(`resource_metadata="${prm()}"`);
    const ok = await post()
      .set("Authorization", `DPoP ${bound.raw}`)
      .set("DPoP", await proof(url()))
      .send(list);
    expect(ok.status).toBe(200);
    expect(last().headers.dpop).toBeUndefined();
    expect(last().headers.authorization).toBeUndefined();
    expect(last().headers["x-keyward-key-id"]).toBe(bound.key.id);
  });

  it("an app key: the app is the subject (X-Keyward-App-Id, sub_type app), no user headers", async () => {
    const admin = {
      Authorization: `Bearer ${(await server.services.keys.mint({ userId: user.id, label: "admin", source: "portal" }, BY_OPERATOR)).raw}`,
    };
    const created = await request(server.url).post("/api/orgs").set(admin).send({ name: "Gateway org" });
    expect(created.status, created.text).toBe(201);
    const orgId = created.body.id as string;
    const appId = (await request(server.url).post(`/api/orgs/${orgId}/apps`).set(admin).send({ name: "Robot" }).expect(201)).body
      .id as string;
    const appKey = (
      await server.services.keys.mint({ userId: user.id, label: "robot", source: "portal", organizationId: orgId, appId }, BY_OPERATOR)
    ).raw;
    await post().set("Authorization", `Bearer ${appKey}`).send(list).expect(200);
    const h = last().headers;
    expect(h["x-keyward-app-id"]).toBe(appId);
    expect(h["x-keyward-user-id"]).toBeUndefined();
    expect(h["x-keyward-user-email"]).toBeUndefined();
    expect(h["x-keyward-organization-id"]).toBe(orgId);
    const { payload } = await jwtVerify(h["x-keyward-assertion"] as string, createRemoteJWKSet(new URL(`${server.config.baseUrl}/jwks`)), {
      audience: url(),
    });
    expect(payload).toMatchObject({ sub: appId, sub_type: "app", org: orgId });
    expect(payload.email).toBeUndefined();
  });

  it("GET and DELETE are forwarded without a body", async () => {
    await request(server.url).get("/mcp/notes").set("Authorization", `Bearer ${raw}`).set("Mcp-Session-Id", "s").expect(200);
    expect(last()).toMatchObject({ method: "GET", body: "" });
    await request(server.url).delete("/mcp/notes").set("Authorization", `Bearer ${raw}`).set("Mcp-Session-Id", "s").expect(200);
    expect(last()).toMatchObject({ method: "DELETE", body: "" });
    expect(last().headers["mcp-session-id"]).toBe("s");
  });

  it("the log line names resource, user, key id, status and latency, and never the key", async () => {
    await post().set("Authorization", `Bearer ${raw}`).send(list).expect(200);
    await new Promise((r) => setTimeout(r, 50));
    const line = server.logs.map((l) => JSON.parse(l) as Record<string, unknown>).findLast((l) => l.msg === "gateway");
    expect(line).toMatchObject({ resource: "notes", userId: user.id, keyId, status: 200, method: "POST" });
    expect(typeof line!.ms).toBe("number");
    expect(server.logs.join("\n")).not.toContain(raw);
  });
});

describe("what the client receives of the upstream's answer", () => {
  it("no Set-Cookie, WWW-Authenticate or Location; Cache-Control no-store unless the upstream says otherwise; a 401 is a 502", async () => {
    let status = 200;
    const odd = await recordingUpstream((_req, res) => {
      res.writeHead(status, {
        "content-type": "application/json",
        "set-cookie": "keyward.sid=stolen; Path=/",
        "www-authenticate": 'Bearer realm="upstream"',
        location: `${upstream.url}/elsewhere`,
        "x-upstream": "kept",
      });
      res.end("{}");
    });
    try {
      await server.services.resources.add({ slug: "odd", name: "Odd", upstream: odd.url }, BY);
      const ok = await post("/mcp/odd").set("Authorization", `Bearer ${raw}`).send(list);
      expect(ok.status).toBe(200);
      expect(ok.headers["x-upstream"]).toBe("kept");
      expect(ok.headers["cache-control"]).toBe("no-store");
      for (const gone of ["set-cookie", "www-authenticate", "location"]) expect(ok.headers[gone], gone).toBeUndefined();
      status = 401;
      const refused = await post("/mcp/odd").set("Authorization", `Bearer ${raw}`).send(list);
      expect(refused.status).toBe(502);
      expect(refused.body).toEqual({ error: "upstream_refused", error_description: "The MCP server Odd refused the gateway's request" });
      expect(refused.headers["www-authenticate"]).toBeUndefined();
      expect(JSON.stringify(refused.body)).not.toContain(new URL(odd.url).port);
    } finally {
      await odd.close();
    }
  });

  it("Keyward's security headers are on the streamed answer, and the upstream cannot replace them", async () => {
    const loose = await recordingUpstream((_req, res) => {
      res.writeHead(200, { "content-type": "application/json", "x-content-type-options": "sniff-away", "referrer-policy": "unsafe-url" });
      res.end("{}");
    });
    try {
      await server.services.resources.add({ slug: "loose", name: "Loose", upstream: loose.url }, BY);
      const answer = await post("/mcp/loose").set("Authorization", `Bearer ${raw}`).send(list);
      expect(answer.status).toBe(200);
      expect(answer.headers["x-content-type-options"]).toBe("nosniff");
      expect(answer.headers["referrer-policy"]).toBe("no-referrer");
      // Keyward's own /mcp answers (written by the MCP SDK's handler) carry them too.
      const own = await post("/mcp").set("Authorization", `Bearer ${raw}`).send({ jsonrpc: "2.0", id: 1, method: "ping" });
      expect(own.headers["x-content-type-options"]).toBe("nosniff");
    } finally {
      await loose.close();
    }
  });

  it("an answered request is recorded as the upstream's health (last ok, latency)", async () => {
    const notes = await server.services.resources.get("notes");
    let health = await server.services.resources.health(notes.id);
    for (let i = 0; i < 70 && !health?.lastOkAt; i++) {
      await new Promise((r) => setTimeout(r, 100));
      health = await server.services.resources.health(notes.id);
    }
    expect(health).toMatchObject({ lastError: null, lastErrorAt: null });
    expect(health!.lastOkAt).toBeTruthy();
    expect(health!.latencyMs).toBeGreaterThanOrEqual(0);
  });
});

describe("answered by the gateway, before any upstream", () => {
  it("unknown slugs and every other spelling of a path → the same 404", async () => {
    const before = upstream.received.length;
    const variants = [
      "/mcp/nope",
      "/mcp/NOTES",
      "/MCP/notes",
      "/Mcp/notes",
      "/mcp/notes/",
      "/mcp/notes//",
      "/mcp/%6eotes",
      "/mcp/notes%2F",
      "/mcp%2Fnotes",
      "/mcp/./notes",
      "/mcp/x/../notes",
      "/mcp/notes/..",
      "/mcp/notes/sub",
      "/mcp/notes;x",
      "/mcp/-notes",
    ];
    for (const path of variants) {
      for (const auth of [`Bearer ${raw}`, undefined]) {
        const req = request(server.url).post(path).set("Accept", "application/json");
        if (auth) req.set("Authorization", auth);
        const res = await req.send(list);
        expect(res.status, path).toBe(404);
        expect(res.body, path).toEqual({ error: "not_found", error_description: "No MCP server at this address" });
        expect(res.headers["www-authenticate"], path).toBeUndefined();
      }
    }
    expect(upstream.received.length).toBe(before);
  });

  it("other methods → 405 with Allow", async () => {
    for (const method of ["put", "patch", "options"] as const) {
      const res = await request(server.url)[method]("/mcp/notes").set("Authorization", `Bearer ${raw}`);
      expect(res.status, method).toBe(405);
      expect(res.headers.allow).toBe("GET, POST, DELETE");
    }
  });

  it("no key → 401 naming this resource's metadata; a key bound to another resource → 401 invalid_token", async () => {
    const none = await post().send(list);
    expect(none.status).toBe(401);
    expect(none.headers["www-authenticate"]).toBe(`Bearer resource_metadata="${prm()}"`);
    const bound = await server.services.keys.mint(
      { userId: user.id, label: "other only", source: "portal", resources: [url("other")] },
      BY_OPERATOR,
    );
    const refused = await post().set("Authorization", `Bearer ${bound.raw}`).send(list);
    expect(refused.status).toBe(401);
    expect(refused.headers["www-authenticate"]).toBe(
      `Bearer resource_metadata="${prm()}", error="invalid_token", error_description="The key was issued for another resource: it is bound to ${url("other")} but was sent to ${url()}"`,
    );
    await post("/mcp/other").set("Authorization", `Bearer ${bound.raw}`).send(list).expect(200);
    // A key for Keyward's own /mcp only is not a key for a gateway resource.
    const builtIn = await server.services.keys.mint(
      { userId: user.id, label: "mcp only", source: "portal", resources: [`${server.config.baseUrl}/mcp`] },
      BY_OPERATOR,
    );
    expect((await post().set("Authorization", `Bearer ${builtIn.raw}`).send(list)).status).toBe(401);
  });

  it("a tools/call of a tool mapped to a scope the key lacks → 403 insufficient_scope with scope and resource_metadata", async () => {
    const before = upstream.received.length;
    for (const body of [call("wipe"), [call("echo", 1), call("wipe", 2)]]) {
      const res = await post().set("Authorization", `Bearer ${raw}`).send(body);
      expect(res.status).toBe(403);
      expect(res.headers["www-authenticate"]).toBe(
        `Bearer error="insufficient_scope", scope="tools:admin", resource_metadata="${prm()}", error_description="This key lacks the tools:admin scope (needed for wipe)"`,
      );
      expect(res.body).toMatchObject({ error: "insufficient_scope", scope: "tools:admin" });
    }
    expect(upstream.received.length).toBe(before);
    // Unmapped tools pass; so does the mapped one with the scope.
    await post().set("Authorization", `Bearer ${raw}`).send(call("echo")).expect(200);
    const admin = await server.services.keys.mint(
      { userId: user.id, label: "admin", source: "portal", scopes: ["tools:admin"] },
      BY_OPERATOR,
    );
    await post().set("Authorization", `Bearer ${admin.raw}`).send(call("wipe")).expect(200);
    // A name that is only a property of every object is not a mapped tool.
    await post().set("Authorization", `Bearer ${raw}`).send(call("constructor")).expect(200);
  });

  it("Mcp-Method / Mcp-Name that disagree with the body → 400; agreeing ones pass", async () => {
    const before = upstream.received.length;
    const cases: [Record<string, string>, unknown][] = [
      [{ "Mcp-Method": "tools/call", "Mcp-Name": "echo" }, call("wipe")],
      [{ "Mcp-Name": "echo" }, call("wipe")],
      [{ "Mcp-Method": "tools/list" }, call("wipe")],
      [{ "Mcp-Method": "tools/call", "Mcp-Name": "echo" }, [call("echo", 1), call("wipe", 2)]],
      [{ "Mcp-Method": "tools/list" }, { jsonrpc: "2.0", id: 1, result: {} }],
    ];
    for (const [headers, body] of cases) {
      const res = await post()
        .set("Authorization", `Bearer ${raw}`)
        .set(headers)
        .send(body as object);
      expect(res.status, JSON.stringify(headers)).toBe(400);
      expect(res.body.error).toBe("invalid_request");
    }
    expect(upstream.received.length).toBe(before);
    await post()
      .set("Authorization", `Bearer ${raw}`)
      .set({ "Mcp-Method": "tools/call", "Mcp-Name": "echo" })
      .send(call("echo"))
      .expect(200);
    await post().set("Authorization", `Bearer ${raw}`).set({ "Mcp-Method": "tools/list" }).send(list).expect(200);
  });

  it("bodies other parsers could read differently → 400", async () => {
    const bodies = [
      '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"Name":"wipe","name":"echo"}}',
      '{"jsonrpc":"2.0","id":1,"Method":"tools/call","method":"tools/list","params":{"name":"wipe"}}',
      '{"jsonrpc":"2.0","id":1,"method":"tools/call","paramſ":{"name":"wipe"},"params":{"name":"echo"}}',
      '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{}}',
      "not json",
      '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"\\ud800"}}',
    ];
    for (const body of bodies) {
      const res = await post().set("Authorization", `Bearer ${raw}`).set("Content-Type", "application/json").send(body);
      expect(res.status, body).toBe(400);
    }
    const invalidUtf8 = Buffer.concat([
      Buffer.from('{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"w'),
      Buffer.from([0xff]),
      Buffer.from('"}}'),
    ]);
    const res = await fetch(`${server.url}/mcp/notes`, {
      method: "POST",
      headers: { Authorization: `Bearer ${raw}`, "Content-Type": "application/json" },
      body: invalidUtf8,
    });
    expect(res.status).toBe(400);
  });

  it("a body over the limit → 413, whether it says its length or not", async () => {
    const big = JSON.stringify({ ...list, params: { pad: "x".repeat(2000) } });
    const res = await post().set("Authorization", `Bearer ${raw}`).set("Content-Type", "application/json").send(big);
    expect(res.status).toBe(413);
    expect(res.body.error).toBe("request_too_large");
    // Chunked: no Content-Length, the limit is counted as the bytes arrive.
    const chunked = await fetch(`${server.url}/mcp/notes`, {
      method: "POST",
      headers: { Authorization: `Bearer ${raw}`, "Content-Type": "application/json" },
      body: new ReadableStream({
        start(c) {
          for (let i = 0; i < 4; i++) c.enqueue(new TextEncoder().encode("x".repeat(600)));
          c.close();
        },
      }),
      duplex: "half",
    } as RequestInit);
    expect(chunked.status).toBe(413);
  });
});
