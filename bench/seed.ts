// Bulk rows for the scale runs, written with raw SQL (the app's own INSERT path would take
// minutes for a million rows): filler keys nobody holds (unique random 64-hex hashes) and
// "known" keys whose raw value the benchmark keeps (real format, made with src/keys).
import { randomBytes } from "node:crypto";
import { openSqlite, type BenchDatabase } from "./database.js";
import { generateKey, last4 } from "../src/keys/format.js";
import { hashKey } from "../src/keys/hash.js";

const COLUMNS = `(id, "userId", hash, last4, label, source, scopes, "createdAt", "organizationId")`;

export async function countKeys(db: BenchDatabase): Promise<number> {
  const [row] = await db.query<{ n: number | string }>(`SELECT count(*) AS n FROM "ApiKey"`);
  return Number(row?.n ?? 0);
}

export async function userIdOf(db: BenchDatabase, email: string): Promise<string> {
  const [row] = await db.query<{ id: string }>(
    db.backend === "sqlite" ? `SELECT id FROM "User" WHERE email = ?` : `SELECT id FROM "User" WHERE email = $1`,
    [email],
  );
  if (!row) throw new Error(`no user ${email}`);
  return row.id;
}

/** Adds `count` filler keys for `userId`; returns the seconds it took. */
export async function seedFiller(db: BenchDatabase, userId: string, count: number): Promise<number> {
  const started = performance.now();
  if (count <= 0) return 0;
  const tag = randomBytes(4).toString("hex"); // ids stay unique across several seeding rounds
  const orgId = await personalOrgOf(db, userId); // every key has an organisation (migration 0012)
  if (db.backend === "sqlite") {
    const file = db.url.replace(/^file:/, "");
    const sqlite = openSqlite(file);
    try {
      const insert = sqlite.prepare(`INSERT INTO "ApiKey" ${COLUMNS} VALUES (?, ?, ?, ?, 'bench filler', 'portal', '', ?, ?)`);
      const now = new Date().toISOString();
      const CHUNK = 50_000;
      const batch = sqlite.transaction((from: number, to: number) => {
        const random = randomBytes((to - from) * 32);
        for (let i = from; i < to; i++) {
          const hash = random.toString("hex", (i - from) * 32, (i - from + 1) * 32);
          insert.run(`key_f${tag}${i}`, userId, hash, hash.slice(-4), now, orgId);
        }
      });
      for (let from = 0; from < count; from += CHUNK) batch(from, Math.min(count, from + CHUNK));
      sqlite.exec("ANALYZE");
    } finally {
      sqlite.close();
    }
  } else {
    // sha256 of a per-round random salt and the row number: unique, random-looking 64-hex hashes.
    const salt = randomBytes(16).toString("hex");
    const CHUNK = 250_000;
    for (let from = 0; from < count; from += CHUNK) {
      const to = Math.min(count, from + CHUNK) - 1;
      await db.query(
        `INSERT INTO "ApiKey" ${COLUMNS}
         SELECT 'key_f' || $1 || g, $2, h, right(h, 4), 'bench filler', 'portal', '', now(), $6
         FROM generate_series($3::int, $4::int) AS g, LATERAL (SELECT encode(sha256(($5 || g)::bytea), 'hex') AS h) AS x`,
        [tag, userId, from, to, salt, orgId],
      );
    }
    await db.query(`ANALYZE "ApiKey"`);
  }
  return (performance.now() - started) / 1000;
}

export interface KnownKey {
  id: string;
  raw: string;
}

/** The user's personal organisation, where the app puts a portal key by default. */
async function personalOrgOf(db: BenchDatabase, userId: string): Promise<string> {
  const [row] = await db.query<{ id: string }>(
    db.backend === "sqlite"
      ? `SELECT id FROM "Organization" WHERE "personalOwnerId" = ?`
      : `SELECT id FROM "Organization" WHERE "personalOwnerId" = $1`,
    [userId],
  );
  if (!row) throw new Error(`no personal organisation for ${userId}`);
  return row.id;
}

const KNOWN_COLUMNS = `(id, "userId", hash, last4, label, source, scopes, "createdAt", "organizationId")`;

/**
 * Inserts `count` real-format keys (generateKey + SHA-256 from src/keys) in the user's personal
 * organisation, as a portal key would be, and returns their raw values.
 */
export function insertKnownKeys(db: BenchDatabase, userId: string, prefix: string, count: number, label: string): Promise<KnownKey[]> {
  return insertKeys(
    db,
    userId,
    Array.from({ length: count }, () => generateKey(prefix)),
    label,
  );
}

/** The same with the raw keys given: the real-request benchmark seeds two databases with the same keys. */
export async function insertKeys(db: BenchDatabase, userId: string, raws: string[], label: string): Promise<KnownKey[]> {
  const tag = randomBytes(4).toString("hex");
  const keys: KnownKey[] = raws.map((raw, i) => ({ id: `key_k${tag}${i}`, raw }));
  const orgId = await personalOrgOf(db, userId);
  const now = new Date().toISOString();
  if (db.backend === "sqlite") {
    const sqlite = openSqlite(db.url.replace(/^file:/, ""));
    try {
      const insert = sqlite.prepare(`INSERT INTO "ApiKey" ${KNOWN_COLUMNS} VALUES (?, ?, ?, ?, ?, 'portal', '', ?, ?)`);
      sqlite.transaction(() => {
        for (const k of keys) insert.run(k.id, userId, hashKey(k.raw), last4(k.raw), label, now, orgId);
      })();
    } finally {
      sqlite.close();
    }
  } else {
    for (let i = 0; i < keys.length; i += 1000) {
      const part = keys.slice(i, i + 1000);
      const n = part.length * 4;
      const values = part.map(
        (_, j) => `($${j * 4 + 1}, $${j * 4 + 2}, $${j * 4 + 3}, $${j * 4 + 4}, $${n + 1}, 'portal', '', now(), $${n + 2})`,
      );
      const params = part.flatMap((k) => [k.id, userId, hashKey(k.raw), last4(k.raw)]);
      await db.query(`INSERT INTO "ApiKey" ${KNOWN_COLUMNS} VALUES ${values.join(", ")}`, [...params, label, orgId]);
    }
  }
  return keys;
}

/** lastUsedAt (epoch ms, null when never written) of the given key ids. */
export async function lastUsedOf(db: BenchDatabase, ids: string[]): Promise<Map<string, number | null>> {
  const out = new Map<string, number | null>();
  for (let i = 0; i < ids.length; i += 500) {
    const part = ids.slice(i, i + 500);
    if (db.backend === "sqlite") {
      const rows = await db.query<{ id: string; at: string | number | null }>(
        `SELECT id, "lastUsedAt" AS at FROM "ApiKey" WHERE id IN (${part.map(() => "?").join(", ")})`,
        part,
      );
      for (const r of rows) out.set(r.id, r.at === null ? null : new Date(typeof r.at === "number" ? r.at : r.at).getTime());
    } else {
      // timestamp(3) without time zone holds UTC (Prisma's convention): read it as epoch ms.
      const rows = await db.query<{ id: string; at: string | null }>(
        `SELECT id, (extract(epoch FROM "lastUsedAt" AT TIME ZONE 'UTC') * 1000)::bigint::text AS at FROM "ApiKey" WHERE id = ANY($1)`,
        [part],
      );
      for (const r of rows) out.set(r.id, r.at === null ? null : Number(r.at));
    }
  }
  return out;
}
