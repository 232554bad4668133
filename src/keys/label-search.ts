// Searching labels for text that LIKE would read as a pattern (`%`, `_`, and PostgreSQL's escape `\`):
// Prisma's `contains` passes them on unescaped, so "%" would match every label. Such a search finds
// the ids of the user's own keys whose label holds the text literally (any case: SQLite's lower()
// folds ASCII letters only, as its LIKE does), and the page query keeps those ids. Rare (labels are
// names), so a plain scan of one user's keys, capped at MAX_MATCHES.
import type { Db } from "../db/client.js";
import { providerOfDb } from "../db/provider.js";

/** Well under SQLite's and PostgreSQL's bound-parameter limits (the ids go back in as `IN (…)`). */
export const MAX_MATCHES = 10_000;

export async function idsWithLabelContaining(db: Db, userId: string, text: string): Promise<string[]> {
  const rows =
    providerOfDb(db) === "postgresql"
      ? await db.$queryRawUnsafe<{ id: string }[]>(
          `SELECT "id" FROM "ApiKey" WHERE "userId" = $1 AND "appId" IS NULL AND strpos(lower("label"), lower($2)) > 0 LIMIT ${MAX_MATCHES}`,
          userId,
          text,
        )
      : await db.$queryRawUnsafe<{ id: string }[]>(
          `SELECT "id" FROM "ApiKey" WHERE "userId" = ? AND "appId" IS NULL AND instr(lower("label"), lower(?)) > 0 LIMIT ${MAX_MATCHES}`,
          userId,
          text,
        );
  return rows.map((r) => r.id);
}
