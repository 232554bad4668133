// The Prisma client for SQLite or PostgreSQL, chosen by DATABASE_URL (shared/PRISMA.md).
// Both generated clients come from identical schemas, so the SQLite one's type stands for both.
import { mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { PrismaBetterSQLite3 } from "@prisma/adapter-better-sqlite3";
import { PrismaClient as SqliteClient } from "../generated/sqlite/client.js";
import type pg from "pg";
import { PROVIDER } from "./provider.js";

export type Db = SqliteClient;
export type Provider = "sqlite" | "postgresql";

export function providerOf(databaseUrl: string): Provider {
  return /^postgres(ql)?:\/\//.test(databaseUrl) ? "postgresql" : "sqlite";
}

/** `file:./data/x.db` → an absolute `file:` URL, so the CLI, the server and migrations agree. */
export function normalizeDatabaseUrl(databaseUrl: string, cwd = process.cwd()): string {
  if (providerOf(databaseUrl) === "postgresql") return databaseUrl;
  const file = databaseUrl.replace(/^file:/, "");
  if (file === ":memory:") throw new Error("DATABASE_URL=file::memory: is not supported: use a file");
  return `file:${path.resolve(cwd, file)}`;
}

/** A database URL fit for logs and output: the password (or user:password) becomes ***. */
export function redactDatabaseUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/, "//***@");
}

export function sqliteFile(databaseUrl: string): string {
  return databaseUrl.replace(/^file:/, "");
}

/**
 * The `pg` driver, for the code that opens PostgreSQL connections of its own (src/keys/lookup/).
 * Required on first use, not imported: a SQLite server never loads it (~14 MB resident).
 */
export const postgresDriver = (): typeof pg => createRequire(import.meta.url)("pg") as typeof pg;

export { providerOfDb } from "./provider.js";

const POOL = Symbol("keyward.pool");

/** PostgreSQL: the Prisma client's connection pool (its counts are read by /metrics); undefined on SQLite. */
export function poolOfDb(db: Db): pg.Pool | undefined {
  return (db as Db & { [POOL]?: pg.Pool })[POOL];
}

/**
 * A Prisma client for this URL. Async because the PostgreSQL client, its adapter and the `pg` driver
 * are imported only for a PostgreSQL URL: a SQLite server never loads them (docs/performance.md).
 */
export async function createDb(databaseUrl: string): Promise<Db> {
  const url = normalizeDatabaseUrl(databaseUrl);
  if (providerOf(url) === "postgresql") {
    // Loaded on demand (see above).
    const [{ PrismaPg }, { PrismaClient: PostgresClient }] = await Promise.all([
      import("@prisma/adapter-pg"),
      import("../generated/postgresql/client.js"),
    ]);
    // The pool is ours (the adapter ends it on $disconnect), so /metrics can read its counts (poolOfDb).
    const pool = new (postgresDriver().Pool)({ connectionString: url });
    // Same schema, same model API: the PostgreSQL client is used through the shared type.
    const client = new PostgresClient({ adapter: new PrismaPg(pool, { disposeExternalPool: true }) }) as unknown as Db;
    return Object.assign(client, { [PROVIDER]: "postgresql" as const, [POOL]: pool });
  }
  mkdirSync(path.dirname(sqliteFile(url)), { recursive: true });
  const client = new SqliteClient({ adapter: new PrismaBetterSQLite3({ url: sqliteFile(url), timeout: 10_000 }) });
  return Object.assign(client, { [PROVIDER]: "sqlite" as const });
}
