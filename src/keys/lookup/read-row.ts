// The hot-path read of the key table: one row by SHA-256 hash, joined with what verification needs
// (owner email, the owner's role in the key's organisation, the owning app). Every protected
// request runs it, so the server reads through the database driver with a prepared statement
// (Prisma costs ~0.4 ms of CPU per call, measured in bench/); Prisma's $queryRaw runs the same SQL
// where no driver connection is wanted (revocation, tests, one-shot CLI commands).
//
// Opening a database's reader also opens what keeps a cache of it honest (src/keys/lookup/cache.ts):
// its change token (SQLite's WAL-index header, PostgreSQL's key-change feed) and, on PostgreSQL, the
// announcer writers use to wait for every instance's cache (src/keys/lookup/pg-change-feed.ts).
// src/keys/lookup/index.ts puts the pieces together.
import Database from "better-sqlite3";
import type pg from "pg";
import { Prisma, type ApiKey } from "../../generated/sqlite/client.js";
import type { Db } from "../../db/client.js";
import { postgresDriver } from "../../db/client.js";
import { hexOfDigest } from "../hash.js";
import type { ChangeToken, RowReader } from "./cache.js";
import { oncePerTurn, sqliteChangeToken } from "./sqlite-change-token.js";
import { announcer, listen, type ChangeFeed } from "./pg-change-feed.js";

export interface KeyRow extends ApiKey {
  userEmail: string;
  /** The owner's role in the key's organisation; null when not a member (or no organisation). */
  memberRole: string | null;
  appName: string | null;
  appOrganizationId: string | null;
  /** The owner's account was disabled by an operator (src/admin/); null while enabled. */
  userDisabledAt: Date | null;
  /** The OAuth client the key was issued to was blocked by an operator (src/admin/); null otherwise. */
  clientBlockedAt: Date | null;
}

/** Reads the row whose stored hash is this digest (src/keys/hash.ts digestKey: 32 one-byte characters). */
export type KeyReader = RowReader<KeyRow>;

/** How a cache of the reader learns of commits: SQLite's WAL-index header or data_version, PostgreSQL's key-change feed. */
export type ChangeCheck = "wal-index" | "data_version" | "feed";

/** A database's key reader and what keeps a cache of it honest. */
export interface OpenedReader {
  reader: KeyReader;
  /** The change token a cache must check before every read; undefined when nothing can vouch for one (PostgreSQL without the feed). */
  changes: { token: ChangeToken; check: ChangeCheck } | undefined;
  /**
   * PostgreSQL: after a commit verification must see, resolves once every instance's cache has let go of the old rows. Undefined on SQLite.
   */
  announce: (() => Promise<void>) | undefined;
  /** PostgreSQL with the feed: the feed this instance listens to. */
  feed: ChangeFeed | undefined;
  /** PostgreSQL: the reader's own connection pool (its counts are read by /metrics). */
  pool?: pg.Pool;
  close(): Promise<void>;
}

const SELECT = `SELECT k.*, u.email AS "userEmail", m.role AS "memberRole", a.name AS "appName", a."organizationId" AS "appOrganizationId",
    u."disabledAt" AS "userDisabledAt", b."blockedAt" AS "clientBlockedAt"
  FROM "ApiKey" k
  JOIN "User" u ON u.id = k."userId"
  LEFT JOIN "BlockedClient" b ON b."clientId" = k."clientId"
  LEFT JOIN "Membership" m ON m."organizationId" = k."organizationId" AND m."userId" = k."userId"
  LEFT JOIN "App" a ON a.id = k."appId"
  WHERE k.hash = `;

const DATE_COLUMNS = ["createdAt", "lastUsedAt", "revokedAt", "expiresAt", "userDisabledAt", "clientBlockedAt"] as const;

/** Driver rows carry dates as text (SQLite) or as timestamps without zone (PostgreSQL, UTC). */
function withDates(row: Record<string, unknown>): KeyRow {
  for (const column of DATE_COLUMNS) {
    const v = row[column];
    if (typeof v === "string") row[column] = new Date(/[zZ]|[+-]\d\d:\d\d$/.test(v) ? v : `${v.replace(" ", "T")}Z`);
  }
  return row as unknown as KeyRow;
}

/** The same query through Prisma, uncached: the row as committed. */
export function prismaKeyReader(db: Db): KeyReader {
  return {
    async find(digest) {
      // Prisma.sql lets each client write its own placeholder ($1 or ?).
      const rows = await db.$queryRaw<KeyRow[]>(Prisma.sql`${Prisma.raw(SELECT)}${hexOfDigest(digest)}`);
      return rows[0];
    },
  };
}

export function openSqliteReader(file: string): OpenedReader {
  const sqlite = new Database(file, { readonly: true, fileMustExist: true, timeout: 10_000 });
  const statement = sqlite.prepare(`${SELECT}?`);
  const token = sqliteChangeToken(sqlite, file);
  return {
    reader: {
      async find(digest) {
        const row = statement.get(hexOfDigest(digest)) as Record<string, unknown> | undefined;
        return row ? withDates(row) : undefined;
      },
    },
    changes: { token: oncePerTurn(token.read), check: token.kind },
    announce: undefined, // every instance sees every commit through the file itself
    feed: undefined,
    async close() {
      token.close();
      sqlite.close();
    },
  };
}

export interface PostgresReaderOptions {
  /** Follow the key-change feed, so that a cache can be trusted (only worth it with a cache). */
  changeFeed: boolean;
  /** The key-change feed's lease (src/keys/lookup/pg-change-feed.ts). */
  leaseMs: number;
  /** Feed problems (logged by the server; serving carries on, reading key rows from the database, until the feed is back). */
  onError?: (err: unknown) => void;
}

export function openPostgresReader(url: string, options: PostgresReaderOptions): OpenedReader {
  const driver = postgresDriver();
  const pool = new driver.Pool({ connectionString: url, max: 8, idleTimeoutMillis: 30_000, application_name: "keyward key lookup" });
  // An idle connection that dies (a database restart, a terminated backend) is dropped by the pool
  // and the next query opens another; without a listener the pool's "error" event would crash the process.
  pool.on("error", () => {});
  // Timestamps are read as text and parsed as UTC (Prisma stores UTC in `timestamp(3)`), without
  // touching pg's global type parsers, which Prisma's adapter shares.
  const types = {
    getTypeParser: (oid: number, format?: "text" | "binary") => (oid === 1114 ? (v: string) => v : driver.types.getTypeParser(oid, format)),
  };
  const leaseMs = options.leaseMs;
  const feed = options.changeFeed ? listen(url, { leaseMs, onError: options.onError }) : undefined;
  const { announce } = announcer((text, values) => pool.query(text, values));
  return {
    reader: {
      async find(digest) {
        const result = await pool.query({
          name: "keyward_find_key",
          text: `${SELECT}$1`,
          values: [hexOfDigest(digest)],
          types,
        } as pg.QueryConfig<[string]>);
        const row = result.rows[0] as Record<string, unknown> | undefined;
        return row ? withDates(row) : undefined;
      },
    },
    // The feed's generation, read at once; undefined while the feed cannot vouch (the cache reads through).
    changes: feed && { token: async () => feed.current(), check: "feed" },
    announce,
    feed,
    pool,
    async close() {
      await feed?.close();
      await pool.end();
    },
  };
}
