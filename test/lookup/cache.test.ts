// The verification cache (src/keys/lookup/cache.ts) must never make a change late: a row is served
// from memory only while the change token has not moved, and only while something vouches for it.
import { describe, expect, it } from "vitest";
import { keyCache, type RowReader } from "../../src/keys/lookup/cache.js";

interface Row {
  id: string;
  revokedAt: Date | null;
}

function deferred<T>() {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

const row = (digest: string, extra: Partial<Row> = {}): Row => ({ id: `key_${digest}`, revokedAt: null, ...extra });

/** A table the test writes to, a change token it moves, and the reads of the table counted. */
function fixture(maxRows = 10) {
  let token: number | undefined = 1;
  const stored = new Map<string, Row>();
  let queries = 0;
  const table: RowReader<Row> = {
    async find(digest) {
      queries++;
      return stored.get(digest);
    },
  };
  const cache = keyCache(table, async () => token, maxRows);
  return { cache, stored, queries: () => queries, commit: () => (token = (token ?? 0) + 1), cannotVouch: () => (token = undefined) };
}

describe("keyCache()", () => {
  it("serves a row from memory until the change token moves, then reads again", async () => {
    const f = fixture();
    f.stored.set("a", row("a"));
    expect((await f.cache.find("a"))?.revokedAt).toBeNull();
    expect((await f.cache.find("a"))?.revokedAt).toBeNull();
    expect(f.queries()).toBe(1);
    // a commit elsewhere (here: the key revoked)
    f.stored.set("a", row("a", { revokedAt: new Date() }));
    f.commit();
    expect((await f.cache.find("a"))?.revokedAt).toBeInstanceOf(Date);
    expect(f.queries()).toBe(2);
    expect(f.cache.stats()).toMatchObject({ hits: 1, misses: 2, resets: 1, size: 1 });
  });

  it("never keeps unknown digests, so a flood of made-up keys cannot evict real ones", async () => {
    const f = fixture(2);
    f.stored.set("a", row("a"));
    await f.cache.find("a");
    for (let i = 0; i < 50; i++) expect(await f.cache.find(`nope${i}`)).toBeUndefined();
    expect(f.cache.stats().size).toBe(1);
    await f.cache.find("a");
    expect(f.cache.stats().hits).toBe(1);
  });

  it("holds at most maxRows rows, letting the least recently used go", async () => {
    const f = fixture(3);
    for (const d of ["a", "b", "c", "d", "e"]) f.stored.set(d, row(d));
    for (const d of ["a", "b", "c"]) await f.cache.find(d);
    await f.cache.find("a"); // used again: now the most recent
    for (const d of ["d", "e"]) await f.cache.find(d); // push out b and c, not a
    expect(f.cache.stats().size).toBe(3);
    const before = f.queries();
    await f.cache.find("a");
    expect(f.queries()).toBe(before);
    await f.cache.find("b");
    expect(f.queries()).toBe(before + 1);
  });

  it("while nothing vouches (token undefined), reads the table on every call and keeps nothing", async () => {
    const f = fixture();
    f.stored.set("a", row("a"));
    await f.cache.find("a");
    f.cannotVouch();
    f.stored.set("a", row("a", { revokedAt: new Date() })); // a change the cache was not told of
    expect((await f.cache.find("a"))?.revokedAt).toBeInstanceOf(Date);
    expect((await f.cache.find("a"))?.revokedAt).toBeInstanceOf(Date);
    expect(f.queries()).toBe(3);
    expect(f.cache.stats()).toMatchObject({ size: 0, resets: 1 });
  });

  it("does not keep a row read under a token that a newer one has replaced meanwhile", async () => {
    let token = 1;
    const slow = deferred<Row | undefined>();
    let calls = 0;
    const table: RowReader<Row> = { find: () => (++calls === 1 ? slow.promise : Promise.resolve(row("a", { revokedAt: new Date() }))) };
    const cache = keyCache(table, async () => token, 10);
    const first = cache.find("a"); // reads under token 1, slowly
    await new Promise((r) => setImmediate(r));
    token = 2; // a revocation commits...
    expect((await cache.find("a"))?.revokedAt).toBeInstanceOf(Date); // ...and the next request sees it
    slow.resolve(row("a")); // the stale read finishes late
    expect((await first)?.revokedAt).toBeNull();
    expect((await cache.find("a"))?.revokedAt).toBeInstanceOf(Date); // and was not cached
  });

  it("does not keep a row whose read began before the cache let go, even if the token comes back to the same value", async () => {
    let token: number | undefined = 1;
    const slow = deferred<Row | undefined>();
    let calls = 0;
    const table: RowReader<Row> = { find: () => (++calls === 1 ? slow.promise : Promise.resolve(row("a", { revokedAt: new Date() }))) };
    const cache = keyCache(table, async () => token, 10);
    const first = cache.find("a");
    await new Promise((r) => setImmediate(r));
    token = undefined; // the feed stops vouching...
    await cache.find("a");
    token = 1; // ...and vouches again with the same generation
    slow.resolve(row("a"));
    await first;
    expect((await cache.find("a"))?.revokedAt).toBeInstanceOf(Date); // read again, not the late row
    expect(calls).toBe(3);
  });
});
