// The password again, before a sensitive change (2FA, password, sign-in methods): limited per
// account like log-in, the turn taken before argon2 so guessing costs the guesser, not the server.
import type { Services } from "../services.js";
import type { Ctx } from "../http/state.js";
import { accountLimit, limitKeys, loginLimits, retryAfterSeconds, tooManyAttempts } from "./login-limits.js";

export type ReauthProblem = { message: string; status: number };

/** Null when `password` is the account's; otherwise what to tell the person, and the status. */
export function passwordReauth(services: Services) {
  const limit = accountLimit(services.rateLimiter, loginLimits(services.config).account);
  return async (ctx: Ctx, userId: string, password: string): Promise<ReauthProblem | null> => {
    const key = limitKeys.reauth(userId);
    const turn = await limit.take(key);
    if (!turn.ok) {
      ctx.set("Retry-After", retryAfterSeconds(turn.retryAfterMs));
      return { message: tooManyAttempts(turn.retryAfterMs, "password attempts"), status: 429 };
    }
    if (!(await services.users.verifyPassword(userId, password))) return { message: "Your current password is not correct.", status: 403 };
    await limit.clear(key);
    return null;
  };
}
