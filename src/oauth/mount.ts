// Hands oidc-provider's own endpoints to it; everything else stays with our routers.
import mount from "koa-mount";
import type Koa from "koa";
import type { Context, Middleware } from "koa";
import type Provider from "oidc-provider";
import { isDatabaseUnavailable } from "../http/unavailable.js";

const PROVIDER_PATHS = [
  "/.well-known/openid-configuration",
  "/.well-known/oauth-authorization-server",
  "/auth",
  "/token",
  "/reg",
  "/jwks",
  "/me",
  "/session",
];

const DATABASE_DOWN = Symbol("database unavailable");

export function isProviderPath(path: string): boolean {
  return PROVIDER_PATHS.some((p) => path === p || path.startsWith(`${p}/`));
}

export function providerEndpoints(provider: Provider): Middleware {
  // Provider is a Koa application (oidc-provider 9), typed separately.
  const app = mount(provider as unknown as Koa);
  // oidc-provider answers its own errors (500 server_error); a database outage is not our bug but
  // a moment to retry: OAuth's temporarily_unavailable with 503 + Retry-After.
  provider.on("server_error", (ctx: Context, err: unknown) => {
    if (isDatabaseUnavailable(err)) (ctx as Context & { [DATABASE_DOWN]?: boolean })[DATABASE_DOWN] = true;
  });
  return async (ctx, next) => {
    if (!isProviderPath(ctx.path)) return next();
    await app(ctx, next);
    if ((ctx as Context & { [DATABASE_DOWN]?: boolean })[DATABASE_DOWN]) {
      ctx.status = 503;
      ctx.set("Retry-After", "5");
      ctx.set("Cache-Control", "no-store");
      ctx.body = { error: "temporarily_unavailable", error_description: "The service is temporarily unavailable. Please try again in a few seconds." };
    }
  };
}
