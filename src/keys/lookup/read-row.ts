// The hot-path read of the key table: one row by SHA-256 hash, joined with what verification needs
// (owner email, the owner's role in the key's organisation, the owning app). Every protected
// request runs it, so the server reads through the database driver with a prepared statement
// (Prisma costs ~0.4 ms of CPU per call, measured in bench/); Prisma's $queryRaw runs the same SQL
// where no driver connection is wanted (unit tests). Only src/keys/verify/findByHash uses this.
// The server's lookup is cached in memory behind a change token (src/keys/lookup/cache.ts): SQLite's
// WAL-index header, PostgreSQL's key-change feed (src/keys/lookup/pg-change-feed.ts) or, failing that, its snapshot.
import Database from "better-sqlite3";
import type pg from "pg";
import { Prisma, type ApiKey } from "../../generated/sqlite/client.js";
import type { Db } from "../../db/client.js";
import { normalizeDatabaseUrl, postgresDriver, providerOf, sqliteFile } from "../../db/client.js";
import { cachedKeyLookup, coalesced, oncePerTurn, type ChangeToken, type ChangeTokenNow, type KeyCacheStats } from "./cache.js";
import { sqliteChangeToken } from "./sqlite-change-token.js";
import { announcer, listen, type ChangeFeed } from "./pg-change-feed.js";
import { hexOfDigest } from "../hash.js";

export interface KeyLookupRow extends ApiKey {
  userEmail: string;
  /** The owner's role in the key's organisation; null when not a member (or no organisation). */
  memberRole: string | null;
  appName: string | null;
  appOrganizationId: string | null;
}

export interface KeyLookup {
  /** The row whose stored hash is this digest (src/keys/hash.ts digestKey: 32 one-byte characters). */
  find(digest: string): Promise<KeyLookupRow | undefined>;
  /**
   * A cached lookup: the row for this digest if the cache holds it and can vouch for it at once, with
   * no I/O and no waiting (PostgreSQL while the key-change feed vouches); undefined means ask find().
   */
  cached?(digest: string): KeyLookupRow | undefined;
  /**
   * A cached lookup: whether it holds a row for this digest, current or not (no change check). Only
   * verification fills the cache, after the presented key passed its format check, and only that key
   * has this digest, so its format need not be checked again; whether the row stands is find()'s.
   */
  holds?(digest: string): boolean;
  close(): Promise<void>;
  /** Cache counters, when the lookup is cached (src/keys/lookup/cache.ts). */
  stats?(): KeyCacheStats;
  /**
   * How the cache learns of commits: SQLite's WAL-index header or data_version; PostgreSQL's
   * key-change feed ("feed", falling back to the snapshot while it cannot vouch) or snapshot alone.
   */
  changeCheck?: "wal-index" | "data_version" | "feed" | "snapshot";
  /** Round trips made to check for changes (PostgreSQL snapshot reads), for the benchmark. */
  changeReads?(): number;
  /**
   * PostgreSQL: after committing a change verification must see (src/keys/lookup/announce.ts), resolves once
   * every instance's cache has let go of the old rows (src/keys/lookup/pg-change-feed.ts). Absent on SQLite,
   * where every instance sees every commit through the file itself.
   */
  announce?(): Promise<void>;
  /** PostgreSQL with the cache on: the feed this instance listens to. */
  feed?: ChangeFeed;
}

const SELECT = `SELECT k.*, u.email AS "userEmail", m.role AS "memberRole", a.name AS "appName", a."organizationId" AS "appOrganizationId"
  FROM "ApiKey" k
  JOIN "User" u ON u.id = k."userId"
  LEFT JOIN "Membership" m ON m."organizationId" = k."organizationId" AND m."userId" = k."userId"
  LEFT JOIN "App" a ON a.id = k."appId"
  WHERE k.hash = `;

const DATE_COLUMNS = ["createdAt", "lastUsedAt", "revokedAt"] as const;

/** Driver rows carry dates as text (SQLite) or as timestamps without zone (PostgreSQL, UTC). */
function withDates(row: Record<string, unknown>): KeyLookupRow {
  for (const column of DATE_COLUMNS) {
    const v = row[column];
    if (typeof v === "string") row[column] = new Date(/[zZ]|[+-]\d\d:\d\d$/.test(v) ? v : `${v.replace(" ", "T")}Z`);
  }
  return row as unknown as KeyLookupRow;
}

export function prismaKeyLookup(db: Db): KeyLookup {
  return {
    async find(digest) {
      // Prisma.sql lets each client write its own placeholder ($1 or ?).
      const rows = await db.$queryRaw<KeyLookupRow[]>(Prisma.sql`${Prisma.raw(SELECT)}${hexOfDigest(digest)}`);
      return rows[0];
    },
    async close() {},
  };
}

export interface DriverKeyLookupOptions {
  /** Rows kept in memory (src/keys/lookup/cache.ts); 0 reads the database on every request. */
  cacheSize?: number;
  /** PostgreSQL with the cache on: follow the key-change feed (default), or check the snapshot on every request. */
  changeFeed?: boolean;
  /** PostgreSQL: the key-change feed's lease (src/keys/lookup/pg-change-feed.ts). Default 5 s. */
  leaseMs?: number;
  /** Feed and announcement problems (logged by the server; serving carries on without the feed). */
  onError?: (err: unknown) => void;
}

export function driverKeyLookup(databaseUrl: string, options: DriverKeyLookupOptions = {}): KeyLookup {
  const url = normalizeDatabaseUrl(databaseUrl);
  const { lookup, changes, changesNow } = providerOf(url) === "sqlite" ? sqliteLookup(sqliteFile(url)) : postgresLookup(url, options);
  return options.cacheSize ? cachedKeyLookup(lookup, changes, options.cacheSize, changesNow) : lookup;
}

interface ChangeSource {
  lookup: KeyLookup;
  changes: ChangeToken;
  changesNow?: ChangeTokenNow;
}

function sqliteLookup(file: string): ChangeSource {
  const sqlite = new Database(file, { readonly: true, fileMustExist: true, timeout: 10_000 });
  const statement = sqlite.prepare(`${SELECT}?`);
  // Moves whenever any connection (Prisma, another process, the CLI) commits to the file; read once
  // per event-loop turn, after every request that asked during it (oncePerTurn).
  const token = sqliteChangeToken(sqlite, file);
  return {
    lookup: {
      async find(digest) {
        const row = statement.get(hexOfDigest(digest)) as Record<string, unknown> | undefined;
        return row ? withDates(row) : undefined;
      },
      async close() {
        token.close();
        sqlite.close();
      },
      changeCheck: token.kind,
    },
    changes: oncePerTurn(token.read),
  };
}

function postgresLookup(url: string, options: DriverKeyLookupOptions): ChangeSource {
  const driver = postgresDriver();
  const pool = new driver.Pool({ connectionString: url, max: 8, idleTimeoutMillis: 30_000, application_name: "keyward key lookup" });
  // An idle connection that dies (a database restart, a terminated backend) is dropped by the pool
  // and the next query opens another; without a listener the pool's "error" event would crash the process.
  pool.on("error", () => {});
  // Timestamps are read as text and parsed as UTC (Prisma stores UTC in `timestamp(3)`), without
  // touching pg's global type parsers, which Prisma's adapter shares.
  const types = { getTypeParser: (oid: number, format?: "text" | "binary") => (oid === 1114 ? (v: string) => v : driver.types.getTypeParser(oid, format)) };
  // The MVCC snapshot (xmin:xmax:in-progress ids): equal text means the same committed data.
  // Read on a connection of its own (coalesced: never two reads at once), which skips the pool's
  // check-out on every request (~50 µs here).
  const own = dedicatedConnection(url);
  let snapshotReads = 0;
  const snapshot = coalesced(async () => {
    snapshotReads++;
    const result = await own.query<{ s: string }>({ name: "keyward_snapshot", text: "SELECT pg_current_snapshot()::text AS s" });
    return result.rows[0]!.s;
  });
  // With the cache on, the feed vouches for it without a round trip; while it cannot (starting,
  // connection lost, lease lapsed), the snapshot does, as before. A number and a string never
  // compare equal, so moving between the two empties the cache.
  const leaseMs = options.leaseMs ?? 5000;
  const feed = options.cacheSize && (options.changeFeed ?? true) ? listen(url, { leaseMs, onError: options.onError }) : undefined;
  const { announce } = announcer((text, values) => pool.query(text, values), { maxWaitMs: 2 * leaseMs, onError: options.onError });
  return {
    lookup: {
      async find(digest) {
        const result = await pool.query({ name: "keyward_find_key", text: `${SELECT}$1`, values: [hexOfDigest(digest)], types } as pg.QueryConfig<[string]>);
        const row = result.rows[0] as Record<string, unknown> | undefined;
        return row ? withDates(row) : undefined;
      },
      async close() {
        await feed?.close();
        await Promise.all([pool.end(), own.close()]);
      },
      changeCheck: feed ? "feed" : "snapshot",
      changeReads: () => snapshotReads,
      announce,
      feed,
    },
    changes: feed ? () => feed.current() ?? snapshot() : snapshot,
    changesNow: feed ? () => feed.current() : undefined,
  };
}

/** One connection, opened on first use and opened again on the next call after any error. */
function dedicatedConnection(url: string) {
  let current: Promise<pg.Client> | undefined;
  const open = (): Promise<pg.Client> => {
    const client = new (postgresDriver().Client)({ connectionString: url });
    const opening = client.connect().then(() => client);
    client.on("error", () => drop(opening, client)); // a dropped connection: the next call reconnects
    return opening;
  };
  const drop = (which: Promise<pg.Client>, client?: pg.Client) => {
    if (current === which) current = undefined;
    client?.end().catch(() => {});
  };
  return {
    async query<R extends pg.QueryResultRow>(config: pg.QueryConfig): Promise<pg.QueryResult<R>> {
      const opening = (current ??= open());
      let client: pg.Client;
      try {
        client = await opening;
      } catch (err) {
        drop(opening);
        throw err;
      }
      try {
        return await client.query<R>(config);
      } catch (err) {
        drop(opening, client);
        throw err;
      }
    },
    async close(): Promise<void> {
      const opening = current;
      current = undefined;
      const client = await opening?.catch(() => undefined);
      await client?.end().catch(() => {});
    },
  };
}
