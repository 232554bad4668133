// One log line per request: method, path (no query string), status, time. No headers, no bodies,
// so a key or a password can never end up in the log.
import type { Middleware } from "koa";
import type { Logger } from "../log.js";

export function requestLog(logger: Logger): Middleware {
  return async (ctx, next) => {
    const start = performance.now();
    try {
      await next();
    } finally {
      logger.info(
        { method: ctx.method, path: ctx.path, status: ctx.status, ms: Math.round((performance.now() - start) * 10) / 10 },
        "request",
      );
    }
  };
}
