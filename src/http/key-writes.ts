// A request that changed what key verification reads (a revoked key, a new role, a removed member)
// is answered only once every instance's verification cache has let go of the old answer, so the
// very next request, on any instance, sees the change (src/keys/lookup/announce.ts). PostgreSQL only: on
// SQLite there is nothing to wait for. Safe methods are not wrapped; a write one of them makes is
// announced as soon as it returns.
// When an instance could not be confirmed in time, the change is committed but the request does not
// report success: 503 change_unconfirmed, saying so (the instances' names go to the log, not the client).
import type { Middleware } from "koa";
import { announceAfter, UnconfirmedChangeError } from "../keys/lookup/announce.js";
import { HttpError } from "./errors.js";

const SAFE = new Set(["GET", "HEAD", "OPTIONS"]);

export function announceKeyWrites(announce: (() => Promise<void>) | undefined): Middleware {
  if (!announce) return (_ctx, next) => next();
  return (ctx, next) => (SAFE.has(ctx.method) ? next() : announceAfter(announce, next).catch(unconfirmed));
}

function unconfirmed(err: unknown): never {
  if (!(err instanceof UnconfirmedChangeError)) throw err;
  const description = `The change is saved (a revoked key IS revoked), but ${err.instances.length} server instance(s) have not confirmed it and may accept the old credentials for up to ${err.seconds} s more. Retry to check again; the operator log names the instances.`;
  throw Object.assign(new HttpError(503, "change_unconfirmed", description, { "Retry-After": String(err.seconds) }), { cause: err });
}
