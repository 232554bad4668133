// Last-used writes counted on the database's side, so that no counter has to live in src/: a trigger
// adds one to a bench-only table for every ApiKey row whose "lastUsedAt" an UPDATE sets. Installed
// in the benchmark's throw-away database once the server has migrated it.
import type { BenchDatabase } from "./database.js";

const TABLE = `"BenchLastUsedWrites"`;

export async function countLastUsedWrites(db: BenchDatabase): Promise<void> {
  await db.query(`CREATE TABLE IF NOT EXISTS ${TABLE} (n BIGINT NOT NULL)`);
  await db.query(`INSERT INTO ${TABLE} (n) SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM ${TABLE})`);
  if (db.backend === "sqlite") {
    await db.query(
      `CREATE TRIGGER IF NOT EXISTS bench_last_used_writes AFTER UPDATE OF "lastUsedAt" ON "ApiKey" FOR EACH ROW BEGIN UPDATE ${TABLE} SET n = n + 1; END`,
    );
    return;
  }
  await db.query(
    `CREATE OR REPLACE FUNCTION bench_last_used_writes() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN UPDATE ${TABLE} SET n = n + 1; RETURN NULL; END $$`,
  );
  await db.query(
    `CREATE OR REPLACE TRIGGER bench_last_used_writes AFTER UPDATE OF "lastUsedAt" ON "ApiKey" FOR EACH ROW EXECUTE FUNCTION bench_last_used_writes()`,
  );
}

/** Rows whose lastUsedAt was written since countLastUsedWrites(). */
export async function lastUsedWrites(db: BenchDatabase): Promise<number> {
  const [row] = await db.query<{ n: number | string }>(`SELECT n FROM ${TABLE}`);
  return Number(row?.n ?? 0);
}
