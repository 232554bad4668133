// Garbage, typos and made-up strings stop here, before any database work.
// With LEGACY_KEY_PATTERN configured, strings of that shape (imported legacy keys) pass on to the lookup.
// A key findInCache already found (or whose digest the cache holds a row for) needs no check: only
// that exact key hashes to the stored hash, and it passed here when its row was read.
import { checkFormat } from "../format.js";
import { isLegacyKey } from "../legacy.js";
import type { VerifyStep } from "./context.js";

export const checkFormatOrLegacy =
  (legacy: RegExp | undefined): VerifyStep =>
  (ctx) =>
    !ctx.row && !ctx.wellFormed && checkFormat(ctx.raw) && !isLegacyKey(ctx.raw, legacy) ? "invalid_format" : undefined;
