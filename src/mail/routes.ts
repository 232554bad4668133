// The mail pages: "Forgot password?" (ask for a link, then choose a new password) and email
// verification (confirm, ask for a new link). Every form is CSRF-protected like the log-in form. The
// answers never tell whether an address has an account: asking for a link gets the same page, after
// the same work (the account is looked up in the background, after the answer). Links are single-use
// tokens stored hashed (src/mail/email-tokens.ts). Without SMTP_URL these pages do not exist (404).
import { Router } from "@koa/router";
import { z } from "zod";
import type { Services } from "../services.js";
import type { Ctx, KeywardState } from "../http/state.js";
import { HttpError } from "../http/errors.js";
import { requestMeta } from "../http/request-meta.js";
import { requireCsrf } from "../web/csrf.js";
import { sendPage } from "../web/render.js";
import { clearSessionCookie } from "../web/session.js";
import { retryAfterSeconds } from "../web/login-limits.js";
import { passwordSchema } from "../accounts/users.js";
import { createDeviceCookies } from "../accounts/device-cookies.js";
import { createEmailTokens, RESET_TTL_MS } from "./email-tokens.js";
import { passwordResetMessage } from "./messages.js";
import { createVerification, markVerified } from "./verification.js";

/** Links asked for one address per hour (more are silently not sent: the answer stays the same). */
export const RESET_LINKS_PER_HOUR = 3;
/** Link requests (reset or verification) one client address may make per hour; more get 429. */
export const LINK_REQUESTS_PER_IP_HOUR = 20;

const emailForm = z.object({ email: z.string().max(1000).default("") });
const tokenField = z.string().max(100).default("");
const resetForm = z.object({
  token: tokenField,
  new_password: z.string().max(5000).default(""),
  confirm_password: z.string().max(5000).default(""),
});
const verifyForm = z.object({ token: tokenField });

const SENT_RESET = "If an account uses that address, we mailed it a link to choose a new password. The link works once, for 30 minutes.";
const SENT_VERIFY = "If an account with that address is waiting for confirmation, we mailed it a new link.";
const BAD_LINK = "This link is not valid: it was used already, has expired, or was copied incompletely.";

export function mailRoutes(services: Services): Router<KeywardState> {
  const { config, db, mailer, rateLimiter, users, sessions, pendingLogins, audit } = services;
  const router = new Router<KeywardState>();
  const tokens = createEmailTokens(db);
  const deviceCookies = createDeviceCookies(db);
  const verification = createVerification({
    db,
    mailer,
    rateLimiter,
    baseUrl: config.baseUrl,
    required: config.mail.verification === "required",
  });
  const ipLimit = { max: LINK_REQUESTS_PER_IP_HOUR, windowMs: 3600_000 };

  const requireMail = async (_ctx: Ctx, next: () => Promise<unknown>) => {
    if (!mailer.enabled) throw new HttpError(404, "not_found", "Not found");
    await next();
  };

  /** One client address's turn at asking for a link; false after a 429 page was sent. */
  const linkTurn = async (ctx: Ctx, view: string, locals: { title: string; email: string }): Promise<boolean> => {
    const turn = await rateLimiter.consume(`maillink:ip:${ctx.ip}`, ipLimit);
    if (turn.ok) return true;
    ctx.set("Retry-After", retryAfterSeconds(turn.retryAfterMs));
    const minutes = Math.max(1, Math.ceil(turn.retryAfterMs / 60_000));
    const error = `Too many links asked for from your address. Try again in ${minutes} minute${minutes > 1 ? "s" : ""}.`;
    await sendPage(ctx, view, { notice: "", token: "", ...locals, error }, 429);
    return false;
  };

  // --- Forgot password ---------------------------------------------------------------------------

  const forgotPage = (ctx: Ctx, locals: { error?: string; notice?: string; email?: string }, status = 200) =>
    sendPage(ctx, "forgot-password", { title: "Forgot password", error: "", notice: "", email: "", ...locals }, status);

  router.get("/forgot-password", requireMail, async (ctx) => forgotPage(ctx, {}));

  router.post("/forgot-password", requireMail, requireCsrf, async (ctx) => {
    const email = emailForm
      .parse(ctx.request.body ?? {})
      .email.trim()
      .toLowerCase();
    if (!(await linkTurn(ctx, "forgot-password", { title: "Forgot password", email }))) return;
    // Everything about the account happens after the answer, so known and unknown addresses take the same time.
    mailer.background("password reset link", async () => {
      const user = await users.findByEmail(email);
      if (!user) return;
      const turn = await rateLimiter.consume(`reset:email:${user.email}`, { max: RESET_LINKS_PER_HOUR, windowMs: 3600_000 });
      if (!turn.ok) return;
      const token = await tokens.issue(user.id, "reset", RESET_TTL_MS);
      mailer.send(passwordResetMessage(user.email, `${config.baseUrl}/reset-password?token=${token}`, RESET_TTL_MS / 60_000));
    });
    await forgotPage(ctx, { notice: SENT_RESET, email });
  });

  const resetPage = (ctx: Ctx, locals: { error?: string; token: string }, status = 200) =>
    sendPage(ctx, "reset-password", { title: "Choose a new password", error: "", ...locals }, status);

  router.get("/reset-password", requireMail, async (ctx) => {
    const token = typeof ctx.query.token === "string" ? ctx.query.token : "";
    if (!(await tokens.peek(token, "reset"))) return resetPage(ctx, { token: "", error: BAD_LINK }, 400);
    await resetPage(ctx, { token });
  });

  router.post("/reset-password", requireMail, requireCsrf, async (ctx) => {
    const input = resetForm.parse(ctx.request.body ?? {});
    // The password is checked before the link is used up: a typo must not cost the link.
    const fresh = passwordSchema.safeParse(input.new_password);
    if (!fresh.success) return resetPage(ctx, { token: input.token, error: fresh.error.issues[0]!.message }, 400);
    if (input.new_password !== input.confirm_password)
      return resetPage(ctx, { token: input.token, error: "The new password and its confirmation differ." }, 400);
    const userId = await tokens.claim(input.token, "reset");
    if (!userId) return resetPage(ctx, { token: "", error: BAD_LINK }, 400);
    await users.setPassword(userId, fresh.data);
    // Whoever knew the old password, or holds a session, is out; the other links mailed before die too.
    const ended = await sessions.destroyAllForUser(userId);
    await pendingLogins.destroyAllForUser(userId);
    await deviceCookies.destroyAllForUser(userId);
    await tokens.destroyAllForUser(userId, "reset");
    await markVerified(db, userId); // the link reached the address
    await audit.record({
      userId,
      actor: { type: "user", id: userId },
      action: "password.reset",
      ...requestMeta(ctx),
      details: { sessionsEnded: ended },
    });
    clearSessionCookie(ctx, config.secureCookies);
    ctx.status = 303;
    ctx.redirect("/login?reset=1");
  });

  // --- Email verification ------------------------------------------------------------------------

  const verifyPage = (ctx: Ctx, locals: { error?: string; notice?: string; token?: string; email?: string }, status = 200) =>
    sendPage(ctx, "verify-email", { title: "Confirm your email address", error: "", notice: "", token: "", email: "", ...locals }, status);

  // The link opens a page with a button: a mail scanner fetching links confirms nothing.
  router.get("/verify-email", requireMail, async (ctx) => {
    const token = typeof ctx.query.token === "string" ? ctx.query.token : "";
    if (!(await verification.peek(token))) return verifyPage(ctx, { error: BAD_LINK }, 400);
    await verifyPage(ctx, { token });
  });

  router.post("/verify-email", requireMail, requireCsrf, async (ctx) => {
    const { token } = verifyForm.parse(ctx.request.body ?? {});
    const userId = await verification.confirm(token);
    if (!userId) return verifyPage(ctx, { error: BAD_LINK }, 400);
    await audit.record({ userId, actor: { type: "user", id: userId }, action: "email.verified", ...requestMeta(ctx) });
    ctx.status = 303;
    ctx.redirect("/login?verified=1");
  });

  router.post("/verify-email/resend", requireMail, requireCsrf, async (ctx) => {
    const email = emailForm
      .parse(ctx.request.body ?? {})
      .email.trim()
      .toLowerCase();
    if (!(await linkTurn(ctx, "verify-email", { title: "Confirm your email address", email }))) return;
    mailer.background("verification link", async () => {
      const user = await users.findByEmail(email);
      if (user) verification.sendLink(user.id);
    });
    await verifyPage(ctx, { notice: SENT_VERIFY, email });
  });

  return router;
}
