// The half-logged-in state between the password and the second factor: a server-side row keyed by
// the SHA-256 of a random cookie token, valid for a few minutes, consumed once. It grants nothing
// but the right to be asked for a code.
import type { Db } from "../db/client.js";
import { tokenDigest } from "./token-digest.js";
import { randomToken } from "./sessions.js";

export const PENDING_LOGIN_TTL_MS = 5 * 60_000;

export interface PendingLogin {
  userId: string;
  returnTo: string;
  expiresAt: Date;
}

export function createPendingLogins(db: Db, ttlMs = PENDING_LOGIN_TTL_MS) {
  return {
    async create(userId: string, returnTo: string): Promise<{ token: string; expiresAt: Date }> {
      const token = randomToken();
      const expiresAt = new Date(Date.now() + ttlMs);
      await db.pendingLogin.create({ data: { id: tokenDigest(token), userId, returnTo, expiresAt } });
      return { token, expiresAt };
    },

    async find(token: string | undefined): Promise<PendingLogin | null> {
      if (!token || token.length > 100) return null;
      const row = await db.pendingLogin.findUnique({ where: { id: tokenDigest(token) } });
      if (!row) return null;
      if (row.expiresAt <= new Date()) {
        await db.pendingLogin.deleteMany({ where: { id: row.id } });
        return null;
      }
      return { userId: row.userId, returnTo: row.returnTo, expiresAt: row.expiresAt };
    },

    /** True for exactly one caller: the one that ends this pending log-in. */
    async consume(token: string): Promise<boolean> {
      const { count } = await db.pendingLogin.deleteMany({ where: { id: tokenDigest(token), expiresAt: { gt: new Date() } } });
      return count === 1;
    },

    /** Log-ins abandoned at the second factor (housekeeping; a read also removes an expired one). */
    async purgeExpired(now = new Date()): Promise<number> {
      const { count } = await db.pendingLogin.deleteMany({ where: { expiresAt: { lte: now } } });
      return count;
    },

    async destroyAllForUser(userId: string): Promise<number> {
      const { count } = await db.pendingLogin.deleteMany({ where: { userId } });
      return count;
    },
  };
}

export type PendingLogins = ReturnType<typeof createPendingLogins>;
