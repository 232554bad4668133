// /metrics from the outside: behind METRICS_TOKEN (404 without it, 401 on a wrong token), and what
// it counts after real requests: requests by route family and status (never a raw path or id),
// verification outcomes by reason, OAuth flow steps through a real authorization, the gateway's
// upstream latency and failures, the verification cache, and the PostgreSQL pools where there are some.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import request from "supertest";
import { randomBytes } from "node:crypto";
import { signUp, startTestServer, uniqueEmail, type TestServer } from "./support/server.js";
import { mcpStatus } from "./support/mcp-status.js";
import { BY_OPERATOR } from "./support/acting.js";
import { deadUpstream, recordingUpstream, type RecordingUpstream } from "./support/upstreams.js";
import { authorizeWithPkce, exchange, register } from "./support/oauth/flow.js";
import { sample, scrape } from "./support/metrics.js";

const TOKEN = randomBytes(24).toString("base64url");
const BY = { actor: { type: "cli" as const } };

let server: TestServer;
let upstream: RecordingUpstream;

beforeAll(async () => {
  server = await startTestServer({ METRICS_TOKEN: TOKEN });
  upstream = await recordingUpstream();
  await server.services.resources.add({ slug: "notes", name: "Notes", upstream: upstream.url }, BY);
  await server.services.resources.add({ slug: "gone", name: "Gone", upstream: await deadUpstream() }, BY);
});
afterAll(async () => {
  await server?.close();
  await upstream?.close();
});

const metricsText = () => scrape(server, TOKEN);

describe("access", () => {
  it("without METRICS_TOKEN there are no metrics: /metrics is a missing page and nothing is counted", async () => {
    const plain = await startTestServer();
    try {
      expect(plain.services.metrics).toBeUndefined();
      const res = await request(plain.url).get("/metrics").set("Accept", "application/json").set("Authorization", `Bearer ${TOKEN}`);
      expect(res.status).toBe(404);
      expect(res.body).toEqual({ error: "not_found", error_description: "There is nothing at this address." });
    } finally {
      await plain.close();
    }
  });

  it("a METRICS_TOKEN shorter than 16 characters stops the start with a clear message", async () => {
    const { loadConfig } = await import("../src/config.js");
    expect(() => loadConfig({ METRICS_TOKEN: "short" })).toThrow(/METRICS_TOKEN must be at least 16 characters/);
    expect(loadConfig({ METRICS_TOKEN: TOKEN }).metricsToken).toBe(TOKEN);
    expect(loadConfig({}).metricsToken).toBeUndefined();
  });

  it("401 with a challenge for no token, a wrong one, or one sent another way; JSON whatever the Accept header", async () => {
    for (const headers of [
      {},
      { Authorization: `Bearer ${TOKEN}x` },
      { Authorization: `Bearer ${TOKEN.slice(0, -1)}` },
      { Authorization: `Basic ${Buffer.from(`x:${TOKEN}`).toString("base64")}` },
      { "X-API-Key": TOKEN },
    ]) {
      const res = await request(server.url).get("/metrics").set(headers).set("Accept", "text/plain;version=0.0.4");
      expect(res.status).toBe(401);
      expect(res.headers["www-authenticate"]).toBe('Bearer realm="metrics"');
      expect(res.headers["cache-control"]).toBe("no-store");
      expect(res.body).toMatchObject({ error: "invalid_token" });
      expect(res.text).not.toContain("keyward_");
    }
  });

  it("200 in Prometheus' text format with the token; other methods 405; the path in any case is the same endpoint", async () => {
    const res = await request(server.url).get("/metrics").set("Authorization", `Bearer ${TOKEN}`);
    expect(res.status).toBe(200);
    expect(res.headers["content-type"]).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(res.headers["cache-control"]).toBe("no-store");
    expect(res.text).toContain("# TYPE keyward_http_requests_total counter");
    expect(res.text).toContain("process_cpu_seconds_total");
    const post = await request(server.url).post("/metrics").set("Authorization", `Bearer ${TOKEN}`);
    expect(post.status).toBe(405);
    expect(post.body).toMatchObject({ error: "method_not_allowed" });
    expect((await request(server.url).get("/METRICS").set("Authorization", `Bearer ${TOKEN}`)).status).toBe(200);
    expect((await request(server.url).get("/METRICS")).status).toBe(401);
  });
});

describe("requests by route family and status", () => {
  it("counts each request under its family and status, never under its path", async () => {
    const before = await metricsText();
    const id = `key_${randomBytes(8).toString("hex")}`;
    const slug = `s${randomBytes(6).toString("hex")}`;
    await request(server.url).get("/healthz").expect(200);
    await request(server.url).get(`/api/api-keys/${id}`).expect(401);
    await request(server.url).post(`/mcp/${slug}`).send({}).expect(404);
    await request(server.url).get(`/no/such/${id}`).expect(404);
    await request(server.url).get("/.well-known/oauth-protected-resource/mcp").expect(200);
    const after = await metricsText();
    const delta = (labels: Record<string, string>) =>
      sample(after, "keyward_http_requests_total", labels) - sample(before, "keyward_http_requests_total", labels);
    expect(delta({ family: "health", status: "200" })).toBe(1);
    expect(delta({ family: "api", status: "401" })).toBe(1);
    expect(delta({ family: "gateway", status: "404" })).toBe(1);
    expect(delta({ family: "web", status: "404" })).toBe(1);
    expect(delta({ family: "metadata", status: "200" })).toBe(1);
    expect(sample(after, "keyward_http_request_duration_seconds_count", { family: "health" })).toBeGreaterThan(0);
    expect(after).not.toContain(id);
    expect(after).not.toContain(slug);
    for (const family of after.matchAll(/family="([^"]*)"/g))
      expect(["health", "metrics", "static", "gateway", "mcp", "metadata", "oauth", "api", "web"]).toContain(family[1]);
  });
});

describe("verification outcomes and the cache", () => {
  it("counts ok and each refusal by its reason; the cache's hits, misses and rows; key-row reads timed", async () => {
    const user = await server.services.users.create(uniqueEmail("metrics"), "correct horse battery");
    const good = await server.services.keys.mint({ userId: user.id, label: "m", source: "portal", scopes: [] }, BY_OPERATOR);
    const gone = await server.services.keys.mint({ userId: user.id, label: "r", source: "portal", scopes: [] }, BY_OPERATOR);
    await server.services.keys.revoke({ kind: "own", userId: user.id, id: gone.key.id }, BY_OPERATOR);
    const before = await metricsText();
    expect(await mcpStatus(server, good.raw)).toBe(200);
    expect(await mcpStatus(server, good.raw)).toBe(200);
    expect(await mcpStatus(server, gone.raw)).toBe(401);
    expect(await mcpStatus(server, "kw_user_nonsense")).toBe(401);
    const after = await metricsText();
    const delta = (outcome: string) =>
      sample(after, "keyward_key_verifications_total", { outcome }) - sample(before, "keyward_key_verifications_total", { outcome });
    expect(delta("ok")).toBe(2);
    expect(delta("revoked")).toBe(1);
    expect(delta("invalid_format")).toBe(1);
    // Three reads reached the key table (the malformed key stops before it): from memory or from the database.
    const reads = (text: string) => sample(text, "keyward_key_cache_hits_total") + sample(text, "keyward_key_cache_misses_total");
    expect(reads(after) - reads(before)).toBe(3);
    expect(sample(after, "keyward_key_cache_rows")).toBeGreaterThanOrEqual(0);
    expect(after).toContain("# TYPE keyward_key_cache_resets_total counter");
    expect(sample(after, "keyward_key_row_read_duration_seconds_count")).toBe(sample(after, "keyward_key_cache_misses_total"));
    expect(after).not.toContain(good.raw);
  });
});

describe("OAuth flow steps", () => {
  it("a registration, an authorization with its log-in and consent, and the code exchange", async () => {
    const before = await metricsText();
    const reg = await register(server);
    expect(reg.status).toBe(201);
    const bad = await register(server, { redirect_uris: ["http://evil.example/cb"] });
    expect(bad.status).toBe(400);
    const person = await signUp(server);
    const clientId = (reg.body as { client_id: string }).client_id;
    const { code, verifier } = await authorizeWithPkce(person.agent, server, { clientId, scope: "mcp:read" });
    expect((await exchange(server, { clientId, code, verifier })).status).toBe(200);
    expect((await exchange(server, { clientId, code, verifier })).status).toBe(400); // the code once only
    const after = await metricsText();
    const delta = (event: string) =>
      sample(after, "keyward_oauth_events_total", { event }) - sample(before, "keyward_oauth_events_total", { event });
    expect(delta("registration_create.success")).toBe(1);
    expect(delta("registration_create.error")).toBe(1);
    expect(delta("interaction.started")).toBeGreaterThanOrEqual(1);
    expect(delta("interaction.ended")).toBeGreaterThanOrEqual(1);
    expect(delta("authorization.success")).toBe(1);
    expect(delta("grant.success")).toBe(1);
    expect(delta("grant.error")).toBe(1);
    expect(after).not.toContain(clientId);
  });
});

describe("gateway upstream", () => {
  it("times an upstream's answer and counts an unreachable upstream", async () => {
    const user = await server.services.users.create(uniqueEmail("gw"), "correct horse battery");
    const { raw } = await server.services.keys.mint({ userId: user.id, label: "gw", source: "portal", scopes: [] }, BY_OPERATOR);
    const before = await metricsText();
    const call = (slug: string) =>
      request(server.url)
        .post(`/mcp/${slug}`)
        .set("Authorization", `Bearer ${raw}`)
        .set("Accept", "application/json, text/event-stream")
        .send({ jsonrpc: "2.0", id: 1, method: "tools/list" });
    expect((await call("notes")).status).toBe(200);
    expect((await call("notes")).status).toBe(200);
    expect((await call("gone")).status).toBe(502);
    const after = await metricsText();
    const delta = (name: string) => sample(after, name) - sample(before, name);
    expect(delta("keyward_gateway_upstream_duration_seconds_count")).toBe(2);
    expect(delta("keyward_gateway_upstream_duration_seconds_sum")).toBeGreaterThan(0);
    expect(delta("keyward_gateway_upstream_failures_total")).toBe(1);
    const gw = (status: string) =>
      sample(after, "keyward_http_requests_total", { family: "gateway", status }) -
      sample(before, "keyward_http_requests_total", { family: "gateway", status });
    expect(gw("200")).toBe(2);
    expect(gw("502")).toBe(1);
  });
});

describe("database pool", () => {
  it("PostgreSQL: both pools' connections as pg counts them; SQLite has no pool and shows none", async () => {
    await request(server.url).get("/readyz").expect(200);
    const text = await metricsText();
    if (server.database.backend === "postgresql") {
      expect(sample(text, "keyward_db_pool_connections", { pool: "prisma", state: "total" })).toBeGreaterThanOrEqual(1);
      expect(sample(text, "keyward_db_pool_max_connections", { pool: "prisma" })).toBeGreaterThanOrEqual(1);
      expect(sample(text, "keyward_db_pool_max_connections", { pool: "key_lookup" })).toBe(8);
      expect(text).toMatch(/keyward_db_pool_connections\{pool="prisma",state="waiting"\} \d/);
    } else {
      expect(text).not.toMatch(/^keyward_db_pool_connections\{/m);
    }
  });
});

describe("one registry per instance", () => {
  it("a second server in the same process counts only its own requests", async () => {
    const other = await startTestServer({ METRICS_TOKEN: TOKEN });
    try {
      const before = sample(await metricsText(), "keyward_http_requests_total", { family: "health", status: "200" });
      await request(other.url).get("/healthz").expect(200);
      await request(other.url).get("/healthz").expect(200);
      expect(sample(await scrape(other, TOKEN), "keyward_http_requests_total", { family: "health", status: "200" })).toBe(2);
      expect(sample(await metricsText(), "keyward_http_requests_total", { family: "health", status: "200" })).toBe(before);
    } finally {
      await other.close();
    }
  });
});

describe("route families", () => {
  it("a bounded name for every path, in any case, whatever its ids", async () => {
    const { routeFamily } = await import("../src/metrics/index.js");
    const cases: [string, string][] = [
      ["/healthz", "health"],
      ["/readyz", "health"],
      ["/metrics", "metrics"],
      ["/static/app.css", "static"],
      ["/mcp", "mcp"],
      ["/MCP", "mcp"],
      ["/mcp/", "gateway"],
      ["/mcp/notes", "gateway"],
      ["/mcp%2Fnotes", "gateway"],
      ["/.well-known/oauth-authorization-server", "metadata"],
      ["/api/api-keys/key_1", "api"],
      ["/API/orgs", "api"],
      ["/token", "oauth"],
      ["/token/introspection", "oauth"],
      ["/reg/dcr_abc", "oauth"],
      ["/auth", "oauth"],
      ["/interaction/uid123", "oauth"],
      ["/app/account/api-keys", "web"],
      ["/", "web"],
      ["/anything/else", "web"],
    ];
    for (const [path, family] of cases) expect([path, routeFamily(path)]).toEqual([path, family]);
  });
});
