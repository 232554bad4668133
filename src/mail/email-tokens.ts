// Single-use links by mail (password reset, email verification). The token travels in the link only;
// its row is keyed by the token's SHA-256 (src/accounts/token-digest.ts), so a copy of the database
// hands out nothing. Claiming a token deletes its row in one conditional write: of two requests with
// the same link, exactly one gets the account.
import type { Db } from "../db/client.js";
import { randomToken } from "../accounts/sessions.js";
import { tokenDigest } from "../accounts/token-digest.js";

export type EmailTokenPurpose = "reset" | "verify";

/** A password-reset link works for 30 minutes. */
export const RESET_TTL_MS = 30 * 60_000;
/** A verification link works for 48 hours (sign-up mail is often read later). */
export const VERIFY_TTL_MS = 48 * 3600_000;

export function createEmailTokens(db: Db) {
  return {
    /** A new token for `userId`; earlier live tokens of the same purpose stay valid until used or expired. */
    async issue(userId: string, purpose: EmailTokenPurpose, ttlMs: number, now = new Date()): Promise<string> {
      const token = randomToken();
      await db.emailToken.create({ data: { id: tokenDigest(token), userId, purpose, expiresAt: new Date(now.getTime() + ttlMs) } });
      return token;
    },

    /** The account of a live token of this purpose, without using it up (the page that shows the form). */
    async peek(token: string | undefined, purpose: EmailTokenPurpose, now = new Date()): Promise<string | null> {
      if (!token || token.length > 100) return null;
      const row = await db.emailToken.findUnique({ where: { id: tokenDigest(token) } });
      return row && row.purpose === purpose && row.expiresAt > now ? row.userId : null;
    },

    /** Uses the token up: its account once, null for an unknown, expired, used or other-purpose token. */
    async claim(token: string | undefined, purpose: EmailTokenPurpose, now = new Date()): Promise<string | null> {
      if (!token || token.length > 100) return null;
      const id = tokenDigest(token);
      const row = await db.emailToken.findUnique({ where: { id } });
      if (!row || row.purpose !== purpose) return null;
      const { count } = await db.emailToken.deleteMany({ where: { id, purpose, expiresAt: { gt: now } } });
      return count === 1 ? row.userId : null;
    },

    /** Every token of this purpose for the account goes (a reset done: the other links mailed before die too). */
    async destroyAllForUser(userId: string, purpose: EmailTokenPurpose): Promise<void> {
      await db.emailToken.deleteMany({ where: { userId, purpose } });
    },

    /** Housekeeping: tokens past their expiry (they already grant nothing). */
    async purgeExpired(now = new Date()): Promise<number> {
      const { count } = await db.emailToken.deleteMany({ where: { expiresAt: { lte: now } } });
      return count;
    },
  };
}

export type EmailTokens = ReturnType<typeof createEmailTokens>;
