// verify(): the step list in src/keys/verify/, against a real (copied) SQLite database, plus a
// database stub that proves malformed keys never reach the database.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Db } from "../src/db/client.js";
import { createKeys, type Keys } from "../src/keys/index.js";
import { generateKey } from "../src/keys/format.js";
import { digestKey, hashKey } from "../src/keys/hash.js";
import { makeUser, openTestDb, type TestDb } from "./support/test-db.js";
import { prismaKeyLookup, type KeyLookup } from "../src/keys/lookup/read-row.js";
import { cachedKeyLookup } from "../src/keys/lookup/cache.js";
import { requireKey } from "../src/http/key-auth.js";
import type { Ctx, KeywardState } from "../src/http/state.js";
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
  const db = new Proxy({}, { get: (_t, prop) => (prop === "then" ? undefined : String(prop).startsWith("$") ? touch(String(prop)) : model) }) as unknown as Db;
  return { db, calls };
}

describe("verify", () => {
  it("a valid key → ok, with its user and key view", async () => {
    const minted = await keys.mint({ userId: user.id, label: "laptop", source: "portal", scopes: ["mcp:read"] }, BY_OPERATOR);
    const result = await keys.verify(minted.raw);
    expect(result).toMatchObject({
      ok: true,
      user: { id: user.id, email: "verify@example.com" },
      key: { id: minted.key.id, label: "laptop", last4: minted.raw.slice(-4), status: "active", source: "portal", sourceLabel: "Portal", scopes: ["mcp:read"] },
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
    for (const raw of inputs) expect(await stubbed.verify(raw), JSON.stringify(raw)).toEqual({ ok: false, reason: "invalid_format" });
    expect(calls).toEqual([]);
    // the stub is live: a well-formed key does reach it (so the check above can fail)
    await expect(stubbed.verify(good)).rejects.toThrow(/database touched: \$queryRaw/);
    expect(calls).toEqual(["$queryRaw"]);
    expect(stubbed.tracker.pendingFor("anything")).toBeUndefined();
  });

  it("a well-formed key that was never issued → unknown_key", async () => {
    expect(await keys.verify(generateKey(PREFIX))).toEqual({ ok: false, reason: "unknown_key" });
    // also with another prefix: right shape and checksum, but no such row
    expect(await keys.verify(generateKey("bb_"))).toEqual({ ok: false, reason: "unknown_key" });
  });

  it("a revoked key → revoked, and revoking is idempotent", async () => {
    const minted = await keys.mint({ userId: user.id, label: "to revoke", source: "portal" }, BY_OPERATOR);
    expect((await keys.verify(minted.raw)).ok).toBe(true);
    const [revoked] = await keys.revoke({ kind: "own", userId: user.id, id: minted.key.id }, BY_OPERATOR);
    expect(revoked?.wasActive).toBe(true);
    expect(revoked?.key.status).toBe("revoked");
    expect(revoked?.key.revokedAt).not.toBeNull();
    expect(await keys.verify(minted.raw)).toEqual({ ok: false, reason: "revoked" });
    const [again] = await keys.revoke({ kind: "own", userId: user.id, id: minted.key.id }, BY_OPERATOR);
    expect(again?.wasActive).toBe(false);
    expect(again?.key.revokedAt).toBe(revoked?.key.revokedAt);
  });

  it("a key bound to another resource → wrong_resource; the right resource or none passes", async () => {
    const minted = await keys.mint({ userId: user.id, label: "bound", source: "oauth", clientId: "dcr_abc", resource: "https://a.example/mcp" }, BY_OPERATOR);
    expect(await keys.verify(minted.raw, { resource: "https://b.example/mcp" })).toEqual({ ok: false, reason: "wrong_resource" });
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

describe("verify with a cache that can vouch at once (findInCache)", () => {
  /** The real key table behind a cache whose change token the test moves; reads of the table counted. */
  function fixture() {
    const inner = prismaKeyLookup(t.db);
    let reads = 0;
    let token: number | undefined = 1; // undefined: the cache cannot vouch at once (PostgreSQL: feed down)
    const counted: KeyLookup = { ...inner, find: (hash) => (reads++, inner.find(hash)) };
    const lookup = cachedKeyLookup(counted, () => token ?? 0, 100, () => token);
    let finds = 0; // calls of the cache's async path (its own change check, then memory or the table)
    const cached = createKeys(t.db, { prefix: PREFIX, scopes: SCOPES, lastUsedFlushMs: 3600_000, lookup: { ...lookup, find: (hash) => (finds++, lookup.find(hash)) } });
    return { keys: cached, lookup, reads: () => reads, finds: () => finds, commit: () => (token = (token ?? 0) + 1), cannotVouch: () => (token = undefined) };
  }

  it("answers a key it has read before from memory, and sees a revocation once the token moves", async () => {
    const f = fixture();
    const minted = await keys.mint({ userId: user.id, label: "hot", source: "portal" }, BY_OPERATOR);
    expect((await f.keys.verify(minted.raw)).ok).toBe(true); // first use: format check, one read
    expect(f.reads()).toBe(1);
    for (let i = 0; i < 5; i++) expect(await f.keys.verify(minted.raw)).toMatchObject({ ok: true, key: { id: minted.key.id } });
    expect(f.reads()).toBe(1); // no I/O on the hot path
    expect(f.finds()).toBe(1); // not even the async path: cached() answered
    expect(f.lookup.stats()).toMatchObject({ hits: 5, misses: 1 });

    await keys.revoke({ kind: "own", userId: user.id, id: minted.key.id }, BY_OPERATOR);
    expect((await f.keys.verify(minted.raw)).ok).toBe(true); // the token has not moved: this is what the token is for
    f.commit();
    expect(await f.keys.verify(minted.raw)).toEqual({ ok: false, reason: "revoked" });
    expect(f.reads()).toBe(2);
  });

  it("answers a cached key at once, without a promise, and requireKey goes straight on to next()", async () => {
    const f = fixture();
    const minted = await keys.mint({ userId: user.id, label: "sync", source: "portal", scopes: ["mcp:read"] }, BY_OPERATOR);
    const first = f.keys.verify(minted.raw);
    expect(first).toBeInstanceOf(Promise); // a miss: the row is read
    expect((await first).ok).toBe(true);
    const hot = f.keys.verify(minted.raw);
    expect(hot).not.toBeInstanceOf(Promise);
    expect(hot).toMatchObject({ ok: true, key: { id: minted.key.id }, scopes: ["mcp:read"] });

    // The middleware: next() runs in the same tick, with ctx.state.auth set.
    const ctx = { req: { rawHeaders: ["Authorization", `Bearer ${minted.raw}`] }, state: {} as KeywardState, set: () => {} } as unknown as Ctx;
    let reached: unknown;
    void requireKey(f.keys, { resourceMetadata: "http://x/.well-known/oauth-protected-resource/mcp", issuer: "http://x" })(ctx, () => {
      reached = ctx.state.auth;
      return Promise.resolve();
    });
    expect(reached).toMatchObject({ via: "key", key: { id: minted.key.id }, scopes: ["mcp:read"] });

    // After a commit the cache lets go: the next answer is read again (a promise), and sees the revocation.
    await keys.revoke({ kind: "own", userId: user.id, id: minted.key.id }, BY_OPERATOR);
    f.commit();
    const after = f.keys.verify(minted.raw);
    expect(after).toBeInstanceOf(Promise);
    expect(await after).toEqual({ ok: false, reason: "revoked" });
  });

  it("takes the full path (format check, then the lookup's own change check) when the cache cannot vouch", async () => {
    const f = fixture();
    const minted = await keys.mint({ userId: user.id, label: "warm", source: "portal" }, BY_OPERATOR);
    await f.keys.verify(minted.raw);
    f.cannotVouch();
    expect((await f.keys.verify(minted.raw)).ok).toBe(true);
    expect(f.reads()).toBe(2); // find() ran: its token (0) differs, so the row was read again
    expect(f.finds()).toBe(2);
    const good = generateKey(PREFIX);
    const typo = good.slice(0, 20) + (good[20] === "a" ? "b" : "a") + good.slice(21);
    for (const raw of [typo, "garbage", PREFIX + "a".repeat(500)]) expect(await f.keys.verify(raw)).toEqual({ ok: false, reason: "invalid_format" });
    f.commit();
    for (const raw of [typo, "garbage", PREFIX + "a".repeat(500)]) expect(await f.keys.verify(raw)).toEqual({ ok: false, reason: "invalid_format" });
    expect(f.reads()).toBe(2); // garbage never reaches the table, cached path or not
    expect(await f.keys.verify(good)).toEqual({ ok: false, reason: "unknown_key" });
    expect(f.reads()).toBe(3);
  });
});

describe("verify with a cache that must check for changes first (SQLite)", () => {
  it("skips the format check for a digest the cache holds a row for; still reads the row's state after the change check", async () => {
    // A string that fails checkFormat, stored as if imported under it: the only way to see whether
    // checkFormat ran for it. Its row enters the cache only through the lookup itself.
    const odd = "legacy-" + "x".repeat(40);
    const id = (await t.db.apiKey.create({ data: { id: `key_odd_${Date.now()}`, userId: user.id, label: "odd", hash: hashKey(odd), last4: odd.slice(-4), source: "portal", organizationId: await createOrganizations(t.db).ensurePersonal(user.id) } })).id;
    let token = 1;
    const lookup = cachedKeyLookup(prismaKeyLookup(t.db), () => token, 100); // no cached(): SQLite's shape
    const cached = createKeys(t.db, { prefix: PREFIX, scopes: SCOPES, lastUsedFlushMs: 3600_000, lookup });
    expect(await cached.verify(odd)).toEqual({ ok: false, reason: "invalid_format" }); // not held: checked, refused, never read
    expect(lookup.stats()).toMatchObject({ hits: 0, misses: 0 });
    await lookup.find(digestKey(odd)); // the row is read (as a key that passed its format check would have been)
    expect(await cached.verify(odd)).toMatchObject({ ok: true, key: { id } }); // held: no format check
    await t.db.apiKey.update({ where: { id }, data: { revokedAt: new Date() } });
    token++; // the commit, as the WAL-index header shows it
    expect(await cached.verify(odd)).toEqual({ ok: false, reason: "revoked" }); // still held before the change check; the row is read again
    expect(await cached.verify(odd)).toEqual({ ok: false, reason: "revoked" });
    expect(lookup.stats()).toMatchObject({ hits: 2, misses: 2, resets: 1 });
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
    await expect(keys.mint({ userId: user.id, label: "x", source: "portal", scopes: ["admin"] }, BY_OPERATOR)).rejects.toThrow(/Unknown scope: admin/);
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
