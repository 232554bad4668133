// Last-used tracking: uses are noted in memory and written in batches (each key at most once per
// flush, one UPDATE statement per 500 keys), stop() writes what is left, and a time never moves backwards.
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import request from "supertest";
import type { Db } from "../src/db/client.js";
import { createDb } from "../src/db/client.js";
import { createKeys, LastUsedTracker } from "../src/keys/index.js";
import { makeUser, openTestDb, rowFor, type TestDb } from "./support/test-db.js";
import { mintOnPage, signUp, startTestServer } from "./support/server.js";
import { BY_OPERATOR } from "./support/acting.js";

const PREFIX = "kw_user_";
const SCOPES = ["mcp:read", "mcp:write"];

let t: TestDb;
let userId: string;

beforeAll(async () => {
  t = await openTestDb();
  userId = (await makeUser(t.db)).id;
});
afterAll(async () => t?.close());

/** The real database with every apiKey write and raw statement counted (optionally slowed down or failed). */
function countingDb(db: Db, options: { delayMs?: number; failTimes?: number } = {}) {
  const writes: { method: string; args: unknown[] }[] = [];
  let completed = 0;
  let failures = options.failTimes ?? 0;
  const counted =
    (method: string, run: (...args: unknown[]) => Promise<unknown>) =>
    async (...args: unknown[]) => {
      writes.push({ method, args });
      if (options.delayMs) await new Promise((r) => setTimeout(r, options.delayMs));
      if (failures > 0) {
        failures--;
        throw new Error("simulated write failure");
      }
      const out = await run(...args);
      completed++;
      return out;
    };
  const apiKey = new Proxy(db.apiKey, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (typeof value !== "function") return value;
      const method = String(prop);
      if (!["create", "createMany", "update", "updateMany", "upsert", "delete", "deleteMany"].includes(method)) return value.bind(target);
      return counted(method, (...args) => (value as (...a: unknown[]) => Promise<unknown>).apply(target, args));
    },
  });
  const raw = counted("$executeRawUnsafe", (...args) => db.$executeRawUnsafe(args[0] as string, ...args.slice(1)));
  const wrapped = new Proxy(db, {
    get: (target, prop, receiver) =>
      prop === "apiKey" ? apiKey : prop === "$executeRawUnsafe" ? raw : Reflect.get(target, prop, receiver),
  }) as Db;
  return { db: wrapped, writes, completed: () => completed };
}

/** Key ids a raw last-used UPDATE wrote: its parameters are id, time, id, time… */
const idsOf = (write: { args: unknown[] }) => write.args.slice(1).filter((_, i) => i % 2 === 0) as string[];

async function mint(label = "k") {
  const keys = createKeys(t.db, { prefix: PREFIX, scopes: SCOPES, lastUsedFlushMs: 3600_000 });
  return keys.mint({ userId, label, source: "portal" }, BY_OPERATOR);
}

const lastUsedInDb = async (id: string) => (await t.db.apiKey.findUniqueOrThrow({ where: { id } })).lastUsedAt;

describe("LastUsedTracker", () => {
  it("N verifies of one key write nothing until flush, then exactly one UPDATE", async () => {
    const counted = countingDb(t.db);
    const keys = createKeys(counted.db, { prefix: PREFIX, scopes: SCOPES, lastUsedFlushMs: 3600_000 });
    const minted = await keys.mint({ userId, label: "busy", source: "portal" }, BY_OPERATOR);
    counted.writes.length = 0; // forget the INSERT
    for (let i = 0; i < 25; i++) expect((await keys.verify(minted.raw)).ok).toBe(true);
    expect(counted.writes).toEqual([]);
    expect(await lastUsedInDb(minted.key.id)).toBeNull();
    // ...but this instance already shows the use (pending time merged into the view)
    const pending = keys.tracker.pendingFor(minted.key.id);
    expect(pending).toBeInstanceOf(Date);
    expect((await keys.get(userId, minted.key.id))?.lastUsedAt).toBe(pending!.toISOString());
    expect((await keys.list(userId)).find((k) => k.id === minted.key.id)?.lastUsedAt).toBe(pending!.toISOString());

    expect(await keys.tracker.flush()).toBe(1);
    expect(counted.writes.map((w) => w.method)).toEqual(["$executeRawUnsafe"]);
    expect(idsOf(counted.writes[0]!)).toEqual([minted.key.id]);
    expect((await lastUsedInDb(minted.key.id))?.toISOString()).toBe(pending!.toISOString());
    expect(keys.tracker.pendingFor(minted.key.id)).toBeUndefined();
    // nothing pending: a flush writes nothing
    expect(await keys.tracker.flush()).toBe(0);
    expect(counted.writes).toHaveLength(1);
  });

  it("one flush writes each key used once, in one UPDATE statement", async () => {
    const counted = countingDb(t.db);
    const keys = createKeys(counted.db, { prefix: PREFIX, scopes: SCOPES, lastUsedFlushMs: 3600_000 });
    const minted = [await mint("a"), await mint("b"), await mint("c")];
    for (let round = 0; round < 4; round++) for (const m of minted) expect((await keys.verify(m.raw)).ok).toBe(true);
    expect(counted.writes).toEqual([]);
    expect(await keys.tracker.flush()).toBe(3);
    expect(counted.writes.map((w) => w.method)).toEqual(["$executeRawUnsafe"]);
    expect(idsOf(counted.writes[0]!).sort()).toEqual(minted.map((m) => m.key.id).sort());
    for (const m of minted) expect(await lastUsedInDb(m.key.id)).toBeInstanceOf(Date);
  });

  it("more keys than one statement holds: one UPDATE per 500 keys, every time written exactly", async () => {
    const counted = countingDb(t.db);
    const keys = createKeys(t.db, { prefix: PREFIX, scopes: SCOPES, lastUsedFlushMs: 3600_000 });
    const minted = [];
    for (let i = 0; i < 501; i++) minted.push(await keys.mint({ userId, label: `bulk ${i}`, source: "portal" }, BY_OPERATOR));
    const tracker = new LastUsedTracker(counted.db, 3600_000);
    const base = Date.parse("2034-05-06T07:08:09.000Z");
    minted.forEach((m, i) => tracker.touch(m.key.id, new Date(base + i)));
    expect(await tracker.flush()).toBe(501);
    expect(counted.writes.map((w) => idsOf(w).length)).toEqual([500, 1]);
    const stored = await t.db.apiKey.findMany({
      where: { id: { in: minted.map((m) => m.key.id) } },
      select: { id: true, lastUsedAt: true },
    });
    const byId = new Map(stored.map((r) => [r.id, r.lastUsedAt?.toISOString()]));
    minted.forEach((m, i) => expect(byId.get(m.key.id)).toBe(new Date(base + i).toISOString()));
  });

  it("stop() flushes what is pending and stops the timer", async () => {
    const m = await mint();
    const tracker = new LastUsedTracker(t.db, 3600_000);
    tracker.start();
    const at = new Date("2030-01-02T03:04:05.678Z");
    tracker.touch(m.key.id, at);
    expect(await lastUsedInDb(m.key.id)).toBeNull();
    await tracker.stop();
    expect((await lastUsedInDb(m.key.id))?.toISOString()).toBe(at.toISOString());
    expect(tracker.pendingFor(m.key.id)).toBeUndefined();
  });

  it("the timer flushes on its own", async () => {
    const m = await mint();
    const tracker = new LastUsedTracker(t.db, 30);
    tracker.start();
    try {
      tracker.touch(m.key.id);
      await vi.waitFor(async () => expect(await lastUsedInDb(m.key.id)).toBeInstanceOf(Date), { timeout: 2000, interval: 20 });
    } finally {
      await tracker.stop();
    }
  });

  it("lastUsedAt never moves backwards: not in the database, not in memory", async () => {
    const m = await mint();
    const tracker = new LastUsedTracker(t.db, 3600_000);
    const late = new Date("2031-06-01T00:00:00.000Z");
    const early = new Date("2031-01-01T00:00:00.000Z");
    tracker.touch(m.key.id, late);
    await tracker.flush();
    tracker.touch(m.key.id, early);
    await tracker.flush();
    expect((await lastUsedInDb(m.key.id))?.toISOString()).toBe(late.toISOString());

    // two touches before a flush, out of order (e.g. concurrent requests): the later one wins
    const later = new Date("2032-01-01T00:00:00.000Z");
    tracker.touch(m.key.id, later);
    tracker.touch(m.key.id, early);
    expect(tracker.pendingFor(m.key.id)?.toISOString()).toBe(later.toISOString());
    await tracker.stop();
    expect((await lastUsedInDb(m.key.id))?.toISOString()).toBe(later.toISOString());
  });

  it("the view never shows a pending time older than the stored one", async () => {
    const m = await mint();
    await t.db.apiKey.update({ where: { id: m.key.id }, data: { lastUsedAt: new Date("2033-01-01T00:00:00.000Z") } });
    const keys = createKeys(t.db, { prefix: PREFIX, scopes: SCOPES, lastUsedFlushMs: 3600_000 });
    keys.tracker.touch(m.key.id, new Date("2032-01-01T00:00:00.000Z"));
    expect((await keys.get(userId, m.key.id))?.lastUsedAt).toBe("2033-01-01T00:00:00.000Z");
    await keys.tracker.stop();
    expect((await lastUsedInDb(m.key.id))?.toISOString()).toBe("2033-01-01T00:00:00.000Z");
  });

  it("a failed write is kept for the next flush and reported", async () => {
    const m = await mint();
    const counted = countingDb(t.db, { failTimes: 1 });
    const errors: unknown[] = [];
    const tracker = new LastUsedTracker(counted.db, 3600_000, (e) => errors.push(e));
    tracker.touch(m.key.id);
    expect(await tracker.flush()).toBe(0);
    expect(errors).toHaveLength(1);
    expect(tracker.pendingFor(m.key.id)).toBeInstanceOf(Date);
    expect(await tracker.flush()).toBe(1);
    expect(await lastUsedInDb(m.key.id)).toBeInstanceOf(Date);
  });

  it("stop() waits for every write, even with flushes already queued behind a slow one", async () => {
    const [a, b] = [await mint("a"), await mint("b")];
    const counted = countingDb(t.db, { delayMs: 40 });
    const tracker = new LastUsedTracker(counted.db, 3600_000);
    tracker.touch(a.key.id);
    const first = tracker.flush(); // in flight
    tracker.touch(b.key.id);
    const second = tracker.flush(); // queued behind the first
    await tracker.stop(); // must not return before b is written
    expect(counted.completed()).toBe(2);
    expect(await lastUsedInDb(b.key.id)).toBeInstanceOf(Date);
    expect(await first).toBe(1);
    expect(await second).toBe(1);
  });
});

describe("last used over HTTP", () => {
  it("the account page and the API show the use at once; the database gets it on stop()", async () => {
    const server = await startTestServer();
    try {
      const { agent, csrf } = await signUp(server);
      const { raw } = await mintOnPage(agent, csrf, "used key");
      const listed = await request(server.url).get("/api/api-keys").set("Authorization", `Bearer ${raw}`).expect(200);
      const id = (listed.body as { data: { id: string }[] }).data[0]!.id;

      const before = await agent.get("/app/account/api-keys").expect(200);
      // the API call above already counted as a use; a fresh key shows "Never"
      const fresh = await mintOnPage(agent, csrf, "unused key");
      const freshId = /data-key-id="(key_[^"]+)"/.exec(fresh.html)![1]!;
      expect(rowFor(fresh.html, freshId)).toMatch(/<td data-label="Last used">Never<\/td>/);
      expect(rowFor(before.text, id)).toMatch(
        /<time datetime="\d{4}-\d\d-\d\dT[^"]+Z">\d{4}-\d\d-\d\d \d\d:\d\d UTC<\/time><\/td>\s*<td data-label="Action">\s*<a class="button danger small revoke"/,
      );

      const mcp = await request(server.url)
        .post("/mcp")
        .set("X-API-Key", raw)
        .set("Accept", "application/json, text/event-stream")
        .send({ jsonrpc: "2.0", id: 1, method: "tools/list", params: {} })
        .expect(200);
      expect(mcp.body.result.tools[0].name).toBe("whoami");

      const viaApi = await request(server.url).get(`/api/api-keys/${id}`).set("Authorization", `Bearer ${raw}`).expect(200);
      const shown = (viaApi.body as { lastUsedAt: string }).lastUsedAt;
      expect(Date.now() - Date.parse(shown)).toBeLessThan(10_000);

      // nothing written yet (flush interval is 60 s)
      const row = await server.services.db.apiKey.findUniqueOrThrow({ where: { id } });
      expect(row.lastUsedAt).toBeNull();

      await server.stop();
      const db = await createDb(server.database.url);
      try {
        const after = await db.apiKey.findUniqueOrThrow({ where: { id } });
        // the last use (the GET above) is what was written
        expect(after.lastUsedAt?.toISOString()).toBe(shown);
        expect((await db.apiKey.findUniqueOrThrow({ where: { id: freshId } })).lastUsedAt).toBeNull();
      } finally {
        await db.$disconnect();
      }
    } finally {
      await server.close();
    }
  });
});
