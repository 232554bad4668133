// Rate limits per key (issue 28): fixed one-minute windows (aligned to the clock's minutes), counted
// per bucket (a key, or a key at one resource), without a database write per request.
//
// SQLite (one process): counted in memory, exact.
// PostgreSQL (several instances): each instance counts in memory and, every `flushMs` (1 s by
// default), adds what it admitted since its last flush to the bucket's row of "KeyRateCount" in ONE
// statement for all its buckets (INSERT … ON CONFLICT DO UPDATE … RETURNING), reading back the global
// count. A request is admitted while (global count at the last flush + admitted here since) < limit.
// So the limit holds across instances within a bounded overshoot: in one window, at most the limit
// plus what the OTHER instances admit before the next flush tells them (each at most one flush
// interval's worth of its traffic, and never more than the limit each): total ≤ limit × instances,
// and ≤ limit + (instances − 1) × (requests one instance admits in one flush interval) in general.
// A database hiccup loses nothing: the batch is added back and sent with the next flush; meanwhile
// each instance still enforces the limit on what it sees itself.
import type { Db } from "../../db/client.js";
import { Prisma } from "../../generated/sqlite/client.js";

export const WINDOW_SECONDS = 60;
const WINDOW_MS = WINDOW_SECONDS * 1000;

/** One limit that applies to a request: the policy's name (headers), its counter, its quota per window. */
export interface RatePolicy {
  /** "key" (the key's own limit) or "resource" (the resource's per-key limit). */
  name: string;
  bucket: string;
  limit: number;
}

export interface PolicyState {
  policy: RatePolicy;
  remaining: number;
}

export interface RateDecision {
  allowed: boolean;
  /** Seconds until the window resets (≥ 1): Retry-After and the RateLimit field's `t`. */
  resetSeconds: number;
  /** Each policy after this request (admitted: counted; refused: not). */
  states: PolicyState[];
  /** Refused: the policy that refused. */
  refusedBy?: RatePolicy;
}

interface Bucket {
  window: number;
  /** The global count this instance last read (PostgreSQL), 0 until then. */
  known: number;
  /** Admitted here since the last flush. */
  local: number;
  /** Being written by a flush in flight. */
  sending: number;
}

export interface KeyRateLimiter {
  /** Admits the request (counting it under every policy) or refuses it (counting nothing). */
  take(policies: readonly RatePolicy[], now?: number): RateDecision;
  start(): void;
  /** Stops the flush timer after a last flush. */
  stop(): Promise<void>;
  /** PostgreSQL: sends the counts now and reads the global ones back (tests; shutdown). */
  flush(): Promise<void>;
}

export function createKeyRateLimiter(
  db: Db,
  options: { shared: boolean; flushMs: number; onError?: (err: unknown) => void },
): KeyRateLimiter {
  const buckets = new Map<string, Bucket>();
  let timer: NodeJS.Timeout | undefined;
  let flushing: Promise<void> | undefined;
  let lastSweep = 0;

  const current = (bucket: string, window: number): Bucket => {
    let b = buckets.get(bucket);
    if (!b || b.window !== window) {
      b = { window, known: 0, local: 0, sending: 0 };
      buckets.set(bucket, b);
    }
    return b;
  };

  const sweep = (window: number) => {
    for (const [name, b] of buckets) if (b.window < window && b.sending === 0 && b.local === 0) buckets.delete(name);
  };

  const sendBatch = async () => {
    const window = Math.floor(Date.now() / WINDOW_MS);
    const batch: { name: string; b: Bucket; n: number }[] = [];
    for (const [name, b] of buckets) {
      // Every bucket of the current window, even with nothing new: the read-back tells this instance
      // what the others admitted. Older windows only if they still have counts to send.
      if (b.window === window || b.local > 0) {
        batch.push({ name, b, n: b.local });
        b.sending += b.local;
        b.local = 0;
      }
    }
    if (batch.length === 0) return;
    try {
      const rows = await db.$queryRaw<{ bucket: string; window: number; count: number }[]>(Prisma.sql`
        INSERT INTO "KeyRateCount" ("bucket", "window", "count")
        SELECT * FROM unnest(${batch.map((x) => x.name)}::text[], ${batch.map((x) => x.b.window)}::int[], ${batch.map((x) => x.n)}::int[])
        ON CONFLICT ("bucket", "window") DO UPDATE SET "count" = "KeyRateCount"."count" + EXCLUDED."count"
        RETURNING "bucket", "window", "count"`);
      const counts = new Map(rows.map((r) => [`${r.bucket} ${r.window}`, Number(r.count)]));
      for (const { name, b, n } of batch) {
        b.sending -= n;
        const count = counts.get(`${name} ${b.window}`);
        if (count !== undefined) b.known = Math.max(b.known, count);
      }
    } catch (err) {
      for (const { b, n } of batch) {
        b.sending -= n;
        b.local += n; // sent with the next flush
      }
      options.onError?.(err);
    }
    if (window - lastSweep >= 1) {
      lastSweep = window;
      sweep(window);
      // Rows of windows that have ended are of no use to anyone; one instance deleting them is enough, several do no harm.
      await db.$executeRaw`DELETE FROM "KeyRateCount" WHERE "window" < ${window - 1}`.catch((err: unknown) => options.onError?.(err));
    }
  };

  const flush = async () => {
    if (!options.shared) return;
    while (flushing) await flushing;
    flushing = sendBatch().finally(() => (flushing = undefined));
    await flushing;
  };

  return {
    take(policies, now = Date.now()) {
      const window = Math.floor(now / WINDOW_MS);
      const resetSeconds = Math.max(1, Math.ceil(((window + 1) * WINDOW_MS - now) / 1000));
      if (!options.shared && window !== lastSweep) {
        lastSweep = window;
        sweep(window);
      }
      const found = policies.map((policy) => ({ policy, b: current(policy.bucket, window) }));
      const used = (b: Bucket) => b.known + b.sending + b.local;
      const refused = found.find(({ policy, b }) => used(b) >= policy.limit);
      if (refused) {
        return {
          allowed: false,
          resetSeconds,
          refusedBy: refused.policy,
          states: found.map(({ policy, b }) => ({ policy, remaining: Math.max(0, policy.limit - used(b)) })),
        };
      }
      for (const { b } of found) b.local++;
      return {
        allowed: true,
        resetSeconds,
        states: found.map(({ policy, b }) => ({ policy, remaining: Math.max(0, policy.limit - used(b)) })),
      };
    },
    start() {
      if (!options.shared || timer) return;
      timer = setInterval(() => void flush().catch(() => {}), options.flushMs);
      timer.unref();
    },
    async stop() {
      if (timer) clearInterval(timer);
      timer = undefined;
      await flush().catch(() => {});
    },
    flush,
  };
}
