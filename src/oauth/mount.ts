// Hands oidc-provider's own endpoints to it; everything else stays with our routers.
import mount from "koa-mount";
import type Koa from "koa";
import type { Context, Middleware } from "koa";
import type Provider from "oidc-provider";
import { isDatabaseUnavailable } from "../db/unavailable.js";
import { HttpError } from "../http/errors.js";
import { providerRoute } from "./provider-routes.js";
import { RESPONSE_MODES } from "./client-policy.js";

const DATABASE_DOWN = Symbol("database unavailable");

export function providerEndpoints(provider: Provider): Middleware {
  // Provider is a Koa application (oidc-provider 9), typed separately.
  const app = mount(provider as unknown as Koa);
  // oidc-provider answers its own errors (500 server_error); a database outage is not our bug but
  // a moment to retry: OAuth's temporarily_unavailable with 503 + Retry-After.
  provider.on("server_error", (ctx: Context, err: unknown) => {
    if (isDatabaseUnavailable(err)) (ctx as Context & { [DATABASE_DOWN]?: boolean })[DATABASE_DOWN] = true;
  });
  return async (ctx, next) => {
    const route = providerRoute(ctx.method, ctx.path);
    if (!route) return next();
    // oidc-provider delivers an authorization error in the response mode the request asked for, even
    // one the client may not use: a form_post page whose inline script the CSP blocks. Refuse other
    // modes before the provider, on a page (pushed requests are refused by the client's response_modes).
    const mode = route.name === "authorization" ? ctx.query.response_mode : undefined;
    if (mode !== undefined && (typeof mode !== "string" || !RESPONSE_MODES.includes(mode))) {
      throw new HttpError(400, "invalid_request", `response_mode ${String(mode)} is not supported; use ${RESPONSE_MODES.join(" or ")}`);
    }
    await app(ctx, next);
    // oidc-provider always lists form_post; only the modes clients may use are published.
    if (route.name === "discovery" && ctx.status === 200 && typeof ctx.body === "object" && ctx.body !== null) {
      (ctx.body as Record<string, unknown>).response_modes_supported = [...RESPONSE_MODES];
    }
    if ((ctx as Context & { [DATABASE_DOWN]?: boolean })[DATABASE_DOWN]) {
      ctx.status = 503;
      ctx.set("Retry-After", "5");
      ctx.set("Cache-Control", "no-store");
      ctx.body = {
        error: "temporarily_unavailable",
        error_description: "The service is temporarily unavailable. Please try again in a few seconds.",
      };
    }
  };
}
