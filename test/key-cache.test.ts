// The verification cache (src/keys/lookup/cache.ts) must never make a change late: revocation, a removed
// member, a new role are seen on the very next verify, whichever connection (another instance, the
// CLI) made them. Unit tests pin the rules; the rest run on the real database of this run.
import { afterAll, beforeAll, describe, expect, inject, it, vi } from "vitest";
import pg from "pg";
import { createDb, type Db } from "../src/db/client.js";
import { cachedKeyLookup, coalesced, oncePerTurn } from "../src/keys/lookup/cache.js";
import { driverKeyLookup, type KeyLookup, type KeyLookupRow } from "../src/keys/lookup/read-row.js";
import { createKeys } from "../src/keys/index.js";
import { digestKey } from "../src/keys/hash.js";
import { createOrganizations } from "../src/orgs/organizations.js";
import { makeUser, openTestDb, type TestDb } from "./support/test-db.js";
import { execFile } from "node:child_process";
import Database from "better-sqlite3";
import { sqliteChangeToken } from "../src/keys/lookup/sqlite-change-token.js";
import { announcingKeyWrites, changesVerification } from "../src/keys/lookup/announce.js";
import { listen } from "../src/keys/lookup/pg-change-feed.js";
import { BY_OPERATOR } from "./support/acting.js";

const PREFIX = "kw_user_";
const SCOPES = ["mcp:read", "mcp:write"];

function deferred<T>() {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

const row = (hash: string, extra: Partial<KeyLookupRow> = {}) => ({ id: `key_${hash}`, hash, revokedAt: null, ...extra }) as unknown as KeyLookupRow;

describe("coalesced()", () => {
  it("a caller arriving during a read gets the next read, started after it arrived; callers share reads", async () => {
    const reads: ReturnType<typeof deferred<number>>[] = [];
    const read = coalesced(() => {
      const d = deferred<number>();
      reads.push(d);
      return d.promise;
    });
    const a = read(); // starts read #0
    const b = read(); // #0 is in flight: waits for #1
    const c = read(); // shares #1 with b
    expect(reads).toHaveLength(1);
    reads[0]!.resolve(0);
    expect(await a).toBe(0);
    await new Promise((r) => setImmediate(r));
    expect(reads).toHaveLength(2); // #1 started only after #0 ended
    reads[1]!.resolve(1);
    expect(await b).toBe(1);
    expect(await c).toBe(1);
    const d = read(); // nothing in flight: a fresh read
    expect(reads).toHaveLength(3);
    reads[2]!.resolve(2);
    expect(await d).toBe(2);
  });

  it("a failed read fails its callers, and the next call reads again", async () => {
    let n = 0;
    const read = coalesced(async () => {
      n++;
      if (n === 1) throw new Error("database down");
      return n;
    });
    await expect(read()).rejects.toThrow("database down");
    expect(await read()).toBe(2);
  });
});

describe("oncePerTurn()", () => {
  it("callers of one turn share one read, made after the last of them asked", async () => {
    let token = 1;
    let reads = 0;
    const read = oncePerTurn(() => {
      reads++;
      return token;
    });
    const a = read();
    token = 2; // a commit between two requests of the same turn...
    const b = read();
    expect(reads).toBe(0); // nothing read yet: the read waits for the turn's check phase
    expect([await a, await b]).toEqual([2, 2]); // ...is seen by both: no answer older than its caller
    expect(reads).toBe(1);
    token = 3;
    expect(await read()).toBe(3); // a caller after the read ran gets a read of its own
    expect(reads).toBe(2);
  });

  it("a failed read fails the callers of its turn, and the next turn reads again", async () => {
    let fail = true;
    const read = oncePerTurn(() => {
      if (fail) throw new Error("file gone");
      return 7;
    });
    const both = [read(), read()];
    await expect(both[0]).rejects.toThrow("file gone");
    await expect(both[1]).rejects.toThrow("file gone");
    fail = false;
    expect(await read()).toBe(7);
  });
});

describe("cachedKeyLookup()", () => {
  function fixture(maxRows = 10) {
    let token = 1;
    const stored = new Map<string, KeyLookupRow>();
    let queries = 0;
    const inner: KeyLookup = {
      async find(hash) {
        queries++;
        return stored.get(hash);
      },
      async close() {},
    };
    const lookup = cachedKeyLookup(inner, () => token, maxRows);
    return { lookup, stored, queries: () => queries, commit: () => token++ };
  }

  it("serves a row from memory until the change token moves, then reads again", async () => {
    const f = fixture();
    f.stored.set("a", row("a"));
    expect((await f.lookup.find("a"))?.revokedAt).toBeNull();
    expect((await f.lookup.find("a"))?.revokedAt).toBeNull();
    expect(f.queries()).toBe(1);
    // a commit elsewhere (here: the key revoked)
    f.stored.set("a", row("a", { revokedAt: new Date() }));
    f.commit();
    expect((await f.lookup.find("a"))?.revokedAt).toBeInstanceOf(Date);
    expect(f.queries()).toBe(2);
    expect(f.lookup.stats()).toMatchObject({ hits: 1, misses: 2, resets: 1, size: 1 });
  });

  it("never keeps unknown hashes, so a flood of made-up keys cannot evict real ones", async () => {
    const f = fixture(2);
    f.stored.set("a", row("a"));
    await f.lookup.find("a");
    for (let i = 0; i < 50; i++) expect(await f.lookup.find(`nope${i}`)).toBeUndefined();
    expect(f.lookup.stats().size).toBe(1);
    await f.lookup.find("a");
    expect(f.lookup.stats().hits).toBe(1);
  });

  it("holds at most maxRows rows", async () => {
    const f = fixture(3);
    for (const h of ["a", "b", "c", "d", "e"]) f.stored.set(h, row(h));
    for (const h of ["a", "b", "c", "d", "e"]) await f.lookup.find(h);
    expect(f.lookup.stats().size).toBe(3);
  });

  it("cached(): answers from memory only while the token can be read at once, never reading the table", async () => {
    let now: number | undefined = 1;
    const stored = new Map([["a", row("a")]]);
    let queries = 0;
    const inner: KeyLookup = { find: async (hash) => (queries++, stored.get(hash)), async close() {} };
    const lookup = cachedKeyLookup(inner, () => now ?? 0, 10, () => now);
    expect(lookup.cached!("a")).toBeUndefined(); // not read yet
    await lookup.find("a");
    expect(lookup.cached!("a")?.id).toBe("key_a");
    expect(lookup.cached!("b")).toBeUndefined();
    now = undefined; // cannot vouch at once (PostgreSQL: the feed is down)
    expect(lookup.cached!("a")).toBeUndefined();
    now = 2; // a commit: the cache lets go
    expect(lookup.cached!("a")).toBeUndefined();
    expect(queries).toBe(1);
    expect(lookup.stats()).toMatchObject({ hits: 1, misses: 1, resets: 1, size: 0 });
    // without a way to read the token at once, there is no cached() at all (verification goes on to its format check and find())
    const plain = cachedKeyLookup(inner, () => 1, 10);
    await plain.find("a");
    expect(plain.cached).toBeUndefined();
  });

  it("holds(): whether a row was read for the digest, current or not; never a change check, never the table", async () => {
    let token = 1;
    let tokenReads = 0;
    const stored = new Map([["a", row("a")]]);
    let queries = 0;
    const inner: KeyLookup = { find: async (hash) => (queries++, stored.get(hash)), async close() {} };
    const lookup = cachedKeyLookup(inner, () => (tokenReads++, token), 10);
    expect(lookup.holds!("a")).toBe(false); // not read yet
    await lookup.find("a");
    await lookup.find("nope"); // unknown digests are never kept, so never held
    expect([lookup.holds!("a"), lookup.holds!("nope")]).toEqual([true, false]);
    token = 2; // a commit: still held until a lookup sees the new token (the row proves the format, not the key's state)
    expect(lookup.holds!("a")).toBe(true);
    expect([tokenReads, queries]).toEqual([2, 2]);
    expect((await lookup.find("b"))).toBeUndefined(); // sees token 2: the cache lets go
    expect(lookup.holds!("a")).toBe(false);
  });

  it("does not keep a row read under a token that a newer one has replaced meanwhile", async () => {
    let token = 1;
    const slow = deferred<KeyLookupRow | undefined>();
    let calls = 0;
    const inner: KeyLookup = {
      find: () => (++calls === 1 ? slow.promise : Promise.resolve(row("a", { revokedAt: new Date() }))),
      async close() {},
    };
    const lookup = cachedKeyLookup(inner, () => token, 10);
    const first = lookup.find("a"); // reads under token 1, slowly
    await new Promise((r) => setImmediate(r));
    token = 2; // a revocation commits...
    expect((await lookup.find("a"))?.revokedAt).toBeInstanceOf(Date); // ...and the next request sees it
    slow.resolve(row("a")); // the stale read finishes late
    expect((await first)?.revokedAt).toBeNull();
    expect((await lookup.find("a"))?.revokedAt).toBeInstanceOf(Date); // and was not cached
  });
});

describe("verification with the cache on the real database", () => {
  let t: TestDb;
  let other: Db; // another connection: another instance, or the CLI, announcing its writes as they do
  let otherLookup: KeyLookup;
  let lookup: KeyLookup;
  beforeAll(async () => {
    t = await openTestDb();
    otherLookup = driverKeyLookup(t.url);
    other = announcingKeyWrites(await createDb(t.url), otherLookup.announce);
    lookup = driverKeyLookup(t.url, { cacheSize: 100 });
    await lookup.feed?.ready();
  });
  afterAll(async () => {
    await lookup?.close();
    await otherLookup?.close();
    await other?.$disconnect();
    await t?.close();
  });

  const keysFor = (db: Db) => createKeys(db, { prefix: PREFIX, scopes: SCOPES, lastUsedFlushMs: 3600_000, lookup });
  // A first mint creates the user's personal organisation, and its new membership notifies the feed
  // (PostgreSQL) some time after the commit: a verify made before the notification arrives fills the
  // cache, which the notification then empties. announce() resolves once this instance has emptied its
  // cache for a change sent after every commit so far, so it has processed the mint's notification too
  // (delivered in commit order). SQLite needs no wait: its token is read from the file itself.
  const settled = async () => lookup.announce?.();

  it("repeated verifies are answered from memory", async () => {
    const keys = keysFor(t.db);
    const user = await makeUser(t.db);
    const { raw } = await keys.mint({ userId: user.id, label: "hot", source: "portal" }, BY_OPERATOR);
    await settled();
    expect((await keys.verify(raw)).ok).toBe(true); // the one miss: reads the row and keeps it
    const before = keys.cacheStats()!;
    for (let i = 0; i < 20; i++) expect((await keys.verify(raw)).ok).toBe(true);
    const after = keys.cacheStats()!;
    expect(after.hits - before.hits).toBe(20);
    expect(after.misses).toBe(before.misses);
  });

  it("a key revoked through another connection fails the very next verify", async () => {
    const keys = keysFor(t.db);
    const user = await makeUser(t.db);
    const minted = await keys.mint({ userId: user.id, label: "victim", source: "portal" }, BY_OPERATOR);
    await settled();
    for (let i = 0; i < 2; i++) expect((await keys.verify(minted.raw)).ok).toBe(true);
    const hits = keys.cacheStats()!.hits;
    expect((await keys.verify(minted.raw)).ok).toBe(true);
    expect(keys.cacheStats()!.hits).toBe(hits + 1); // the row is in memory...
    await keysFor(other).revoke({ kind: "own", userId: user.id, id: minted.key.id }, BY_OPERATOR); // ...when another instance revokes the key
    expect(await keys.verify(minted.raw)).toEqual({ ok: false, reason: "revoked" });
  });

  it("a member removed through another connection fails the very next verify; a new role applies at once", async () => {
    const keys = keysFor(t.db);
    const owner = await makeUser(t.db);
    const member = await makeUser(t.db);
    const orgs = createOrganizations(t.db);
    const org = await orgs.create(owner.id, `Team ${member.id.slice(-6)}`);
    await t.db.membership.create({ data: { organizationId: org.id, userId: member.id, role: "member" } });
    const minted = await keys.mint({ userId: member.id, label: "team key", source: "portal", organizationId: org.id }, BY_OPERATOR);
    await settled(); // the new organisation's memberships notify too
    const first = await keys.verify(minted.raw);
    expect(first.ok && first.role).toBe("member");
    const hits = keys.cacheStats()!.hits;
    expect((await keys.verify(minted.raw)).ok).toBe(true);
    expect(keys.cacheStats()!.hits).toBe(hits + 1);

    await other.membership.update({ where: { organizationId_userId: { organizationId: org.id, userId: member.id } }, data: { role: "viewer" } });
    const demoted = await keys.verify(minted.raw);
    expect(demoted.ok && demoted.role).toBe("viewer");

    await other.membership.delete({ where: { organizationId_userId: { organizationId: org.id, userId: member.id } } });
    expect(await keys.verify(minted.raw)).toEqual({ ok: false, reason: "not_member" });
  });

  it("PostgreSQL: repeated verifies make no round trip at all while the change feed vouches", async (test) => {
    if (!t.url.startsWith("postgres")) return test.skip();
    expect(lookup.changeCheck).toBe("feed");
    const keys = keysFor(t.db);
    const user = await makeUser(t.db);
    const { raw } = await keys.mint({ userId: user.id, label: "no round trip", source: "portal" }, BY_OPERATOR);
    await settled();
    expect((await keys.verify(raw)).ok).toBe(true);
    const before = keys.cacheStats()!;
    for (let i = 0; i < 20; i++) expect((await keys.verify(raw)).ok).toBe(true);
    const after = keys.cacheStats()!;
    expect(after.hits - before.hits).toBe(20);
    expect(after.changeReads).toBe(before.changeReads);
  });

  it("PostgreSQL without the change feed: the snapshot check's own connection, killed, is opened again", async (test) => {
    if (!t.url.startsWith("postgres")) return test.skip();
    const lookup = driverKeyLookup(t.url, { cacheSize: 100, changeFeed: false });
    test.onTestFinished(() => lookup.close());
    expect(lookup.changeCheck).toBe("snapshot");
    const keys = createKeys(t.db, { prefix: PREFIX, scopes: SCOPES, lastUsedFlushMs: 3600_000, lookup });
    const user = await makeUser(t.db);
    const { raw } = await keys.mint({ userId: user.id, label: "reconnect", source: "portal" }, BY_OPERATOR);
    expect((await keys.verify(raw)).ok).toBe(true);
    const killed = await other.$queryRawUnsafe<{ n: bigint | number }[]>(
      `SELECT count(pg_terminate_backend(pid)) AS n FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'SELECT pg_current_snapshot()%'`,
    );
    expect(Number(killed[0]!.n)).toBeGreaterThanOrEqual(1);
    let failures = 0;
    let ok = false;
    for (let i = 0; i < 3 && !ok; i++) {
      try {
        ok = (await keys.verify(raw)).ok; // the first call may still meet the dead connection
      } catch {
        failures++;
      }
    }
    expect(ok).toBe(true);
    expect(failures).toBeLessThanOrEqual(1);
  });

  it("the lookup's rows are the database's: same answer with the cache off", async () => {
    const uncached = driverKeyLookup(t.url);
    try {
      const keys = keysFor(t.db);
      const user = await makeUser(t.db);
      const { raw } = await keys.mint({ userId: user.id, label: "same", source: "portal" }, BY_OPERATOR);
      await keys.verify(raw);
      const cachedRow = await lookup.find(digestKey(raw));
      expect(cachedRow).toEqual(await uncached.find(digestKey(raw)));
    } finally {
      await uncached.close();
    }
  });
});

describe("writes that change verification", () => {
  it("are revocations, role and membership changes, user and app changes; new keys are not", () => {
    for (const [model, op] of [["ApiKey", "updateMany"], ["ApiKey", "delete"], ["Membership", "create"], ["Membership", "update"], ["Membership", "delete"], ["User", "delete"], ["App", "delete"], ["Organization", "delete"]])
      expect(changesVerification(model, op!), `${model}.${op}`).toBe(true);
    for (const [model, op] of [["ApiKey", "create"], ["ApiKey", "createMany"], ["ApiKey", "findUnique"], ["Session", "update"], ["AuditEvent", "create"], [undefined, "executeRaw"]])
      expect(changesVerification(model, op!), `${model}.${op}`).toBe(false);
  });
});

// PostgreSQL's change feed (src/keys/lookup/pg-change-feed.ts): instances answer from memory without a round
// trip, so these pin every way a change must still reach them: announced writes, hand-written SQL
// (trigger), an instance that cannot renew its lease, a lost connection.
describe.skipIf(inject("testBackend") !== "postgresql")("PostgreSQL key-change feed", () => {
  let t: TestDb;
  let writerLookup: KeyLookup;
  let writer: Db; // announces its writes, as every Keyward instance and the CLI do
  beforeAll(async () => {
    t = await openTestDb();
    writerLookup = driverKeyLookup(t.url);
    writer = announcingKeyWrites(await createDb(t.url), writerLookup.announce);
  });
  afterAll(async () => {
    await writerLookup?.close();
    await writer?.$disconnect();
    await t?.close();
  });

  async function instance(leaseMs = 5000) {
    const lookup = driverKeyLookup(t.url, { cacheSize: 100, leaseMs });
    await lookup.feed!.ready();
    const keys = createKeys(t.db, { prefix: PREFIX, scopes: SCOPES, lastUsedFlushMs: 3600_000, lookup });
    return { lookup, keys, feed: lookup.feed! };
  }
  async function cachedKey(keys: ReturnType<typeof createKeys>) {
    const user = await makeUser(t.db);
    const minted = await keys.mint({ userId: user.id, label: "feed", source: "portal" }, BY_OPERATOR);
    await writerLookup.announce!(); // every instance has taken in the mint's notification (see settled() above)
    for (let i = 0; i < 2; i++) expect((await keys.verify(minted.raw)).ok).toBe(true);
    const hits = keys.cacheStats()!.hits;
    expect((await keys.verify(minted.raw)).ok).toBe(true);
    expect(keys.cacheStats()!.hits).toBe(hits + 1);
    return { user, minted };
  }

  it("a hand-written UPDATE, announced by no one, reaches the cache through the trigger; last-used writes do not", async (test) => {
    const a = await instance();
    test.onTestFinished(() => a.lookup.close());
    const { minted } = await cachedKey(a.keys);

    const before = a.feed.current()!;
    await t.db.$executeRawUnsafe(`UPDATE "ApiKey" SET "lastUsedAt" = now() WHERE id = $1`, minted.key.id);
    await t.db.$executeRawUnsafe(`SELECT pg_notify('keyward_key_changes', 'marker')`);
    await vi.waitFor(() => expect(a.feed.current()).not.toBe(before), { timeout: 5000 });
    expect(a.feed.current()).toBe(before + 1); // the marker alone: the last-used UPDATE notified no one

    await t.db.$executeRawUnsafe(`UPDATE "ApiKey" SET "revokedAt" = now() WHERE id = $1`, minted.key.id);
    await vi.waitFor(async () => expect(await a.keys.verify(minted.raw)).toEqual({ ok: false, reason: "revoked" }), { timeout: 5000 });
  });

  it("a writer waits for an instance that cannot renew its lease, which stops answering from memory first", async (test) => {
    const a = await instance(1000);
    test.onTestFinished(() => a.lookup.close());
    const { user, minted } = await cachedKey(a.keys);

    // Hold the instance's lease row: its renewals (and so its acknowledgements) hang, as on a stuck instance.
    const blocker = new pg.Client({ connectionString: t.url });
    await blocker.connect();
    test.onTestFinished(() => blocker.end());
    await blocker.query("BEGIN");
    await blocker.query(`SELECT 1 FROM "KeyCacheInstance" WHERE id = $1 FOR UPDATE`, [a.feed.instanceId]);

    await createKeys(writer, { prefix: PREFIX, scopes: SCOPES, lastUsedFlushMs: 3600_000 }).revoke({ kind: "own", userId: user.id, id: minted.key.id }, BY_OPERATOR);
    expect(a.feed.current()).toBeUndefined(); // the lease lapsed on the instance before the writer gave up on it
    expect(await a.keys.verify(minted.raw)).toEqual({ ok: false, reason: "revoked" });

    await blocker.query("ROLLBACK");
    await vi.waitFor(() => expect(a.feed.current()).toBeDefined(), { timeout: 5000 });
    expect(await a.keys.verify(minted.raw)).toEqual({ ok: false, reason: "revoked" });
  });

  it("a lost feed connection: verification falls back to the snapshot at once, writers are not stuck, the feed comes back", async (test) => {
    const a = await instance();
    test.onTestFinished(() => a.lookup.close());
    const { user, minted } = await cachedKey(a.keys);
    await t.db.$executeRawUnsafe(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'keyward key-change feed'`);
    await vi.waitFor(() => expect(a.feed.current()).toBeUndefined(), { timeout: 5000 });
    const reads = a.keys.cacheStats()!.changeReads!;
    expect((await a.keys.verify(minted.raw)).ok).toBe(true);
    expect(a.keys.cacheStats()!.changeReads).toBeGreaterThan(reads);

    await createKeys(writer, { prefix: PREFIX, scopes: SCOPES, lastUsedFlushMs: 3600_000 }).revoke({ kind: "own", userId: user.id, id: minted.key.id }, BY_OPERATOR);
    expect(await a.keys.verify(minted.raw)).toEqual({ ok: false, reason: "revoked" });
    await vi.waitFor(() => expect(a.feed.current()).toBeDefined(), { timeout: 10_000 });
    expect(await a.keys.verify(minted.raw)).toEqual({ ok: false, reason: "revoked" });
  });

  it("trusts its cache only once its own lease renewal came back as a notification; gives the feed up when none do", async (test) => {
    const healthy = listen(t.url, { leaseMs: 5000 });
    test.onTestFinished(() => healthy.close());
    await healthy.ready();
    expect(healthy.current()).toBeDefined();

    // Renewals echo where no one listens: as through a transaction-mode pooler, notifications do not arrive.
    const errors: unknown[] = [];
    const deaf = listen(t.url, { leaseMs: 600, echoChannel: "keyward_nowhere", onError: (err) => errors.push(err) });
    test.onTestFinished(() => deaf.close());
    await vi.waitFor(() => expect(String(errors[0])).toMatch(/notifications do not reach this connection/), { timeout: 5000 });
    expect(deaf.current()).toBeUndefined();
    const rows = await t.db.$queryRawUnsafe<{ n: number }[]>(`SELECT count(*)::int AS n FROM "KeyCacheInstance" WHERE id = $1`, deaf.instanceId);
    expect(rows[0]!.n).toBe(0); // writers do not wait for it
  });

  it("an idle pooled connection that dies does not take the process down; the next announcement opens another", async (test) => {
    const lookup = driverKeyLookup(t.url);
    test.onTestFinished(() => lookup.close());
    await lookup.announce!(); // leaves an idle connection in the lookup's pool
    const killed = await t.db.$queryRawUnsafe<{ n: number }[]>(
      `SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'keyward key lookup'`,
    );
    expect(killed[0]!.n).toBeGreaterThanOrEqual(1);
    await new Promise((resolve) => setTimeout(resolve, 300)); // the pool hears of it (an unhandled "error" would fail the run)
    await lookup.announce!();
  });

  it("a writer does not wait for instances that left: closed ones take their lease away, expired ones are ignored", async () => {
    const a = await instance();
    await a.lookup.close();
    const rows = await t.db.$queryRawUnsafe<{ n: number }[]>(`SELECT count(*)::int AS n FROM "KeyCacheInstance" WHERE id = $1`, a.feed.instanceId);
    expect(rows[0]!.n).toBe(0);
    await t.db.$executeRawUnsafe(`INSERT INTO "KeyCacheInstance" (id, "leaseUntil", acked) VALUES ('crashed', now() - interval '1 second', 0)`);
    const started = performance.now();
    await writerLookup.announce!();
    expect(performance.now() - started).toBeLessThan(2500); // a live but silent instance would hold it for its whole lease (5 s)
  });
});

// SQLite's change check reads the WAL-index header (src/keys/lookup/sqlite-change-token.ts). These pin that it
// sees commits from another process, as the CLI makes them, and that a file outside WAL mode falls
// back to PRAGMA data_version with the same guarantee.
describe("SQLite change check", () => {
  /** A database of its own (its journal mode gets changed); SQLite runs only. */
  async function onOwnSqliteDb(test: { skip: () => void }, fn: (t: TestDb, file: string) => Promise<void>) {
    const t = await openTestDb();
    try {
      if (!t.url.startsWith("file:")) return test.skip();
      await fn(t, t.url.slice("file:".length));
    } finally {
      await t.close();
    }
  }

  /** Runs SQL in a separate Node process (its own SQLite library instance and locks), like the CLI. */
  const inAnotherProcess = (file: string, sql: string) =>
    new Promise<void>((resolve, reject) => {
      const script = `const D = require("better-sqlite3"); const d = new D(process.argv[1], { timeout: 10000 }); d.exec(process.argv[2]); d.close();`;
      execFile(process.execPath, ["-e", script, file, sql], { cwd: process.cwd() }, (err, _out, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve()));
    });

  async function revokedFromAnotherProcess(t: TestDb, expectedCheck: string) {
    const file = t.url.slice("file:".length);
    const lookup = driverKeyLookup(t.url, { cacheSize: 100 });
    try {
      expect(lookup.changeCheck).toBe(expectedCheck);
      const keys = createKeys(t.db, { prefix: PREFIX, scopes: SCOPES, lastUsedFlushMs: 3600_000, lookup });
      const user = await makeUser(t.db);
      const minted = await keys.mint({ userId: user.id, label: "cli victim", source: "portal" }, BY_OPERATOR);
      for (let i = 0; i < 3; i++) expect((await keys.verify(minted.raw)).ok).toBe(true);
      const hits = keys.cacheStats()!.hits;
      expect((await keys.verify(minted.raw)).ok).toBe(true);
      expect(keys.cacheStats()!.hits).toBe(hits + 1); // served from memory...
      await inAnotherProcess(file, `UPDATE "ApiKey" SET "revokedAt" = '2026-01-01 00:00:00' WHERE id = '${minted.key.id}'`);
      expect(await keys.verify(minted.raw)).toEqual({ ok: false, reason: "revoked" }); // ...until the other process commits
      await inAnotherProcess(file, `UPDATE "ApiKey" SET "revokedAt" = NULL WHERE id = '${minted.key.id}'`);
      expect((await keys.verify(minted.raw)).ok).toBe(true);
    } finally {
      await lookup.close();
    }
  }

  it("WAL mode: a key revoked by another process fails the very next verify", (test) => onOwnSqliteDb(test, (t) => revokedFromAnotherProcess(t, "wal-index")));

  it("outside WAL mode (data_version): a key revoked by another process fails the very next verify", (test) =>
    onOwnSqliteDb(test, async (t, file) => {
      await t.db.$disconnect();
      await inAnotherProcess(file, "PRAGMA journal_mode = DELETE");
      await revokedFromAnotherProcess(t, "data_version");
    }));

  it("the token moves on every commit, from this process or another, and stays put without one", (test) =>
    onOwnSqliteDb(test, async (t, file) => {
      await t.db.user.count();
      const reader = new Database(file, { readonly: true, fileMustExist: true });
      const token = sqliteChangeToken(reader, file);
      try {
        expect(token.kind).toBe("wal-index");
        const seen = [token.read()];
        seen.push(token.read());
        expect(seen[1]).toBe(seen[0]); // nothing committed
        await makeUser(t.db); // Prisma, this process
        seen.push(token.read());
        expect(seen[2]).not.toBe(seen[1]);
        await inAnotherProcess(file, `UPDATE "User" SET email = email`); // another process, no real change
        seen.push(token.read());
        expect(seen[3]).not.toBe(seen[2]);
        await t.db.$executeRawUnsafe("PRAGMA wal_checkpoint(TRUNCATE)"); // the WAL restarts from its start
        seen.push(token.read());
        await makeUser(t.db);
        seen.push(token.read());
        expect(seen[5]).not.toBe(seen[4]);
        expect(token.read()).toBe(seen[5]);
      } finally {
        token.close();
        reader.close();
      }
    }));
});
