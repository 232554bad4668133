// Device cookies (OWASP "Slow Down Online Guessing Attacks with Device Cookies"): a browser that
// completed a log-in to an account (every factor) gets a long-lived random token for it. A later
// log-in attempt that presents it for the same account is judged by its own per-device limit, never
// by the account's or the address's limits, which anyone who knows the email can fill. The row is
// keyed by the SHA-256 of the token (a database copy hands out nothing); a password change and
// "sign out everywhere" delete every device cookie of the account.
import type { Db } from "../db/client.js";
import { tokenDigest } from "./token-digest.js";
import { randomToken } from "./sessions.js";

export const DEVICE_COOKIE_TTL_MS = 180 * 24 * 3600_000;

/** A device cookie that is valid for the account being logged in to. */
export interface TrustedDevice {
  /** The SHA-256 of the token: names the device's own counter, never the token itself. */
  id: string;
  userId: string;
}

export function createDeviceCookies(db: Db, ttlMs = DEVICE_COOKIE_TTL_MS) {
  return {
    /** A new device cookie for `userId`; the caller sets it on the browser. */
    async issue(userId: string): Promise<{ token: string; expiresAt: Date }> {
      const token = randomToken();
      const expiresAt = new Date(Date.now() + ttlMs);
      await db.deviceCookie.deleteMany({ where: { userId, expiresAt: { lte: new Date() } } }); // keeps the table small
      await db.deviceCookie.create({ data: { id: tokenDigest(token), userId, expiresAt } });
      return { token, expiresAt };
    },

    /**
     * The device behind `token`, only when it is live and belongs to the account with `email`
     * (lowercased): a device cookie for one account means nothing for another, and a forged, unknown
     * or expired one means nothing at all.
     */
    async forAccount(token: string | undefined, email: string): Promise<TrustedDevice | null> {
      const device = await this.find(token);
      if (!device) return null;
      const user = await db.user.findUnique({ where: { id: device.userId }, select: { email: true } });
      return user && user.email === email ? device : null;
    },

    /** The device behind `token` when it belongs to `userId` (the second log-in step knows the user). */
    async forUser(token: string | undefined, userId: string): Promise<TrustedDevice | null> {
      const device = await this.find(token);
      return device && device.userId === userId ? device : null;
    },

    async find(token: string | undefined): Promise<TrustedDevice | null> {
      if (!token || token.length > 100) return null;
      const row = await db.deviceCookie.findUnique({ where: { id: tokenDigest(token) } });
      if (!row) return null;
      if (row.expiresAt <= new Date()) {
        await db.deviceCookie.deleteMany({ where: { id: row.id } });
        return null;
      }
      return { id: row.id, userId: row.userId };
    },

    /** Forgets one device cookie (the browser now holds another account's). */
    async forget(token: string | undefined): Promise<void> {
      if (token && token.length <= 100) await db.deviceCookie.deleteMany({ where: { id: tokenDigest(token) } });
    },

    /** Device cookies past their expiry (housekeeping; an expired one already counts for nothing). */
    async purgeExpired(now = new Date()): Promise<number> {
      const { count } = await db.deviceCookie.deleteMany({ where: { expiresAt: { lte: now } } });
      return count;
    },

    /** Every device cookie of the account stops counting (password change, sign out everywhere). */
    async destroyAllForUser(userId: string): Promise<number> {
      const { count } = await db.deviceCookie.deleteMany({ where: { userId } });
      return count;
    },
  };
}

export type DeviceCookies = ReturnType<typeof createDeviceCookies>;
