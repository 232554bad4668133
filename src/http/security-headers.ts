// Headers every response carries. Pages load scripts and styles only from /static (no inline code).
// The ones that do not depend on the answer are set before it is made: a streamed answer (the
// gateway's, /mcp's) sends its headers before the middleware below returns. The page-only ones
// (CSP, framing) are set once the answer is known to be HTML, which a streamed answer never is.
import type { Middleware } from "koa";

export function securityHeaders(options: { hsts: boolean }): Middleware {
  return async (ctx, next) => {
    ctx.set("X-Content-Type-Options", "nosniff");
    ctx.set("Referrer-Policy", "no-referrer");
    if (options.hsts) ctx.set("Strict-Transport-Security", "max-age=31536000; includeSubDomains");
    await next();
    if (ctx.headerSent || !ctx.response.is("html")) return;
    ctx.set(
      "Content-Security-Policy",
      "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
    );
    ctx.set("X-Frame-Options", "DENY");
  };
}
