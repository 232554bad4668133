// Issue 28 item 4: rate limits per key (requests per minute) on portal, app and OAuth keys, on all
// keys of an OAuth client (per user) and per key at a gateway resource; enforced by /mcp and the
// gateway with 429, Retry-After and the IETF RateLimit-Policy / RateLimit fields; shared by two
// instances on PostgreSQL within the overshoot docs/key-lifecycle.md states.
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import request from "supertest";
import { startSecondInstance, startTestServer, type Person, type TestServer } from "./support/server.js";
import { startWithKeyAndResource } from "./support/keys.js";
import { createApp, createOrg } from "./support/orgs.js";
import { BY_OPERATOR } from "./support/acting.js";
import { authorizeWithPkce, exchange, register } from "./support/oauth/flow.js";
import type { RecordingUpstream } from "./support/upstreams.js";
import { expectError, keyward } from "./support/cli-run.js";
import type { RunningServer } from "../src/server.js";

const onPostgres = inject("testBackend") === "postgresql";
const WHOAMI = { jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "whoami", arguments: {} } };
const LIST = { jsonrpc: "2.0", id: 1, method: "tools/list" };

/**
 * Windows are the clock's minutes: a test that counts to a limit starts with at least 15 s of its
 * minute left, so that its requests share one window (this waits; it asserts nothing about time).
 */
async function awayFromMinuteEdge(): Promise<void> {
  const left = 60_000 - (Date.now() % 60_000);
  if (left < 15_000) await new Promise((r) => setTimeout(r, left + 100));
}

const mcp = (url: string, raw: string) =>
  request(url).post("/mcp").set("Authorization", `Bearer ${raw}`).set("Accept", "application/json, text/event-stream").send(WHOAMI);

/** `"key";r=2;t=37` → { r: 2, t: 37 } for the named policy. */
function stateOf(header: string | undefined, name: string): { r: number; t: number } {
  const m = new RegExp(`"${name}";r=(\\d+);t=(\\d+)`).exec(header ?? "");
  if (!m) throw new Error(`no ${name} state in ${header}`);
  return { r: Number(m[1]), t: Number(m[2]) };
}

describe("one instance", () => {
  let server: TestServer;
  let person: Person;
  let userId: string;
  let admin: string;
  let upstream: RecordingUpstream;

  beforeAll(async () => {
    ({ server, person, userId, admin, upstream } = await startWithKeyAndResource({ slug: "limited", name: "Limited", keyRateLimit: 2 }));
  }, 60_000);
  afterAll(async () => {
    await server?.close();
    await upstream?.close();
  });

  const mint = (body: object) => request(server.url).post("/api/api-keys").set("Authorization", `Bearer ${admin}`).send(body);

  it("bad limits: 400 invalid_request with words; nothing minted", async () => {
    const before = await server.services.db.apiKey.count({ where: { userId } });
    for (const [rateLimit, words] of [
      [0, "at least 1 request per minute"],
      [-5, "at least 1 request per minute"],
      [1.5, "whole number of requests per minute"],
      ["ten", "whole number of requests per minute"],
      [2_000_000, "at most 1000000 requests per minute"],
    ] as const) {
      const res = await mint({ label: "x", rateLimit });
      expect(res.status, String(rateLimit)).toBe(400);
      expect(res.body.error).toBe("invalid_request");
      expect(res.body.error_description).toContain(words);
    }
    expect(await server.services.db.apiKey.count({ where: { userId } })).toBe(before);
  });

  it("a portal key at /mcp: exactly the limit passes, then 429 with Retry-After and the RateLimit fields; nothing else counts against other keys", async () => {
    await awayFromMinuteEdge();
    const res = await mint({ label: "three", rateLimit: 3 });
    expect(res.status, res.text).toBe(201);
    expect(res.body.rateLimit).toBe(3);
    const raw = res.body.key as string;
    const remaining: number[] = [];
    for (let i = 0; i < 3; i++) {
      const ok = await mcp(server.url, raw);
      expect(ok.status).toBe(200);
      expect(ok.headers["ratelimit-policy"]).toBe('"key";q=3;w=60');
      const state = stateOf(ok.headers.ratelimit, "key");
      expect(state.t).toBeGreaterThanOrEqual(1);
      expect(state.t).toBeLessThanOrEqual(60);
      remaining.push(state.r);
    }
    expect(remaining).toEqual([2, 1, 0]);
    const refused = await mcp(server.url, raw);
    expect(refused.status).toBe(429);
    expect(refused.headers["ratelimit-policy"]).toBe('"key";q=3;w=60');
    const state = stateOf(refused.headers.ratelimit, "key");
    expect(state.r).toBe(0);
    expect(refused.headers["retry-after"]).toBe(String(state.t));
    expect(refused.headers["cache-control"]).toBe("no-store");
    expect(refused.body).toEqual({
      error: "rate_limited",
      error_description: `Too many requests: 3 per minute is this key's own limit; retry in ${state.t} s`,
    });
    // Another key of the same user is not limited by it, and carries no RateLimit fields.
    const free = await mcp(server.url, admin);
    expect(free.status).toBe(200);
    expect(free.headers["ratelimit-policy"]).toBeUndefined();
    expect(free.headers.ratelimit).toBeUndefined();
  });

  it("changed later (PATCH): the new limit applies on the next request; null removes it", async () => {
    await awayFromMinuteEdge();
    const res = await mint({ label: "later", rateLimit: 1 });
    const raw = res.body.key as string;
    expect((await mcp(server.url, raw)).status).toBe(200);
    expect((await mcp(server.url, raw)).status).toBe(429);
    const patch = (body: object) =>
      request(server.url).patch(`/api/api-keys/${res.body.id}`).set("Authorization", `Bearer ${admin}`).send(body);
    expect((await patch({ rateLimit: 0 })).status).toBe(400);
    const raised = await patch({ rateLimit: 5 });
    expect(raised.status, raised.text).toBe(200);
    expect(raised.body.rateLimit).toBe(5);
    const ok = await mcp(server.url, raw);
    expect(ok.status).toBe(200);
    expect(ok.headers["ratelimit-policy"]).toBe('"key";q=5;w=60');
    expect(stateOf(ok.headers.ratelimit, "key").r).toBe(3); // the window's count carries on: 2 used of 5
    expect((await patch({ rateLimit: null })).body.rateLimit).toBeNull();
    const unlimited = await mcp(server.url, raw);
    expect(unlimited.status).toBe(200);
    expect(unlimited.headers.ratelimit).toBeUndefined();
  });

  it("a limited key mints only keys as limited, and cannot change limits", async () => {
    const limited = (await mint({ label: "parent", rateLimit: 10 })).body as { key: string; id: string };
    const asLimited = () => request(server.url).post("/api/api-keys").set("Authorization", `Bearer ${limited.key}`);
    expect((await asLimited().send({ label: "child" })).body.rateLimit).toBe(10);
    expect((await asLimited().send({ label: "lower", rateLimit: 5 })).body.rateLimit).toBe(5);
    expect((await asLimited().send({ label: "higher", rateLimit: 11 })).status).toBe(403);
    const lift = await request(server.url)
      .patch(`/api/api-keys/${limited.id}`)
      .set("Authorization", `Bearer ${limited.key}`)
      .send({ rateLimit: null });
    expect(lift.status).toBe(403);
  });

  it("the gateway: the resource's per-key limit, and the key's own, both in the fields; the upstream never sees a refused request", async () => {
    await awayFromMinuteEdge();
    const gw = (raw: string) =>
      request(server.url)
        .post("/mcp/limited")
        .set("Authorization", `Bearer ${raw}`)
        .set("Accept", "application/json, text/event-stream")
        .send(LIST);
    const plainKey = (await mint({ label: "plain" })).body as { id: string; key: string };
    const plain = plainKey.key;
    const before = upstream.received.length;
    const first = await gw(plain);
    expect(first.status).toBe(200);
    expect(first.headers["ratelimit-policy"]).toBe('"resource";q=2;w=60');
    expect(stateOf(first.headers.ratelimit, "resource").r).toBe(1);
    expect((await gw(plain)).status).toBe(200);
    const refused = await gw(plain);
    expect(refused.status).toBe(429);
    expect(refused.body.error_description).toMatch(/^Too many requests: 2 per minute is this resource's limit per key; retry in \d+ s$/);
    expect(upstream.received.length - before).toBe(2);
    // The usage counts (issue 28 item 5) have the refusal as a 429, apart from the two served.
    await server.services.keys.tracker.flush();
    expect((await server.services.keys.usage.forKeys([plainKey.id])).totals).toMatchObject({ requests: 2, limited: 1 });
    // Per key: another key has its own count at the resource, and at /mcp the resource's limit does not apply.
    const own = (await mint({ label: "own", rateLimit: 5 })).body.key as string;
    const both = await gw(own);
    expect(both.status).toBe(200);
    expect(both.headers["ratelimit-policy"]).toBe('"key";q=5;w=60, "resource";q=2;w=60');
    expect(both.headers.ratelimit).toMatch(/^"key";r=4;t=\d+, "resource";r=1;t=\d+$/);
    expect((await mcp(server.url, plain)).status).toBe(200);
    // The resource's limit changed: the next request obeys.
    await server.services.resources.update("limited", { keyRateLimit: null }, { actor: { type: "cli" } });
    expect((await gw(plain)).status).toBe(200);
  });

  it(
    "keyward resources add|update --key-rate-limit / --clear-key-rate-limit; a bad number exits 2 with words",
    { timeout: 120_000 },
    async () => {
      const env = { env: { DATABASE_URL: server.database.url, ISSUER: server.config.baseUrl } };
      const added = await keyward(
        ["resources", "add", "cli-limited", "--name", "CLI", "--upstream", upstream.url, "--key-rate-limit", "7", "--json"],
        env,
      );
      expect(added.code, added.stderr).toBe(0);
      expect(JSON.parse(added.stdout)).toMatchObject({ slug: "cli-limited", keyRateLimit: 7 });
      expect((await server.services.resources.lookup.bySlug("cli-limited"))?.keyRateLimit).toBe(7);
      const cleared = await keyward(["resources", "update", "cli-limited", "--clear-key-rate-limit", "--json"], env);
      expect(cleared.code, cleared.stderr).toBe(0);
      expect(JSON.parse(cleared.stdout)).toMatchObject({ keyRateLimit: null });
      const bad = await keyward(["resources", "update", "cli-limited", "--key-rate-limit", "0"], env);
      expectError(bad, 2, /at least 1 request per minute/);
    },
  );

  it("an app key and an OAuth key (its client's limit for this user) are limited the same way", async () => {
    await awayFromMinuteEdge();
    const org = await createOrg(server, admin, "Rate org");
    const app = await createApp(server, admin, org, "Robot");
    const appKey = await server.services.keys.mint(
      { userId, label: "robot", source: "portal", organizationId: org, appId: app, rateLimit: 1 },
      BY_OPERATOR,
    );
    expect((await mcp(server.url, appKey.raw)).status).toBe(200);
    expect((await mcp(server.url, appKey.raw)).status).toBe(429);

    const reg = await register(server, { client_name: "Rate client" });
    const clientId = reg.body.client_id as string;
    await server.services.keys.setClientLimits(userId, clientId, { allowedIps: null, rateLimit: 2 }, BY_OPERATOR);
    const { code, verifier } = await authorizeWithPkce(person.agent, server, { clientId, scope: "mcp:read" });
    const token = await exchange(server, { clientId, code, verifier });
    const raw = token.body.access_token as string;
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await mcp(server.url, raw)).status);
    expect(statuses).toEqual([200, 200, 429]);
  });
});

describe.skipIf(!onPostgres)("two instances on PostgreSQL", () => {
  let a: TestServer;
  let b: RunningServer;
  let userId: string;

  beforeAll(async () => {
    a = await startTestServer({ KEY_RATE_LIMIT_FLUSH_MS: "100" });
    b = await startSecondInstance(a, { KEY_RATE_LIMIT_FLUSH_MS: "100" });
    userId = (await a.services.users.create(`rate${Date.now()}@example.com`, "correct horse battery")).id;
  }, 60_000);
  afterAll(async () => {
    await b?.stop();
    await a?.close();
  });

  it("the limit spent on A is refused on B once B has flushed: the overshoot is what B admitted before its flush", async () => {
    await awayFromMinuteEdge();
    const raw = (await a.services.keys.mint({ userId, label: "shared", source: "portal", rateLimit: 5 }, BY_OPERATOR)).raw;
    for (let i = 0; i < 5; i++) expect((await mcp(a.url, raw)).status).toBe(200);
    expect((await mcp(a.url, raw)).status).toBe(429);
    await a.services.keyRateLimiter.flush();
    // B has not counted this key yet: its first request is the overshoot (≤ one flush interval's worth).
    expect((await mcp(b.url, raw)).status).toBe(200);
    await b.services.keyRateLimiter.flush();
    expect((await mcp(b.url, raw)).status).toBe(429);
    await a.services.keyRateLimiter.flush();
    const count = await a.services.db.keyRateCount.findMany({ where: { bucket: { startsWith: "key " } } });
    expect(count.reduce((n, r) => n + r.count, 0)).toBe(6); // 5 on A + 1 on B: limit + B's one flush interval
  });

  it("requests spread over both instances, flushing on their own timers: never more than limit × instances admitted, and both refuse in the end", async () => {
    await awayFromMinuteEdge();
    const limit = 10;
    const raw = (await a.services.keys.mint({ userId, label: "spread", source: "portal", rateLimit: limit }, BY_OPERATOR)).raw;
    let admitted = 0;
    for (let i = 0; i < 40; i++) {
      const res = await mcp(i % 2 ? b.url : a.url, raw);
      if (res.status === 200) admitted++;
      else expect(res.status).toBe(429);
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(admitted).toBeGreaterThanOrEqual(limit);
    expect(admitted).toBeLessThanOrEqual(limit * 2); // the bound docs/key-lifecycle.md states for two instances
    // Whatever the timers did, after A, B, A flush both know every count.
    await a.services.keyRateLimiter.flush();
    await b.services.keyRateLimiter.flush();
    await a.services.keyRateLimiter.flush();
    expect((await mcp(a.url, raw)).status).toBe(429);
    expect((await mcp(b.url, raw)).status).toBe(429);
  });
});
