// What a caller may set as a key's limits: validated the same way by the pages, the JSON API and the CLI.
import { z } from "zod";
import { parseAllowlist } from "./cidr.js";

/** The highest rate limit one may set (requests per minute); above it a limit means nothing. */
export const MAX_RATE_LIMIT = 1_000_000;

/**
 * An IP allowlist: CIDR ranges as a list or one string (spaces, commas or new lines between them),
 * canonical and deduplicated; an empty one is `null` (any address).
 */
export const allowlistSchema = z.union([z.string().max(10_000), z.array(z.string().max(200)).max(200)]).transform((value, ctx) => {
  const parsed = parseAllowlist(value);
  if (!parsed.ok) {
    ctx.addIssue({ code: "custom", message: parsed.message });
    return z.NEVER;
  }
  return parsed.ranges.length ? parsed.ranges : null;
});

/** Requests per minute: a whole number from 1; null or absent: no limit. */
export const rateLimitSchema = z
  .number({ error: "The rate limit must be a whole number of requests per minute" })
  .int("The rate limit must be a whole number of requests per minute")
  .min(1, "The rate limit must be at least 1 request per minute (or none for no limit)")
  .max(MAX_RATE_LIMIT, `The rate limit must be at most ${MAX_RATE_LIMIT} requests per minute`);

/** A form field or a CLI argument: "" → no limit, digits → the number, anything else refused with words. */
export function rateLimitFromText(text: string): { ok: true; value: number | null } | { ok: false; message: string } {
  const t = text.trim();
  if (t === "") return { ok: true, value: null };
  if (!/^\d{1,9}$/.test(t)) return { ok: false, message: "The rate limit must be a whole number of requests per minute" };
  const parsed = rateLimitSchema.safeParse(Number(t));
  return parsed.success ? { ok: true, value: parsed.data } : { ok: false, message: parsed.error.issues[0]!.message };
}

/** What may change: each field absent = unchanged, null = removed. */
export interface LimitChanges {
  allowedIps?: readonly string[] | null;
  rateLimit?: number | null;
}

/** Checks changes from code (the JSON API and pages validate with the schemas first). Throws the first message. */
export function checkedChanges(changes: LimitChanges): { allowedIps?: string | null; rateLimit?: number | null } | string {
  const out: { allowedIps?: string | null; rateLimit?: number | null } = {};
  if (changes.allowedIps !== undefined) {
    if (changes.allowedIps === null) out.allowedIps = null;
    else {
      const parsed = parseAllowlist(changes.allowedIps);
      if (!parsed.ok) return parsed.message;
      out.allowedIps = parsed.ranges.length ? parsed.ranges.join(" ") : null;
    }
  }
  if (changes.rateLimit !== undefined) {
    if (changes.rateLimit === null) out.rateLimit = null;
    else {
      const parsed = rateLimitSchema.safeParse(changes.rateLimit);
      if (!parsed.success) return parsed.error.issues[0]!.message;
      out.rateLimit = parsed.data;
    }
  }
  return out;
}
