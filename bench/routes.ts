// Benchmark-only routes, mounted by the benchmark's own server entry (bench/serve.ts) and by nothing
// in src/: production has no way to turn them on. The same tiny handler twice: /__bench/open without
// authentication, /__bench/key behind the production requireKey middleware, so the difference between
// the two is the cost of verifying a key. /__bench/stats exposes the key cache's counters (whatever
// keys.cacheStats() returns; last-used writes are counted on the database's side, bench/seed.ts). /__bench/deferred is a
// calibration probe: the open handler answered one event-loop phase later (setImmediate), to show
// how far event-loop timing alone moves req/s on the benchmark machine. See bench/README.md.
import type { Middleware } from "koa";
import compose from "koa-compose";
import type { Services } from "../src/services.js";
import type { KeywardState } from "../src/http/state.js";
import { requireKey } from "../src/http/key-auth.js";
import { mcpResourceMetadataUrl } from "../src/mcp/metadata.js";

export const BENCH_PREFIX = "/__bench/";

export function benchRoutes(services: Services): Middleware<KeywardState> {
  const handler: Middleware<KeywardState> = (ctx) => {
    ctx.set("Cache-Control", "no-store");
    ctx.body = { ok: true };
  };
  // Both routes are composed as an app composes them (koa-compose), so they differ by exactly one
  // middleware: the production key check.
  const open = compose([handler]);
  const byKey = compose([
    requireKey(services.keys, { resourceMetadata: mcpResourceMetadataUrl(services.config), issuer: services.config.baseUrl }),
    handler,
  ]);
  const deferred = compose([(_ctx, next) => new Promise<void>((resolve) => setImmediate(resolve)).then(next), handler]);
  // Not an async function: it hands each route's own promise back to Koa unchanged.
  return (ctx, next) => {
    if (ctx.method !== "GET" || !ctx.path.startsWith(BENCH_PREFIX)) return next();
    switch (ctx.path) {
      case "/__bench/open":
        return open(ctx, next);
      case "/__bench/deferred":
        return deferred(ctx, next);
      case "/__bench/key":
        return byKey(ctx, next);
      case "/__bench/stats":
        ctx.set("Cache-Control", "no-store");
        ctx.body = { keyCache: services.keyLookup.stats(), pid: process.pid, rss: process.memoryUsage().rss };
        return;
      default:
        return next();
    }
  };
}
