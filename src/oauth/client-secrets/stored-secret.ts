// The one rule for client secrets at rest (self-registered confidential clients, `dcr_…`, and the
// operator's resource servers, `rs_…`): the database holds `sha256:<hex>` of the secret, never the
// secret. A fast hash is right here: every secret is random (oidc-provider's 512 bits, a resource
// server's 384), like the external resources' `rsc_` secrets (src/resources/credentials.ts).
// A row an older version wrote still holds its secret in clear until it is upgraded (upgrade.ts);
// it is compared the same way, so both forms keep working.
import { createHash, timingSafeEqual } from "node:crypto";

const PREFIX = "sha256:";
const HASHED = /^sha256:[0-9a-f]{64}$/;

const sha256 = (value: string) => createHash("sha256").update(value, "utf8").digest();

/** True for the stored form. A clear secret never matches it: generated secrets are base64url, without `:`. */
export const isHashedClientSecret = (value: string): boolean => HASHED.test(value);

/** What is stored for a client_secret: its hash (a value already hashed stays as it is). */
export const storedClientSecret = (value: string): string => (isHashedClientSecret(value) ? value : PREFIX + sha256(value).toString("hex"));

/**
 * Constant time: the SHA-256 of the presented secret against the stored hash (or against the
 * SHA-256 of a clear secret an older version stored), always 32 bytes against 32. The stored hash
 * presented as a secret does not match: it is hashed like any other guess.
 */
export function clientSecretMatches(stored: unknown, presented: unknown): boolean {
  if (typeof stored !== "string" || !stored || typeof presented !== "string" || !presented) return false;
  const expected = isHashedClientSecret(stored) ? Buffer.from(stored.slice(PREFIX.length), "hex") : sha256(stored);
  return timingSafeEqual(expected, sha256(presented));
}

/** A client's metadata as it is stored: client_secret hashed, everything else as it is. */
export function withHashedClientSecret<T extends { client_secret?: unknown }>(metadata: T): T {
  const secret = metadata.client_secret;
  return typeof secret === "string" && secret && !isHashedClientSecret(secret)
    ? { ...metadata, client_secret: storedClientSecret(secret) }
    : metadata;
}

/** True when stored metadata still holds its client_secret in clear (written by an older version). */
export function hasClearClientSecret(metadata: { client_secret?: unknown }): boolean {
  return withHashedClientSecret(metadata) !== metadata;
}
