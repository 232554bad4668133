// The second log-in step for accounts with 2FA: after the right password the browser holds only a
// short-lived pending-login cookie (server-side row, no session). A TOTP code or a backup code
// turns it into a session; the OAuth flow's return_to survives the detour.
import { Router } from "@koa/router";
import { z } from "zod";
import type { Services } from "../services.js";
import type { Ctx, KeywardState } from "../http/state.js";
import { requestMeta } from "../http/request-meta.js";
import { requireCsrf } from "./csrf.js";
import { sendPage } from "./render.js";
import { allowSecureCookies, cookieOptions } from "./session.js";
import { startSession } from "./start-session.js";
import { createDeviceCookies } from "../accounts/device-cookies.js";
import { deviceToken, rememberDevice } from "./device-cookie.js";
import { newDeviceNotice } from "../mail/notices.js";
import { deviceOrAccountTurns, limitKeys, loginLimits, retryAfterSeconds, tooManyAttempts } from "./login-limits.js";

export const PENDING_LOGIN_COOKIE = "kw_login";
export const SECOND_FACTOR_PATH = "/login/2fa";

const codeForm = z.object({ code: z.string().max(100).default("") });

/** The password was right and the account has 2FA: remember that (server-side) and ask for the code. */
export async function beginSecondFactor(services: Services, ctx: Ctx, userId: string, returnTo: string): Promise<void> {
  const pending = await services.pendingLogins.create(userId, returnTo);
  allowSecureCookies(ctx, services.config.secureCookies);
  ctx.cookies.set(PENDING_LOGIN_COOKIE, pending.token, cookieOptions(services.config.secureCookies, pending.expiresAt));
  ctx.status = 303;
  ctx.redirect(SECOND_FACTOR_PATH);
}

export function secondFactorRoutes(services: Services): Router<KeywardState> {
  const { config, pendingLogins, twoFactor, rateLimiter, audit } = services;
  const deviceCookies = createDeviceCookies(services.db);
  const router = new Router<KeywardState>();
  const limits = loginLimits(config);
  const takeTurn = deviceOrAccountTurns(rateLimiter, limits);

  const clearPending = (ctx: Ctx) => {
    allowSecureCookies(ctx, config.secureCookies);
    ctx.cookies.set(PENDING_LOGIN_COOKIE, "", { ...cookieOptions(config.secureCookies), expires: new Date(0) });
  };
  const page = (ctx: Ctx, error = "", status = 200) => sendPage(ctx, "login-2fa", { title: "Two-factor authentication", error }, status);
  const expired = (ctx: Ctx) => {
    clearPending(ctx);
    ctx.status = 303;
    ctx.redirect("/login?expired=1");
  };

  router.get(SECOND_FACTOR_PATH, async (ctx) => {
    if (!(await pendingLogins.find(ctx.cookies.get(PENDING_LOGIN_COOKIE)))) return expired(ctx);
    await page(ctx);
  });

  router.post(SECOND_FACTOR_PATH, requireCsrf, async (ctx) => {
    const { code } = codeForm.parse(ctx.request.body ?? {});
    const token = ctx.cookies.get(PENDING_LOGIN_COOKIE) ?? "";
    const pending = await pendingLogins.find(token);
    if (!pending) return expired(ctx);
    // Taken before the code is checked. Only a browser that passed the password step gets here, so
    // only someone who knows the password can fill these counters. The owner's browser with a device
    // cookie for this account counts against its own device's limit (a thief who has the password
    // cannot lock it out); any other browser against the account's. The address's limit only counts
    // failures here and never refuses.
    const turn = await takeCodeTurn(ctx, pending.userId);
    if (!turn.ok) {
      ctx.set("Retry-After", retryAfterSeconds(turn.retryAfterMs));
      return page(ctx, tooManyAttempts(turn.retryAfterMs, "code attempts"), 429);
    }
    const result = await twoFactor.verifySecondFactor(pending.userId, code);
    const meta = requestMeta(ctx);
    if (!result.ok) {
      await rateLimiter.hit(limitKeys.ip(ctx.ip), limits.ip);
      await audit.record({
        userId: pending.userId,
        actor: { type: "user", id: null },
        action: "login.failed",
        ...meta,
        details: { reason: "second_factor" },
      });
      return page(ctx, "That code is not valid. Enter the current code from your authenticator app, or one of your backup codes.", 401);
    }
    // Only one request may finish a pending log-in.
    if (!(await pendingLogins.consume(token))) return expired(ctx);
    await turn.succeeded();
    clearPending(ctx);
    const actor = { type: "user" as const, id: pending.userId };
    if (result.method === "backup_code") {
      await audit.record({
        userId: pending.userId,
        actor,
        action: "2fa.backup_code_used",
        ...meta,
        details: { backupCodesLeft: result.backupCodesLeft },
      });
    }
    await audit.record({
      userId: pending.userId,
      actor,
      action: "login.succeeded",
      ...meta,
      details: { method: result.method === "totp" ? "password+totp" : "password+backup_code" },
    });
    // Email: a browser new to this account (no device cookie for it) gets the account a notice (src/mail/notices.ts).
    if (await rememberDevice(deviceCookies, ctx, pending.userId, config.secureCookies))
      newDeviceNotice(services.mailer, services.db, config.baseUrl, { userId: pending.userId, ...requestMeta(ctx), at: new Date() });
    await startSession(services, ctx, pending.userId, pending.returnTo);
  });

  /** The device's own code counter when the browser holds a device cookie for this user (and is under it), else the account's. */
  const takeCodeTurn = async (ctx: Ctx, userId: string) => {
    const device = await deviceCookies.forUser(deviceToken(ctx), userId);
    return takeTurn(device ? limitKeys.deviceCode(device.id) : undefined, limitKeys.secondFactor(userId));
  };

  return router;
}
