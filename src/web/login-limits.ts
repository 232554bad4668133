// Brute-force limits shared by both log-in steps and the security page (database counters, so every
// instance agrees). Every limit is taken BEFORE the work it guards (argon2, a code check) with one
// atomic write, so parallel requests cannot run more checks than the limit between them.
//   - per device (a device cookie the browser got after a complete log-in to the account it names):
//     its own attempts, cleared by a success. A browser that presents one is judged by this limit only,
//     so strangers who fill the account's or the address's counters cannot lock the owner out. Over it,
//     the device cookie is ignored for the window and the limits below apply.
//   - per account (email typed, account for codes and re-entered passwords): attempts, cleared by a
//     success; each time an account fills its window again within a day, the next wait doubles.
//   - per client address: failures only (a right answer gives its attempt back), and it never refuses:
//     an address over it gets every password check slowed by a fixed wait (password spraying), but a
//     right password still logs in.
import type { Config } from "../config.js";
import type { Consumed, Limit, RateLimiter } from "../accounts/rate-limit.js";

export function loginLimits(config: Pick<Config, "loginMaxFailures" | "loginWindowMs">): { account: Limit; device: Limit; ip: Limit } {
  return {
    account: { max: config.loginMaxFailures, windowMs: config.loginWindowMs },
    device: { max: config.loginMaxFailures, windowMs: config.loginWindowMs },
    ip: { max: config.loginMaxFailures * 4, windowMs: config.loginWindowMs },
  };
}

/**
 * How long every password check from an address over its failure limit waits before it runs, right
 * or wrong (so the wait tells nothing). Slows a sprayer down without refusing anyone's right password.
 */
export const BUSY_ADDRESS_DELAY_MS = 2000;

export const limitKeys = {
  email: (email: string) => `login:email:${email}`,
  ip: (ip: string) => `login:ip:${ip}`,
  secondFactor: (userId: string) => `login:2fa:${userId}`,
  /**
   * A device cookie's own counters (by the SHA-256 of its token): passwords, and codes apart, so a right password never resets the code
   * count.
   */
  devicePassword: (deviceId: string) => `login:device:${deviceId}`,
  deviceCode: (deviceId: string) => `login:device-2fa:${deviceId}`,
  /** Password re-entry on the security page (enrol / disable 2FA, new backup codes, password change). */
  reauth: (userId: string) => `reauth:${userId}`,
};

const DAY_MS = 24 * 3600_000;
/** The longest backoff: 2^6 windows (16 hours at the default 15 minutes), never more than a day. */
const MAX_DOUBLINGS = 6;

/** A per-account limit with backoff: `take` before checking, `clear` after a success. */
export function accountLimit(rateLimiter: RateLimiter, base: Limit) {
  const strikesKey = (key: string) => `${key}:strikes`;
  const strikes = { max: 1_000_000, windowMs: DAY_MS }; // counts only; the column is a 32-bit Int
  const limitFor = async (key: string): Promise<Limit> => {
    const filled = await rateLimiter.count(strikesKey(key), DAY_MS);
    const doublings = Math.min(Math.max(filled - 1, 0), MAX_DOUBLINGS);
    return { max: base.max, windowMs: Math.min(base.windowMs * 2 ** doublings, Math.max(base.windowMs, DAY_MS)) };
  };
  return {
    async take(key: string): Promise<Consumed> {
      const turn = await rateLimiter.consume(key, await limitFor(key));
      // This attempt filled the window: the next window the account fills lasts twice as long.
      if (turn.ok && turn.count >= base.max) await rateLimiter.consume(strikesKey(key), strikes);
      return turn;
    },
    async clear(key: string): Promise<void> {
      await rateLimiter.reset(key);
      await rateLimiter.reset(strikesKey(key));
    },
  };
}

/** A turn to check an answer now, and what a right answer clears afterwards. */
export type Turn = { ok: true; via: "device" | "account"; succeeded(): Promise<void> } | { ok: false; retryAfterMs: number };

/**
 * The rule both log-in steps share: a browser holding a device cookie for this account (`deviceKey`,
 * its counter) is judged by that device's own limit while it is under it, and a success clears only
 * that; any other browser, or one over its device's limit, by the account's limit with backoff.
 */
export function deviceOrAccountTurns(rateLimiter: RateLimiter, limits: { account: Limit; device: Limit }) {
  const account = accountLimit(rateLimiter, limits.account);
  return async (deviceKey: string | undefined, accountKey: string): Promise<Turn> => {
    if (deviceKey) {
      const own = await rateLimiter.consume(deviceKey, limits.device);
      if (own.ok) return { ok: true, via: "device", succeeded: () => rateLimiter.reset(deviceKey) };
      // Over the device's own limit: the device cookie counts for nothing this window.
    }
    const turn = await account.take(accountKey);
    return turn.ok ? { ok: true, via: "account", succeeded: () => account.clear(accountKey) } : turn;
  };
}

export function tooManyAttempts(waitMs: number, what = "log-in attempts"): string {
  const m = Math.max(1, Math.ceil(waitMs / 60_000));
  return `Too many failed ${what}. Try again in ${m} minute${m > 1 ? "s" : ""}.`;
}

export const retryAfterSeconds = (waitMs: number) => String(Math.max(1, Math.ceil(waitMs / 1000)));
