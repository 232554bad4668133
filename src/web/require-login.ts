// Pages that need a logged-in user send everyone else to /login, and back here afterwards.
import type { Middleware } from "koa";
import type { PublicUser } from "../accounts/users.js";
import type { Ctx, KeywardState } from "../http/state.js";

export function loginUrl(returnTo: string): string {
  return `/login?return_to=${encodeURIComponent(returnTo)}`;
}

class RedirectSignal extends Error {}

/** The logged-in user; otherwise redirects to log-in and stops the handler (see endOnRedirect). */
export function requireLogin(ctx: Ctx): PublicUser {
  const user = ctx.state.session?.user;
  if (!user) {
    ctx.redirect(loginUrl(ctx.originalUrl));
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
