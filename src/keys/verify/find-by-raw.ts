// A key row by its raw value, for revocation (RFC 7009, secret scanning): verification's own first
// checks, in its order: the format or the configured legacy shape (garbage stops before any database
// work), then the SHA-256 lookup with the constant-time comparison of the stored hash. A revoked
// key is found too (revoking it again is a no-op the caller may want to know about).
import type { KeyLookup } from "../lookup/read-row.js";
import { checkFormatOrLegacy } from "./check-format.js";
import { findByHash } from "./find-by-hash.js";
import type { VerifyContext } from "./context.js";

export function findByRaw(legacy: RegExp | undefined, lookup: KeyLookup) {
  const steps = [checkFormatOrLegacy(legacy), findByHash(lookup)];
  return async (raw: string): Promise<VerifyContext["row"]> => {
    const ctx: VerifyContext = { raw };
    for (const step of steps) if (await step(ctx)) return undefined;
    return ctx.row;
  };
}
