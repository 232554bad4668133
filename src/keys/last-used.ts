// Last-used tracking without a database write per request: verified requests only note the time
// in memory; a timer writes each key at most once per interval (batched: one UPDATE statement per
// 500 keys, last-used-writes.ts), and stop() flushes what is left on a clean shutdown. The account page merges pending times so this
// instance never shows stale data. The same flush writes the usage counts (src/keys/usage/): one
// timer, one batch of statements per interval.
import type { Db } from "../db/client.js";
import { LAST_USED_BATCH, writeLastUsed } from "./last-used-writes.js";
import { UsageCounter } from "./usage/counter.js";
import { USAGE_BATCH, writeUsage } from "./usage/writes.js";

export class LastUsedTracker {
  /** Key id → last use, in epoch ms (a number: no allocation on the request path). */
  private pending = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<number> | undefined;

  constructor(
    private readonly db: Db,
    private readonly intervalMs: number,
    private readonly onError: (err: unknown) => void = () => {},
    /** Requests per key and hour, written with the last-used times. */
    readonly usage: UsageCounter = new UsageCounter(),
  ) {}

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.flush().catch(this.onError), this.intervalMs);
    this.timer.unref();
  }

  /** Notes a use; returns the key's pending last use (epoch ms) after it: `at`, or a later one already noted. */
  touch(keyId: string, at: Date | number = Date.now()): number {
    const ms = typeof at === "number" ? at : at.getTime();
    const prev = this.pending.get(keyId);
    if (prev !== undefined && prev >= ms) return prev;
    this.pending.set(keyId, ms);
    return ms;
  }

  /** The last use noted and not yet written. */
  pendingFor(keyId: string): Date | undefined {
    const ms = this.pending.get(keyId);
    return ms === undefined ? undefined : new Date(ms);
  }

  /**
   * Writes every pending time (never moving a time backwards) and adds the pending usage counts;
   * returns the number of keys whose last-used time was written.
   */
  async flush(): Promise<number> {
    // Loop: another caller queued behind the same flush may have started the next one first.
    while (this.flushing) await this.flushing;
    if (this.pending.size === 0 && this.usage.size === 0) return 0;
    const batch = this.pending;
    this.pending = new Map();
    const counts = this.usage.take();
    this.flushing = (async () => {
      for (let i = 0; i < counts.length; i += USAGE_BATCH) {
        const part = counts.slice(i, i + USAGE_BATCH);
        try {
          await writeUsage(this.db, part);
        } catch (err) {
          this.usage.giveBack(part); // added to what is counted meanwhile, written next time
          this.onError(err);
        }
      }
      let n = 0;
      const entries = [...batch];
      for (let i = 0; i < entries.length; i += LAST_USED_BATCH) {
        const part = entries.slice(i, i + LAST_USED_BATCH);
        try {
          await writeLastUsed(this.db, part);
          n += part.length;
        } catch (err) {
          // Keep them for the next flush rather than lose them (a newer touch wins).
          for (const [id, at] of part) if (!this.pending.has(id)) this.pending.set(id, at);
          this.onError(err);
        }
      }
      return n;
    })();
    try {
      return await this.flushing;
    } finally {
      this.flushing = undefined;
    }
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.flush();
  }
}
