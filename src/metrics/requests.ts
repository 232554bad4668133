// Counts every request by route family (src/metrics/families.ts) and status, and times it. Mounted
// outside the error handler, so a refused request counts with the status it was answered with. A
// streamed answer (the gateway, ctx.respond = false) counts with the status its headers carried, and
// its time runs until the stream ended (a long SSE stream lands in the top buckets).
import type { Middleware } from "koa";
import { routeFamily } from "./families.js";
import type { Metrics } from "./registry.js";

export function countRequests(metrics: Metrics): Middleware {
  return async (ctx, next) => {
    const started = performance.now();
    try {
      await next();
    } finally {
      const status = ctx.respond === false ? ctx.res.statusCode : ctx.status;
      metrics.request(routeFamily(ctx.path), status, (performance.now() - started) / 1000);
    }
  };
}
