// IP allowlists (issue 28): a key whose row names CIDR ranges works only from a client address in
// one of them. The address is the request's (src/http/client-address.ts: the socket, or what the
// trusted proxies saw; never a forwarded header from an untrusted peer), passed by key-auth.ts.
// Introspection passes none: it describes a key, it does not use it.
import { addressAllowed } from "../limits/cidr.js";
import type { VerifyStep } from "./context.js";

export const checkAddress: VerifyStep = (ctx) => {
  const column = ctx.row?.allowedIps;
  if (!column || ctx.address === undefined) return undefined;
  return addressAllowed(column, ctx.address) ? undefined : "address_not_allowed";
};
