// CSRF protection for every state-changing browser request. A logged-in user's token lives in the
// session row; before log-in (the log-in and sign-up forms) it is a random cookie the form repeats.
import { timingSafeEqual } from "node:crypto";
import type { Middleware } from "koa";
import { randomToken } from "../accounts/sessions.js";
import { HttpError } from "../http/errors.js";
import type { Ctx, KeywardState } from "../http/state.js";
import { allowSecureCookies, cookieOptions } from "./session.js";

export const CSRF_COOKIE = "kw_csrf";
export const CSRF_HEADER = "x-csrf-token";

function expected(ctx: Ctx): string | undefined {
  return ctx.state.session?.csrfToken ?? ctx.cookies.get(CSRF_COOKIE);
}

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Makes sure a token exists for the forms this page renders (ctx.state.csrfToken). */
export function provideCsrfToken(secure: boolean): Middleware<KeywardState> {
  return async (ctx, next) => {
    let token = expected(ctx);
    if (!token) {
      token = randomToken();
      allowSecureCookies(ctx, secure);
      ctx.cookies.set(CSRF_COOKIE, token, cookieOptions(secure));
    }
    ctx.state.csrfToken = token;
    await next();
  };
}

/** Rejects a state-changing request whose token (form field `_csrf` or header X-CSRF-Token) does not match. */
export const requireCsrf: Middleware<KeywardState> = async (ctx, next) => {
  if (!["GET", "HEAD", "OPTIONS"].includes(ctx.method)) {
    const body = ctx.request.body as Record<string, unknown> | undefined;
    const sent = ctx.get(CSRF_HEADER) || (typeof body?._csrf === "string" ? body._csrf : "");
    const want = expected(ctx);
    if (!sent || !want || !same(sent, want)) {
      throw new HttpError(403, "invalid_csrf_token", "Missing or invalid CSRF token. Reload the page and try again.");
    }
  }
  await next();
};
