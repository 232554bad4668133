// THE key domain: the only code that knows how a key looks, is hashed or is checked.
import type { Db } from "../db/client.js";
import { LastUsedTracker } from "./last-used.js";
import { createKeyService } from "./service.js";
import { createVerifier } from "./verify/index.js";

export { KeyInputError, type KeyService, type Minted, type MintRequest } from "./service.js";
export { type KeyView, type KeySource, sourceLabel } from "./model.js";
export { type VerifyResult, type Verify, type VerifyFailure } from "./verify/index.js";
export { checkFormat, keyPattern, type FormatProblem } from "./format.js";
export { labelSchema, scopesSchema, MAX_LABEL_LENGTH } from "./input.js";
export { LastUsedTracker };

export function createKeys(db: Db, options: { prefix: string; scopes: readonly string[]; lastUsedFlushMs: number; onError?: (e: unknown) => void }) {
  const tracker = new LastUsedTracker(db, options.lastUsedFlushMs, options.onError);
  return {
    ...createKeyService(db, { prefix: options.prefix, scopes: options.scopes, tracker }),
    verify: createVerifier(db, tracker),
    tracker,
  };
}

export type Keys = ReturnType<typeof createKeys>;
