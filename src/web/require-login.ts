// Pages that need a logged-in user send everyone else to /login, and back here afterwards.
import type { Middleware } from "koa";
import type { PublicUser } from "../accounts/users.js";
import type { Ctx, KeywardState } from "../http/state.js";
import { SESSION_COOKIE } from "./session.js";

export function loginUrl(returnTo: string): string {
  return `/login?return_to=${encodeURIComponent(returnTo)}`;
}

/** The log-in URL for this request: it says "session expired" when the browser sent a session cookie that no longer works. */
export function loginUrlFor(ctx: Ctx, returnTo: string = ctx.originalUrl): string {
  return ctx.cookies.get(SESSION_COOKIE) ? `${loginUrl(returnTo)}&session=expired` : loginUrl(returnTo);
}

class RedirectSignal extends Error {}

/** The logged-in user; otherwise redirects to log-in and stops the handler (see endOnRedirect). */
export function requireLogin(ctx: Ctx): PublicUser {
  const user = ctx.state.session?.user;
  if (!user) {
    ctx.redirect(loginUrlFor(ctx));
    throw new RedirectSignal();
  }
  return user;
}

/** Router middleware that ends the request quietly after requireLogin redirected. */
export const endOnRedirect: Middleware<KeywardState> = async (_ctx, next) => {
  try {
    await next();
  } catch (err) {
    if (!(err instanceof RedirectSignal)) throw err;
  }
};
