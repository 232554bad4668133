// What text we accept from a request, decided once for the URL and every body our routes parse.
// Two things are never meaningful in our inputs and break the databases:
//   - NUL (U+0000): PostgreSQL text cannot store it;
//   - ill-formed Unicode: a lone UTF-16 surrogate (JSON's "\ud800" parses to one; neither driver can
//     write it) or percent-escapes that are not UTF-8 (%ED%A0%80 is a UTF-8-encoded surrogate, %C3 a
//     truncated character), which decoders silently turn into U+FFFD or leave undecoded.

export type TextDefect = "nul" | "ill_formed_unicode";

export const DEFECT_TEXT: Record<TextDefect, string> = {
  nul: "a NUL character",
  ill_formed_unicode: "ill-formed Unicode (a lone UTF-16 surrogate or bytes that are not UTF-8)",
};

// With the u flag a surrogate pair reads as one code point, so \p{Cs} matches only lone surrogates
// (the same test as String.prototype.isWellFormed, which our ES2023 lib types do not declare).
const LONE_SURROGATE = /\p{Cs}/u;

/** False when the string holds a lone UTF-16 surrogate (which no database driver can write). */
export const isWellFormed = (s: string): boolean => !LONE_SURROGATE.test(s);

/** What is wrong with one string, if anything. */
export function textDefect(s: string): TextDefect | undefined {
  if (s.includes("\u0000")) return "nul";
  if (!isWellFormed(s)) return "ill_formed_unicode";
  return undefined;
}

/** A value met while walking a parsed body, with the way back to the root (for its path, built only when needed). */
interface Visit {
  value: unknown;
  parent?: Visit;
  /** How the parent reaches it: `.key` or `[index]`. */
  step?: string;
}

/** Where a value is (`a.b[2]`), shortened to its first 100 characters (a body can nest 50,000 deep). */
function pathOf(visit: Visit): string {
  const steps: string[] = [];
  for (let v: Visit | undefined = visit; v?.step !== undefined; v = v.parent) steps.push(v.step);
  const path = steps.reverse().join("").replace(/^\./, "");
  return path.length > 100 ? `${path.slice(0, 100)}…` : path;
}

/**
 * The first string of a parsed body (object member names and values, array items, at any depth)
 * that `problem` objects to, with where it is (`redirect_uris[0]`, `a.b`; "a member name" for a
 * name). A stack, not recursion: a 100 kB body can nest 50,000 deep.
 */
export function firstStringProblem<P>(value: unknown, problem: (s: string) => P | undefined): { problem: P; at: string } | undefined {
  const pending: Visit[] = [{ value }];
  while (pending.length) {
    const visit = pending.pop()!;
    const v = visit.value;
    if (typeof v === "string") {
      const found = problem(v);
      if (found !== undefined) return { problem: found, at: pathOf(visit) };
    } else if (Array.isArray(v)) {
      v.forEach((item, i) => pending.push({ value: item, parent: visit, step: `[${i}]` }));
    } else if (v !== null && typeof v === "object") {
      for (const [k, child] of Object.entries(v)) {
        const found = problem(k);
        if (found !== undefined) return { problem: found, at: "a member name" };
        pending.push({ value: child, parent: visit, step: `.${k}` });
      }
    }
  }
  return undefined;
}

/** The first defect in any string of a parsed body: object keys and values, arrays, at any depth. */
export function valueDefect(value: unknown): TextDefect | undefined {
  return firstStringProblem(value, textDefect)?.problem;
}

const PERCENT_RUN = /(?:%[0-9A-Fa-f]{2})+/g;
const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** What is wrong with the percent-escapes of a raw URL or form body (each run of %XX must be UTF-8). */
export function percentEncodedDefect(raw: string): TextDefect | undefined {
  const direct = textDefect(raw);
  if (direct) return direct;
  for (const run of raw.match(PERCENT_RUN) ?? []) {
    const bytes = Uint8Array.from(run.slice(1).split("%"), (h) => parseInt(h, 16));
    if (bytes.includes(0)) return "nul";
    try {
      strictUtf8.decode(bytes);
    } catch {
      return "ill_formed_unicode";
    }
  }
  return undefined;
}
