// The JSON API accepts a key (Authorization / X-API-Key) or a browser session; with a session,
// state-changing requests must carry the X-CSRF-Token header (the key path needs none: no cookie).
// Each route then names the management scope a key needs (requireScope: keys:*, orgs:*).
import type { Middleware } from "koa";
import type { Services } from "../services.js";
import type { Ctx, KeywardState } from "../http/state.js";
import { HttpError } from "../http/errors.js";
import { managementRefusal, type Caller } from "../keys/mint-policy.js";
import { refusalError } from "../http/insufficient-scope.js";
import type { ManagementScope } from "../scopes/management.js";
import { hasCredential } from "../http/credential.js";
import { requireKey } from "../http/key-auth.js";
import { requireCsrf } from "../web/csrf.js";
import { mcpResourceMetadataUrl } from "../mcp/metadata.js";

export function apiAuth(services: Services): Middleware<KeywardState> {
  // The API is its own resource: a key bound to another one (an OAuth token for /mcp) is refused
  // here, so a client's token cannot mint itself an unscoped key; unbound keys work as before.
  const byKey = requireKey(services.keys, {
    resourceMetadata: mcpResourceMetadataUrl(services.config),
    issuer: services.config.baseUrl,
    resource: `${services.config.baseUrl}/api/api-keys`,
    // A refused key is told why in the connection doctor's words, as at /mcp (issue 26); not recorded.
    doctor: services.doctor,
    doctorWordsOnly: true,
  });
  return async (ctx, next) => {
    if (hasCredential(ctx)) return byKey(ctx, next);
    const session = ctx.state.session;
    if (!session) {
      ctx.status = 401;
      ctx.set("WWW-Authenticate", `Bearer resource_metadata="${mcpResourceMetadataUrl(services.config)}"`);
      ctx.body = {
        error: "unauthorized",
        error_description: "Authentication required: send Authorization: Bearer <key>, X-API-Key: <key>, or a session cookie",
      };
      return;
    }
    ctx.state.auth = { user: session.user, key: null, via: "session" };
    return requireCsrf(ctx, next);
  };
}

/** The caller as the mint policy sees it (src/keys/mint-policy.ts). App keys never get this far. */
export function callerOf(ctx: Ctx): Caller {
  const auth = ctx.state.auth;
  if (!auth) throw new HttpError(401, "unauthorized", "This API acts for a user: use a user's key or a session");
  if (auth.via === "session") return { via: "session" };
  if (auth.via === "app") throw new HttpError(401, "invalid_token", "App keys cannot be used here");
  return auth;
}

/** Route guard: the caller's key must hold `scope` (keys:read … orgs:write); sessions always do. */
export function requireScope(services: Services, scope: ManagementScope): Middleware<KeywardState> {
  return async (ctx, next) => {
    const refusal = managementRefusal(callerOf(ctx), scope);
    if (refusal) throw refusalError(services.config, refusal);
    await next();
  };
}
