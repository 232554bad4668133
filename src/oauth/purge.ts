// Open registration must not grow the database without bound: clients that never completed an
// authorization (no key was ever issued to them) are deleted after CLIENT_PURGE_HOURS, and expired
// OAuth records (codes, interactions, sessions) are cleared.
import type { Db } from "../db/client.js";
import type { Keys } from "../keys/index.js";

export async function purgeOAuthRecords(
  db: Db,
  keys: Pick<Keys, "removeClientIfKeyless">,
  clientMaxAgeMs: number,
  now = new Date(),
): Promise<{ clients: number; expired: number }> {
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
  let clients = 0;
  for (const { id } of stale) {
    if (keep.has(id)) continue;
    // Checked again and deleted under the client's key lock (src/keys/client-lock.ts): a key being
    // minted for it right now either committed first (the client stays) or finds it gone and is refused,
    // never left on a deleted client id.
    const deleted = await keys.removeClientIfKeyless(
      id,
      async (tx) => (await tx.oidcPayload.deleteMany({ where: { model: "Client", id } })).count > 0,
    );
    if (deleted) clients++;
  }
  return { clients, expired: expired.count };
}
