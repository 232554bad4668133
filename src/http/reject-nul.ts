// A NUL character (%00) is never meaningful in a URL here, and PostgreSQL text cannot store one:
// refuse it before any route or lookup sees it.
import type { Middleware } from "koa";
import { HttpError } from "./errors.js";

export const rejectNulInUrl: Middleware = async (ctx, next) => {
  if (/%00|\u0000/.test(ctx.url)) throw new HttpError(400, "invalid_request", "The request URL contains a NUL character");
  await next();
};
