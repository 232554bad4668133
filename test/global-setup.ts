// Migrates one template database per run; every test database starts as a copy of it (running
// `prisma migrate deploy` per test file would cost seconds each).
//   SQLite (default): a template file, copied per test.
//   PostgreSQL (TEST_DATABASE_URL=postgresql://…/any): a template database, cloned per test with
//   CREATE DATABASE … TEMPLATE, dropped afterwards.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { randomBytes } from "node:crypto";
import pg from "pg";
import { migrate } from "../src/db/migrate.js";

export default async function setup({ provide }: { provide: (key: string, value: string) => void }) {
  const pgUrl = process.env.TEST_DATABASE_URL;
  if (pgUrl && /^postgres(ql)?:/.test(pgUrl)) {
    const name = `kw_tpl_${randomBytes(5).toString("hex")}`;
    const admin = new pg.Client({ connectionString: pgUrl });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
    await admin.end();
    const url = new URL(pgUrl);
    url.pathname = `/${name}`;
    await migrate(url.toString());
    provide("testBackend", "postgresql");
    provide("templateDb", url.toString());
    provide("adminDatabaseUrl", pgUrl);
    return async () => {
      const c = new pg.Client({ connectionString: pgUrl });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    };
  }
  const dir = mkdtempSync(path.join(tmpdir(), "keyward-template-"));
  const file = path.join(dir, "template.db");
  await migrate(`file:${file}`);
  provide("testBackend", "sqlite");
  provide("templateDb", file);
  provide("adminDatabaseUrl", "");
  return () => rmSync(dir, { recursive: true, force: true });
}

declare module "vitest" {
  export interface ProvidedContext {
    testBackend: "sqlite" | "postgresql";
    /** SQLite: the template file. PostgreSQL: the template database URL. */
    templateDb: string;
    /** PostgreSQL: a URL to connect to for CREATE/DROP DATABASE. */
    adminDatabaseUrl: string;
  }
}
