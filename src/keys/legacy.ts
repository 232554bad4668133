// Keys imported from another system (source `unknown`) keep their original raw values, which are not
// in Keyward's format. An operator who imports such keys names their shape with LEGACY_KEY_PATTERN;
// only strings matching it skip the format check and go on to the hash lookup. Without the pattern,
// every non-Keyward string is still rejected before any database work.
import { checkFormat } from "./format.js";

/** Legacy keys longer than this are refused before the pattern runs (bounds any regex cost). */
export const MAX_LEGACY_KEY_LENGTH = 256;

/** Compiles the operator's pattern, anchored at both ends; throws with a reason when it is unusable. */
export function compileLegacyPattern(source: string): RegExp {
  let pattern: RegExp;
  try {
    pattern = new RegExp(`^(?:${source})$`, "u");
  } catch (err) {
    throw new Error(`not a valid regular expression (${err instanceof Error ? err.message : String(err)})`, { cause: err });
  }
  if (pattern.test("")) throw new Error("must not match the empty string");
  return pattern;
}

export function isLegacyKey(raw: string, pattern: RegExp | undefined): boolean {
  return pattern !== undefined && raw.length > 0 && raw.length <= MAX_LEGACY_KEY_LENGTH && pattern.test(raw);
}

/** True when the string may be a key of this server: Keyward format, or the configured legacy shape. */
export function acceptsShape(raw: string, legacy: RegExp | undefined): boolean {
  return checkFormat(raw) === null || isLegacyKey(raw, legacy);
}
