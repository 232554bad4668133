// Key rows kept in memory, never stale. Every lookup first reads a change token ("has anything been
// committed since?") and empties the whole cache when it moved. So a revocation, a removed member or
// a deleted app, made by this instance, by another instance or by the CLI, is seen on the very next
// request, exactly as without the cache; what the cache saves is the key-row query itself and, with
// the PostgreSQL change feed, every round trip.
//
// Change tokens (src/keys/lookup/read-row.ts):
// - SQLite: the WAL-index header every commit rewrites, read with one pread (src/keys/lookup/sqlite-change-token.ts;
//   PRAGMA data_version outside WAL mode): it changes whenever any connection (Prisma in this process,
//   another process, the CLI) commits to the file. Read once per event-loop turn (oncePerTurn()).
// - PostgreSQL: the key-change feed's generation (src/keys/lookup/pg-change-feed.ts): pushed, no round trip;
//   writers wait until every instance has acknowledged their change. While the feed cannot vouch
//   (starting, connection lost, lease lapsed): pg_current_snapshot(), the MVCC snapshot itself. Two
//   equal snapshots see exactly the same committed transactions, so an unchanged one proves no row
//   can have changed (read once for all concurrent requests: coalesced()).
// Where the token can be read at once (the feed's generation), cached() answers synchronously, with
// the same rule; verification tries it first (src/keys/verify/find-in-cache.ts), find() otherwise.
// On SQLite any commit empties the cache (the last-used flush too); on PostgreSQL any change to what
// verification reads does. Both keep the rule simple to trust.
// Rows are keyed by the key's digest (src/keys/hash.ts digestKey), so no raw key is held in memory.
import type { KeyLookup, KeyLookupRow } from "./read-row.js";

export type ChangeToken = () => string | number | Promise<string | number>;
/** The change token when it can be known at once (no I/O, no waiting); undefined otherwise. */
export type ChangeTokenNow = () => string | number | undefined;

export interface KeyCacheStats {
  hits: number;
  misses: number;
  /** Times a commit emptied the cache. */
  resets: number;
  size: number;
  /** Round trips made to check for changes (PostgreSQL), when the lookup counts them. */
  changeReads?: number;
}

export interface CachedKeyLookup extends KeyLookup {
  stats(): KeyCacheStats;
}

export function cachedKeyLookup(inner: KeyLookup, changes: ChangeToken, maxRows: number, changesNow?: ChangeTokenNow): CachedKeyLookup {
  const rows = new Map<string, KeyLookupRow>();
  let version: string | number | undefined;
  const stats = { hits: 0, misses: 0, resets: 0 };
  const observe = (seen: string | number) => {
    if (seen === version) return;
    if (rows.size > 0) stats.resets++;
    rows.clear();
    version = seen;
  };
  /** The row for `digest` under the token `seen`: from memory if held, else read (and kept). */
  const afterToken = (seen: string | number, digest: string): KeyLookupRow | undefined | Promise<KeyLookupRow | undefined> => {
    observe(seen);
    const hit = rows.get(digest);
    if (hit) {
      stats.hits++;
      return hit;
    }
    stats.misses++;
    // Read after the token: the row is at least as new as `seen`. Kept only if no newer token
    // has replaced `seen` meanwhile; unknown hashes are never kept (no cache flooding).
    return inner.find(digest).then((row) => {
      if (row && version === seen) {
        if (rows.size >= maxRows) rows.delete(rows.keys().next().value!);
        rows.set(digest, Object.freeze(row));
      }
      return row;
    });
  };
  return {
    ...inner, // close(), changeCheck, changeReads, announce, feed: the inner lookup's own
    // Only where the token can be read at once. Elsewhere (SQLite) verification can only ask holds()
    // (below) before its format check, and the row itself waits for find()'s change check.
    ...(changesNow && {
      cached(digest: string) {
        const seen = changesNow(); // read after this request arrived, like find()'s
        if (seen === undefined) return undefined;
        observe(seen);
        const hit = rows.get(digest);
        if (hit) stats.hits++;
        return hit;
      },
    }),
    holds: (digest: string) => rows.has(digest),
    find(digest) {
      // The token is read after this request arrived, so it covers every commit made before it.
      // Not an async function: with the token in hand a hit costs no promise beyond the one returned.
      const seen = changes();
      return seen instanceof Promise ? seen.then((token) => afterToken(token, digest)) : Promise.resolve(afterToken(seen, digest));
    },
    stats: () => ({ ...stats, size: rows.size, ...(inner.changeReads && { changeReads: inner.changeReads() }) }),
  };
}

/**
 * Concurrent callers share database reads without ever getting an answer older than their call:
 * a caller that arrives while a read is in flight waits for the next read, which starts after the
 * current one ends (so after the caller arrived). Under load one round trip answers many requests.
 */
export function coalesced<T>(read: () => Promise<T>): () => Promise<T> {
  let running: Promise<T> | undefined;
  let next: Promise<T> | undefined;
  const start = (): Promise<T> => {
    const p = read();
    running = p;
    const done = () => {
      if (running === p) running = undefined;
    };
    p.then(done, done);
    return p;
  };
  return () => {
    if (!running) return start();
    next ??= running
      .then(
        () => undefined,
        () => undefined,
      )
      .then(() => {
        next = undefined;
        return running ?? start();
      });
    return next;
  };
}

/**
 * The same guarantee for a synchronous read (SQLite's change token): the read is made once per turn
 * of the event loop, in its check phase (setImmediate), after every caller that asked during the turn
 * (all the requests read from their sockets in it). A caller arriving after the read ran waits for the
 * next turn's. Under load one system call answers every request of a turn instead of one each.
 */
export function oncePerTurn<T>(read: () => T): () => Promise<T> {
  let pending: Promise<T> | undefined;
  return () =>
    (pending ??= new Promise<T>((resolve, reject) => {
      setImmediate(() => {
        pending = undefined; // callers from now on get the next turn's read
        try {
          resolve(read());
        } catch (err) {
          reject(err);
        }
      });
    }));
}
