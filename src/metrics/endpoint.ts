// GET /metrics: the instance's metrics in Prometheus' text format, for a scraper that sends
// `Authorization: Bearer <METRICS_TOKEN>`. Without METRICS_TOKEN the route is not mounted and
// /metrics answers like any missing page (404). A wrong or missing token gets 401 (compared in
// constant time, on SHA-256 digests so the lengths say nothing either); other methods 405.
import { createHash, timingSafeEqual } from "node:crypto";
import type { Context, Middleware } from "koa";
import type { Metrics } from "./registry.js";

const digest = (value: string) => createHash("sha256").update(value).digest();

export function metricsEndpoint(metrics: Metrics, token: string): Middleware {
  const expected = digest(token);
  return async (ctx, next) => {
    if (ctx.path.toLowerCase() !== "/metrics" && ctx.path.toLowerCase() !== "/metrics/") return next();
    ctx.set("Cache-Control", "no-store");
    // Answered here, as JSON whatever the Accept header says (a scraper asks for text formats).
    if (ctx.method !== "GET" && ctx.method !== "HEAD") {
      ctx.set("Allow", "GET, HEAD");
      return refuse(ctx, 405, "method_not_allowed", "Use GET for /metrics.");
    }
    const presented = /^Bearer +(\S+) *$/i.exec(ctx.get("authorization"))?.[1] ?? "";
    if (!timingSafeEqual(digest(presented), expected)) {
      ctx.set("WWW-Authenticate", 'Bearer realm="metrics"');
      return refuse(ctx, 401, "invalid_token", "Send the metrics token as Authorization: Bearer <METRICS_TOKEN>.");
    }
    ctx.type = metrics.registry.contentType;
    ctx.body = await metrics.registry.metrics();
  };
}

function refuse(ctx: Context, status: number, error: string, description: string): void {
  ctx.status = status;
  ctx.body = { error, error_description: description };
}
