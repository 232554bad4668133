// Hands oidc-provider's own endpoints to it; everything else stays with our routers.
import mount from "koa-mount";
import type Koa from "koa";
import type { Middleware } from "koa";
import type Provider from "oidc-provider";

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

export function isProviderPath(path: string): boolean {
  return PROVIDER_PATHS.some((p) => path === p || path.startsWith(`${p}/`));
}

export function providerEndpoints(provider: Provider): Middleware {
  // Provider is a Koa application (oidc-provider 9), typed separately.
  const app = mount(provider as unknown as Koa);
  return (ctx, next) => (isProviderPath(ctx.path) ? app(ctx, next) : next());
}
