// verify(): the step list in src/keys/verify/, against a real (copied) SQLite database, plus a
// database stub that proves malformed keys never reach the database.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Db } from "../src/db/client.js";
import { createKeys, type Keys } from "../src/keys/index.js";
import { generateKey } from "../src/keys/format.js";
import { digestKey, hashKey } from "../src/keys/hash.js";
import { makeUser, openTestDb, type TestDb } from "./support/test-db.js";
import { prismaKeyReader, type KeyReader } from "../src/keys/lookup/index.js";
import { keyCache } from "../src/keys/lookup/cache.js";
import { BY_OPERATOR } from "./support/acting.js";
import { createOrganizations } from "../src/orgs/organizations.js";

const PREFIX = "kw_user_";
const SCOPES = ["mcp:read", "mcp:write"];

let t: TestDb;
let keys: Keys;
let user: { id: string; email: string };

beforeAll(async () => {
  t = await openTestDb();
  keys = createKeys(t.db, { prefix: PREFIX, scopes: SCOPES, lastUsedFlushMs: 3600_000 });
  user = await makeUser(t.db, "verify@example.com");
});
afterAll(async () => {
  await keys?.tracker.stop();
  await t?.close();
});

/** A database that counts every access and fails it. */
function explodingDb() {
  const calls: string[] = [];
  const model = new Proxy(
    {},
    {
      get(_t, method) {
        return () => {
          calls.push(String(method));
          throw new Error(`database touched: ${String(method)}`);
        };
      },
    },
  );
  const touch = (method: string) => () => {
    calls.push(method);
    throw new Error(`database touched: ${method}`);
  };
  // Model delegates (db.apiKey.findUnique …) and client methods (db.$queryRaw …) both count.
  const db = new Proxy(
    {},
    { get: (_t, prop) => (prop === "then" ? undefined : String(prop).startsWith("$") ? touch(String(prop)) : model) },
  ) as unknown as Db;
  return { db, calls };
}

describe("verify", () => {
  it("a valid key → ok, with its user and key view", async () => {
    const minted = await keys.mint({ userId: user.id, label: "laptop", source: "portal", scopes: ["mcp:read"] }, BY_OPERATOR);
    const result = await keys.verify(minted.raw);
    expect(result).toMatchObject({
      ok: true,
      user: { id: user.id, email: "verify@example.com" },
      key: {
        id: minted.key.id,
        label: "laptop",
        last4: minted.raw.slice(-4),
        status: "active",
        source: "portal",
        sourceLabel: "Portal",
        scopes: ["mcp:read"],
      },
    });
    if (!result.ok) throw new Error("unreachable");
    expect(result.key.lastUsedAt).not.toBeNull();
    expect(JSON.stringify(result)).not.toContain(minted.raw);
    // the user object carries id and email only (no password hash)
    expect(Object.keys(result.user).sort()).toEqual(["email", "id"]);
  });

  it("garbage → invalid_format without a single database call", async () => {
    const { db, calls } = explodingDb();
    const stubbed = createKeys(db, { prefix: PREFIX, scopes: SCOPES, lastUsedFlushMs: 3600_000 });
    const good = generateKey(PREFIX);
    const typo = good.slice(0, 20) + (good[20] === "a" ? "b" : "a") + good.slice(21);
    const inputs = ["", "garbage", "Bearer x", PREFIX, typo, "bb_" + good.slice(PREFIX.length), good + "x", PREFIX + "a".repeat(500)];
    for (const raw of inputs) expect(await stubbed.verify(raw), JSON.stringify(raw)).toMatchObject({ ok: false, reason: "invalid_format" });
    expect(calls).toEqual([]);
    // the stub is live: a well-formed key does reach it (so the check above can fail)
    await expect(stubbed.verify(good)).rejects.toThrow(/database touched: \$queryRaw/);
    expect(calls).toEqual(["$queryRaw"]);
    expect(stubbed.tracker.pendingFor("anything")).toBeUndefined();
  });

  it("a well-formed key that was never issued → unknown_key", async () => {
    expect(await keys.verify(generateKey(PREFIX))).toMatchObject({ ok: false, reason: "unknown_key" });
    // also with another prefix: right shape and checksum, but no such row
    expect(await keys.verify(generateKey("bb_"))).toMatchObject({ ok: false, reason: "unknown_key" });
  });

  it("a revoked key → revoked, and revoking is idempotent", async () => {
    const minted = await keys.mint({ userId: user.id, label: "to revoke", source: "portal" }, BY_OPERATOR);
    expect((await keys.verify(minted.raw)).ok).toBe(true);
    const [revoked] = await keys.revoke({ kind: "own", userId: user.id, id: minted.key.id }, BY_OPERATOR);
    expect(revoked?.wasActive).toBe(true);
    expect(revoked?.key.status).toBe("revoked");
    expect(revoked?.key.revokedAt).not.toBeNull();
    expect(await keys.verify(minted.raw)).toMatchObject({ ok: false, reason: "revoked" });
    const [again] = await keys.revoke({ kind: "own", userId: user.id, id: minted.key.id }, BY_OPERATOR);
    expect(again?.wasActive).toBe(false);
    expect(again?.key.revokedAt).toBe(revoked?.key.revokedAt);
  });

  it("a key bound to another resource → wrong_resource; the right resource or none passes", async () => {
    const minted = await keys.mint(
      { userId: user.id, label: "bound", source: "oauth", clientId: "dcr_abc", resources: ["https://a.example/mcp"] },
      BY_OPERATOR,
    );
    expect(await keys.verify(minted.raw, { resource: "https://b.example/mcp" })).toMatchObject({ ok: false, reason: "wrong_resource" });
    const ok = await keys.verify(minted.raw, { resource: "https://a.example/mcp" });
    expect(ok.ok && ok.key.sourceLabel).toBe("OAuth: dcr_abc");
    expect((await keys.verify(minted.raw)).ok).toBe(true);
    // an unbound key works for any resource
    const free = await keys.mint({ userId: user.id, label: "free", source: "portal" }, BY_OPERATOR);
    expect((await keys.verify(free.raw, { resource: "https://b.example/mcp" })).ok).toBe(true);
  });

  it("another user's key is theirs: verify returns the owner", async () => {
    const other = await makeUser(t.db, "other@example.com");
    const minted = await keys.mint({ userId: other.id, label: "theirs", source: "cli" }, BY_OPERATOR);
    const result = await keys.verify(minted.raw);
    expect(result.ok && result.user).toEqual({ id: other.id, email: "other@example.com" });
    expect(result.ok && result.key.sourceLabel).toBe("CLI");
  });
});

describe("verify through the verification cache", () => {
  /** The real key table behind a cache whose change token the test moves; reads of the table counted per digest. */
  function fixture(maxRows = 100) {
    const table = prismaKeyReader(t.db);
    const reads = new Map<string, number>();
    let token: number | undefined = 1; // undefined: nothing vouches for the cache (PostgreSQL: the feed is down)
    const counted: KeyReader = { find: (digest) => (reads.set(digest, (reads.get(digest) ?? 0) + 1), table.find(digest)) };
    const cache = keyCache(counted, async () => token, maxRows);
    const cached = createKeys(t.db, { prefix: PREFIX, scopes: SCOPES, lastUsedFlushMs: 3600_000, reader: cache });
    const total = () => [...reads.values()].reduce((a, b) => a + b, 0);
    return {
      keys: cached,
      cache,
      reads: total,
      readsOf: (raw: string) => reads.get(digestKey(raw)) ?? 0,
      commit: () => (token = (token ?? 0) + 1),
      cannotVouch: () => (token = undefined),
    };
  }

  it("answers a key it has read before from memory, and sees a revocation once the token moves", async () => {
    const f = fixture();
    const minted = await keys.mint({ userId: user.id, label: "hot", source: "portal" }, BY_OPERATOR);
    expect((await f.keys.verify(minted.raw)).ok).toBe(true); // first use: one read
    expect(f.reads()).toBe(1);
    for (let i = 0; i < 5; i++) expect(await f.keys.verify(minted.raw)).toMatchObject({ ok: true, key: { id: minted.key.id } });
    expect(f.reads()).toBe(1); // no I/O on the hot path
    expect(f.cache.stats()).toMatchObject({ hits: 5, misses: 1 });

    await keys.revoke({ kind: "own", userId: user.id, id: minted.key.id }, BY_OPERATOR);
    expect((await f.keys.verify(minted.raw)).ok).toBe(true); // the token has not moved: this is what the token is for
    f.commit();
    expect(await f.keys.verify(minted.raw)).toMatchObject({ ok: false, reason: "revoked" });
    expect(f.reads()).toBe(2);
  });

  it("reads the database on every request while nothing vouches for the cache, and keeps nothing then", async () => {
    const f = fixture();
    const minted = await keys.mint({ userId: user.id, label: "warm", source: "portal" }, BY_OPERATOR);
    await f.keys.verify(minted.raw);
    f.cannotVouch();
    for (let i = 0; i < 3; i++) expect((await f.keys.verify(minted.raw)).ok).toBe(true);
    expect(f.reads()).toBe(4); // uncached: one read per request
    expect(f.cache.stats().size).toBe(0);
    f.commit(); // vouched for again: the row is read once more, then held
    for (let i = 0; i < 3; i++) expect((await f.keys.verify(minted.raw)).ok).toBe(true);
    expect(f.reads()).toBe(5);
  });

  it("checks the format of every presented string, whether the cache holds a row for its digest or not", async () => {
    const f = fixture();
    // A string that fails checkFormat, stored as if imported under it, and its row put in the cache.
    const odd = "legacy-" + "x".repeat(40);
    await t.db.apiKey.create({
      data: {
        id: `key_odd_${Date.now()}`,
        userId: user.id,
        label: "odd",
        hash: hashKey(odd),
        last4: odd.slice(-4),
        source: "portal",
        organizationId: await createOrganizations(t.db).ensurePersonal(user.id),
      },
    });
    expect(await f.cache.find(digestKey(odd))).toBeDefined();
    expect(await f.keys.verify(odd)).toMatchObject({ ok: false, reason: "invalid_format" });
    const good = generateKey(PREFIX);
    const typo = good.slice(0, 20) + (good[20] === "a" ? "b" : "a") + good.slice(21);
    for (const raw of [typo, "garbage", PREFIX + "a".repeat(500)])
      expect(await f.keys.verify(raw)).toMatchObject({ ok: false, reason: "invalid_format" });
    f.cannotVouch();
    for (const raw of [typo, "garbage", PREFIX + "a".repeat(500)])
      expect(await f.keys.verify(raw)).toMatchObject({ ok: false, reason: "invalid_format" });
    expect(f.reads()).toBe(1); // garbage never reaches the table, cached or not
    expect(await f.keys.verify(good)).toMatchObject({ ok: false, reason: "unknown_key" });
    expect(f.reads()).toBe(2);
  });

  it("with more keys in use than rows it holds, the keys used most often stay (least recently used goes first)", async () => {
    const f = fixture(4);
    const hot = await Promise.all([0, 1].map((i) => keys.mint({ userId: user.id, label: `hot ${i}`, source: "portal" }, BY_OPERATOR)));
    const cold = await Promise.all(
      Array.from({ length: 20 }, (_, i) => keys.mint({ userId: user.id, label: `cold ${i}`, source: "portal" }, BY_OPERATOR)),
    );
    // Twice round the cold keys, a hot key between every two: 22 keys in use, 4 rows held.
    for (let i = 0; i < 40; i++) {
      expect((await f.keys.verify(hot[i % 2]!.raw)).ok).toBe(true);
      expect((await f.keys.verify(cold[i % 20]!.raw)).ok).toBe(true);
    }
    expect(hot.map((k) => f.readsOf(k.raw))).toEqual([1, 1]); // read once, then always from memory
    expect(cold.map((k) => f.readsOf(k.raw))).toEqual(cold.map(() => 2)); // each pushed out before its next turn
    expect(f.cache.stats()).toMatchObject({ hits: 38, misses: 42, size: 4 });
  });
});

describe("mint", () => {
  it("stores the SHA-256 hash and last 4, never the raw key", async () => {
    const minted = await keys.mint({ userId: user.id, label: "  padded  ", source: "portal" }, BY_OPERATOR);
    const row = await t.db.apiKey.findUniqueOrThrow({ where: { id: minted.key.id } });
    expect(row.hash).toBe(hashKey(minted.raw));
    expect(row.last4).toBe(minted.raw.slice(-4));
    expect(row.label).toBe("padded");
    expect(Object.values(row).map(String)).not.toContain(minted.raw);
    expect(minted.key.id).toMatch(/^key_[0-9A-Za-z]{20}$/);
  });

  it("defaults an empty label and refuses unknown scopes and bad labels", async () => {
    expect((await keys.mint({ userId: user.id, label: "   ", source: "portal" }, BY_OPERATOR)).key.label).toBe("Untitled key");
    await expect(keys.mint({ userId: user.id, label: "x", source: "portal", scopes: ["admin"] }, BY_OPERATOR)).rejects.toThrow(
      /Unknown scope: admin/,
    );
    await expect(keys.mint({ userId: user.id, label: "x".repeat(101), source: "portal" }, BY_OPERATOR)).rejects.toThrow(/at most 100/);
    await expect(keys.mint({ userId: user.id, label: "a\u0000b", source: "portal" }, BY_OPERATOR)).rejects.toThrow(/control characters/);
  });

  it("lists newest first, and get() hides other users' keys", async () => {
    const owner = await makeUser(t.db);
    const a = await keys.mint({ userId: owner.id, label: "first", source: "portal" }, BY_OPERATOR);
    const b = await keys.mint({ userId: owner.id, label: "second", source: "portal" }, BY_OPERATOR);
    const list = await keys.list(owner.id);
    expect(list.map((k) => k.id)).toHaveLength(2);
    expect(new Set(list.map((k) => k.id))).toEqual(new Set([a.key.id, b.key.id]));
    expect(list[0]!.createdAt >= list[1]!.createdAt).toBe(true);
    expect(await keys.get(user.id, a.key.id)).toBeNull();
    expect(await keys.revoke({ kind: "own", userId: user.id, id: a.key.id }, BY_OPERATOR)).toEqual([]);
    expect((await keys.get(owner.id, a.key.id))?.status).toBe("active");
  });
});
