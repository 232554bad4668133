// A key bound to resources (RFC 8707 audiences) works only at those; an unbound key works everywhere.
import { boundResources } from "../view.js";
import type { VerifyStep } from "./context.js";

export const checkResource: VerifyStep = (ctx) => {
  const bound = boundResources(ctx.row?.resource ?? null);
  if (!bound || ctx.resource === undefined) return undefined;
  return bound.includes(ctx.resource) ? undefined : "wrong_resource";
};
