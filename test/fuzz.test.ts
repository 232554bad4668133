// Property-based fuzzing of every machine-facing route: whatever arrives, the answer is a clean
// 4xx (or a success), never 5xx, never a stack trace, and a rejected request changes nothing.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import request from "supertest";
import { startTestServer, signUp, mintOnPage, type TestServer } from "./helpers.js";
import { authorize, exchange, pkcePair, register } from "./oauth/flow.js";

let server: TestServer;
let key: string;
let clientId: string;
const RUNS = Number(process.env.FUZZ_RUNS ?? 60);

beforeAll(async () => {
  server = await startTestServer({ REGISTRATION_RATE_LIMIT: "100000" });
  const { agent, csrf } = await signUp(server);
  key = (await mintOnPage(agent, csrf, "fuzz")).raw;
  clientId = (await register(server)).body.client_id;
});
afterAll(async () => server?.close());

const STACK = /at .+\.(ts|js):\d+:\d+|node_modules\//;
function clean(res: request.Response) {
  expect(res.status, `${res.status} ${res.text.slice(0, 300)}`).toBeLessThan(500);
  expect(res.text).not.toMatch(STACK);
}
const counts = async () => {
  const { db } = server.services;
  return [await db.apiKey.count(), await db.user.count(), await db.oidcPayload.count({ where: { model: "Client" } })];
};

// Strings that tend to break things: control characters, unicode, HTML, long runs, JSON-ish text.
const nasty = fc.oneof(
  fc.string({ unit: "grapheme", maxLength: 200 }),
  fc.string({ unit: "binary", maxLength: 200 }),
  fc.constantFrom("<script>alert(1)</script>", "\u0000", "\u202e", "💥".repeat(60), "a".repeat(5000), "../../etc/passwd", "%00", "{\"a\":", "null", "[]"),
);
const jsonValue = fc.jsonValue({ maxDepth: 3 });

describe("JSON API under arbitrary input", () => {
  it("POST /api/api-keys: arbitrary JSON bodies", async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(jsonValue, fc.record({ label: nasty, scopes: fc.oneof(nasty, fc.array(nasty, { maxLength: 80 })) }, { requiredKeys: [] })), async (body) => {
        const before = await counts();
        const res = await request(server.url).post("/api/api-keys").set("Authorization", `Bearer ${key}`).set("Content-Type", "application/json").send(JSON.stringify(body));
        clean(res);
        expect(res.headers["content-type"]).toMatch(/json/);
        if (res.status >= 400) {
          expect(typeof res.body.error).toBe("string");
          expect(await counts()).toEqual(before);
        }
      }),
      { numRuns: RUNS },
    );
  });

  it("raw bodies with wrong or odd content types", async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ unit: "binary", maxLength: 400 }), fc.constantFrom("text/plain", "application/xml", "application/json", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/json; charset=latin1"), async (body, type) => {
        const before = await counts();
        const res = await request(server.url).post("/api/api-keys").set("Authorization", `Bearer ${key}`).set("Content-Type", type).send(body);
        clean(res);
        if (res.status >= 400) expect(await counts()).toEqual(before);
      }),
      { numRuns: RUNS },
    );
  });

  it("oversized bodies get 413", async () => {
    const res = await request(server.url).post("/api/api-keys").set("Authorization", `Bearer ${key}`).set("Content-Type", "application/json").send(JSON.stringify({ label: "x".repeat(200_000) }));
    expect(res.status).toBe(413);
    expect(res.body.error).toBe("request_too_large");
    const reg = await request(server.url).post("/reg").set("Content-Type", "application/json").send(JSON.stringify({ client_name: "x".repeat(200_000) }));
    expect(reg.status).toBe(413);
  });

  it("arbitrary ids in GET/DELETE /api/api-keys/:id", async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ maxLength: 300 }), async (id) => {
        const path = `/api/api-keys/${encodeURIComponent(id)}`;
        const [get, del] = [await request(server.url).get(path).set("Authorization", `Bearer ${key}`), await request(server.url).delete(path).set("Authorization", `Bearer ${key}`)];
        for (const res of [get, del]) {
          clean(res);
          if (id === "") continue;
          expect(res.status).toBe(404);
          expect(res.body).toEqual({ error: "not_found", error_description: "No API key with that id." });
        }
      }),
      { numRuns: RUNS },
    );
  });
});

describe("credentials under arbitrary input", () => {
  it("/mcp: arbitrary Authorization and X-API-Key headers are 400/401, never 5xx", async () => {
    const headerValue = fc.string({ unit: "grapheme-ascii", maxLength: 300 }).filter((s) => !/[\r\n]/.test(s));
    await fc.assert(
      fc.asyncProperty(fc.option(headerValue), fc.option(headerValue), async (authorization, apiKey) => {
        let req = request(server.url).post("/mcp").set("Accept", "application/json, text/event-stream");
        if (authorization !== null) req = req.set("Authorization", authorization);
        if (apiKey !== null) req = req.set("X-API-Key", apiKey);
        const res = await req.send({ jsonrpc: "2.0", id: 1, method: "tools/list" });
        clean(res);
        expect([400, 401]).toContain(res.status);
        expect(res.headers["www-authenticate"]).toContain("resource_metadata=");
      }),
      { numRuns: RUNS },
    );
  });

  it("near-miss keys (one character changed) are refused", async () => {
    await fc.assert(
      fc.asyncProperty(fc.nat({ max: key.length - 1 }), fc.constantFrom(..."0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_"), async (i, c) => {
        const mutated = key.slice(0, i) + c + key.slice(i + 1);
        if (mutated === key) return;
        const res = await request(server.url).post("/mcp").set("X-API-Key", mutated).set("Accept", "application/json, text/event-stream").send({ jsonrpc: "2.0", id: 1, method: "tools/list" });
        expect(res.status).toBe(401);
      }),
      { numRuns: RUNS },
    );
  });

  it("/mcp with a valid key and arbitrary JSON-RPC bodies", async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(jsonValue, fc.record({ jsonrpc: fc.constant("2.0"), id: fc.oneof(fc.integer(), nasty), method: fc.oneof(nasty, fc.constantFrom("tools/call", "tools/list", "initialize")), params: jsonValue }, { requiredKeys: [] })), async (body) => {
        const res = await request(server.url).post("/mcp").set("Authorization", `Bearer ${key}`).set("Accept", "application/json, text/event-stream").set("Content-Type", "application/json").send(JSON.stringify(body));
        clean(res);
      }),
      { numRuns: RUNS },
    );
  });
});

describe("OAuth endpoints under arbitrary input", () => {
  it("POST /reg: arbitrary client metadata never registers garbage or fails with 5xx", async () => {
    const metadata = fc.record(
      {
        client_name: nasty,
        redirect_uris: fc.oneof(fc.array(fc.oneof(nasty, fc.webUrl()), { maxLength: 30 }), nasty, jsonValue),
        token_endpoint_auth_method: fc.oneof(fc.constantFrom("none", "client_secret_basic", "private_key_jwt"), nasty),
        grant_types: fc.oneof(fc.array(nasty, { maxLength: 5 }), jsonValue),
        scope: fc.oneof(nasty, fc.array(nasty).map((a) => a.join(" "))),
        logo_uri: fc.oneof(fc.webUrl(), nasty),
        application_type: fc.oneof(fc.constantFrom("web", "native"), nasty),
      },
      { requiredKeys: [] },
    );
    await fc.assert(
      fc.asyncProperty(metadata, async (body) => {
        const before = await counts();
        const res = await request(server.url).post("/reg").set("Content-Type", "application/json").send(JSON.stringify(body));
        clean(res);
        expect(res.headers["content-type"]).toMatch(/json/);
        if (res.status >= 400) {
          expect(["invalid_client_metadata", "invalid_redirect_uri", "invalid_request"]).toContain(res.body.error);
          expect(await counts()).toEqual(before);
        }
      }),
      { numRuns: RUNS },
    );
  });

  it("GET /auth: arbitrary and repeated parameters are refused cleanly", async () => {
    const param = fc.tuple(fc.constantFrom("client_id", "redirect_uri", "response_type", "scope", "state", "code_challenge", "code_challenge_method", "resource", "prompt", "request", "nonce", "x"), nasty);
    await fc.assert(
      fc.asyncProperty(fc.array(param, { maxLength: 12 }), fc.boolean(), async (params, includeClient) => {
        const q = new URLSearchParams(params);
        if (includeClient) q.append("client_id", clientId);
        const res = await request(server.url).get(`/auth?${q}`).redirects(0);
        clean(res);
        if (res.status >= 300 && res.status < 400) {
          // Redirects go to our own log-in/interaction pages or to the client's registered redirect_uri.
          const to = new URL(res.headers.location!, server.url);
          expect([server.url, "http://127.0.0.1:33418"]).toContain(to.origin);
        }
      }),
      { numRuns: RUNS },
    );
  });

  it("POST /token: arbitrary forms get an OAuth error", async () => {
    const field = fc.tuple(fc.constantFrom("grant_type", "code", "code_verifier", "redirect_uri", "client_id", "resource", "refresh_token", "scope"), nasty);
    await fc.assert(
      fc.asyncProperty(fc.array(field, { maxLength: 10 }), async (fields) => {
        const res = await request(server.url).post("/token").type("form").send(new URLSearchParams(fields).toString());
        clean(res);
        expect(res.status).toBeGreaterThanOrEqual(400);
        expect(typeof res.body.error).toBe("string");
      }),
      { numRuns: RUNS },
    );
  });

  it("huge scope lists are refused or trimmed, never 5xx", async () => {
    // Longer than a request line may be: refused by the HTTP layer (431); the server keeps serving.
    const scope = Array.from({ length: 5000 }, (_, i) => `s${i}`).join(" ");
    const res = await request(server.url).get(`/auth?${new URLSearchParams({ client_id: clientId, response_type: "code", redirect_uri: "http://127.0.0.1:33418/callback", scope })}`).redirects(0);
    clean(res);
    expect(res.status).toBe(431);
    expect((await request(server.url).get("/healthz")).status).toBe(200);

    const { agent } = await signUp(server);
    // Hundreds of unknown scopes: refused with invalid_scope at the client's redirect_uri, no code.
    const unknown = Array.from({ length: 600 }, (_, i) => `s${i}`).join(" ");
    const refused = await authorize(agent, server, { clientId, challenge: pkcePair().challenge, method: "S256", scope: `mcp:read ${unknown}` });
    expect(refused.searchParams.get("error")).toBe("invalid_scope");
    expect(refused.searchParams.get("code")).toBeNull();

    // A known scope repeated a thousand times: trimmed to one; the key carries exactly that scope.
    const pkce = pkcePair();
    const keysBefore = await server.services.db.apiKey.count();
    const granted = await authorize(agent, server, { clientId, challenge: pkce.challenge, method: "S256", scope: Array(1000).fill("mcp:read").join(" ") });
    const token = await exchange(server, { clientId, code: granted.searchParams.get("code")!, verifier: pkce.verifier });
    expect(token.status).toBe(200);
    expect(token.body.scope).toBe("mcp:read");
    expect(await server.services.db.apiKey.count()).toBe(keysBefore + 1);
    expect((await server.services.db.apiKey.findFirstOrThrow({ orderBy: { createdAt: "desc" } })).scopes).toBe("mcp:read");
  });
});

describe("browser forms and headers under arbitrary input", () => {
  it("log-in, sign-up and mint forms: arbitrary fields never 5xx", async () => {
    const { agent, csrf } = await signUp(server);
    const form = fc.dictionary(fc.constantFrom("email", "password", "return_to", "label", "scopes", "_csrf", "x"), nasty, { maxKeys: 6 });
    await fc.assert(
      fc.asyncProperty(form, fc.constantFrom("/login", "/signup", "/app/account/api-keys"), fc.boolean(), async (fields, path, withCsrf) => {
        const before = await counts();
        const res = await agent.post(path).type("form").send({ ...fields, ...(withCsrf ? { _csrf: csrf } : {}) }).redirects(0);
        clean(res);
        if (res.status >= 400) expect(await counts()).toEqual(before);
        if (res.status === 303) expect(new URL(res.headers.location!, server.url).origin).toBe(server.url); // no open redirect via return_to
      }),
      { numRuns: RUNS },
    );
  });

  it("oversized headers are refused by the HTTP layer (431), the server keeps serving", async () => {
    const res = await fetch(`${server.url}/healthz`, { headers: { "x-big": "a".repeat(20_000) } });
    expect(res.status).toBe(431);
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
  });
});

describe("NUL characters (PostgreSQL cannot store them)", () => {
  it("are refused with 4xx wherever they arrive", async () => {
    const { agent, csrf } = await signUp(server);
    const responses = [
      await request(server.url).post("/token").type("form").send({ grant_type: "authorization_code", client_id: "\u0000", code: "x" }),
      await request(server.url).get(`/auth?client_id=%00&response_type=code`).redirects(0),
      await request(server.url).get("/api/api-keys/%00").set("Authorization", `Bearer ${key}`),
      await request(server.url).post("/api/api-keys").set("Authorization", `Bearer ${key}`).send({ label: "a\u0000b" }),
      await agent.post("/login").type("form").send({ _csrf: csrf, email: "\u0000", password: "x" }),
      await agent.get("/app/account/api-keys?revoked=%00"),
      await request(server.url).post("/reg").send({ client_name: "\u0000", redirect_uris: ["http://127.0.0.1:1/\u0000"] }),
    ];
    for (const res of responses) clean(res);
    expect(responses.map((r) => r.status)).toEqual(responses.map((r) => (r.status >= 400 && r.status < 500 ? r.status : "not 4xx")));
  });
});
