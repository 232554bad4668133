// Brute-force limits shared by both log-in steps (database counters, so every instance agrees):
// per email for passwords, per account for second-factor codes, and per IP for both.
import type { Config } from "../config.js";
import type { Limit } from "../accounts/rate-limit.js";

export function loginLimits(config: Pick<Config, "loginMaxFailures" | "loginWindowMs">): { account: Limit; ip: Limit } {
  return {
    account: { max: config.loginMaxFailures, windowMs: config.loginWindowMs },
    ip: { max: config.loginMaxFailures * 4, windowMs: config.loginWindowMs },
  };
}

export const limitKeys = {
  email: (email: string) => `login:email:${email}`,
  ip: (ip: string) => `login:ip:${ip}`,
  secondFactor: (userId: string) => `login:2fa:${userId}`,
  /** Password re-entry on the security page (disable 2FA, new backup codes, password change). */
  reauth: (userId: string) => `reauth:${userId}`,
};

export function tooManyAttempts(waitMs: number, what = "log-in attempts"): string {
  const m = Math.max(1, Math.ceil(waitMs / 60_000));
  return `Too many failed ${what}. Try again in ${m} minute${m > 1 ? "s" : ""}.`;
}
