// Fixed-window counters in the database, so every instance sees the same count.
import { createHash } from "node:crypto";
import type { Db } from "../db/client.js";

export interface Limit {
  /** Attempts allowed per window. */
  max: number;
  windowMs: number;
}

/**
 * Keys carry user input (an email, an IP): keep them storable anywhere (PostgreSQL text cannot
 * hold NUL) and bounded, without letting two different inputs share a counter by truncation.
 */
export function counterKey(key: string): string {
  const clean = key.replace(/\u0000/g, "\ufffd");
  return clean.length <= 200 ? clean : `${clean.slice(0, 120)}…#${createHash("sha256").update(clean).digest("hex")}`;
}

export function createRateLimiter(db: Db) {
  const current = async (rawKey: string, windowMs: number) => {
    const key = counterKey(rawKey);
    const row = await db.rateLimit.findUnique({ where: { key } });
    if (!row || row.windowStart.getTime() + windowMs <= Date.now()) return null;
    return row;
  };

  return {
    /** Milliseconds until `key` may try again, or 0 when it is under the limit. */
    async blockedFor(key: string, limit: Limit): Promise<number> {
      const row = await current(key, limit.windowMs);
      if (!row || row.count < limit.max) return 0;
      return Math.max(1, row.windowStart.getTime() + limit.windowMs - Date.now());
    },

    /** Counts one attempt; returns the count in the current window. */
    async hit(rawKey: string, limit: Limit): Promise<number> {
      const key = counterKey(rawKey);
      const now = new Date();
      const windowOpen = new Date(now.getTime() - limit.windowMs);
      const { count } = await db.rateLimit.updateMany({ where: { key, windowStart: { gt: windowOpen } }, data: { count: { increment: 1 } } });
      if (count === 0) {
        await db.rateLimit.upsert({ where: { key }, create: { key, windowStart: now, count: 1 }, update: { windowStart: now, count: 1 } });
        return 1;
      }
      return (await db.rateLimit.findUnique({ where: { key } }))?.count ?? 1;
    },

    async reset(key: string): Promise<void> {
      await db.rateLimit.deleteMany({ where: { key: counterKey(key) } });
    },
  };
}

export type RateLimiter = ReturnType<typeof createRateLimiter>;
