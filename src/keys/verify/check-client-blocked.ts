// A blocked OAuth client (src/admin/): the keys it was issued fail on the very next request, on every
// instance, as a disabled user's do (check-user-disabled.ts). Unblocking the client brings them back.
import type { VerifyStep } from "./context.js";

export const checkClientBlocked: VerifyStep = (ctx) => (ctx.row?.clientBlockedAt ? "client_blocked" : undefined);
