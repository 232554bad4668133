// Key rows kept in memory, never stale. Every read first asks a change token "has anything been
// committed since?" and lets go of every row when it moved. So a revocation, a removed member or a
// deleted app, made by this instance, by another instance or by the CLI, is seen on the very next
// request, exactly as without the cache; what the cache saves is the key-row query.
//
// The change token (src/keys/lookup/read-row.ts opens it with the database's reader):
// - SQLite: the WAL-index header every commit rewrites (src/keys/lookup/sqlite-change-token.ts), read
//   once per event-loop turn. It moves whenever any connection (this process, another, the CLI) commits.
// - PostgreSQL: the key-change feed's generation (src/keys/lookup/pg-change-feed.ts): pushed, no round
//   trip; writers wait until every instance has acknowledged their change. While the feed cannot
//   vouch (starting, connection lost, lease lapsed) the token is undefined and every read goes to the
//   database, uncached: the cache is trusted only while the feed vouches for it.
// On SQLite any commit empties the cache (the last-used flush too); on PostgreSQL any change to what
// verification reads does. Both keep the rule simple to trust.
//
// Rows are keyed by the key's digest (src/keys/hash.ts digestKey), so no raw key is held in memory;
// unknown digests are never kept (a flood of made-up keys cannot evict real ones). When full, the
// least recently used row goes (lru-cache), so the keys in use stay.
import { LRUCache } from "lru-cache";

/** Equal tokens: nothing was committed in between. Undefined: nothing can vouch now, read uncached. */
export type ChangeToken = () => Promise<number | undefined>;

export interface KeyCacheStats {
  hits: number;
  /** Reads that went to the database (not held, or nothing could vouch for the cache). */
  misses: number;
  /** Times a change emptied the cache. */
  resets: number;
  size: number;
}

/** Reads a row by the key's digest; the cache is one too, in front of the database's. */
export interface RowReader<Row> {
  find(digest: string): Promise<Row | undefined>;
}

export interface KeyCache<Row> extends RowReader<Row> {
  stats(): KeyCacheStats;
}

export function keyCache<Row extends object>(reader: RowReader<Row>, changes: ChangeToken, maxRows: number): KeyCache<Row> {
  const rows = new LRUCache<string, Row>({ max: maxRows });
  /** The token the rows held were read under. */
  let heldUnder: number | undefined;
  /** Moves whenever the cache lets go of its rows: a read that started before is not kept. */
  let era = 0;
  const stats = { hits: 0, misses: 0, resets: 0 };

  const letGo = () => {
    if (rows.size > 0) stats.resets++;
    rows.clear();
    era++;
  };

  return {
    async find(digest) {
      // Read after this request arrived, so the token covers every commit made before it.
      const token = await changes();
      if (token !== heldUnder) {
        letGo();
        heldUnder = token;
      }
      const held = token === undefined ? undefined : rows.get(digest);
      if (held) {
        stats.hits++;
        return held;
      }
      stats.misses++;
      const readIn = era;
      const row = await reader.find(digest);
      // Kept only under a token that vouches, and only if no change let go of the rows meanwhile.
      if (row && token !== undefined && era === readIn) rows.set(digest, Object.freeze(row));
      return row;
    },
    stats: () => ({ ...stats, size: rows.size }),
  };
}
