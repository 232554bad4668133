// "Not used for 90 days": an active key created before the cutoff and not used since. The same rule
// as the bulk revoke of unused keys (unusedWhere in src/keys/revoke.ts), which the page's "revoke all
// stale keys" uses with STALE_DAYS.
import type { KeyView } from "../view.js";

export const STALE_DAYS = 90;

export function isStale(key: Pick<KeyView, "status" | "createdAt" | "lastUsedAt">, now: Date, days = STALE_DAYS): boolean {
  if (key.status !== "active") return false;
  const cutoff = now.getTime() - days * 86_400_000;
  return Date.parse(key.createdAt) < cutoff && (key.lastUsedAt === null || Date.parse(key.lastUsedAt) < cutoff);
}
