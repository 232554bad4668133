// Garbage, typos and made-up strings stop here, before any database work.
// With LEGACY_KEY_PATTERN configured, strings of that shape (imported legacy keys) pass on to the lookup.
// A key find_in_cache already found needs no check: only that exact key hashes to the stored hash.
import { checkFormat } from "../format.js";
import { isLegacyKey } from "../legacy.js";
import type { VerifyStep } from "./context.js";

export const check_format_or_legacy =
  (legacy: RegExp | undefined): VerifyStep =>
  (ctx) =>
    !ctx.row && checkFormat(ctx.raw) && !isLegacyKey(ctx.raw, legacy) ? "invalid_format" : undefined;
