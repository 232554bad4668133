// THE key domain: the only code that knows how a key looks, is hashed or is checked.
import type { Db } from "../db/client.js";
import { prismaKeyReader, type KeyReader } from "./lookup/index.js";
import { LastUsedTracker } from "./last-used.js";
import { createKeyService } from "./store.js";
import { createRevocation, type RevokedKey } from "./revoke.js";
import type { KeyActing } from "../audit/key-events.js";
import { createVerifier } from "./verify/index.js";
import { findByRaw } from "./verify/find-by-raw.js";
import { toView } from "./view.js";
import { catalogueFromNames, type ScopeCatalogue } from "../scopes/catalogue.js";
import { createKeyImport } from "./import.js";
import { createReattribution } from "./reattribute.js";
import { createRoll } from "./roll.js";
import { createAudit } from "../audit/index.js";
import { createKeyLimits } from "./limits/store.js";
import { outcomeOfStatus, UsageCounter } from "./usage/counter.js";
import { createUsageReader, USAGE_DAYS } from "./usage/read.js";
import { pruneUsage } from "./usage/writes.js";

export { KeyInputError, type KeyService, type Minted, type MintRequest, type MemberKeyView, type WithinMint } from "./store.js";
export { type RevokeTarget, type RevokedKey } from "./revoke.js";
export { RollRefusedError, isRollOverlap, ROLL_OVERLAP_NAMES, type RollOverlap, type RollTarget, type Rolled } from "./roll.js";
export { parseExpiry, maxLifetimeDaysSchema, daysLeftToWarn, EXPIRY_PRESETS_DAYS, MAX_LIFETIME_DAYS } from "./expiry.js";
export { type KeyActing, type KeyEventVia } from "../audit/key-events.js";
export { type KeyView, type KeySource, sourceLabel } from "./view.js";
export { type VerifyResult, type Verify, type VerifyFailure, type Presentation } from "./verify/index.js";
export { DPOP_SIGNING_ALGS } from "./dpop/proof.js";
export { checkFormat, keyPattern, type FormatProblem } from "./format.js";
export { labelSchema, scopesSchema, MAX_LABEL_LENGTH } from "./input.js";
export { LastUsedTracker };
export { parseImport, type ImportRow, type ImportProblem } from "./import.js";
export { compileLegacyPattern } from "./legacy.js";
export { type ClientLimits, type LimitTarget } from "./limits/store.js";
export { allowlistSchema, rateLimitSchema, rateLimitFromText, type LimitChanges } from "./limits/input.js";
export { type UsageReport, type UsageTotals, USAGE_DAYS } from "./usage/read.js";
export { STALE_DAYS, isStale } from "./usage/stale.js";

/**
 * `reader` is how verification reads a key row: the server passes its key lookup's (src/keys/lookup/,
 * through the database driver and the verification cache); without one, Prisma runs the same query.
 */
export function createKeys(
  db: Db,
  options: {
    prefix: string;
    scopes: readonly string[];
    lastUsedFlushMs: number;
    /** Count requests per key and hour (src/keys/usage/); default on. */
    usageCounting?: boolean;
    onError?: (e: unknown) => void;
    legacyKeyPattern?: RegExp;
    catalogue?: ScopeCatalogue;
    reader?: KeyReader;
    /** After a revocation commits (src/keys/revoke.ts): the keys it revoked and who acted (src/mail/ notices). */
    onRevoked?: (revoked: RevokedKey[], by: KeyActing) => void;
  },
) {
  const catalogue = options.catalogue ?? catalogueFromNames(options.scopes);
  const tracker = new LastUsedTracker(db, options.lastUsedFlushMs, options.onError, new UsageCounter(options.usageCounting ?? true));
  const audit = createAudit(db);
  const service = createKeyService(db, { prefix: options.prefix, scopes: options.scopes, tracker, audit });
  return {
    ...service,
    ...createRevocation(db, {
      view: (row) => toView(row, tracker.pendingFor(row.id)),
      audit,
      // Uncached: a revocation reads the row as committed.
      findByRaw: findByRaw(options.legacyKeyPattern, prismaKeyReader(db)),
      onRevoked: options.onRevoked,
    }),
    ...createRoll(db, { mint: service.mint, audit }),
    verify: createVerifier(db, tracker, {
      legacyKeyPattern: options.legacyKeyPattern,
      catalogue,
      reader: options.reader ?? prismaKeyReader(db),
    }),
    ...createKeyImport(db),
    ...createReattribution(db),
    ...createKeyLimits(db, { view: (row) => toView(row, tracker.pendingFor(row.id)), audit }),
    usage: {
      ...createUsageReader(db, tracker.usage),
      /** KEY_USAGE_COUNTING: false counts nothing. */
      enabled: tracker.usage.enabled,
      /** Counts one request made with a known key, by the status it was answered with (in memory; flushed with last-used). */
      note: (keyId: string, status: number) => tracker.usage.note(keyId, outcomeOfStatus(status)),
      /** Housekeeping: deletes hour rows older than the USAGE_DAYS shown (a day's margin kept); returns how many. */
      prune: (now: Date) => pruneUsage(db, now, (USAGE_DAYS + 1) * 24),
    },
    tracker,
  };
}

export type Keys = ReturnType<typeof createKeys>;
