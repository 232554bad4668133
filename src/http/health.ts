// Liveness and readiness for load balancers and orchestrators.
//   /healthz — the process is up (no dependencies checked).
//   /readyz  — the database answers; 503 with Retry-After otherwise, so the balancer routes elsewhere.
import type { Middleware } from "koa";
import type { Db } from "../db/client.js";

export function health(db: Db, options: { isStopping: () => boolean }): Middleware {
  return async (ctx, next) => {
    if (ctx.method !== "GET" && ctx.method !== "HEAD") return next();
    if (ctx.path === "/healthz") {
      ctx.set("Cache-Control", "no-store");
      ctx.body = { status: "ok" };
      return;
    }
    if (ctx.path !== "/readyz") return next();
    ctx.set("Cache-Control", "no-store");
    if (options.isStopping()) {
      ctx.status = 503;
      ctx.set("Retry-After", "5");
      ctx.body = { status: "stopping" };
      return;
    }
    try {
      await Promise.race([
        db.$queryRawUnsafe("SELECT 1"),
        new Promise((_, reject) => setTimeout(() => reject(new Error("timeout")), 2000).unref()),
      ]);
      ctx.body = { status: "ready" };
    } catch {
      ctx.status = 503;
      ctx.set("Retry-After", "5");
      ctx.body = { status: "unavailable", error: "database_unreachable" };
    }
  };
}
