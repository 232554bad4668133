// Reading usage back: the last 30 UTC days (today included) of a set of keys (one key, or every key
// of a connected app), per day and per hour, with this instance's counts not yet flushed added so a
// page never lags behind its own instance. The callers choose the keys through an owner-checked read
// (keys.get, keys.listOAuth): this module never decides who may see what.
import type { Db } from "../../db/client.js";
import { HOUR_MS, hourOf, USAGE_OUTCOMES, type UsageCounter, type UsageCounts } from "./counter.js";

export const USAGE_DAYS = 30;
const DAY_MS = 86_400_000;

export interface UsageTotals {
  /** Verified requests answered with anything but 401, 403 or 429. */
  requests: number;
  /** 401: the key was known but refused (revoked, wrong resource, DPoP proof …). */
  unauthorized: number;
  /** 403: the key lacked a scope. */
  forbidden: number;
  /** 429: rate limited. */
  limited: number;
}

export interface UsageReport {
  /** Start of the first day (UTC midnight, ISO). */
  from: string;
  /** When the report was made (ISO). */
  to: string;
  totals: UsageTotals;
  /** USAGE_DAYS entries, oldest first, zero days included; `date` is YYYY-MM-DD (UTC). */
  days: (UsageTotals & { date: string })[];
  /** Only the hours with any count, oldest first; `hour` is the hour's start (ISO). */
  hours: (UsageTotals & { hour: string })[];
}

const zero = (): UsageTotals => ({ requests: 0, unauthorized: 0, forbidden: 0, limited: 0 });

function add(into: UsageTotals, c: UsageTotals | UsageCounts): void {
  if (c instanceof Uint32Array) {
    USAGE_OUTCOMES.forEach((o, i) => (into[o] += c[i]!));
    return;
  }
  for (const o of USAGE_OUTCOMES) into[o] += c[o];
}

export function createUsageReader(db: Db, counter: UsageCounter) {
  return {
    async forKeys(keyIds: readonly string[], now: Date = new Date()): Promise<UsageReport> {
      const firstDay = Math.floor(now.getTime() / DAY_MS) - (USAGE_DAYS - 1);
      const fromMs = firstDay * DAY_MS;
      const fromHour = hourOf(fromMs);
      const nowHour = hourOf(now.getTime());
      const byHour = new Map<number, UsageTotals>();
      const at = (hour: number) => byHour.get(hour) ?? byHour.set(hour, zero()).get(hour)!;
      if (keyIds.length > 0) {
        const rows = await db.keyUsage.findMany({
          where: { keyId: { in: [...keyIds] }, hour: { gte: fromHour, lte: nowHour } },
          select: { hour: true, requests: true, unauthorized: true, forbidden: true, limited: true },
        });
        for (const row of rows) add(at(row.hour), row);
        for (const [hour, counts] of counter.pendingFor(new Set(keyIds))) if (hour >= fromHour && hour <= nowHour) add(at(hour), counts);
      }
      const totals = zero();
      const days = Array.from({ length: USAGE_DAYS }, (_, i) => ({
        date: new Date((firstDay + i) * DAY_MS).toISOString().slice(0, 10),
        ...zero(),
      }));
      const hours = [...byHour.entries()]
        .sort((a, b) => a[0] - b[0])
        .filter(([, t]) => USAGE_OUTCOMES.some((o) => t[o] > 0))
        .map(([hour, t]) => {
          add(totals, t);
          add(days[Math.floor((hour * HOUR_MS) / DAY_MS) - firstDay]!, t);
          return { hour: new Date(hour * HOUR_MS).toISOString(), ...t };
        });
      return { from: new Date(fromMs).toISOString(), to: now.toISOString(), totals, days, hours };
    },
  };
}

export type UsageReader = ReturnType<typeof createUsageReader>;
