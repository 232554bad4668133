// oidc-provider keeps its own browser session (the `_session` cookie): who logged in, when, and which
// grant each client was given. It must never outlive Keyward's: a provider session counts only while
// the same browser holds the live Keyward session it was made from — the same account, logged in at
// the same moment (the interaction hands the Keyward session's log-in time to the provider as the
// log-in's `ts`, its auth_time). So every way a Keyward session ends (log-out, a password change
// elsewhere, "sign out everywhere", expiry, another user logging in on the same browser) ends the
// provider session too, with its silent re-use of grants.
import type { Middleware } from "koa";
import type Provider from "oidc-provider";
import type { KoaContextWithOIDC } from "oidc-provider";
import type { ActiveSession } from "../accounts/sessions.js";
import type { KeywardState } from "../http/state.js";
import { SESSION_COOKIE } from "../web/session.js";
import { providerRoute } from "./provider-routes.js";

/** The provider's log-in time (epoch seconds) that stands for a Keyward session: when it began. */
export const loginTsOf = (session: Pick<ActiveSession, "createdAt">): number => Math.floor(session.createdAt.getTime() / 1000);

/** True when the provider session's log-in is this Keyward session's (never without one). */
export function boundTo(
  provider: { accountId?: string; loginTs?: number },
  keyward: Pick<ActiveSession, "user" | "createdAt"> | undefined,
): boolean {
  return !!keyward && !!provider.accountId && provider.accountId === keyward.user.id && provider.loginTs === loginTsOf(keyward);
}

/** The Keyward session of a request the provider handles (loaded before it, see app.ts). */
export const keywardSessionOf = (ctx: KoaContextWithOIDC): KeywardState["session"] => (ctx.state as KeywardState).session;

/** The authorization endpoint and its resume (/auth/:uid), however the path is spelt (provider-routes.ts). */
const AUTHORIZATION_ROUTES = new Set(["authorization", "resume"]);

/**
 * Before oidc-provider reads its session for an authorization: a logged-in provider session that is
 * not this browser's live Keyward session is ended (its row destroyed), so the provider starts a
 * fresh one and asks for a log-in, which the interaction answers with the Keyward session's user.
 * Ending it here, rather than asking the provider to switch accounts mid-request, is what keeps a
 * shared browser (A logs out, B logs in) from bouncing between /interaction and /login.
 */
export function endUnboundProviderSessions(provider: Provider): Middleware<KeywardState> {
  const cookie = provider.cookieName("session");
  return async (ctx, next) => {
    const route = providerRoute(ctx.method, ctx.path);
    if (route && AUTHORIZATION_ROUTES.has(route.name)) {
      const id = ctx.cookies.get(cookie, { signed: true }); // signed with the same keys (app.keys)
      const session = id ? await provider.Session.find(id) : undefined;
      if (session?.accountId && !boundTo(session, ctx.state.session)) await session.destroy();
    }
    await next();
  };
}

/**
 * When a response ends or replaces this browser's Keyward session (log-out, log-in, sign-up, sign
 * out everywhere), the provider session this browser holds ends with it, at once. The binding above
 * already refuses it on the next authorization, but it compares log-in times to the second: a user
 * who logs out and back in within one second would otherwise get the old grant's silent re-use.
 */
export function endProviderSessionWithKeyward(provider: Provider): Middleware<KeywardState> {
  const cookie = provider.cookieName("session");
  return async (ctx, next) => {
    await next();
    const setCookies = ctx.response.get("Set-Cookie");
    const list = Array.isArray(setCookies) ? setCookies : setCookies ? [String(setCookies)] : [];
    if (!list.some((c) => c.startsWith(`${SESSION_COOKIE}=`))) return;
    const id = ctx.cookies.get(cookie, { signed: true });
    const session = id ? await provider.Session.find(id) : undefined;
    if (session) await session.destroy();
  };
}
