// A key bound to a resource (RFC 8707 audience) works only there; an unbound key works everywhere.
import type { VerifyStep } from "./context.js";

export const checkResource: VerifyStep = (ctx) => {
  const bound = ctx.row?.resource;
  if (!bound || ctx.resource === undefined) return undefined;
  return bound === ctx.resource ? undefined : "wrong_resource";
};
