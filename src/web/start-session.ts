// Ends a log-in: a new browser session (replacing the one the browser had), then on to returnTo.
import type { Services } from "../services.js";
import type { Ctx } from "../http/state.js";
import { setSessionCookie } from "./session.js";

export async function startSession(
  services: Pick<Services, "sessions" | "config">,
  ctx: Ctx,
  userId: string,
  returnTo: string,
): Promise<void> {
  if (ctx.state.session) await services.sessions.destroy(ctx.state.session.token);
  const s = await services.sessions.create(userId, { ip: ctx.ip, userAgent: ctx.get("user-agent") });
  setSessionCookie(ctx, s.token, s.expiresAt, services.config.secureCookies);
  ctx.status = 303;
  ctx.redirect(returnTo);
}
