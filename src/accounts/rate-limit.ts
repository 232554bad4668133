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

/** The answer of `consume`: allowed (with the count this attempt made), or blocked for this long. */
export type Consumed = { ok: true; count: number } | { ok: false; retryAfterMs: number };

export function createRateLimiter(db: Db) {
  const current = async (rawKey: string, windowMs: number) => {
    const key = counterKey(rawKey);
    const row = await db.rateLimit.findUnique({ where: { key } });
    if (!row || row.windowStart.getTime() + windowMs <= Date.now()) return null;
    return row;
  };

  return {
    /**
     * Takes one attempt from `key`'s window if one is left: check and increment are ONE conditional
     * write each, so parallel requests can never take more than `limit.max` between them (a request
     * that lost a race tries the next statement, never a stale read). Call it before the work it guards.
     */
    async consume(rawKey: string, limit: Limit): Promise<Consumed> {
      const key = counterKey(rawKey);
      for (let round = 0; round < 5; round++) {
        const now = new Date();
        const windowOpen = new Date(now.getTime() - limit.windowMs);
        // 1. A live window with room left: UPDATE … SET count = count + 1 WHERE count < max.
        const took = await db.rateLimit.updateMany({
          where: { key, windowStart: { gt: windowOpen }, count: { lt: limit.max } },
          data: { count: { increment: 1 } },
        });
        if (took.count === 1) return { ok: true, count: (await db.rateLimit.findUnique({ where: { key } }))?.count ?? limit.max };
        // 2. A window that is over: only one request can restart it (the others then see a live one).
        const restarted = await db.rateLimit.updateMany({
          where: { key, windowStart: { lte: windowOpen } },
          data: { windowStart: now, count: 1 },
        });
        if (restarted.count === 1) return { ok: true, count: 1 };
        const row = await db.rateLimit.findUnique({ where: { key } });
        if (row) {
          const wait = row.windowStart.getTime() + limit.windowMs - Date.now();
          if (row.count >= limit.max && wait > 0) return { ok: false, retryAfterMs: Math.max(1, wait) };
          continue; // changed under us: try again
        }
        // 3. No row yet: the first insert wins, a racing one goes round again.
        try {
          await db.rateLimit.create({ data: { key, windowStart: now, count: 1 } });
          return { ok: true, count: 1 };
        } catch (err) {
          if ((err as { code?: string }).code !== "P2002") throw err;
        }
      }
      return { ok: false, retryAfterMs: 1000 }; // contended beyond reason: refuse rather than let it through
    },

    /** Gives back an attempt `consume` took (it turned out not to count, e.g. a right password). */
    async refund(rawKey: string): Promise<void> {
      await db.rateLimit.updateMany({ where: { key: counterKey(rawKey), count: { gt: 0 } }, data: { count: { decrement: 1 } } });
    },

    /** The count in `key`'s current window (0 when none). */
    async count(key: string, windowMs: number): Promise<number> {
      return (await current(key, windowMs))?.count ?? 0;
    },

    /** Counts one attempt; returns the count in the current window. */
    async hit(rawKey: string, limit: Limit): Promise<number> {
      const key = counterKey(rawKey);
      const now = new Date();
      const windowOpen = new Date(now.getTime() - limit.windowMs);
      const { count } = await db.rateLimit.updateMany({
        where: { key, windowStart: { gt: windowOpen } },
        data: { count: { increment: 1 } },
      });
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
