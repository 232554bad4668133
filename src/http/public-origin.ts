// Every URL Keyward publishes (discovery documents, registration_client_uri, redirects, `iss`)
// derives from ISSUER, never from the request: the Host header, X-Forwarded-Host/-Proto (even with
// TRUST_PROXY=true) and absolute-form request targets (`GET http://evil.example/… HTTP/1.1`) are
// all attacker-controlled. This pins the request's idea of its own origin — the values Koa and
// oidc-provider build URLs from (ctx.host, ctx.protocol, ctx.origin, ctx.href) — to the issuer's,
// once, on the app's request prototype: every request's `ctx.request` inherits it, at no cost per request.
import type Koa from "koa";

export function pinPublicOrigin(request: Koa["request"], issuer: string): void {
  const base = new URL(issuer);
  const protocol = base.protocol.slice(0, -1);
  Object.defineProperties(request, {
    host: { get: () => base.host, configurable: true },
    hostname: { get: () => base.hostname, configurable: true },
    protocol: { get: () => protocol, configurable: true },
    origin: { get: () => base.origin, configurable: true },
    href: {
      get(this: { originalUrl: string }) {
        const target = URL.parse(this.originalUrl, base.origin);
        return `${base.origin}${target ? `${target.pathname}${target.search}` : "/"}`;
      },
      configurable: true,
    },
  });
}
