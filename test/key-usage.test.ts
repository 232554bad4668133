// Usage per key (issue 28 item 5): the numbers equal the requests sent (send N, flush, compare), on
// /mcp, the gateway and the JSON API, for portal, app and OAuth keys; 401/403/429 counted apart; a
// refusal counts for its key only when the key is known (a revoked key, not garbage); two instances on
// one database add up; nothing is written per request; another user's key id is the same 404 as a
// missing one; housekeeping drops rows older than the 30 days shown.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import request from "supertest";
import { startSecondInstance, startTestServer, uniqueEmail, type TestServer } from "./support/server.js";
import { recordingUpstream, type RecordingUpstream } from "./support/upstreams.js";
import { BY_OPERATOR } from "./support/acting.js";
import { loadConfig } from "../src/config.js";
import type { RunningServer } from "../src/server.js";
import { sweep } from "../src/housekeeping.js";
import { generateKey } from "../src/keys/format.js";
import { createKeys } from "../src/keys/index.js";
import { keywardInProcess } from "./support/cli-run.js";

let a: TestServer;
let b: RunningServer;
let upstream: RecordingUpstream;
let userId: string;
let otherId: string;

const whoami = { jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "whoami", arguments: {} } };
const addNote = { jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "notes_add", arguments: { text: "hi" } } };

const mcp = (url: string, raw: string, body: object = whoami, path = "/mcp") =>
  fetch(`${url}${path}`, {
    method: "POST",
    headers: { Authorization: `Bearer ${raw}`, "Content-Type": "application/json", Accept: "application/json, text/event-stream" },
    body: JSON.stringify(body),
  }).then(async (res) => {
    await res.arrayBuffer();
    return res.status;
  });

const mint = (label: string, extra: Record<string, unknown> = {}, owner = userId) =>
  a.services.keys.mint({ userId: owner, label, source: "portal", ...extra }, BY_OPERATOR);

/** Both instances write what they counted, then the API answers for `raw`'s owner. */
async function usageOf(keyId: string, callerRaw: string) {
  await a.services.keys.tracker.flush();
  await b.services.keys.tracker.flush();
  const res = await request(a.url).get(`/api/api-keys/${keyId}/usage`).set("Authorization", `Bearer ${callerRaw}`);
  expect(res.status).toBe(200);
  return res.body as { key_id: string; totals: Record<string, number>; days: Record<string, number | string>[]; hours: unknown[] };
}

let reader: string; // a full-access key of the user: reads the usage through the API

beforeAll(async () => {
  a = await startTestServer({ LAST_USED_FLUSH_SECONDS: "3600" });
  b = await startSecondInstance(a, { LAST_USED_FLUSH_SECONDS: "3600" });
  upstream = await recordingUpstream();
  userId = (await a.services.users.create(uniqueEmail("usage"), "correct horse battery")).id;
  otherId = (await a.services.users.create(uniqueEmail("usage-other"), "correct horse battery")).id;
  reader = (await mint("reader")).raw;
}, 60_000);
afterAll(async () => {
  await b?.stop();
  await a?.close();
  await upstream?.close();
});

describe("counting", () => {
  it("N tools/call on /mcp → requests = N after a flush, and nothing is written before it", async () => {
    const key = await mint("mcp");
    for (let i = 0; i < 7; i++) expect(await mcp(a.url, key.raw)).toBe(200);
    expect(await a.services.db.keyUsage.count({ where: { keyId: key.key.id } })).toBe(0); // counted in memory only
    const usage = await usageOf(key.key.id, reader);
    expect(usage.totals).toEqual({ requests: 7, unauthorized: 0, forbidden: 0, limited: 0 });
    const today = usage.days.at(-1)!;
    expect(today).toMatchObject({ date: new Date().toISOString().slice(0, 10), requests: 7 });
    expect(usage.days).toHaveLength(30);
    expect(usage.hours).toHaveLength(1);
    expect(await a.services.db.keyUsage.count({ where: { keyId: key.key.id } })).toBe(1); // one row per key and hour
  });

  it("403 (insufficient scope) and 401 (the key revoked) are counted apart; garbage counts for nobody", async () => {
    const key = await mint("read only", { scopes: ["mcp:read"] });
    expect(await mcp(a.url, key.raw)).toBe(200);
    for (let i = 0; i < 3; i++) expect(await mcp(a.url, key.raw, addNote)).toBe(403);
    await a.services.keys.revoke({ kind: "own", userId, id: key.key.id }, BY_OPERATOR);
    for (let i = 0; i < 2; i++) expect(await mcp(a.url, key.raw)).toBe(401);
    expect(await mcp(a.url, generateKey(a.config.keyPrefix))).toBe(401);
    expect(await mcp(a.url, "garbage")).toBe(401);
    const usage = await usageOf(key.key.id, reader);
    expect(usage.totals).toEqual({ requests: 1, unauthorized: 2, forbidden: 3, limited: 0 });
    // nothing was counted for the unknown and malformed keys: every row is a key of this database
    const rows = await a.services.db.keyUsage.findMany({ include: { key: { select: { id: true } } } });
    expect(rows.every((r) => r.key.id === r.keyId)).toBe(true);
  });

  it("a 401 for a key bound to another resource, or an app key where app keys are refused, counts for that key", async () => {
    const oauth = await mint("OAuth: bound", {
      source: "oauth",
      clientId: "dcr_bound",
      scopes: ["mcp:read"],
      resources: [`${a.config.baseUrl}/mcp`],
    });
    for (let i = 0; i < 2; i++) await request(a.url).get("/api/api-keys").set("Authorization", `Bearer ${oauth.raw}`).expect(401);
    expect((await usageOf(oauth.key.id, reader)).totals).toEqual({ requests: 0, unauthorized: 2, forbidden: 0, limited: 0 });
    const team = await a.services.orgs.create(userId, `Team bound ${Date.now()}`);
    const app = await a.services.orgs.createApp(team.id, "Robot");
    const appKey = await mint("app on the API", { organizationId: team.id, appId: app.id });
    await request(a.url).get("/api/api-keys").set("Authorization", `Bearer ${appKey.raw}`).expect(401);
    await a.services.keys.tracker.flush();
    const stored = await a.services.db.keyUsage.findMany({ where: { keyId: appKey.key.id } });
    expect(stored.map((r) => [r.requests, r.unauthorized])).toEqual([[0, 1]]);
  });

  it("a failed write keeps the counts for the next flush", async () => {
    const key = await mint("flaky");
    for (let i = 0; i < 3; i++) expect(await mcp(a.url, key.raw)).toBe(200);
    const tracker = a.services.keys.tracker as unknown as { db: { $executeRawUnsafe: (...args: unknown[]) => Promise<number> } };
    const original = tracker.db.$executeRawUnsafe;
    const db = tracker.db;
    Object.defineProperty(tracker, "db", {
      value: new Proxy(db, {
        get: (target, prop, receiver) =>
          prop === "$executeRawUnsafe"
            ? (sql: string, ...rest: unknown[]) =>
                sql.includes("KeyUsage") ? Promise.reject(new Error("simulated")) : original.call(target, sql, ...rest)
            : Reflect.get(target, prop, receiver),
      }),
      configurable: true,
    });
    await a.services.keys.tracker.flush();
    Object.defineProperty(tracker, "db", { value: db, configurable: true });
    expect(await a.services.db.keyUsage.count({ where: { keyId: key.key.id } })).toBe(0);
    expect(await mcp(a.url, key.raw)).toBe(200);
    expect((await usageOf(key.key.id, reader)).totals.requests).toBe(4);
  });

  it("the JSON API's own requests count for the key that made them", async () => {
    const key = await mint("api");
    for (let i = 0; i < 4; i++) await request(a.url).get("/api/api-keys").set("Authorization", `Bearer ${key.raw}`).expect(200);
    const usage = await usageOf(key.key.id, reader);
    expect(usage.totals.requests).toBe(4);
  });

  it("the gateway counts its verified requests; an app key and an OAuth key are counted like a portal key", async () => {
    await a.services.resources.add({ slug: "usage-up", name: "Usage", upstream: upstream.url }, { actor: { type: "cli" } });
    const portal = await mint("gateway");
    for (let i = 0; i < 5; i++) expect(await mcp(a.url, portal.raw, whoami, "/mcp/usage-up")).toBe(200);
    expect((await usageOf(portal.key.id, reader)).totals.requests).toBe(5);

    const oauth = await mint("OAuth: usage", {
      source: "oauth",
      clientId: "dcr_usage",
      scopes: ["mcp:read"],
      resources: [`${a.config.baseUrl}/mcp`],
    });
    for (let i = 0; i < 3; i++) expect(await mcp(a.url, oauth.raw)).toBe(200);
    expect(await mcp(a.url, oauth.raw, addNote)).toBe(403);
    expect((await usageOf(oauth.key.id, reader)).totals).toMatchObject({ requests: 3, forbidden: 1 });

    const orgs = a.services.orgs;
    const team = await orgs.create(userId, `Team ${Date.now()}`);
    const app = await orgs.createApp(team.id, "Robot");
    const appKey = await mint("app", { organizationId: team.id, appId: app.id });
    for (let i = 0; i < 2; i++) expect(await mcp(a.url, appKey.raw)).toBe(200);
    // an app key is no user's to read through the API: the stored rows say it
    await a.services.keys.tracker.flush();
    const stored = await a.services.db.keyUsage.findMany({ where: { keyId: appKey.key.id } });
    expect(stored.reduce((n, r) => n + r.requests, 0)).toBe(2);
  });

  it("two instances on one database: the counts of both add up", async () => {
    const key = await mint("both");
    for (let i = 0; i < 4; i++) expect(await mcp(a.url, key.raw)).toBe(200);
    for (let i = 0; i < 6; i++) expect(await mcp(b.url, key.raw)).toBe(200);
    // each instance flushes its own counts, in any order; both add to the same hour row
    await b.services.keys.tracker.flush();
    await a.services.keys.tracker.flush();
    for (let i = 0; i < 2; i++) expect(await mcp(b.url, key.raw)).toBe(200);
    await b.services.keys.tracker.flush();
    const usage = await usageOf(key.key.id, reader);
    expect(usage.totals.requests).toBe(12);
    expect(await a.services.db.keyUsage.count({ where: { keyId: key.key.id } })).toBe(1);
  });
});

describe("KEY_USAGE_COUNTING=false", () => {
  it("counts nothing", async () => {
    expect(loadConfig({ DATABASE_URL: a.config.databaseUrl, KEY_USAGE_COUNTING: "false" }).usageCounting).toBe(false);
    const key = await mint("uncounted");
    const keys = createKeys(a.services.db, {
      prefix: a.config.keyPrefix,
      scopes: ["mcp:read"],
      lastUsedFlushMs: 3600_000,
      usageCounting: false,
    });
    expect(keys.usage.enabled).toBe(false);
    keys.usage.note(key.key.id, 200);
    keys.usage.note(key.key.id, 401);
    await keys.tracker.flush();
    expect(await a.services.db.keyUsage.count({ where: { keyId: key.key.id } })).toBe(0);
  });
});

describe("GET /api/api-keys/:id/usage", () => {
  it("another user's key id gets exactly the 404 of a missing id", async () => {
    const theirs = await mint("theirs", {}, otherId);
    const missing = await request(a.url).get("/api/api-keys/nope/usage").set("Authorization", `Bearer ${reader}`);
    const other = await request(a.url).get(`/api/api-keys/${theirs.key.id}/usage`).set("Authorization", `Bearer ${reader}`);
    expect(missing.status).toBe(404);
    expect(other.status).toBe(404);
    expect(other.body).toEqual(missing.body);
    expect(other.headers["content-type"]).toBe(missing.headers["content-type"]);
  });

  it("needs keys:read", async () => {
    const writeOnly = await mint("mcp only", { scopes: ["mcp:read"] });
    const res = await request(a.url).get(`/api/api-keys/${writeOnly.key.id}/usage`).set("Authorization", `Bearer ${writeOnly.raw}`);
    expect(res.status).toBe(403);
  });
});

describe("keyward api-keys usage", () => {
  it("prints the API's numbers, locally (--user) and remotely (--server), as JSON and as a table", async () => {
    const email = (await a.services.db.user.findUniqueOrThrow({ where: { id: userId } })).email;
    const key = await mint("cli");
    for (let i = 0; i < 3; i++) expect(await mcp(a.url, key.raw)).toBe(200);
    expect(await mcp(a.url, key.raw, addNote)).toBe(200);
    const api = await usageOf(key.key.id, reader);
    const local = await keywardInProcess(["api-keys", "usage", key.key.id, "--user", email, "--json"], {
      env: { DATABASE_URL: a.database.url },
    });
    expect(local.code, local.stderr).toBe(0);
    const remote = await keywardInProcess(["api-keys", "usage", key.key.id, "--server", a.url, "--json"], {
      env: { KEYWARD_TOKEN: reader },
    });
    expect(remote.code, remote.stderr).toBe(0);
    const strip = (u: object) => ({ ...u, to: undefined });
    expect(strip(JSON.parse(local.stdout))).toEqual(strip(api));
    expect(strip(JSON.parse(remote.stdout))).toEqual(strip(api));
    expect(api.totals.requests).toBe(4);
    const table = await keywardInProcess(["api-keys", "usage", key.key.id, "--server", a.url], { env: { KEYWARD_TOKEN: reader } });
    expect(table.stdout).toMatch(new RegExp(`${new Date().toISOString().slice(0, 10)}\\s+4\\s+0\\s+0\\s+0`));
    expect(table.stderr).toContain("4 requests, 0 × 401, 0 × 403, 0 × 429");
  });

  it("another user's key id is not found (exit 3), locally and remotely", async () => {
    const theirs = await mint("cli theirs", {}, otherId);
    const email = (await a.services.db.user.findUniqueOrThrow({ where: { id: userId } })).email;
    const local = await keywardInProcess(["api-keys", "usage", theirs.key.id, "--user", email], { env: { DATABASE_URL: a.database.url } });
    expect(local.code).toBe(3);
    const remote = await keywardInProcess(["api-keys", "usage", theirs.key.id, "--server", a.url], { env: { KEYWARD_TOKEN: reader } });
    expect(remote.code).toBe(3);
  });
});

describe("housekeeping", () => {
  it("deletes hour rows older than the 30 days shown, keeps the rest", async () => {
    const key = await mint("old");
    const hour = Math.floor(Date.now() / 3_600_000);
    await a.services.db.keyUsage.createMany({
      data: [
        { keyId: key.key.id, hour: hour - 40 * 24, requests: 9 },
        { keyId: key.key.id, hour: hour - 2, requests: 1 },
      ],
    });
    const swept = await sweep(a.services);
    expect(swept.usageRows).toBeGreaterThanOrEqual(1);
    expect((await a.services.db.keyUsage.findMany({ where: { keyId: key.key.id } })).map((r) => r.hour)).toEqual([hour - 2]);
    expect((await usageOf(key.key.id, reader)).totals.requests).toBe(1);
  });
});
