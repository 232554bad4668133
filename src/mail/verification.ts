// Email verification (EMAIL_VERIFICATION=required): an account logs in only once it has followed the
// link mailed to its address. A link is mailed at sign-up, when an unverified account gives its right
// password at log-in, and on request ("mail me a new link"); per account at most VERIFY_LINKS_PER_HOUR
// links an hour, so nobody can flood an inbox with them. Following a reset link proves the address too.
import type { Db } from "../db/client.js";
import type { RateLimiter } from "../accounts/rate-limit.js";
import type { Mailer } from "./mailer.js";
import { createEmailTokens, VERIFY_TTL_MS } from "./email-tokens.js";
import { verifyEmailMessage } from "./messages.js";

export const VERIFY_LINKS_PER_HOUR = 3;

export interface VerificationDeps {
  db: Db;
  mailer: Mailer;
  rateLimiter: RateLimiter;
  baseUrl: string;
  required: boolean;
}

export function createVerification(deps: VerificationDeps) {
  const { db, mailer, rateLimiter, baseUrl } = deps;
  const tokens = createEmailTokens(db);
  return {
    required: deps.required,

    /** True when the account may log in: verification is off, or its address is confirmed. */
    async mayLogIn(userId: string): Promise<boolean> {
      if (!deps.required) return true;
      const user = await db.user.findUnique({ where: { id: userId }, select: { emailVerifiedAt: true } });
      return Boolean(user?.emailVerifiedAt);
    },

    /**
     * Mails the account a new link, in the background, when it is not verified yet and still under its
     * hourly number of links. Returns at once whatever happens (the caller's answer must not tell).
     */
    sendLink(userId: string): void {
      mailer.background("verification link", async () => {
        const user = await db.user.findUnique({ where: { id: userId }, select: { email: true, emailVerifiedAt: true } });
        if (!user || user.emailVerifiedAt) return;
        const turn = await rateLimiter.consume(`verify:user:${userId}`, { max: VERIFY_LINKS_PER_HOUR, windowMs: 3600_000 });
        if (!turn.ok) return;
        const token = await tokens.issue(userId, "verify", VERIFY_TTL_MS);
        mailer.send(verifyEmailMessage(user.email, `${baseUrl}/verify-email?token=${token}`, VERIFY_TTL_MS / 3600_000));
      });
    },

    /** Uses up a link: the account it confirmed, or null (unknown, used, expired). */
    async confirm(token: string): Promise<string | null> {
      const userId = await tokens.claim(token, "verify");
      if (!userId) return null;
      await markVerified(db, userId);
      await tokens.destroyAllForUser(userId, "verify");
      return userId;
    },

    peek: (token: string | undefined) => tokens.peek(token, "verify"),
  };
}

/** The address is proven (a verification or reset link was followed); a first proof's time is kept. */
export async function markVerified(db: Db, userId: string, now = new Date()): Promise<void> {
  await db.user.updateMany({ where: { id: userId, emailVerifiedAt: null }, data: { emailVerifiedAt: now } });
}

export type Verification = ReturnType<typeof createVerification>;
