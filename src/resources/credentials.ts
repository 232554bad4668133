// The credentials of an external resource: the separate server authenticates with them to introspect
// keys bound to it (src/resources/introspection.ts) and to follow its event stream (events-route.ts).
// A client id (`rsc_…`, shown to the operator) and a secret of 256 random bits, stored as its SHA-256
// like a key (a fast hash is right for that much entropy), printed once and never again. Rotating
// replaces both: the old pair stops working at once, on every instance (the resource lookup's cache
// lets go of it with the change token).
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { randomBase62 } from "../keys/format.js";

export const CREDENTIAL_PREFIX = "rsc_";

export interface ResourceCredentials {
  clientId: string;
  clientSecret: string;
}

export function newCredentials(): ResourceCredentials & { secretHash: string } {
  const clientSecret = randomBytes(32).toString("base64url");
  return { clientId: `${CREDENTIAL_PREFIX}${randomBase62(22)}`, clientSecret, secretHash: secretHashOf(clientSecret) };
}

export const secretHashOf = (secret: string): string => createHash("sha256").update(secret, "utf8").digest("hex");

/** Constant-time: the SHA-256 of `secret` against the stored hex. */
export function secretMatches(storedHex: string, secret: string): boolean {
  const stored = Buffer.from(storedHex, "hex");
  const given = createHash("sha256").update(secret, "utf8").digest();
  return stored.length === 32 && timingSafeEqual(stored, given);
}

/** A string that could be a credential id (anything else is refused before any database read). */
export const looksLikeCredentialId = (id: string): boolean => /^rsc_[0-9A-Za-z]{22}$/.test(id);
