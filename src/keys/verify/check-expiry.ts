// Expiry is read from the row on every request (src/keys/expiry.ts): a key past its `expiresAt` fails
// with "key expired". The comparison is made now, against the row as read, so a row held in any
// instance's verification cache expires by itself at the same instant everywhere; a changed expiry
// (a roll's scheduled end) is a key write, which the change token carries like any other.
import { isExpired } from "../expiry.js";
import type { VerifyStep } from "./context.js";

export const checkExpiry: VerifyStep = (ctx) => (isExpired(ctx.row?.expiresAt ?? null) ? "expired" : undefined);
