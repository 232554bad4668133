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

const credentials = z.object({
  email: z.string().max(1000).default(""),
  password: z.string().max(5000).default(""),
  return_to: z.string().max(2000).optional(),
});

const minutes = (ms: number) => Math.max(1, Math.ceil(ms / 60_000));

export function authRoutes(services: Services): Router<KeywardState> {
  const { config, users, sessions, rateLimiter } = services;
  const router = new Router<KeywardState>();
  const loginLimit = { max: config.loginMaxFailures, windowMs: config.loginWindowMs };
  const ipLimit = { max: config.loginMaxFailures * 4, windowMs: config.loginWindowMs };
  const signupLimit = { max: 20, windowMs: 3600_000 };

  const loginPage = (ctx: Ctx, locals: { error?: string; notice?: string; email?: string; returnTo: string }, status = 200) =>
    sendPage(ctx, "login", { title: "Log in", error: "", notice: "", email: "", allowSignup: config.allowSignup, ...locals }, status);

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
            : "";
    await loginPage(ctx, { returnTo, notice });
  });

  router.post("/login", requireCsrf, async (ctx) => {
    const input = credentials.parse(ctx.request.body ?? {});
    const returnTo = safeReturnTo(input.return_to);
    const email = input.email.trim().toLowerCase();
    const emailKey = `login:email:${email}`;
    const ipKey = `login:ip:${ctx.ip}`;
    const wait = Math.max(await rateLimiter.blockedFor(emailKey, loginLimit), await rateLimiter.blockedFor(ipKey, ipLimit));
    if (wait > 0) {
      ctx.set("Retry-After", String(Math.ceil(wait / 1000)));
      return loginPage(ctx, { email, returnTo, error: `Too many failed log-in attempts. Try again in ${minutes(wait)} minute${minutes(wait) > 1 ? "s" : ""}.` }, 429);
    }
    const attempt = await users.attempt(email, input.password);
    if (!attempt.ok) {
      await rateLimiter.hit(emailKey, loginLimit);
      await rateLimiter.hit(ipKey, ipLimit);
      // On the account's own trail only; the response is the same whether the email exists or not.
      if (attempt.userId) await services.audit.record({ userId: attempt.userId, actor: { type: "user", id: null }, action: "login.failed", ...requestMeta(ctx), details: { reason: "password" } });
      return loginPage(ctx, { email, returnTo, error: "Invalid email or password." }, 401);
    }
    const user = attempt.user;
    await rateLimiter.reset(emailKey);
    // 2FA accounts get no session yet: a second step asks for the code (second-factor-routes.ts).
    if (await services.twoFactor.isEnabled(user.id)) return beginSecondFactor(services, ctx, user.id, returnTo);
    await services.audit.record({ userId: user.id, actor: { type: "user", id: user.id }, action: "login.succeeded", ...requestMeta(ctx), details: { method: "password" } });
    await startSession(services, ctx, user.id, returnTo);
  });

  const signupClosed = () => new HttpError(403, "signup_closed", "Sign-up is closed on this server. Ask an administrator for an account.");
  const signupPage = (ctx: Ctx, locals: { error?: string; email?: string; returnTo: string }, status = 200) =>
    sendPage(ctx, "signup", { title: "Sign up", error: "", email: "", ...locals }, status);

  router.get("/signup", async (ctx) => {
    if (!config.allowSignup) throw signupClosed();
    await signupPage(ctx, { returnTo: safeReturnTo(ctx.query.return_to) });
  });

  router.post("/signup", requireCsrf, async (ctx) => {
    if (!config.allowSignup) throw signupClosed();
    const input = credentials.parse(ctx.request.body ?? {});
    const returnTo = safeReturnTo(input.return_to);
    const email = emailSchema.safeParse(input.email);
    const password = passwordSchema.safeParse(input.password);
    const problem = !email.success ? email.error.issues[0]!.message : !password.success ? password.error.issues[0]!.message : null;
    if (problem) return signupPage(ctx, { email: input.email, returnTo, error: problem }, 400);
    const ipKey = `signup:ip:${ctx.ip}`;
    if ((await rateLimiter.hit(ipKey, signupLimit)) > signupLimit.max) {
      return signupPage(ctx, { email: input.email, returnTo, error: "Too many sign-ups from your address. Try again in an hour." }, 429);
    }
    try {
      const user = await users.create(email.data!, password.data!);
      await startSession(services, ctx, user.id, returnTo);
    } catch (err) {
      if (err instanceof UserExistsError) return signupPage(ctx, { email: input.email, returnTo, error: err.message }, 409);
      throw err;
    }
  });

  router.post("/logout", requireCsrf, async (ctx) => {
    if (ctx.state.session) await sessions.destroy(ctx.state.session.token);
    clearSessionCookie(ctx, config.secureCookies);
    ctx.status = 303;
    ctx.redirect("/login?signed_out=1");
  });

  return router;
}
