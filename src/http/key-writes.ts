// A request that changed what key verification reads (a revoked key, a new role, a removed member)
// is answered only once every instance's verification cache has let go of the old answer, so the
// very next request, on any instance, sees the change (src/keys/lookup/announce.ts). PostgreSQL only: on
// SQLite there is nothing to wait for. Safe methods are not wrapped; a write one of them makes is
// announced as soon as it returns.
import type { Middleware } from "koa";
import { announceAfter } from "../keys/lookup/announce.js";

const SAFE = new Set(["GET", "HEAD", "OPTIONS"]);

export function announceKeyWrites(announce: (() => Promise<void>) | undefined): Middleware {
  if (!announce) return (_ctx, next) => next();
  return (ctx, next) => (SAFE.has(ctx.method) ? next() : announceAfter(announce, next));
}
