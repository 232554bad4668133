// Text a client may store and have shown (names, URIs), checked without oidc-provider (the CLI
// uses it too). Refused: ill-formed Unicode (lone surrogates), control characters, format
// characters (bidirectional overrides and isolates such as U+202E, zero-width characters, the BOM)
// and line/paragraph separators: invisible or reordering text.
import { isWellFormed } from "../http/well-formed.js";

const INVISIBLE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u;

/** Why a client-supplied string is refused, or undefined when it is fine. */
export function textProblem(value: string): string | undefined {
  if (!isWellFormed(value)) return "must be well-formed Unicode (no lone surrogates)";
  if (INVISIBLE.test(value)) return "must not contain control, invisible formatting or bidirectional characters";
  return undefined;
}
