// Property-based fuzzing of every machine-facing route: whatever arrives, the answer is a clean
// 4xx (or a success), never 5xx, never a stack trace, and a rejected request changes nothing.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import request from "supertest";
import { startTestServer, signUp, mintOnPage, type TestServer } from "./support/server.js";
import { authorize, authorizeWithPkce, exchange, pkcePair, register } from "./support/oauth/flow.js";

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
  fc.constantFrom(
    "<script>alert(1)</script>",
    "\u0000",
    "\u202e",
    "💥".repeat(60),
    "a".repeat(5000),
    "../../etc/passwd",
    "%00",
    '{"a":',
    "null",
    "[]",
  ),
);
const jsonValue = fc.jsonValue({ maxDepth: 3 });

describe("JSON API under arbitrary input", () => {
  it("POST /api/api-keys: arbitrary JSON bodies", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(jsonValue, fc.record({ label: nasty, scopes: fc.oneof(nasty, fc.array(nasty, { maxLength: 80 })) }, { requiredKeys: [] })),
        async (body) => {
          const before = await counts();
          const res = await request(server.url)
            .post("/api/api-keys")
            .set("Authorization", `Bearer ${key}`)
            .set("Content-Type", "application/json")
            .send(JSON.stringify(body));
          clean(res);
          expect(res.headers["content-type"]).toMatch(/json/);
          if (res.status >= 400) {
            expect(typeof res.body.error).toBe("string");
            expect(await counts()).toEqual(before);
          }
        },
      ),
      { numRuns: RUNS },
    );
  });

  it("raw bodies with wrong or odd content types", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.string({ unit: "binary", maxLength: 400 }),
        fc.constantFrom(
          "text/plain",
          "application/xml",
          "application/json",
          "application/x-www-form-urlencoded",
          "multipart/form-data; boundary=x",
          "application/json; charset=latin1",
        ),
        async (body, type) => {
          const before = await counts();
          const res = await request(server.url)
            .post("/api/api-keys")
            .set("Authorization", `Bearer ${key}`)
            .set("Content-Type", type)
            .send(body);
          clean(res);
          if (res.status >= 400) expect(await counts()).toEqual(before);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it("oversized bodies get 413", async () => {
    const res = await request(server.url)
      .post("/api/api-keys")
      .set("Authorization", `Bearer ${key}`)
      .set("Content-Type", "application/json")
      .send(JSON.stringify({ label: "x".repeat(200_000) }));
    expect(res.status).toBe(413);
    expect(res.body.error).toBe("request_too_large");
    const reg = await request(server.url)
      .post("/reg")
      .set("Content-Type", "application/json")
      .send(JSON.stringify({ client_name: "x".repeat(200_000) }));
    expect(reg.status).toBe(413);
  });

  it("arbitrary ids in GET/DELETE /api/api-keys/:id", async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ maxLength: 300 }), async (id) => {
        const path = `/api/api-keys/${encodeURIComponent(id)}`;
        const [get, del] = [
          await request(server.url).get(path).set("Authorization", `Bearer ${key}`),
          await request(server.url).delete(path).set("Authorization", `Bearer ${key}`),
        ];
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
      fc.asyncProperty(
        fc.nat({ max: key.length - 1 }),
        fc.constantFrom(..."0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_"),
        async (i, c) => {
          const mutated = key.slice(0, i) + c + key.slice(i + 1);
          if (mutated === key) return;
          const res = await request(server.url)
            .post("/mcp")
            .set("X-API-Key", mutated)
            .set("Accept", "application/json, text/event-stream")
            .send({ jsonrpc: "2.0", id: 1, method: "tools/list" });
          expect(res.status).toBe(401);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it("/mcp with a valid key and arbitrary JSON-RPC bodies", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          jsonValue,
          fc.record(
            {
              jsonrpc: fc.constant("2.0"),
              id: fc.oneof(fc.integer(), nasty),
              method: fc.oneof(nasty, fc.constantFrom("tools/call", "tools/list", "initialize")),
              params: jsonValue,
            },
            { requiredKeys: [] },
          ),
        ),
        async (body) => {
          const res = await request(server.url)
            .post("/mcp")
            .set("Authorization", `Bearer ${key}`)
            .set("Accept", "application/json, text/event-stream")
            .set("Content-Type", "application/json")
            .send(JSON.stringify(body));
          clean(res);
        },
      ),
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
        scope: fc.oneof(
          nasty,
          fc.array(nasty).map((a) => a.join(" ")),
        ),
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
    const param = fc.tuple(
      fc.constantFrom(
        "client_id",
        "redirect_uri",
        "response_type",
        "scope",
        "state",
        "code_challenge",
        "code_challenge_method",
        "resource",
        "prompt",
        "request",
        "nonce",
        "x",
      ),
      nasty,
    );
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
    const field = fc.tuple(
      fc.constantFrom("grant_type", "code", "code_verifier", "redirect_uri", "client_id", "resource", "refresh_token", "scope"),
      nasty,
    );
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
    const res = await request(server.url)
      .get(
        `/auth?${new URLSearchParams({ client_id: clientId, response_type: "code", redirect_uri: "http://127.0.0.1:33418/callback", scope })}`,
      )
      .redirects(0);
    clean(res);
    expect(res.status).toBe(431);
    expect((await request(server.url).get("/healthz")).status).toBe(200);

    const { agent } = await signUp(server);
    // Hundreds of unknown scopes: refused with invalid_scope at the client's redirect_uri, no code.
    const unknown = Array.from({ length: 600 }, (_, i) => `s${i}`).join(" ");
    const refused = await authorize(agent, server, {
      clientId,
      challenge: pkcePair().challenge,
      method: "S256",
      scope: `mcp:read ${unknown}`,
    });
    expect(refused.searchParams.get("error")).toBe("invalid_scope");
    expect(refused.searchParams.get("code")).toBeNull();
    // The description names a few and counts the rest: the redirect stays a small header.
    expect(refused.searchParams.get("error_description")).toMatch(/^unknown scopes s0, s1, .* and 590 more; this server knows/);
    expect(refused.href.length).toBeLessThan(2000);

    // A known scope repeated a thousand times: trimmed to one; the key carries exactly that scope.
    const keysBefore = await server.services.db.apiKey.count();
    const { code, verifier } = await authorizeWithPkce(agent, server, {
      clientId,
      scope: Array(1000).fill("mcp:read").join(" "),
    });
    const token = await exchange(server, { clientId, code, verifier });
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
      fc.asyncProperty(
        form,
        fc.constantFrom("/login", "/signup", "/app/account/api-keys"),
        fc.boolean(),
        async (fields, path, withCsrf) => {
          const before = await counts();
          const res = await agent
            .post(path)
            .type("form")
            .send({ ...fields, ...(withCsrf ? { _csrf: csrf } : {}) })
            .redirects(0);
          clean(res);
          if (res.status >= 400) expect(await counts()).toEqual(before);
          // no open redirect via return_to
          if (res.status === 303) expect(new URL(res.headers.location!, server.url).origin).toBe(server.url);
        },
      ),
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
      await request(server.url)
        .post("/reg")
        .send({ client_name: "\u0000", redirect_uris: ["http://127.0.0.1:1/\u0000"] }),
    ];
    for (const res of responses) clean(res);
    expect(responses.map((r) => r.status)).toEqual(responses.map((r) => (r.status >= 400 && r.status < 500 ? r.status : "not 4xx")));
  });
});

// Every table a request could write to: a refused request must leave them all as they were.
const rows = async () => {
  const { db } = server.services;
  return {
    keys: await db.apiKey.count(),
    users: await db.user.count(),
    orgs: await db.organization.count(),
    members: await db.membership.count(),
    apps: await db.app.count(),
    notes: await db.note.count(),
    oauth: await db.oidcPayload.count(),
    audit: await db.auditEvent.count(),
  };
};
// No stack trace, source path or database text in any answer.
const INTERNAL = /at .+\.(ts|js):\d+|node_modules\/|\/src\/|\.ts:\d+|Invalid `|prisma/i;
function sealed(res: request.Response) {
  expect(res.status, `${res.status} ${res.text.slice(0, 300)}`).toBeLessThan(500);
  expect(res.text).not.toMatch(INTERNAL);
}

describe("ill-formed Unicode family (lone and reversed surrogates, non-UTF-8 escapes)", () => {
  const high = fc.integer({ min: 0xd800, max: 0xdbff }).map((c) => String.fromCharCode(c));
  const low = fc.integer({ min: 0xdc00, max: 0xdfff }).map((c) => String.fromCharCode(c));
  // A lone high, a lone low, or a pair in the wrong order, somewhere inside ordinary text.
  const surrogate = fc.oneof(
    high,
    low,
    fc.tuple(low, high).map(([l, h]) => l + h),
  );
  const illFormed = fc.tuple(fc.string({ maxLength: 12 }), surrogate, fc.string({ maxLength: 12 })).map(([a, s, b]) => a + s + b);
  // The same defects percent-encoded (UTF-8 of a surrogate, CESU-8 pairs) and cut or stray bytes.
  const badEscape = fc.oneof(
    fc.integer({ min: 0xa0, max: 0xbf }).map((b) => `%ED%${b.toString(16).toUpperCase()}%80`),
    fc.constantFrom("%ED%A0%BD%ED%B8%80", "%C3", "%E2%82", "%F0%9F%92", "%FF", "%80", "%C0%AF", "%F8%88%80%80%80"),
  );
  const withEscape = fc
    .tuple(fc.stringMatching(/^[a-z0-9]{0,8}$/), badEscape, fc.stringMatching(/^[a-z0-9]{0,8}$/))
    .map(([a, e, b]) => a + e + b);

  let orgId: string;
  let appId: string;
  let userId: string;
  beforeAll(async () => {
    const auth = { Authorization: `Bearer ${key}` };
    orgId = (await request(server.url).post("/api/orgs").set(auth).send({ name: "Fuzz org" }).expect(201)).body.id;
    appId = (await request(server.url).post(`/api/orgs/${orgId}/apps`).set(auth).send({ name: "Fuzz app" }).expect(201)).body.id;
    userId = (
      await request(server.url)
        .post("/mcp")
        .set(auth)
        .set("Accept", "application/json, text/event-stream")
        .send({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "whoami", arguments: {} } })
    ).body.result.structuredContent.userId;
  });

  // Every JSON body our routes parse, with every string field (and a key) the route reads.
  const routes = () =>
    [
      {
        method: "post",
        path: "/api/api-keys",
        body: (s: string) =>
          fc.constantFrom(
            { label: s },
            { label: "ok", scopes: [s] },
            { label: "ok", scopes: s },
            { label: "ok", organizationId: s },
            { [s]: "ok" },
          ),
      },
      { method: "post", path: "/api/orgs", body: (s: string) => fc.constantFrom({ name: s }, { [s]: 1 }) },
      {
        method: "post",
        path: `/api/orgs/${orgId}/members`,
        body: (s: string) => fc.constantFrom({ email: `${s}@example.com`, role: "viewer" }, { email: "a@example.com", role: s }),
      },
      { method: "patch", path: `/api/orgs/${orgId}/members/${userId}`, body: (s: string) => fc.constantFrom({ role: s }) },
      { method: "post", path: `/api/orgs/${orgId}/apps`, body: (s: string) => fc.constantFrom({ name: s }) },
      {
        method: "post",
        path: `/api/orgs/${orgId}/apps/${appId}/keys`,
        body: (s: string) => fc.constantFrom({ label: s }, { scopes: [s] }),
      },
      {
        method: "post",
        path: "/mcp",
        body: (s: string) =>
          fc.constantFrom(
            { jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "notes_add", arguments: { text: s } } },
            { jsonrpc: "2.0", id: s, method: "tools/list" },
            { jsonrpc: "2.0", id: 1, method: s },
            { jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: s, arguments: {} } },
          ),
      },
      {
        method: "post",
        path: "/login",
        body: (s: string) =>
          fc.constantFrom(
            { email: s, password: "correct horse battery" },
            { email: "a@example.com", password: s },
            { email: "a@example.com", password: "x", return_to: `/app/${s}` },
          ),
      },
      {
        method: "post",
        path: "/signup",
        body: (s: string) =>
          fc.constantFrom({ email: `${s}@example.com`, password: "correct horse battery" }, { email: "b@example.com", password: s }),
      },
      { method: "post", path: "/app/account/api-keys", body: (s: string) => fc.constantFrom({ label: s }, { label: "ok", scopes: s }) },
    ] as const;

  it("in every string field of every JSON body we parse: 400 invalid_request, nothing written", async () => {
    const { agent, csrf } = await signUp(server);
    const cases = fc.tuple(fc.nat({ max: routes().length - 1 }), illFormed, fc.boolean()).chain(([i, s, viaSession]) =>
      routes()
        [i]!.body(s)
        .map((body) => ({ route: routes()[i]!, body, viaSession })),
    );
    await fc.assert(
      fc.asyncProperty(cases, async ({ route, body, viaSession }) => {
        const before = await rows();
        // /mcp takes keys only; the JSON API a key or the session (+ CSRF header); pages the session.
        const withKey = route.path === "/mcp" || (route.path.startsWith("/api/") && !viaSession);
        let req = (withKey ? request(server.url) : agent)[route.method](route.path).set("Content-Type", "application/json");
        req = withKey
          ? req.set("Authorization", `Bearer ${key}`).set("Accept", "application/json, text/event-stream")
          : req.set("X-CSRF-Token", csrf).set("Accept", "application/json");
        const res = await req.send(JSON.stringify({ ...(withKey ? {} : { _csrf: csrf }), ...body }));
        sealed(res);
        expect(res.status).toBe(400);
        expect(res.body.error).toBe("invalid_request");
        expect(await rows()).toEqual(before);
      }),
      { numRuns: RUNS },
    );
  });

  it("percent-escapes that are not UTF-8 in form bodies, query strings and paths: 400, nothing written", async () => {
    const { agent, csrf } = await signUp(server);
    const where = fc.constantFrom(
      (e: string) =>
        agent
          .post("/login")
          .type("form")
          .send(`_csrf=${encodeURIComponent(csrf)}&email=${e}&password=x`),
      (e: string) =>
        agent
          .post("/signup")
          .type("form")
          .send(`_csrf=${encodeURIComponent(csrf)}&email=${e}%40example.com&password=correct+horse+battery`),
      (e: string) =>
        agent
          .post("/app/account/api-keys")
          .type("form")
          .send(`_csrf=${encodeURIComponent(csrf)}&label=${e}`),
      (e: string) =>
        agent
          .post("/app/account/api-keys")
          .type("form")
          .send(`_csrf=${encodeURIComponent(csrf)}&${e}=1`),
      (e: string) => request(server.url).post("/api/api-keys").set("Authorization", `Bearer ${key}`).type("form").send(`label=${e}`),
      (e: string) => request(server.url).post("/token").type("form").send(`grant_type=authorization_code&code=${e}`).query(`x=${e}`),
      (e: string) => request(server.url).get(`/api/api-keys?cursor=${e}`).set("Authorization", `Bearer ${key}`),
      (e: string) => request(server.url).get(`/api/api-keys/${e}`).set("Authorization", `Bearer ${key}`),
      (e: string) => request(server.url).delete(`/api/orgs/${orgId}/members/${e}`).set("Authorization", `Bearer ${key}`),
      (e: string) => agent.get(`/app/account/api-keys?revoked=${e}`),
      (e: string) => agent.get(`/app/orgs/${e}`),
      (e: string) => request(server.url).get(`/auth?client_id=${clientId}&response_type=code&state=${e}`).redirects(0),
      (e: string) => request(server.url).get(`/reg/${e}`),
      (e: string) => request(server.url).get(`/interaction/${e}`),
      (e: string) =>
        request(server.url).post(`/mcp?${e}`).set("Authorization", `Bearer ${key}`).send({ jsonrpc: "2.0", id: 1, method: "tools/list" }),
    );
    await fc.assert(
      fc.asyncProperty(where, withEscape, async (send, e) => {
        const before = await rows();
        const res = await send(e);
        sealed(res);
        expect(res.status).toBe(400);
        expect(await rows()).toEqual(before);
      }),
      { numRuns: RUNS },
    );
  });

  // The client-metadata side is src/oauth's (and its own JSON parser): here only "never 5xx, a
  // refusal writes nothing". Refusing these names with 400 is the registration policy's job.
  it("in client metadata at /reg: never 5xx, a refusal writes nothing", async () => {
    const field = fc.constantFrom("client_name", "client_uri", "logo_uri", "scope", "token_endpoint_auth_method", "redirect_uri");
    await fc.assert(
      fc.asyncProperty(field, illFormed, async (name, s) => {
        const before = await rows();
        const body: Record<string, unknown> = {
          client_name: "ok",
          redirect_uris: ["http://127.0.0.1:33418/callback"],
          token_endpoint_auth_method: "none",
        };
        if (name === "redirect_uri") body.redirect_uris = [`http://127.0.0.1:33418/${s}`];
        else body[name] = s;
        const res = await request(server.url).post("/reg").set("Content-Type", "application/json").send(JSON.stringify(body));
        sealed(res);
        if (res.status >= 400) expect(await rows()).toEqual(before);
      }),
      { numRuns: RUNS },
    );
  });
});

describe("route-variant family (trailing slash, doubled slash, case, percent-encoded letters, ; params)", () => {
  // [method, path, needs credentials to write?]
  const ROUTES: ReadonlyArray<readonly ["get" | "post" | "delete", string, boolean]> = [
    ["get", "/", false],
    ["get", "/login", false],
    ["get", "/signup", false],
    ["get", "/healthz", false],
    ["get", "/readyz", false],
    ["get", "/jwks", false],
    ["get", "/.well-known/oauth-authorization-server", false],
    ["get", "/.well-known/openid-configuration", false],
    ["get", "/.well-known/oauth-protected-resource/mcp", false],
    ["get", "/app/account/api-keys", true],
    ["get", "/app/account/connected-apps", true],
    ["get", "/app/account/security", true],
    ["get", "/app/account/audit", true],
    ["get", "/app/orgs", true],
    ["get", "/api/api-keys", true],
    ["get", "/api/orgs", true],
    ["post", "/api/api-keys", true],
    ["post", "/api/orgs", true],
    ["delete", "/api/api-keys/key_00000000000000000000000000000000", true],
    ["post", "/mcp", true],
    ["post", "/app/account/api-keys", true],
    ["post", "/login", true],
    ["post", "/signup", true],
    ["post", "/token", true],
    ["post", "/token/introspection", true],
    ["post", "/token/revocation", true],
    ["post", "/reg", false],
    ["get", "/auth", false],
  ];
  const letters = (p: string) => [...p].flatMap((c, i) => (/[a-z]/i.test(c) ? [i] : []));
  const variant = fc
    .tuple(
      fc.constantFrom("trailing slash", "doubled slash", "upper case", "upper segment", "encoded letter", "semicolon param", "dot segment"),
      fc.nat(),
    )
    .map(([kind, n]) => (p: string): string => {
      const slashes = [...p].flatMap((c, i) => (c === "/" ? [i] : []));
      const at = (xs: number[]) => xs[n % Math.max(xs.length, 1)] ?? 0;
      switch (kind) {
        case "trailing slash":
          return `${p}/`;
        case "doubled slash": {
          const i = at(slashes);
          return `${p.slice(0, i)}/${p.slice(i)}`;
        }
        case "upper case":
          return p.toUpperCase();
        case "upper segment": {
          const segs = p.split("/");
          const i = 1 + (n % Math.max(segs.length - 1, 1));
          return segs.map((s, j) => (j === i ? s.toUpperCase() : s)).join("/");
        }
        case "encoded letter": {
          if (!letters(p).length) return `${p}%61`;
          const i = at(letters(p));
          return `${p.slice(0, i)}%${p.charCodeAt(i).toString(16).toUpperCase()}${p.slice(i + 1)}`;
        }
        case "semicolon param":
          return `${p};jsessionid=${n}`;
        default: {
          const i = at(slashes);
          return `${p.slice(0, i)}/.${p.slice(i)}`;
        }
      }
    });
  const bodyFor = (path: string): string | Record<string, unknown> => {
    if (path === "/mcp")
      return { jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "notes_add", arguments: { text: "variant" } } };
    if (path === "/reg") return { redirect_uris: ["http://127.0.0.1:33418/callback"], token_endpoint_auth_method: "none" };
    if (path.startsWith("/token")) return "grant_type=authorization_code&code=x&token=y";
    if (path === "/login" || path === "/signup") return "email=variant%40example.com&password=correct+horse+battery";
    return { label: "variant", name: "Variant org" };
  };

  it("never 5xx, never an internal message; without credentials nothing is written; a refusal writes nothing", async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...ROUTES), variant, fc.boolean(), async ([method, path, guarded], change, withKey) => {
        const url = change(path);
        const before = await rows();
        let req = request(server.url)[method](url).redirects(0).set("Accept", "application/json, text/event-stream");
        if (withKey) req = req.set("Authorization", `Bearer ${key}`);
        const body = bodyFor(path);
        const res = method === "get" ? await req : typeof body === "string" ? await req.type("form").send(body) : await req.send(body);
        sealed(res);
        if (res.status >= 300 && res.status < 400 && res.headers.location)
          expect(new URL(res.headers.location, server.url).origin).toBe(server.url);
        if (res.status >= 400 || (guarded && !withKey)) expect(await rows(), `${method} ${url} → ${res.status}`).toEqual(before);
      }),
      { numRuns: RUNS * 2 },
    );
  });
});
