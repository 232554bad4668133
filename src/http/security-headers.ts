// Headers every response carries. Pages load scripts and styles only from /static (no inline code).
import type { Middleware } from "koa";

export function securityHeaders(options: { hsts: boolean }): Middleware {
  return async (ctx, next) => {
    await next();
    if (ctx.headerSent) return; // a streamed answer (the gateway's): too late, and set() would ignore them anyway
    ctx.set("X-Content-Type-Options", "nosniff");
    ctx.set("Referrer-Policy", "no-referrer");
    if (options.hsts) ctx.set("Strict-Transport-Security", "max-age=31536000; includeSubDomains");
    if (ctx.response.is("html")) {
      ctx.set(
        "Content-Security-Policy",
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
      );
      ctx.set("X-Frame-Options", "DENY");
    }
  };
}
