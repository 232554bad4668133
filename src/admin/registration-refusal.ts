// Dynamic client registration (RFC 7591) and its update (RFC 7592 PUT) with the metadata of a blocked
// client (src/admin/client-fingerprint.ts: client_name + redirect_uris) are refused with
// `invalid_client_metadata`. Mounted after registrationPolicy (src/oauth/registration-policy.ts), which
// has validated the JSON body and left it in ctx.request.body.
import type { Middleware } from "koa";
import type { Db } from "../db/client.js";
import { providerRoute } from "../oauth/provider-routes.js";
import { clientFingerprint } from "./client-fingerprint.js";

export function refuseBlockedRegistrations(db: Db): Middleware {
  return async (ctx, next) => {
    const route = providerRoute(ctx.method, ctx.path)?.name;
    if (route !== "registration" && route !== "client_update") return next();
    const body = ctx.request.body;
    if (body && typeof body === "object" && !Array.isArray(body)) {
      const digest = clientFingerprint(body as Record<string, unknown>);
      if ((await db.blockedClient.count({ where: { metadataDigest: digest } })) > 0) {
        ctx.status = 400;
        ctx.set("Cache-Control", "no-store");
        ctx.body = {
          error: "invalid_client_metadata",
          error_description:
            "a client with this client_name and these redirect_uris was blocked by the administrator of this server; it cannot be registered again",
        };
        return;
      }
    }
    await next();
  };
}
