// In front of oidc-provider's registration endpoint (RFC 7591): a per-IP rate limit, and the
// redirect URI policy (https, http on loopback, or private-use schemes such as vscode: / cursor:).
// Clients that omit application_type but register a private-use scheme are registered as native.
// A client that deletes itself (RFC 7592) takes its keys with it.
import type { Middleware } from "koa";
import { z } from "zod";
import type { RateLimiter } from "../accounts/rate-limit.js";
import { classifyRedirectUri } from "./redirect-uris.js";
import { readJsonBody } from "./json-body.js";

const metadata = z.looseObject({ redirect_uris: z.array(z.unknown()).max(20, "at most 20 redirect_uris").optional(), application_type: z.string().optional() });

function oauthError(ctx: Parameters<Middleware>[0], status: number, error: string, description: string) {
  ctx.status = status;
  ctx.set("Cache-Control", "no-store");
  ctx.body = { error, error_description: description };
}

export function registrationPolicy(options: { rateLimiter: RateLimiter; perHour: number; onClientDeleted: (clientId: string) => Promise<unknown> }): Middleware {
  const limit = { max: options.perHour, windowMs: 3600_000 };
  return async (ctx, next) => {
    const isRegistration = ctx.method === "POST" && ctx.path === "/reg";
    const isUpdate = ctx.method === "PUT" && ctx.path.startsWith("/reg/");
    if (ctx.method === "DELETE" && ctx.path.startsWith("/reg/")) {
      await next();
      // RFC 7592 deletion: revoke the client's keys before the response leaves.
      if (ctx.status === 204) await options.onClientDeleted(decodeURIComponent(ctx.path.slice("/reg/".length)));
      return;
    }
    if (!isRegistration && !isUpdate) return next();

    if (isRegistration) {
      const count = await options.rateLimiter.hit(`register:ip:${ctx.ip}`, limit);
      if (count > limit.max) {
        ctx.set("Retry-After", "3600");
        return oauthError(ctx, 429, "too_many_requests", `Too many client registrations from this address (limit ${limit.max} per hour). Try again later.`);
      }
    }

    const body = await readJsonBody(ctx, 64 * 1024);
    if (!body.ok) return oauthError(ctx, body.status, body.status === 413 ? "invalid_request" : "invalid_client_metadata", body.message);
    const parsed = metadata.safeParse(body.value);
    if (!parsed.success) return oauthError(ctx, 400, "invalid_client_metadata", parsed.error.issues[0]?.message ?? "client metadata must be a JSON object");

    const controlled = Object.entries(parsed.data).find(([, v]) => typeof v === "string" && /[\u0000-\u001f\u007f]/.test(v));
    if (controlled) return oauthError(ctx, 400, "invalid_client_metadata", `${controlled[0]} must not contain control characters`);

    const kinds = [];
    for (const uri of parsed.data.redirect_uris ?? []) {
      const result = classifyRedirectUri(uri);
      if ("error" in result) return oauthError(ctx, 400, "invalid_redirect_uri", result.error);
      kinds.push(result.kind);
    }
    const patched = { ...parsed.data };
    if (!patched.application_type && kinds.includes("private-use")) patched.application_type = "native";
    // Hand the validated JSON on; oidc-provider reads a pre-parsed body.
    ctx.request.body = patched;
    await next();
  };
}
