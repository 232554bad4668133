// A key row by its raw value, for revocation (RFC 7009, secret scanning): verification's own first
// checks, in its order: the format or the configured legacy shape (garbage stops before any database
// work), then the SHA-256 lookup with the constant-time comparison of the stored hash. A revoked
// key is found too (revoking it again is a no-op the caller may want to know about).
import type { KeyLookup } from "../../db/key-lookup.js";
import { check_format_or_legacy } from "./check_format.js";
import { find_by_hash } from "./find_by_hash.js";
import type { VerifyContext } from "./context.js";

export function find_by_raw(legacy: RegExp | undefined, lookup: KeyLookup) {
  const steps = [check_format_or_legacy(legacy), find_by_hash(lookup)];
  return async (raw: string): Promise<VerifyContext["row"]> => {
    const ctx: VerifyContext = { raw };
    for (const step of steps) if (await step(ctx)) return undefined;
    return ctx.row;
  };
}
