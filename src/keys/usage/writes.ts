// The usage flush as one INSERT … ON CONFLICT DO UPDATE per batch of (key, hour) rows: the counts
// are ADDED to what is stored, so several instances flushing the same hour add up. Rows for keys
// that no longer exist are skipped (the join with ApiKey), so one deleted key cannot fail a batch.
import { providerOfDb, type Db } from "../../db/client.js";
import type { UsageDelta } from "./counter.js";

/** Rows per statement (6 parameters each): well under both databases' bound-parameter limits. */
export const USAGE_BATCH = 500;

export async function writeUsage(db: Db, batch: readonly UsageDelta[]): Promise<void> {
  if (batch.length === 0) return;
  if (batch.length > USAGE_BATCH) throw new Error(`at most ${USAGE_BATCH} rows per statement`);
  const params = batch.flatMap(([keyId, hour, c]) => [keyId, hour, c[0]!, c[1]!, c[2]!, c[3]!]);
  const update = `ON CONFLICT ("keyId", "hour") DO UPDATE SET
       "requests" = "KeyUsage"."requests" + excluded."requests",
       "unauthorized" = "KeyUsage"."unauthorized" + excluded."unauthorized",
       "forbidden" = "KeyUsage"."forbidden" + excluded."forbidden",
       "limited" = "KeyUsage"."limited" + excluded."limited"`;
  if (providerOfDb(db) === "postgresql") {
    const rows = batch
      .map((_, i) => {
        const p = (n: number) => `$${6 * i + n}`;
        return `(${p(1)}, ${p(2)}::int, ${p(3)}::int, ${p(4)}::int, ${p(5)}::int, ${p(6)}::int)`;
      })
      .join(", ");
    await db.$executeRawUnsafe(
      `INSERT INTO "KeyUsage" ("keyId", "hour", "requests", "unauthorized", "forbidden", "limited")
       SELECT v.* FROM (VALUES ${rows}) AS v(id, hour, r, u, f, l) JOIN "ApiKey" k ON k.id = v.id
       ${update}`,
      ...params,
    );
    return;
  }
  const rows = batch.map(() => "(?, ?, ?, ?, ?, ?)").join(", ");
  // "WHERE true": SQLite's parser needs it between INSERT … SELECT and ON CONFLICT.
  await db.$executeRawUnsafe(
    `INSERT INTO "KeyUsage" ("keyId", "hour", "requests", "unauthorized", "forbidden", "limited")
     SELECT v.column1, v.column2, v.column3, v.column4, v.column5, v.column6 FROM (VALUES ${rows}) AS v
     JOIN "ApiKey" k ON k.id = v.column1 WHERE true
     ${update}`,
    ...params,
  );
}

/** Housekeeping: deletes hour rows older than `keepHours` before `now`; returns how many. */
export async function pruneUsage(db: Db, now: Date, keepHours: number): Promise<number> {
  const before = Math.floor(now.getTime() / 3_600_000) - keepHours;
  const { count } = await db.keyUsage.deleteMany({ where: { hour: { lt: before } } });
  return count;
}
