// Notes the use in memory; LastUsedTracker batches the writes. The key's view carries the time noted.
import type { LastUsedTracker } from "../last-used.js";
import type { VerifyStep } from "./context.js";

export const touchLastUsed =
  (tracker: LastUsedTracker): VerifyStep =>
  (ctx) => {
    if (ctx.row) ctx.usedAt = tracker.touch(ctx.row.id);
    return undefined;
  };
