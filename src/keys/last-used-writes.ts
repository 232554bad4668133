// The last-used flush as one UPDATE per batch of keys instead of one Prisma call per key: a
// thousand keys cost one statement (~ms) rather than ~1 s of Prisma calls (measured in bench/).
// A stored time never moves backwards. Times are written in the format Prisma itself uses for a
// DateTime column: ISO text with "+00:00" on SQLite, UTC `timestamp(3)` on PostgreSQL.
import { providerOfDb, type Db } from "../db/client.js";

/** Keys per statement: well under SQLite's and PostgreSQL's bound-parameter limits. */
export const LAST_USED_BATCH = 500;

/** `batch`: key id and last-used time in epoch ms (as LastUsedTracker keeps them). */
export async function writeLastUsed(db: Db, batch: ReadonlyArray<readonly [id: string, atMs: number]>): Promise<void> {
  if (batch.length === 0) return;
  if (batch.length > LAST_USED_BATCH) throw new Error(`at most ${LAST_USED_BATCH} keys per statement`);
  if (providerOfDb(db) === "postgresql") {
    const rows = batch.map((_, i) => `($${2 * i + 1}, $${2 * i + 2}::timestamp(3))`).join(", ");
    await db.$executeRawUnsafe(
      `UPDATE "ApiKey" AS k SET "lastUsedAt" = v.at FROM (VALUES ${rows}) AS v(id, at)
       WHERE k.id = v.id AND (k."lastUsedAt" IS NULL OR k."lastUsedAt" < v.at)`,
      ...batch.flatMap(([id, at]) => [id, new Date(at).toISOString().slice(0, 23)]),
    );
    return;
  }
  const rows = batch.map(() => "(?, ?)").join(", ");
  await db.$executeRawUnsafe(
    `UPDATE "ApiKey" SET "lastUsedAt" = v.column2 FROM (VALUES ${rows}) AS v
     WHERE "ApiKey".id = v.column1 AND ("ApiKey"."lastUsedAt" IS NULL OR julianday("ApiKey"."lastUsedAt") < julianday(v.column2))`,
    ...batch.flatMap(([id, at]) => [id, new Date(at).toISOString().replace("Z", "+00:00")]),
  );
}
