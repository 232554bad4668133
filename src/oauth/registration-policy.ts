// In front of oidc-provider's registration endpoints (RFC 7591 POST, RFC 7592 PUT), whatever
// spelling of the path reaches them (provider-routes.ts): a per-IP rate limit on registrations, a
// size limit, and refusal at the edge of bodies oidc-provider must never store (ill-formed Unicode,
// control characters). The redirect URI and metadata policy itself applies to every client however
// it arrived (client-policy.ts); deleting a client revokes its keys (client-adapter.ts).
import type { Middleware } from "koa";
import { z } from "zod";
import type { RateLimiter } from "../accounts/rate-limit.js";
import { readJsonBody } from "./json-body.js";
import { providerRoute } from "./provider-routes.js";
import { textProblem } from "./client-text.js";
import { firstStringProblem } from "../http/well-formed.js";

const metadata = z.looseObject({ redirect_uris: z.array(z.unknown()).max(20, "at most 20 redirect_uris").optional() });

function oauthError(ctx: Parameters<Middleware>[0], status: number, error: string, description: string) {
  ctx.status = status;
  ctx.set("Cache-Control", "no-store");
  ctx.body = { error, error_description: description };
}

export function registrationPolicy(options: { rateLimiter: RateLimiter; perHour: number }): Middleware {
  const limit = { max: options.perHour, windowMs: 3600_000 };
  return async (ctx, next) => {
    const route = providerRoute(ctx.method, ctx.path)?.name;
    if (route !== "registration" && route !== "client_update") return next();

    if (route === "registration") {
      // One atomic check-and-increment (parallel registrations cannot pass or lose counts).
      const turn = await options.rateLimiter.consume(`register:ip:${ctx.ip}`, limit);
      if (!turn.ok) {
        ctx.set("Retry-After", "3600");
        return oauthError(
          ctx,
          429,
          "too_many_requests",
          `Too many client registrations from this address (limit ${limit.max} per hour). Try again later.`,
        );
      }
    }

    const body = await readJsonBody(ctx, 64 * 1024);
    if (!body.ok) return oauthError(ctx, body.status, body.status === 413 ? "invalid_request" : "invalid_client_metadata", body.message);
    const parsed = metadata.safeParse(body.value);
    if (!parsed.success)
      return oauthError(ctx, 400, "invalid_client_metadata", parsed.error.issues[0]?.message ?? "client metadata must be a JSON object");
    // Any string at any depth, member names included (a stack walk: a 64 kB body can nest deep).
    const bad = firstStringProblem(parsed.data, textProblem);
    if (bad) return oauthError(ctx, 400, "invalid_client_metadata", `${bad.at} ${bad.problem}`);

    // Hand the validated JSON on; oidc-provider reads a pre-parsed body.
    ctx.request.body = parsed.data;
    await next();
  };
}
