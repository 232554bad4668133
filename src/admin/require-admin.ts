// Admin pages exist only for instance administrators: anyone else (logged out, a user, a disabled
// admin) gets exactly the 404 of an address with nothing at it, whatever the method or spelling of
// the path (the admin router is mounted without allowedMethods: no 405 tells a route exists).
import type { Middleware } from "koa";
import type { KeywardState } from "../http/state.js";
import { HttpError } from "../http/errors.js";
import type { Operators } from "./operators.js";

export const notFound = () => new HttpError(404, "not_found", "There is nothing at this address.");

export function requireAdmin(operators: Pick<Operators, "isAdmin">): Middleware<KeywardState> {
  return async (ctx, next) => {
    const user = ctx.state.session?.user;
    // Read from the database on every request, not from the session: a revoked admin loses the pages at once.
    if (!user || !(await operators.isAdmin(user.id))) throw notFound();
    await next();
  };
}
