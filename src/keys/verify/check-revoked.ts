// Revocation is read from the row on every request: effective on the very next one.
import type { VerifyStep } from "./context.js";

export const checkRevoked: VerifyStep = (ctx) => (ctx.row?.revokedAt ? "revoked" : undefined);
