// A throw-away database for one backend of a benchmark run: a SQLite file in a temporary
// directory, or a fresh PostgreSQL database created next to the admin URL's one (dropped after).
import { mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import path from "node:path";
import { randomBytes } from "node:crypto";
import pg from "pg";

export type Backend = "sqlite" | "postgresql";

/** The few better-sqlite3 calls the benchmark makes (it ships without types here). */
export interface SqliteStatement {
  run(...params: unknown[]): unknown;
  get(...params: unknown[]): unknown;
  all(...params: unknown[]): unknown[];
}
export interface SqliteDatabase {
  prepare(sql: string): SqliteStatement;
  exec(sql: string): void;
  pragma(sql: string): unknown;
  transaction<A extends unknown[]>(fn: (...args: A) => void): (...args: A) => void;
  close(): void;
}
type SqliteConstructor = new (file: string, options?: { timeout?: number }) => SqliteDatabase;

/** better-sqlite3 as installed for @prisma/adapter-better-sqlite3 (no new dependency). */
export function openSqlite(file: string): SqliteDatabase {
  const fromAdapter = createRequire(createRequire(import.meta.url).resolve("@prisma/adapter-better-sqlite3"));
  const Database = fromAdapter("better-sqlite3") as SqliteConstructor;
  return new Database(file, { timeout: 10_000 });
}

export interface BenchDatabase {
  backend: Backend;
  /** DATABASE_URL for the server. */
  url: string;
  /** Runs a query and returns its rows (SQLite: better-sqlite3; PostgreSQL: pg, `$1` placeholders). */
  query<T>(sql: string, params?: unknown[]): Promise<T[]>;
  /** Version string of the database engine. */
  version(): Promise<string>;
  drop(): Promise<void>;
}

export const DEFAULT_PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test";

export async function postgresReachable(adminUrl: string): Promise<string | null> {
  const c = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 3000 });
  try {
    await c.connect();
    await c.query("SELECT 1");
    return null;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  } finally {
    await c.end().catch(() => {});
  }
}

export async function createBenchDatabase(backend: Backend, pgAdminUrl = DEFAULT_PG_ADMIN_URL): Promise<BenchDatabase> {
  if (backend === "sqlite") {
    const dir = mkdtempSync(path.join(tmpdir(), "keyward-bench-"));
    const file = path.join(dir, "keyward.db");
    let db: SqliteDatabase | undefined;
    const open = () => (db ??= openSqlite(file));
    return {
      backend,
      url: `file:${file}`,
      async query<T>(sql: string, params: unknown[] = []) {
        const stmt = open().prepare(sql);
        return /^\s*(select|with|pragma)/i.test(sql) ? (stmt.all(...params) as T[]) : (stmt.run(...params), []);
      },
      async version() {
        const row = open().prepare("SELECT sqlite_version() AS v").get() as { v: string };
        return `SQLite ${row.v} (better-sqlite3)`;
      },
      async drop() {
        db?.close();
        db = undefined;
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  const name = `kw_bench_${randomBytes(5).toString("hex")}`;
  const admin = async (sql: string) => {
    const c = new pg.Client({ connectionString: pgAdminUrl });
    await c.connect();
    try {
      await c.query(sql);
    } finally {
      await c.end();
    }
  };
  await admin(`CREATE DATABASE ${name}`);
  const url = new URL(pgAdminUrl);
  url.pathname = `/${name}`;
  const client = new pg.Client({ connectionString: url.toString() });
  let connected: Promise<void> | undefined;
  const ready = () => (connected ??= client.connect().then(() => undefined));
  return {
    backend,
    url: url.toString(),
    async query<T>(sql: string, params: unknown[] = []) {
      await ready();
      return (await client.query(sql, params)).rows as T[];
    },
    async version() {
      await ready();
      const r = await client.query<{ v: string }>("SELECT current_setting('server_version') AS v");
      return `PostgreSQL ${r.rows[0]?.v ?? "?"}`;
    },
    async drop() {
      if (connected) await client.end().catch(() => {});
      await admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    },
  };
}
