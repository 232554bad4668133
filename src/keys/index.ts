// THE key domain: the only code that knows how a key looks, is hashed or is checked.
import type { Db } from "../db/client.js";
import { prismaKeyLookup, type KeyLookup } from "./lookup/read-row.js";
import { LastUsedTracker } from "./last-used.js";
import { createKeyService } from "./store.js";
import { createRevocation } from "./revoke.js";
import { createVerifier } from "./verify/index.js";
import { findByRaw } from "./verify/find-by-raw.js";
import { toView } from "./view.js";
import { catalogueFromNames, type ScopeCatalogue } from "../scopes/catalogue.js";
import { createKeyImport } from "./import.js";
import { createAudit } from "../audit/index.js";

export { KeyInputError, type KeyService, type Minted, type MintRequest, type MemberKeyView } from "./store.js";
export { type RevokeTarget, type RevokedKey } from "./revoke.js";
export { type KeyActing, type KeyEventVia } from "../audit/key-events.js";
export { type KeyView, type KeySource, sourceLabel } from "./view.js";
export { type VerifyResult, type Verify, type VerifyFailure, type Presentation } from "./verify/index.js";
export { DPOP_SIGNING_ALGS } from "./dpop/proof.js";
export { checkFormat, keyPattern, type FormatProblem } from "./format.js";
export { labelSchema, scopesSchema, MAX_LABEL_LENGTH } from "./input.js";
export { LastUsedTracker };
export { parseImport, type ImportRow, type ImportProblem } from "./import.js";
export { compileLegacyPattern } from "./legacy.js";

/**
 * `lookup` is how verification reads a key row: the server passes a driver-level lookup
 * (src/keys/lookup/read-row.ts), cached behind a change check; without one, Prisma runs the same query.
 */
export function createKeys(db: Db, options: { prefix: string; scopes: readonly string[]; lastUsedFlushMs: number; onError?: (e: unknown) => void; legacyKeyPattern?: RegExp; catalogue?: ScopeCatalogue; lookup?: KeyLookup }) {
  const catalogue = options.catalogue ?? catalogueFromNames(options.scopes);
  const tracker = new LastUsedTracker(db, options.lastUsedFlushMs, options.onError);
  const lookup = options.lookup ?? prismaKeyLookup(db);
  const audit = createAudit(db);
  return {
    ...createKeyService(db, { prefix: options.prefix, scopes: options.scopes, tracker, audit }),
    ...createRevocation(db, {
      view: (row) => toView(row, tracker.pendingFor(row.id)),
      audit,
      // Uncached: a revocation reads the row as committed.
      findByRaw: findByRaw(options.legacyKeyPattern, prismaKeyLookup(db)),
    }),
    verify: createVerifier(db, tracker, { legacyKeyPattern: options.legacyKeyPattern, catalogue, lookup }),
    ...createKeyImport(db),
    tracker,
    /** Hits, misses and resets of the verification cache (null when the lookup is not cached). */
    cacheStats: () => lookup.stats?.() ?? null,
  };
}

export type Keys = ReturnType<typeof createKeys>;
