// PostgreSQL's change feed (src/keys/lookup/pg-change-feed.ts): instances answer from memory without a round
// trip, so these pin every way a change must still reach them: announced writes, hand-written SQL
// (trigger), an instance that cannot renew its lease, a lost connection.
import { afterAll, beforeAll, describe, expect, inject, it, vi } from "vitest";
import pg from "pg";
import { createDb, type Db } from "../../src/db/client.js";
import { openKeyLookup, type KeyLookup } from "../../src/keys/lookup/index.js";
import { announcingKeyWrites } from "../../src/keys/lookup/announce.js";
import { createKeys } from "../../src/keys/index.js";
import { makeUser, openTestDb, type TestDb } from "../support/test-db.js";
import { BY_OPERATOR } from "../support/acting.js";

const PREFIX = "kw_user_";
const SCOPES = ["mcp:read", "mcp:write"];

describe.skipIf(inject("testBackend") !== "postgresql")("PostgreSQL key-change feed", () => {
  let t: TestDb;
  let writerLookup: KeyLookup;
  let writer: Db; // announces its writes, as every Keyward instance and the CLI do
  beforeAll(async () => {
    t = await openTestDb();
    writerLookup = openKeyLookup(t.url, { cacheSize: 0 });
    writer = announcingKeyWrites(await createDb(t.url), writerLookup.announce);
  });
  afterAll(async () => {
    await writerLookup?.close();
    await writer?.$disconnect();
    await t?.close();
  });

  async function instance(leaseMs = 5000) {
    const lookup = openKeyLookup(t.url, { cacheSize: 100, leaseMs });
    await lookup.feed!.ready();
    const keys = createKeys(t.db, { prefix: PREFIX, scopes: SCOPES, lastUsedFlushMs: 3600_000, reader: lookup.reader });
    return { lookup, keys, feed: lookup.feed! };
  }
  async function cachedKey({ keys, lookup }: Awaited<ReturnType<typeof instance>>) {
    const user = await makeUser(t.db);
    const minted = await keys.mint({ userId: user.id, label: "feed", source: "portal" }, BY_OPERATOR);
    await writerLookup.announce!(); // every instance has taken in the mint's notification (see settled() in test/lookup/lookup.test.ts)
    for (let i = 0; i < 2; i++) expect((await keys.verify(minted.raw)).ok).toBe(true);
    const hits = lookup.stats()!.hits;
    expect((await keys.verify(minted.raw)).ok).toBe(true);
    expect(lookup.stats()!.hits).toBe(hits + 1);
    return { user, minted };
  }

  it("a hand-written UPDATE, announced by no one, reaches the cache through the trigger; last-used writes do not", async (test) => {
    const a = await instance();
    test.onTestFinished(() => a.lookup.close());
    const { minted } = await cachedKey(a);

    const before = a.feed.current()!;
    await t.db.$executeRawUnsafe(`UPDATE "ApiKey" SET "lastUsedAt" = now() WHERE id = $1`, minted.key.id);
    await t.db.$executeRawUnsafe(`SELECT pg_notify('keyward_key_changes', 'marker')`);
    await vi.waitFor(() => expect(a.feed.current()).not.toBe(before), { timeout: 5000 });
    expect(a.feed.current()).toBe(before + 1); // the marker alone: the last-used UPDATE notified no one

    await t.db.$executeRawUnsafe(`UPDATE "ApiKey" SET "revokedAt" = now() WHERE id = $1`, minted.key.id);
    await vi.waitFor(async () => expect(await a.keys.verify(minted.raw)).toMatchObject({ ok: false, reason: "revoked" }), {
      timeout: 5000,
    });
  });

  it("a writer waits for an instance that cannot renew its lease, which stops answering from memory first", async (test) => {
    const a = await instance(1000);
    test.onTestFinished(() => a.lookup.close());
    const { user, minted } = await cachedKey(a);

    // Hold the instance's lease row: its renewals (and so its acknowledgements) hang, as on a stuck instance.
    const blocker = new pg.Client({ connectionString: t.url });
    await blocker.connect();
    test.onTestFinished(() => blocker.end());
    await blocker.query("BEGIN");
    await blocker.query(`SELECT 1 FROM "KeyCacheInstance" WHERE id = $1 FOR UPDATE`, [a.feed.instanceId]);

    await createKeys(writer, { prefix: PREFIX, scopes: SCOPES, lastUsedFlushMs: 3600_000 }).revoke(
      { kind: "own", userId: user.id, id: minted.key.id },
      BY_OPERATOR,
    );
    expect(a.feed.current()).toBeUndefined(); // the lease lapsed on the instance before the writer gave up on it
    expect(await a.keys.verify(minted.raw)).toMatchObject({ ok: false, reason: "revoked" });

    await blocker.query("ROLLBACK");
    await vi.waitFor(() => expect(a.feed.current()).toBeDefined(), { timeout: 5000 });
    expect(await a.keys.verify(minted.raw)).toMatchObject({ ok: false, reason: "revoked" });
  });

  it("a lost feed connection: verification reads the database (uncached) at once, writers are not stuck, the feed comes back", async (test) => {
    const a = await instance();
    test.onTestFinished(() => a.lookup.close());
    const { user, minted } = await cachedKey(a);
    await t.db.$executeRawUnsafe(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'keyward key-change feed'`,
    );
    await vi.waitFor(() => expect(a.feed.current()).toBeUndefined(), { timeout: 5000 });
    const before = a.lookup.stats()!;
    for (let i = 0; i < 2; i++) expect((await a.keys.verify(minted.raw)).ok).toBe(true);
    expect(a.lookup.stats()).toMatchObject({ hits: before.hits, misses: before.misses + 2 }); // read from the database, uncached

    await createKeys(writer, { prefix: PREFIX, scopes: SCOPES, lastUsedFlushMs: 3600_000 }).revoke(
      { kind: "own", userId: user.id, id: minted.key.id },
      BY_OPERATOR,
    );
    expect(await a.keys.verify(minted.raw)).toMatchObject({ ok: false, reason: "revoked" });
    await vi.waitFor(() => expect(a.feed.current()).toBeDefined(), { timeout: 10_000 });
    expect(await a.keys.verify(minted.raw)).toMatchObject({ ok: false, reason: "revoked" });
  });

  it("an idle pooled connection that dies does not take the process down; the next announcement opens another", async (test) => {
    const lookup = openKeyLookup(t.url, { cacheSize: 0 });
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
    const rows = await t.db.$queryRawUnsafe<{ n: number }[]>(
      `SELECT count(*)::int AS n FROM "KeyCacheInstance" WHERE id = $1`,
      a.feed.instanceId,
    );
    expect(rows[0]!.n).toBe(0);
    await t.db.$executeRawUnsafe(
      `INSERT INTO "KeyCacheInstance" (id, "leaseUntil", acked) VALUES ('crashed', now() - interval '1 second', 0)`,
    );
    const started = performance.now();
    await writerLookup.announce!();
    expect(performance.now() - started).toBeLessThan(2500); // a live but silent instance would hold it for its whole lease (5 s)
  });
});
