// The account security page: two-factor authentication (enrol with a QR code, backup codes shown
// once, disable / regenerate with the password), password change, and sessions (sign out everywhere).
// New backup codes are shown through a one-time reveal URL (./one-time-reveal.ts): a reload after
// enrolment or regeneration shows nothing and makes nothing.
import { Router } from "@koa/router";
import { z } from "zod";
import { passwordSchema } from "../accounts/users.js";
import type { Services } from "../services.js";
import type { Ctx, KeywardState } from "../http/state.js";
import { requestMeta } from "../http/request-meta.js";
import { HttpError } from "../http/errors.js";
import { requireCsrf } from "./csrf.js";
import { sendPage } from "./render.js";
import { loginUrlFor } from "./require-login.js";
import { clearSessionCookie } from "./session.js";
import { createDeviceCookies } from "../accounts/device-cookies.js";
import { clearDeviceCookie, rememberDevice } from "./device-cookie.js";
import { accountLimit, limitKeys, loginLimits, retryAfterSeconds, tooManyAttempts } from "./login-limits.js";
import { createOneTimeReveals } from "./one-time-reveal.js";
import { passwordReauth } from "./reauth.js";
import { describeUserAgent } from "../audit/describe.js";
import { linkedProviderNames } from "../upstream-login/identities.js"; // issue 29

export const SECURITY_PAGE = "/app/account/security";
export const BACKUP_CODES_REVEAL = `${SECURITY_PAGE}/backup-codes`;

const confirmForm = z.object({ code: z.string().max(100).default(""), password: z.string().max(5000).default("") });
const passwordForm = z.object({ password: z.string().max(5000).default("") });
const changePasswordForm = z.object({
  current_password: z.string().max(5000).default(""),
  new_password: z.string().max(5000).default(""),
  confirm_password: z.string().max(5000).default(""),
});

const NOTICES: Record<string, string> = {
  "2fa-off": "Two-factor authentication is off. Your backup codes no longer work.",
  password: "Your password was changed. Every other browser session was signed out; your API keys were not touched.",
};

type User = { id: string; email: string };

interface PageExtras {
  error?: string;
  notice?: string;
  /** Shown once, right after they are made. */
  backupCodes?: string[];
}

export function securityRoutes(services: Services): Router<KeywardState> {
  const { users, sessions, pendingLogins, twoFactor, rateLimiter, audit } = services;
  const router = new Router<KeywardState>({ prefix: SECURITY_PAGE });
  const deviceCookies = createDeviceCookies(services.db);
  const reauthLimit = accountLimit(rateLimiter, loginLimits(services.config).account);
  const reveals = createOneTimeReveals(services.db);

  /** Holds the codes for this session and redirects to the page that shows them once. */
  const revealCodes = async (ctx: Ctx, codes: string[], notice: string) => {
    const token = await reveals.hold(ctx.state.session!.token, "backup_codes", { codes, notice });
    ctx.status = 303;
    ctx.redirect(`${BACKUP_CODES_REVEAL}/${token}#backup-codes`);
  };

  const loggedIn = (ctx: Ctx): User => {
    const user = ctx.state.session?.user;
    if (!user) throw new HttpError(401, "unauthorized", "Log in to change your account's security settings.");
    return user;
  };
  const actorOf = (user: User) => ({ type: "user" as const, id: user.id });

  const page = async (ctx: Ctx, user: User, extras: PageExtras = {}, status = 200) => {
    const status2fa = await twoFactor.status(user.id);
    // qrcode is imported only to draw an enrolment QR code, not at start-up (docs/performance.md).
    const qr =
      status2fa.state === "pending"
        ? await (await import("qrcode")).default.toDataURL(status2fa.uri, { errorCorrectionLevel: "M", margin: 1, width: 220 })
        : "";
    await sendPage(
      ctx,
      "security",
      {
        title: "Account security",
        twoFactor: status2fa,
        qr,
        sessionList: (await sessions.listForUser(user.id, ctx.state.session?.token)).map((s) => ({
          ...s,
          browser: describeUserAgent(s.userAgent),
        })),
        error: extras.error ?? "",
        notice: extras.notice ?? "",
        backupCodes: extras.backupCodes ?? null,
        // Issue 29: an account made by an upstream identity provider has no password here (src/upstream-login/).
        upstreamOnly: (await users.hasLocalPassword(user.id))
          ? null
          : await linkedProviderNames(services.db, services.config.upstreamProviders, user.id),
      },
      status,
    );
  };

  const checkPassword = passwordReauth(services);
  const reauthProblem = (ctx: Ctx, user: User, password: string) => checkPassword(ctx, user.id, password);

  router.get("/", async (ctx) => {
    if (!ctx.state.session) return ctx.redirect(loginUrlFor(ctx, SECURITY_PAGE));
    const notice = typeof ctx.query.notice === "string" ? (NOTICES[ctx.query.notice] ?? "") : "";
    await page(ctx, loggedIn(ctx), { notice });
  });

  // Enrolment asks for the password at both steps, like turning 2FA off: a stolen session must not
  // be able to put its own authenticator on the account (and the secret is shown to whoever starts).
  router.post("/2fa/setup", requireCsrf, async (ctx) => {
    const user = loggedIn(ctx);
    const { password } = passwordForm.parse(ctx.request.body ?? {});
    const problem = await reauthProblem(ctx, user, password);
    if (problem) return page(ctx, user, { error: problem.message }, problem.status);
    if (!(await twoFactor.begin(user.id))) return page(ctx, user, { error: "Two-factor authentication is already on." }, 409);
    ctx.status = 303;
    ctx.redirect(`${SECURITY_PAGE}#two-factor`);
  });

  router.post("/2fa/confirm", requireCsrf, async (ctx) => {
    const user = loggedIn(ctx);
    const { code, password } = confirmForm.parse(ctx.request.body ?? {});
    const problem = await reauthProblem(ctx, user, password);
    if (problem) return page(ctx, user, { error: problem.message }, problem.status);
    const key = limitKeys.secondFactor(user.id);
    const turn = await reauthLimit.take(key);
    if (!turn.ok) {
      ctx.set("Retry-After", retryAfterSeconds(turn.retryAfterMs));
      return page(ctx, user, { error: tooManyAttempts(turn.retryAfterMs, "code attempts") }, 429);
    }
    const backupCodes = await twoFactor.confirm(user.id, code);
    if (!backupCodes)
      return page(ctx, user, { error: "That code did not match. Check that your phone's clock is right and enter the current code." }, 400);
    await reauthLimit.clear(key);
    await audit.record({ userId: user.id, actor: actorOf(user), action: "2fa.enabled", ...requestMeta(ctx) });
    await revealCodes(ctx, backupCodes, "Two-factor authentication is on. From now on, log-in asks for a code after your password.");
  });

  router.post("/2fa/backup-codes", requireCsrf, async (ctx) => {
    const user = loggedIn(ctx);
    const { password } = passwordForm.parse(ctx.request.body ?? {});
    const problem = await reauthProblem(ctx, user, password);
    if (problem) return page(ctx, user, { error: problem.message }, problem.status);
    const backupCodes = await twoFactor.regenerateBackupCodes(user.id);
    if (!backupCodes) return page(ctx, user, { error: "Two-factor authentication is off: there are no backup codes to replace." }, 409);
    await audit.record({ userId: user.id, actor: actorOf(user), action: "2fa.backup_codes_regenerated", ...requestMeta(ctx) });
    await revealCodes(ctx, backupCodes, "New backup codes. The old ones no longer work.");
  });

  // The only response that ever contains backup codes: the first view of the reveal URL.
  router.get("/backup-codes/:token", async (ctx) => {
    if (!ctx.state.session) return ctx.redirect(loginUrlFor(ctx));
    const held = await reveals.take(ctx.state.session.token, "backup_codes", ctx.params.token!);
    if (!held)
      return sendPage(
        ctx,
        "reveal-gone",
        { title: "Backup codes already shown", what: "backup codes", back: SECURITY_PAGE, backLabel: "Back to account security" },
        410,
      );
    await page(ctx, loggedIn(ctx), { backupCodes: held.codes, notice: held.notice });
  });

  router.post("/2fa/disable", requireCsrf, async (ctx) => {
    const user = loggedIn(ctx);
    const { password } = passwordForm.parse(ctx.request.body ?? {});
    const problem = await reauthProblem(ctx, user, password);
    if (problem) return page(ctx, user, { error: problem.message }, problem.status);
    if (await twoFactor.disable(user.id)) {
      await audit.record({ userId: user.id, actor: actorOf(user), action: "2fa.disabled", ...requestMeta(ctx) });
    }
    ctx.status = 303;
    ctx.redirect(`${SECURITY_PAGE}?notice=2fa-off`);
  });

  router.post("/password", requireCsrf, async (ctx) => {
    const user = loggedIn(ctx);
    const input = changePasswordForm.parse(ctx.request.body ?? {});
    const fresh = passwordSchema.safeParse(input.new_password);
    if (!fresh.success) return page(ctx, user, { error: fresh.error.issues[0]!.message }, 400);
    if (input.new_password !== input.confirm_password)
      return page(ctx, user, { error: "The new password and its confirmation differ." }, 400);
    const problem = await reauthProblem(ctx, user, input.current_password);
    if (problem) return page(ctx, user, { error: problem.message }, problem.status);
    await users.setPassword(user.id, fresh.data);
    // Whoever else knew the old password is signed out; this browser stays logged in.
    const ended = await sessions.destroyAllForUser(user.id, ctx.state.session!.token);
    await pendingLogins.destroyAllForUser(user.id);
    // Device cookies vouch for browsers that knew the old password: all go, this browser gets a new one.
    await deviceCookies.destroyAllForUser(user.id);
    await rememberDevice(deviceCookies, ctx, user.id, services.config.secureCookies);
    await audit.record({
      userId: user.id,
      actor: actorOf(user),
      action: "password.changed",
      ...requestMeta(ctx),
      details: { otherSessionsEnded: ended },
    });
    ctx.status = 303;
    ctx.redirect(`${SECURITY_PAGE}?notice=password`);
  });

  // Ends every browser session of the account, this one included. API keys are not touched.
  router.post("/sessions/sign-out-everywhere", requireCsrf, async (ctx) => {
    const user = loggedIn(ctx);
    const ended = await sessions.destroyAllForUser(user.id);
    await pendingLogins.destroyAllForUser(user.id);
    await deviceCookies.destroyAllForUser(user.id); // no browser is vouched for any more, this one included
    await audit.record({
      userId: user.id,
      actor: actorOf(user),
      action: "sessions.signed_out_everywhere",
      ...requestMeta(ctx),
      details: { sessionsEnded: ended },
    });
    clearSessionCookie(ctx, services.config.secureCookies);
    clearDeviceCookie(ctx, services.config.secureCookies);
    ctx.status = 303;
    ctx.redirect("/login?signed_out=everywhere");
  });

  return router;
}
