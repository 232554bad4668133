// A fresh, migrated database for one test server (or one unit test), on the backend of this run.
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { randomBytes } from "node:crypto";
import pg from "pg";
import { inject } from "vitest";

export interface TestDatabase {
  backend: "sqlite" | "postgresql";
  url: string;
  /** SQLite: the database file. */
  file?: string;
  /** A scratch directory for the test's other files. */
  dir: string;
  /** Everything stored: the SQLite files' bytes, or every PostgreSQL row as JSON text. */
  contents(): Promise<Buffer>;
  drop(): Promise<void>;
}

async function admin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: inject("adminDatabaseUrl") });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

export async function createTestDatabase(): Promise<TestDatabase> {
  const dir = mkdtempSync(path.join(tmpdir(), "keyward-test-"));
  if (inject("testBackend") === "postgresql") {
    const template = new URL(inject("templateDb"));
    const name = `kw_t_${randomBytes(6).toString("hex")}`;
    await admin((c) => c.query(`CREATE DATABASE ${name} TEMPLATE ${template.pathname.slice(1)}`));
    const url = new URL(template);
    url.pathname = `/${name}`;
    return {
      backend: "postgresql",
      url: url.toString(),
      dir,
      async contents() {
        const c = new pg.Client({ connectionString: url.toString() });
        await c.connect();
        try {
          const tables = await c.query<{ tablename: string }>(`SELECT tablename FROM pg_tables WHERE schemaname = 'public'`);
          const parts: string[] = [];
          for (const { tablename } of tables.rows) {
            const rows = await c.query<{ row: string }>(`SELECT row_to_json(t)::text AS row FROM "${tablename}" t`);
            parts.push(...rows.rows.map((r) => r.row));
          }
          return Buffer.from(parts.join("\n"));
        } finally {
          await c.end();
        }
      },
      async drop() {
        await admin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  const file = path.join(dir, "keyward.db");
  copyFileSync(inject("templateDb"), file);
  return {
    backend: "sqlite",
    url: `file:${file}`,
    file,
    dir,
    async contents() {
      const parts = ["", "-wal", "-shm", "-journal"].map((s) => file + s).filter((f) => existsSync(f));
      return Buffer.concat(parts.map((f) => readFileSync(f)));
    },
    async drop() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
