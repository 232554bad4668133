// Usage counting without a database write per request: each request attributable to a key adds one
// to an in-memory counter for (hour, key, outcome); the last-used flush (src/keys/last-used.ts)
// hands the counts to writeUsage (./writes.ts), which ADDS them to the stored hour rows, so the
// counts of every instance add up. The request path allocates nothing once a key has a counter for
// the current hour (a map lookup and an increment).

/** What happened to a request made with a known key. */
export type UsageOutcome = "requests" | "unauthorized" | "forbidden" | "limited";
export const USAGE_OUTCOMES: readonly UsageOutcome[] = ["requests", "unauthorized", "forbidden", "limited"];
const SLOT: Record<UsageOutcome, number> = { requests: 0, unauthorized: 1, forbidden: 2, limited: 3 };

/** Counts in the order of USAGE_OUTCOMES. */
export type UsageCounts = Uint32Array;

export const HOUR_MS = 3_600_000;
export const hourOf = (ms: number): number => Math.floor(ms / HOUR_MS);

/** The outcome a response status stands for: 401, 403 and 429 are errors, anything else a request served. */
export function outcomeOfStatus(status: number): UsageOutcome {
  if (status === 401) return "unauthorized";
  if (status === 403) return "forbidden";
  if (status === 429) return "limited";
  return "requests";
}

/** One pending row: key, hour (hours since the epoch) and the counts to add. */
export type UsageDelta = readonly [keyId: string, hour: number, counts: UsageCounts];

export class UsageCounter {
  /** Hour → key id → counts. Usually one hour (two around the turn of an hour). */
  private pending = new Map<number, Map<string, UsageCounts>>();

  constructor(readonly enabled = true) {}

  note(keyId: string, outcome: UsageOutcome, at: number = Date.now()): void {
    if (!this.enabled) return;
    const hour = hourOf(at);
    let keys = this.pending.get(hour);
    if (!keys) this.pending.set(hour, (keys = new Map()));
    let counts = keys.get(keyId);
    if (!counts) keys.set(keyId, (counts = new Uint32Array(4)));
    counts[SLOT[outcome]]!++;
  }

  /** Takes every pending count (the caller writes them, or gives them back on failure). */
  take(): UsageDelta[] {
    const out: UsageDelta[] = [];
    for (const [hour, keys] of this.pending) for (const [keyId, counts] of keys) out.push([keyId, hour, counts]);
    this.pending = new Map();
    return out;
  }

  /** Puts counts back that could not be written (added to whatever was counted since). */
  giveBack(deltas: readonly UsageDelta[]): void {
    for (const [keyId, hour, counts] of deltas) {
      let keys = this.pending.get(hour);
      if (!keys) this.pending.set(hour, (keys = new Map()));
      const now = keys.get(keyId);
      if (!now) keys.set(keyId, counts);
      else for (let i = 0; i < 4; i++) now[i]! += counts[i]!;
    }
  }

  get size(): number {
    let n = 0;
    for (const keys of this.pending.values()) n += keys.size;
    return n;
  }

  /** This instance's counts not yet written, for `keyIds`, as hour → counts (the pages add them). */
  pendingFor(keyIds: ReadonlySet<string>): Map<number, UsageCounts> {
    const out = new Map<number, UsageCounts>();
    for (const [hour, keys] of this.pending)
      for (const [keyId, counts] of keys) {
        if (!keyIds.has(keyId)) continue;
        const sum = out.get(hour) ?? new Uint32Array(4);
        for (let i = 0; i < 4; i++) sum[i]! += counts[i]!;
        out.set(hour, sum);
      }
    return out;
  }
}
