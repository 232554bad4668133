// Open registration must not grow the database without bound: clients that never completed an
// authorization (no key was ever issued to them) are deleted after CLIENT_PURGE_HOURS, and expired
// OAuth records (codes, interactions, sessions) are cleared.
import type { Db } from "../db/client.js";

export async function purgeOAuthRecords(db: Db, clientMaxAgeMs: number, now = new Date()): Promise<{ clients: number; expired: number }> {
  const expired = await db.oidcPayload.deleteMany({ where: { expiresAt: { lte: now } } });
  const stale = await db.oidcPayload.findMany({
    where: { model: "Client", id: { startsWith: "dcr_" }, createdAt: { lte: new Date(now.getTime() - clientMaxAgeMs) } },
    select: { id: true },
    take: 5000,
  });
  if (stale.length === 0) return { clients: 0, expired: expired.count };
  const used = await db.apiKey.findMany({
    where: { clientId: { in: stale.map((c) => c.id) } },
    select: { clientId: true },
    distinct: ["clientId"],
  });
  const keep = new Set(used.map((u) => u.clientId));
  const unused = stale.map((c) => c.id).filter((id) => !keep.has(id));
  const { count } = await db.oidcPayload.deleteMany({ where: { model: "Client", id: { in: unused } } });
  return { clients: count, expired: expired.count };
}
