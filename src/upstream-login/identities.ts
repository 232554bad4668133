// The upstream providers an account is linked to, by their display names (the security page).
import type { Db } from "../db/client.js";
import type { UpstreamProvider } from "./config.js";

export async function linkedProviderNames(db: Db, providers: readonly UpstreamProvider[], userId: string): Promise<string[]> {
  const rows = await db.upstreamIdentity.findMany({ where: { userId }, select: { providerId: true }, orderBy: { createdAt: "asc" } });
  return rows.map((r) => providers.find((p) => p.id === r.providerId)?.name ?? r.providerId);
}
