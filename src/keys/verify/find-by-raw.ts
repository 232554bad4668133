// A key row by its raw value, for revocation (RFC 7009, secret scanning): verification's own first
// checks, in its order: the format or the configured legacy shape (garbage stops before any database
// work), then the SHA-256 lookup with the constant-time comparison of the stored hash. A revoked
// key is found too (revoking it again is a no-op the caller may want to know about).
import type { KeyReader } from "../lookup/index.js";
import { checkFormatOrLegacy } from "./check-format.js";
import { findRow } from "./find-row.js";
import type { VerifyContext } from "./context.js";

export function findByRaw(legacy: RegExp | undefined, reader: KeyReader) {
  const steps = [checkFormatOrLegacy(legacy), findRow(reader)];
  return async (raw: string): Promise<VerifyContext["row"]> => {
    const ctx: VerifyContext = { raw };
    for (const step of steps) if (await step(ctx)) return undefined;
    return ctx.row;
  };
}
