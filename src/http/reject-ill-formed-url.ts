// The URL (path and query string) must be text we accept (src/http/well-formed.ts): no NUL, no
// percent-escapes that are not UTF-8. Refused here, before any route, lookup or oidc-provider sees it.
import type { Middleware } from "koa";
import { HttpError } from "./errors.js";
import { DEFECT_TEXT, percentEncodedDefect } from "./well-formed.js";

export const rejectIllFormedUrl: Middleware = async (ctx, next) => {
  const defect = percentEncodedDefect(ctx.url);
  if (defect) throw new HttpError(400, "invalid_request", `The request URL contains ${DEFECT_TEXT[defect]}`);
  await next();
};
