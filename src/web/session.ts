// Reads the browser session cookie, and sets/clears it. Cookies: HttpOnly, SameSite=Lax, Secure behind https.
import type { Middleware } from "koa";
import type { Sessions } from "../accounts/sessions.js";
import type { Ctx, KeywardState } from "../http/state.js";

export const SESSION_COOKIE = "kw_session";

export function cookieOptions(secure: boolean, expires?: Date) {
  return { httpOnly: true, sameSite: "lax" as const, secure, path: "/", overwrite: true, signed: false, expires };
}

/** Koa refuses Secure cookies on a plain-http hop; behind an https base URL we set them regardless. */
export function allowSecureCookies(ctx: Ctx, secure: boolean): void {
  if (secure) (ctx.cookies as unknown as { secure: boolean }).secure = true;
}

export function loadSession(sessions: Sessions): Middleware<KeywardState> {
  return async (ctx, next) => {
    const token = ctx.cookies.get(SESSION_COOKIE);
    if (token) {
      const session = await sessions.find(token);
      if (session) ctx.state.session = { ...session, token };
    }
    await next();
  };
}

export function setSessionCookie(ctx: Ctx, token: string, expiresAt: Date, secure: boolean): void {
  allowSecureCookies(ctx, secure);
  ctx.cookies.set(SESSION_COOKIE, token, cookieOptions(secure, expiresAt));
}

export function clearSessionCookie(ctx: Ctx, secure: boolean): void {
  allowSecureCookies(ctx, secure);
  ctx.cookies.set(SESSION_COOKIE, "", { ...cookieOptions(secure), expires: new Date(0) });
}
