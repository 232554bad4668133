// Garbage, typos and made-up strings stop here, before any database work.
// With LEGACY_KEY_PATTERN configured, strings of that shape (imported legacy keys) pass on to the lookup.
import { checkFormat } from "../format.js";
import { isLegacyKey } from "../legacy.js";
import type { VerifyStep } from "./context.js";

export const checkFormatOrLegacy =
  (legacy: RegExp | undefined): VerifyStep =>
  (ctx) =>
    checkFormat(ctx.raw) && !isLegacyKey(ctx.raw, legacy) ? "invalid_format" : undefined;
