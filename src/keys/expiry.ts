// When a key stops working (issue 28): chosen at mint (never, a number of days, or a date), capped by
// its organisation's policy (`Organization.maxKeyLifetimeDays`, set by its owners and admins). The
// instant is stored on the row (`expiresAt`) and compared by verification on every request
// (./verify/check-expiry.ts), so a cached row expires by itself on every instance. The page, the
// JSON API and the CLI all read what the caller asked for through parseExpiry().
import { z } from "zod";
import { KeyInputError } from "./errors.js";

const DAY_MS = 86_400_000;
/** The longest lifetime anyone may ask for, and the longest cap an organisation may set (ten years). */
export const MAX_LIFETIME_DAYS = 3650;
/** The lifetimes the page offers (besides never and a date). */
export const EXPIRY_PRESETS_DAYS = [7, 30, 90] as const;
/** The page warns this long before a key expires. */
export const EXPIRY_WARNING_DAYS = 7;

/** An organisation's cap: whole days, 1 to ten years; null lifts it. */
export const maxLifetimeDaysSchema = z
  .number({ error: "max_key_lifetime_days must be a whole number of days, or null for no cap" })
  .int("max_key_lifetime_days must be a whole number of days")
  .min(1, "max_key_lifetime_days must be at least 1")
  .max(MAX_LIFETIME_DAYS, `max_key_lifetime_days must be at most ${MAX_LIFETIME_DAYS}`)
  .nullable();

/** What a caller asked for: no expiry, or an instant. */
export type ExpiryAsk = { never: true } | { never: false; at: Date };

/**
 * `never`, `<n>d` (1–3650 days from now), a date `YYYY-MM-DD` (the key works through that day, UTC:
 * it ends at the next midnight UTC) or an ISO 8601 instant with a zone. Anything else, a moment not in
 * the future, or one more than ten years ahead: KeyInputError with the accepted forms.
 */
export function parseExpiry(input: string, now: Date = new Date()): ExpiryAsk {
  const text = input.trim().toLowerCase();
  const forms = "use never, a number of days such as 30d, a date such as 2027-01-31, or an ISO 8601 time with a zone";
  if (text === "never" || text === "") return { never: true };
  let at: Date;
  const days = /^(\d{1,5})d$/.exec(text);
  if (days) {
    const n = Number(days[1]);
    if (n < 1 || n > MAX_LIFETIME_DAYS) throw new KeyInputError(`Expiry in days must be between 1 and ${MAX_LIFETIME_DAYS}`);
    at = new Date(now.getTime() + n * DAY_MS);
  } else if (/^\d{4}-\d{2}-\d{2}$/.test(text)) {
    const day = new Date(`${text}T00:00:00.000Z`);
    if (Number.isNaN(day.getTime()) || day.toISOString().slice(0, 10) !== text) throw new KeyInputError(`Not a date: ${input.trim()}`);
    at = new Date(day.getTime() + DAY_MS);
  } else if (/^\d{4}-\d{2}-\d{2}t[\d:.]+(z|[+-]\d\d:\d\d)$/.test(text) && !Number.isNaN(Date.parse(text.toUpperCase()))) {
    at = new Date(text.toUpperCase());
  } else {
    throw new KeyInputError(`Unknown expiry “${input.trim().slice(0, 40)}”: ${forms}`);
  }
  if (at.getTime() <= now.getTime()) throw new KeyInputError("The expiry must be in the future");
  if (at.getTime() > now.getTime() + MAX_LIFETIME_DAYS * DAY_MS)
    throw new KeyInputError(`The expiry must be within ${MAX_LIFETIME_DAYS} days (ten years); choose never for a key that does not expire`);
  return { never: false, at };
}

/** The latest instant a key minted `now` may expire under a cap of `maxDays` (null: no cap). */
export function latestExpiry(maxDays: number | null, now: Date): Date | null {
  return maxDays === null ? null : new Date(now.getTime() + maxDays * DAY_MS);
}

/**
 * The expiry a key gets under its organisation's cap. `capped`: the OAuth token endpoint, whose client
 * cannot choose, gets the cap; everyone else who asks for longer (or for never) is refused, naming the cap.
 */
export function applyLifetimeCap(
  asked: Date | null,
  cap: { maxDays: number | null; organizationName: string },
  now: Date,
  mode: "refuse" | "capped",
): Date | null {
  const latest = latestExpiry(cap.maxDays, now);
  if (!latest || (asked && asked.getTime() <= latest.getTime())) return asked;
  if (mode === "capped") return latest;
  throw new KeyInputError(
    `The organisation “${cap.organizationName}” allows keys of at most ${cap.maxDays} day${cap.maxDays === 1 ? "" : "s"}: ` +
      `choose an expiry on or before ${latest.toISOString().slice(0, 10)}${asked ? "" : " (never is not allowed)"}.`,
  );
}

/** Has the key expired at `now`? (Verification, the views.) */
export const isExpired = (expiresAt: Date | null, now: number = Date.now()): boolean => expiresAt !== null && expiresAt.getTime() <= now;

/** Whole days left (rounded up) when the key expires within the warning window; null otherwise. */
export function daysLeftToWarn(expiresAt: string | null, now: number = Date.now()): number | null {
  if (!expiresAt) return null;
  const left = Date.parse(expiresAt) - now;
  if (left <= 0 || left > EXPIRY_WARNING_DAYS * DAY_MS) return null;
  return Math.ceil(left / DAY_MS);
}
