// What a key calling Keyward's own API may do with limits (the rules of src/keys/mint-policy.ts,
// for issue 28's limits): a limited key never yields a less limited one.
//   - A key with an IP allowlist mints keys with the same allowlist (absent: inherited), or with
//     some of its ranges; any other range is refused.
//   - A key with a rate limit mints keys with at most that limit (absent: inherited).
//   - A key with limits of its own cannot change any key's limits (it could lift its own).
// Browser sessions are the user themself: what they ask for.
import type { KeyView } from "../view.js";

type LimitedCaller = { via: "session" } | { via: "key"; key: Pick<KeyView, "allowedIps" | "rateLimit"> };

export type LimitDecision = { ok: true; allowedIps: string[] | null; rateLimit: number | null } | { ok: false; description: string };

/** `ask`: canonical ranges (or null) and a limit (or null), undefined when not given. */
export function decideMintLimits(caller: LimitedCaller, ask: { allowedIps?: string[] | null; rateLimit?: number | null }): LimitDecision {
  if (caller.via === "session") return { ok: true, allowedIps: ask.allowedIps ?? null, rateLimit: ask.rateLimit ?? null };
  const own = caller.key;
  let allowedIps = ask.allowedIps ?? null;
  if (own.allowedIps) {
    if (ask.allowedIps === undefined || ask.allowedIps === null) allowedIps = own.allowedIps;
    else if (ask.allowedIps.some((r) => !own.allowedIps!.includes(r)))
      return {
        ok: false,
        description: `This key has an IP allowlist (${own.allowedIps.join(" ")}): the keys it mints may use only those ranges`,
      };
  }
  let rateLimit = ask.rateLimit ?? null;
  if (own.rateLimit !== null) {
    if (rateLimit === null) rateLimit = own.rateLimit;
    else if (rateLimit > own.rateLimit)
      return {
        ok: false,
        description: `This key is limited to ${own.rateLimit} requests per minute: the keys it mints may have at most that`,
      };
  }
  return { ok: true, allowedIps, rateLimit };
}

/** Null when the caller may change keys' limits. */
export function limitChangeRefusal(caller: LimitedCaller): string | null {
  if (caller.via === "session") return null;
  return caller.key.allowedIps || caller.key.rateLimit !== null
    ? "This key has limits of its own (an IP allowlist or a rate limit) and cannot change keys' limits: use the account page or a key without limits"
    : null;
}

/**
 * Null when the caller may roll `key`: a roll's replacement keeps the old key's limits, so a caller
 * with limits of its own may roll only a key at least as limited (rolling is no way out of them).
 */
export function rollLimitsRefusal(caller: LimitedCaller, key: Pick<KeyView, "allowedIps" | "rateLimit">): string | null {
  const asLimited = decideMintLimits(caller, { allowedIps: key.allowedIps, rateLimit: key.rateLimit });
  if (!asLimited.ok) return asLimited.description;
  const same = asLimited.rateLimit === key.rateLimit && (asLimited.allowedIps ?? []).join(" ") === (key.allowedIps ?? []).join(" ");
  return same
    ? null
    : "This key has limits of its own: it may roll only keys at least as limited (use the account page or a key without limits)";
}
