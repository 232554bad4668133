// Keys whose owner should hear that they expire soon (src/mail/notices.ts mails them), and the
// once-only claim of that notice: expiryNoticeSentAt is set in one conditional write, so of several
// instances sweeping at once exactly one gets each key. Only src/keys writes key rows.
import type { Db } from "../db/client.js";

/** A key in the notice window, with its owner's address. */
export interface ExpiringKey {
  id: string;
  label: string;
  last4: string;
  expiresAt: Date;
  createdAt: Date;
  userId: string;
  email: string;
}

/**
 * Keys of every kind (portal, CLI, app, OAuth) that expire after `now` and by `horizon`, not revoked, not
 * rolled (a roll picked the old key's end) and not noticed before; oldest expiry first, at most `limit`.
 */
export async function expiringUnnoticed(db: Db, now: Date, horizon: Date, limit = 1000): Promise<ExpiringKey[]> {
  const rows = await db.apiKey.findMany({
    where: { revokedAt: null, replacedById: null, expiryNoticeSentAt: null, expiresAt: { gt: now, lte: horizon } },
    select: { id: true, label: true, last4: true, expiresAt: true, createdAt: true, userId: true, user: { select: { email: true } } },
    orderBy: [{ expiresAt: "asc" }, { id: "asc" }],
    take: limit,
  });
  return rows.map(({ user, expiresAt, ...row }) => ({ ...row, expiresAt: expiresAt!, email: user.email }));
}

/** True when this call took the key's notice (it was not taken before, by this instance or another). */
export async function claimExpiryNotice(db: Db, keyId: string, now: Date): Promise<boolean> {
  const { count } = await db.apiKey.updateMany({ where: { id: keyId, expiryNoticeSentAt: null }, data: { expiryNoticeSentAt: now } });
  return count === 1;
}
