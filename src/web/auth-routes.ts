// Sign-up, log-in and log-out pages.
import { Router } from "@koa/router";
import { z } from "zod";
import { emailSchema, passwordSchema, UserExistsError } from "../accounts/users.js";
import type { Services } from "../services.js";
import type { Ctx, KeywardState } from "../http/state.js";
import { HttpError } from "../http/errors.js";
import { requireCsrf } from "./csrf.js";
import { sendPage } from "./render.js";
import { safeReturnTo } from "./return-to.js";
import { clearSessionCookie } from "./session.js";
import { startSession } from "./start-session.js";
import { requestMeta } from "../http/request-meta.js";
import { beginSecondFactor } from "./second-factor-routes.js";
import {
  BUSY_ADDRESS_DELAY_MS,
  deviceOrAccountTurns,
  limitKeys,
  type Turn,
  loginLimits,
  retryAfterSeconds,
  tooManyAttempts,
} from "./login-limits.js";
import { createDeviceCookies } from "../accounts/device-cookies.js";
import { deviceToken, rememberDevice } from "./device-cookie.js";
import { newDeviceNotice } from "../mail/notices.js";
import { createVerification } from "../mail/verification.js";
import { askingClient } from "../oauth/interactions-asking-client.js";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const credentials = z.object({
  email: z.string().max(1000).default(""),
  password: z.string().max(5000).default(""),
  return_to: z.string().max(2000).optional(),
});

/** Where every sign-up lands, whether the email was free or not (see POST /signup). */
export const SIGNED_UP = "signed_up";

export function authRoutes(services: Services): Router<KeywardState> {
  const { config, users, sessions, rateLimiter, twoFactor, audit } = services;
  const deviceCookies = createDeviceCookies(services.db);
  const router = new Router<KeywardState>();
  const limits = loginLimits(config);
  const takeTurn = deviceOrAccountTurns(rateLimiter, limits);
  const signupLimit = { max: 20, windowMs: 3600_000 };
  // Email (src/mail/): EMAIL_VERIFICATION=required keeps unconfirmed accounts out; the log-in page offers "Forgot password?" with SMTP.
  const verification = createVerification({
    db: services.db,
    mailer: services.mailer,
    rateLimiter,
    baseUrl: config.baseUrl,
    required: config.mail.verification === "required",
  });

  type LoginLocals = { error?: string; notice?: string; email?: string; returnTo: string; unverifiedEmail?: string };
  // During an authorization the page says which application is asking (src/oauth/interactions-asking-client.ts).
  const loginPage = async (ctx: Ctx, locals: LoginLocals, status = 200) =>
    sendPage(
      ctx,
      "login",
      {
        title: "Log in",
        error: "",
        notice: "",
        email: "",
        allowSignup: config.allowSignup,
        // Issue 29: "Continue with …" buttons (src/upstream-login/), and whether the password form shows.
        upstreams: config.upstreamProviders.map((p) => ({ id: p.id, name: p.name })),
        localPasswords: config.localPasswords,
        forgotPassword: services.mailer.enabled,
        askingApp: (await askingClient(services.db, locals.returnTo)) ?? null,
        ...locals,
      },
      status,
    );

  router.get("/login", async (ctx) => {
    const returnTo = safeReturnTo(ctx.query.return_to);
    if (ctx.state.session) return ctx.redirect(returnTo);
    const notice =
      ctx.query.signed_out === "1"
        ? "You have been logged out."
        : ctx.query.signed_out === "everywhere"
          ? "You have been signed out on every device. Your API keys were not touched: they still work."
          : ctx.query.expired === "1"
            ? "Your log-in timed out before the code was entered. Log in again."
            : ctx.query.session === "expired"
              ? "Your session has expired. Log in again to continue where you were."
              : ctx.query[SIGNED_UP] === "1"
                ? verification.required
                  ? "Thank you for signing up. Follow the link we mailed you to confirm your address, then log in."
                  : "Thank you for signing up. Log in with your email and password to continue."
                : ctx.query.reset === "1"
                  ? "Your password was changed and every browser was signed out. Log in with the new password."
                  : ctx.query.verified === "1"
                    ? "Your email address is confirmed. Log in to continue."
                    : "";
    await loginPage(ctx, { returnTo, notice });
  });

  router.post("/login", requireCsrf, async (ctx) => {
    if (!config.localPasswords)
      throw new HttpError(
        403,
        "local_passwords_off",
        "Log-in with a password is turned off on this server. Use one of the buttons on the log-in page.",
      );
    const input = credentials.parse(ctx.request.body ?? {});
    const returnTo = safeReturnTo(input.return_to);
    const email = input.email.trim().toLowerCase();
    const refuse = (waitMs: number) => {
      ctx.set("Retry-After", retryAfterSeconds(waitMs));
      return loginPage(ctx, { email, returnTo, error: tooManyAttempts(waitMs) }, 429);
    };
    // Every limit is taken before argon2 runs, in one atomic write.
    const turn = await takeLoginTurn(ctx, email);
    if (!turn.ok) return refuse(turn.retryAfterMs);
    const attempt = await users.attempt(email, input.password);
    if (!attempt.ok) {
      // The turn stays taken: it was a failure. The address counts it too (it never refuses; see takeLoginTurn).
      if (turn.via !== "address") await rateLimiter.hit(limitKeys.ip(ctx.ip), limits.ip);
      // On the account's own trail only; the response is the same whether the email exists or not.
      if (attempt.userId)
        await audit.record({
          userId: attempt.userId,
          actor: { type: "user", id: null },
          action: "login.failed",
          ...requestMeta(ctx),
          details: { reason: "password" },
        });
      return loginPage(ctx, { email, returnTo, error: "Invalid email or password." }, 401);
    }
    const user = attempt.user;
    await turn.succeeded();
    // Operators (src/admin/): a disabled account is told so, only once its password was right.
    if (await users.isDisabled(user.id)) {
      await audit.record({
        userId: user.id,
        actor: { type: "user", id: null },
        action: "login.failed",
        ...requestMeta(ctx),
        details: { reason: "disabled" },
      });
      return loginPage(ctx, { email, returnTo, error: "This account has been disabled by an administrator of this server." }, 403);
    }
    // EMAIL_VERIFICATION=required: the right password of an unconfirmed account gets no session, and a fresh link.
    if (!(await verification.mayLogIn(user.id))) {
      verification.sendLink(user.id);
      const error =
        "Confirm your email address first: follow the link we mailed you (check your spam folder too). We just sent another one.";
      return loginPage(ctx, { email, returnTo, error, unverifiedEmail: user.email }, 403);
    }
    // 2FA accounts get no session yet: a second step asks for the code (second-factor-routes.ts).
    if (await twoFactor.isEnabled(user.id)) return beginSecondFactor(services, ctx, user.id, returnTo);
    await audit.record({
      userId: user.id,
      actor: { type: "user", id: user.id },
      action: "login.succeeded",
      ...requestMeta(ctx),
      details: { method: "password" },
    });
    // Email: a browser new to this account (no device cookie for it) gets the account a notice (src/mail/notices.ts).
    if (await rememberDevice(deviceCookies, ctx, user.id, config.secureCookies))
      newDeviceNotice(services.mailer, services.db, config.baseUrl, { userId: user.id, ...requestMeta(ctx), at: new Date() });
    await startSession(services, ctx, user.id, returnTo);
  });

  /** A device's turn, or the account's with the address counted too ("address"). */
  type LoginTurn = Turn | { ok: true; via: "address"; succeeded(): Promise<void> };

  /**
   * Who may have a password checked now, and what a right password clears afterwards.
   *   - A browser with a device cookie for this very account: only its own per-device limit. What
   *     strangers did to the account's and the address's counters does not matter to it. A success
   *     clears the device's counter only (a stranger's count on the account stays).
   *   - Any other browser: the per-account limit (with backoff; refuses right passwords too, or a
   *     guesser could tell a right guess while blocked), then the address's failure count, which never
   *     refuses: over it, the check waits BUSY_ADDRESS_DELAY_MS first, right or wrong.
   */
  const takeLoginTurn = async (ctx: Ctx, email: string): Promise<LoginTurn> => {
    const device = await deviceCookies.forAccount(deviceToken(ctx), email);
    const turn = await takeTurn(device ? limitKeys.devicePassword(device.id) : undefined, limitKeys.email(email));
    if (!turn.ok || turn.via === "device") return turn;
    const ipKey = limitKeys.ip(ctx.ip);
    const ipTurn = await rateLimiter.consume(ipKey, limits.ip);
    if (!ipTurn.ok) await sleep(BUSY_ADDRESS_DELAY_MS);
    return {
      ok: true,
      via: "address",
      succeeded: async () => {
        if (ipTurn.ok) await rateLimiter.refund(ipKey); // the address's limit counts failures only
        await turn.succeeded();
      },
    };
  };

  const signupClosed = () => new HttpError(403, "signup_closed", "Sign-up is closed on this server. Ask an administrator for an account.");
  const signupPage = (ctx: Ctx, locals: { error?: string; email?: string; returnTo: string }, status = 200) =>
    sendPage(ctx, "signup", { title: "Sign up", error: "", email: "", ...locals }, status);

  router.get("/signup", async (ctx) => {
    if (!config.allowSignup) throw signupClosed();
    await signupPage(ctx, { returnTo: safeReturnTo(ctx.query.return_to) });
  });

  /**
   * The answer never says whether the email already had an account: a new account and a taken email
   * both get the same redirect to log in, no session, after the same argon2 work. Who then logs in
   * finds out, as the account's owner should; for anyone else that costs a failed log-in on that
   * account (limited, on its activity page), and the attempt itself is recorded there too.
   */
  router.post("/signup", requireCsrf, async (ctx) => {
    if (!config.allowSignup) throw signupClosed();
    const input = credentials.parse(ctx.request.body ?? {});
    const returnTo = safeReturnTo(input.return_to);
    const email = emailSchema.safeParse(input.email);
    const password = passwordSchema.safeParse(input.password);
    const problem = !email.success ? email.error.issues[0]!.message : !password.success ? password.error.issues[0]!.message : null;
    if (problem) return signupPage(ctx, { email: input.email, returnTo, error: problem }, 400);
    const turn = await rateLimiter.consume(`signup:ip:${ctx.ip}`, signupLimit);
    if (!turn.ok) {
      ctx.set("Retry-After", retryAfterSeconds(turn.retryAfterMs));
      return signupPage(ctx, { email: input.email, returnTo, error: "Too many sign-ups from your address. Try again in an hour." }, 429);
    }
    try {
      const created = await users.create(email.data!, password.data!);
      // Operators (src/admin/): sign-ups are on the instance-wide audit trail.
      await audit.record({ userId: created.id, actor: { type: "user", id: created.id }, action: "user.signed_up", ...requestMeta(ctx) });
      if (verification.required) verification.sendLink(created.id); // Email: the confirmation link
    } catch (err) {
      if (!(err instanceof UserExistsError)) throw err;
      const owner = await users.findByEmail(email.data!);
      if (owner)
        await audit.record({ userId: owner.id, actor: { type: "user", id: null }, action: "signup.email_taken", ...requestMeta(ctx) });
    }
    ctx.status = 303;
    ctx.redirect(`/login?${SIGNED_UP}=1&return_to=${encodeURIComponent(returnTo)}`);
  });

  router.post("/logout", requireCsrf, async (ctx) => {
    if (ctx.state.session) await sessions.destroy(ctx.state.session.token);
    clearSessionCookie(ctx, config.secureCookies);
    ctx.status = 303;
    ctx.redirect("/login?signed_out=1");
  });

  return router;
}
