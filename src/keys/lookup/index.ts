// How verification finds a key row, in one place. Three roles, each in its own file:
// - read a row: read-row.ts (one query by the key's hash, through the database driver);
// - keep rows in memory behind a change token: cache.ts (SQLite's WAL-index header in
//   sqlite-change-token.ts, PostgreSQL's key-change feed in pg-change-feed.ts);
// - announce a change every instance must see before a writer is told it is done: announce.ts and
//   pg-change-feed.ts (PostgreSQL only; on SQLite every instance reads the file itself).
// openKeyLookup() wires them for the server (src/services.ts); verification only sees a KeyReader.
import { normalizeDatabaseUrl, providerOf, sqliteFile } from "../../db/client.js";
import { keyCache, type KeyCacheStats, type RowReader } from "./cache.js";
import { openPostgresReader, openSqliteReader, type ChangeCheck, type KeyReader } from "./read-row.js";
import type { ChangeFeed } from "./pg-change-feed.js";
import type pg from "pg";

export { prismaKeyReader, type KeyReader, type KeyRow, type ChangeCheck } from "./read-row.js";
export type { KeyCacheStats, RowReader } from "./cache.js";

export interface KeyLookupOptions {
  /** Rows kept in memory (VERIFY_CACHE_SIZE); 0 reads the database on every request. */
  cacheSize: number;
  /** PostgreSQL: follow the key-change feed, without which nothing vouches for a cache (VERIFY_CACHE_FEED). */
  changeFeed?: boolean;
  /** PostgreSQL: the key-change feed's lease (VERIFY_CACHE_LEASE_SECONDS). Default 5 s. */
  leaseMs?: number;
  /** Feed problems (logged by the server; serving carries on, reading key rows from the database, until the feed is back). */
  onError?: (err: unknown) => void;
  /** Each key-row read that went to the database, with its time in seconds (/metrics: src/metrics/). */
  onRead?: (seconds: number) => void;
}

export interface KeyLookup {
  /** Verification's reads: from memory while the change token vouches, from the database otherwise. */
  readonly reader: KeyReader;
  /** What vouches for the rows held in memory; "none" when none are (cache off, or PostgreSQL without the feed). */
  readonly changeCheck: ChangeCheck | "none";
  /**
   * PostgreSQL: after committing a change verification must see (src/keys/lookup/announce.ts), resolves
   * once every instance's cache has let go of the old rows. Undefined on SQLite, where there is nothing to announce.
   */
  readonly announce: (() => Promise<void>) | undefined;
  /** PostgreSQL with the cache on: the key-change feed this instance listens to. */
  readonly feed: ChangeFeed | undefined;
  /**
   * Rows of another table verification depends on (the gateway's resources), kept in memory behind
   * the same change token, so a change reaches them exactly when it reaches key rows. Without a
   * token (cache off, PostgreSQL without the feed) the reader itself: every read goes to the database.
   */
  cacheOf<Row extends object>(reader: RowReader<Row>, maxRows: number): RowReader<Row>;
  /** The cache's counters; null when no rows are kept. */
  stats(): KeyCacheStats | null;
  /** PostgreSQL: the key reader's own connection pool (/metrics reads its counts). */
  readonly pool: pg.Pool | undefined;
  close(): Promise<void>;
}

export function openKeyLookup(databaseUrl: string, options: KeyLookupOptions): KeyLookup {
  const url = normalizeDatabaseUrl(databaseUrl);
  const caching = options.cacheSize > 0;
  const opened =
    providerOf(url) === "sqlite"
      ? openSqliteReader(sqliteFile(url))
      : openPostgresReader(url, {
          changeFeed: caching && (options.changeFeed ?? true),
          leaseMs: options.leaseMs ?? 5000,
          onError: options.onError,
        });
  const reader = options.onRead ? timedReader(opened.reader, options.onRead) : opened.reader;
  const cache = caching && opened.changes ? keyCache(reader, opened.changes.token, options.cacheSize) : undefined;
  return {
    reader: cache ?? reader,
    changeCheck: cache && opened.changes ? opened.changes.check : "none",
    announce: opened.announce,
    feed: opened.feed,
    cacheOf: (reader, maxRows) => (caching && opened.changes ? keyCache(reader, opened.changes.token, maxRows) : reader),
    stats: () => cache?.stats() ?? null,
    pool: opened.pool,
    close: () => opened.close(),
  };
}

/** The database reader, timed: each read's seconds go to `onRead` (metrics), whatever its outcome. */
function timedReader(reader: KeyReader, onRead: (seconds: number) => void): KeyReader {
  return {
    async find(digest) {
      const started = performance.now();
      try {
        return await reader.find(digest);
      } finally {
        onRead((performance.now() - started) / 1000);
      }
    },
  };
}
