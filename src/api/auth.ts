// The JSON API accepts a key (Authorization / X-API-Key) or a browser session; with a session,
// state-changing requests must carry the X-CSRF-Token header (the key path needs none: no cookie).
import type { Middleware } from "koa";
import type { Services } from "../services.js";
import type { KeywardState } from "../http/state.js";
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
  });
  return async (ctx, next) => {
    if (hasCredential(ctx)) return byKey(ctx, next);
    const session = ctx.state.session;
    if (!session) {
      ctx.status = 401;
      ctx.set("WWW-Authenticate", `Bearer resource_metadata="${mcpResourceMetadataUrl(services.config)}"`);
      ctx.body = { error: "unauthorized", error_description: "Authentication required: send Authorization: Bearer <key>, X-API-Key: <key>, or a session cookie" };
      return;
    }
    ctx.state.auth = { user: session.user, key: null, via: "session" };
    return requireCsrf(ctx, next);
  };
}
