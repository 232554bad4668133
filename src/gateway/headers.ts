// What crosses the gateway in headers, both ways.
//
// To the upstream: the client's headers minus its credentials (Authorization, X-API-Key, Cookie,
// DPoP), minus what only a proxy may say (Forwarded, X-Forwarded-*, X-Real-IP) and minus every
// X-Keyward-* the client sent; hop-by-hop headers end here (RFC 9110 §7.6.1). Then the gateway's own
// X-Keyward-* identity headers. Their values are ids, scope names and an email: anything outside
// printable ASCII, and % and space, is percent-encoded (UTF-8), so no value can carry CR/LF or
// break the header; decodeURIComponent gives the value back.
//
// To the client: the upstream's headers minus hop-by-hop ones, minus what would act on Keyward's own
// origin or name the upstream (Set-Cookie, WWW-Authenticate, Location, Content-Location, Alt-Svc),
// and never replacing a header Keyward set (its security headers).
import type { IncomingHttpHeaders } from "node:http";
import type { AppAuth, KeyAuth } from "../http/state.js";

const HOP_BY_HOP = [
  "connection",
  "keep-alive",
  "proxy-connection",
  "proxy-authenticate",
  "proxy-authorization",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
];

const NOT_FORWARDED = new Set([
  ...HOP_BY_HOP,
  "host",
  "content-length", // recomputed from the bytes forwarded
  "expect",
  "authorization",
  "x-api-key",
  "cookie",
  "dpop",
  "forwarded",
  "x-real-ip",
]);

const NOT_RETURNED = new Set([...HOP_BY_HOP, "set-cookie", "www-authenticate", "location", "content-location", "alt-svc", "x-powered-by"]);

/** The names a Connection header lists are hop-by-hop too. */
function connectionTokens(value: string | string[] | undefined): Set<string> {
  const text = Array.isArray(value) ? value.join(",") : (value ?? "");
  return new Set(
    text
      .split(",")
      .map((t) => t.trim().toLowerCase())
      .filter(Boolean),
  );
}

/** Percent-encodes what a header value must not hold raw (and % itself, so the encoding is reversible). */
export function headerSafe(value: string): string {
  return value.replace(/[^\x21-\x24\x26-\x7e]/gu, (c) => encodeURIComponent(c));
}

export function upstreamRequestHeaders(
  incoming: IncomingHttpHeaders,
  identity: KeyAuth | AppAuth,
  assertion: string,
): Record<string, string | string[]> {
  const listed = connectionTokens(incoming.connection);
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(incoming)) {
    if (value === undefined) continue;
    const lower = name.toLowerCase();
    if (NOT_FORWARDED.has(lower) || listed.has(lower) || lower.startsWith("x-forwarded-") || lower.startsWith("x-keyward-")) continue;
    out[lower] = value;
  }
  const { key } = identity;
  if (identity.via === "key") {
    out["x-keyward-user-id"] = headerSafe(identity.user.id);
    out["x-keyward-user-email"] = headerSafe(identity.user.email);
  } else {
    out["x-keyward-app-id"] = headerSafe(identity.app.id);
  }
  out["x-keyward-organization-id"] = headerSafe(identity.organizationId);
  out["x-keyward-scopes"] = identity.scopes.map(headerSafe).join(" ");
  out["x-keyward-key-id"] = headerSafe(key.id);
  if (key.source === "oauth" && key.clientId) out["x-keyward-client-id"] = headerSafe(key.clientId);
  out["x-keyward-assertion"] = assertion;
  return out;
}

/** The upstream's response headers the client may see, as [name, value] pairs. */
export function clientResponseHeaders(upstream: Record<string, string | string[] | undefined>): [string, string | string[]][] {
  const listed = connectionTokens(upstream.connection);
  const out: [string, string | string[]][] = [];
  for (const [name, value] of Object.entries(upstream)) {
    if (value === undefined) continue;
    const lower = name.toLowerCase();
    if (NOT_RETURNED.has(lower) || listed.has(lower)) continue;
    out.push([lower, value]);
  }
  return out;
}
