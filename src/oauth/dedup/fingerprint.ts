// What makes two dynamic registrations "the same app" (issue 26): the metadata a host sends the same
// way on every connect. Loopback redirect URIs count without their port (RFC 8252 §7.3: they match on
// any port, and hosts pick a free one each time), lists count as sets. Two registrations with the same
// fingerprint are one app to the user who authorizes both (supersede.ts); nothing else reads it.
import { createHash } from "node:crypto";

const LOOPBACK = new Set(["127.0.0.1", "[::1]", "localhost"]);

const str = (v: unknown): string | null => (typeof v === "string" ? v : null);
const list = (v: unknown): string[] =>
  Array.isArray(v) ? [...new Set(v.filter((x): x is string => typeof x === "string"))].sort() : typeof v === "string" ? [v] : [];

/** A redirect URI as the rule compares it: an http loopback one without its port. */
export function normalRedirectUri(uri: string): string {
  const url = URL.parse(uri);
  if (!url || url.protocol !== "http:" || !LOOPBACK.has(url.hostname)) return uri;
  url.port = "";
  return url.href;
}

/** The fields compared, as stored (after the registration policy: grant_types without refresh_token). */
export function fingerprintFields(metadata: Record<string, unknown>) {
  return {
    client_name: str(metadata.client_name),
    redirect_uris: [...new Set(list(metadata.redirect_uris).map(normalRedirectUri))].sort(),
    software_id: str(metadata.software_id),
    software_version: str(metadata.software_version),
    grant_types: list(metadata.grant_types),
    response_types: list(metadata.response_types),
    token_endpoint_auth_method: str(metadata.token_endpoint_auth_method) ?? "client_secret_basic",
  };
}

/** SHA-256 of the fields above in a fixed order. */
export function clientFingerprint(metadata: Record<string, unknown>): string {
  return createHash("sha256")
    .update(JSON.stringify(fingerprintFields(metadata)))
    .digest("hex");
}
