// A disabled account (an operator's `keyward admin disable`, or the admin pages: src/admin/) is read
// with the row on every request, like revocation: every key of the user fails on the very next one,
// on every instance (the write empties every verification cache: src/keys/lookup/announce.ts and the
// PostgreSQL trigger of migration 0024). Suspended, not revoked: enabling the account again brings the keys back.
import type { VerifyStep } from "./context.js";

export const checkUserDisabled: VerifyStep = (ctx) => (ctx.row?.userDisabledAt ? "user_disabled" : undefined);
