// The public shape of a key row, as the pages, the JSON API and the CLI show it.
import type { ApiKey } from "../generated/sqlite/client.js";
import { allowedRanges } from "./limits/cidr.js";
import { isExpired } from "./expiry.js";

export type KeySource = "portal" | "oauth" | "cli" | "unknown";
export const KEY_SOURCES: readonly KeySource[] = ["portal", "oauth", "cli", "unknown"];

export interface KeyView {
  id: string;
  label: string;
  last4: string;
  /** `expired`: past `expiresAt` (and not revoked); it fails verification with "key expired". */
  status: "active" | "revoked" | "expired";
  source: KeySource;
  /** `Portal`, `OAuth: dcr_…`, `CLI` or `Unknown`: the badge the account page shows. */
  sourceLabel: string;
  clientId: string | null;
  scopes: string[];
  /** RFC 8707 audiences: the resource URLs the key works at; null: every resource. */
  resources: string[] | null;
  /** The organisation the key acts in (null only on rows the 0005 migration and mint never saw). */
  organizationId: string | null;
  /** App keys: the organisation's app that owns the key. */
  appId: string | null;
  /** RFC 9449 DPoP: the JWK thumbprint of the key pair the key is bound to (sent only with a proof by it); null for bearer keys. */
  dpopJkt: string | null;
  /** IP allowlist: the CIDR ranges the key works from; null: any address (src/keys/limits/cidr.ts). */
  allowedIps: string[] | null;
  /** Requests per minute the key may send to /mcp and the gateway; null: no limit of its own. */
  rateLimit: number | null;
  createdAt: string;
  lastUsedAt: string | null;
  revokedAt: string | null;
  /** When the key stops working (src/keys/expiry.ts); null: never. A rolled key's scheduled end. */
  expiresAt: string | null;
  /** Rolled: the id of the key that replaces this one (src/keys/roll.ts). */
  replacedById: string | null;
}

export function asSource(value: string): KeySource {
  return (KEY_SOURCES as readonly string[]).includes(value) ? (value as KeySource) : "unknown";
}

export function sourceLabel(source: KeySource, clientId: string | null): string {
  switch (source) {
    case "portal":
      return "Portal";
    case "cli":
      return "CLI";
    case "oauth":
      return `OAuth: ${clientId ?? "unknown client"}`;
    default:
      return "Unknown";
  }
}

/**
 * Scopes an OAuth key may carry besides the scope catalogue: OpenID Connect identity, for userinfo
 * (/me). They give no access to any resource (src/keys/verify/resolve-scopes.ts).
 */
export const IDENTITY_SCOPES = ["openid", "email"] as const;

/**
 * Keys minted deliberately without scopes (portal, JSON API, CLI, imports) have the user's full
 * access. An OAuth key carries exactly what the user approved: without a resource scope it has none.
 */
export const emptyScopesMeanFullAccess = (source: string): boolean => source !== "oauth";

/** The key row's `resource` column: resource URLs separated by spaces; null (or empty) means every resource. */
export function boundResources(column: string | null): string[] | null {
  return column ? column.split(" ").filter(Boolean) : null;
}

export function splitScopes(scopes: string): string[] {
  return scopes.split(" ").filter(Boolean);
}

export function toView(row: ApiKey, lastUsedOverride?: Date): KeyView {
  const source = asSource(row.source);
  const lastUsed = lastUsedOverride && (!row.lastUsedAt || lastUsedOverride > row.lastUsedAt) ? lastUsedOverride : row.lastUsedAt;
  return {
    id: row.id,
    label: row.label,
    last4: row.last4,
    status: row.revokedAt ? "revoked" : isExpired(row.expiresAt) ? "expired" : "active",
    source,
    sourceLabel: sourceLabel(source, row.clientId),
    clientId: row.clientId,
    scopes: splitScopes(row.scopes),
    resources: boundResources(row.resource),
    organizationId: row.organizationId,
    appId: row.appId,
    dpopJkt: row.dpopJkt,
    allowedIps: allowedRanges(row.allowedIps),
    rateLimit: row.rateLimit,
    createdAt: row.createdAt.toISOString(),
    lastUsedAt: lastUsed ? lastUsed.toISOString() : null,
    revokedAt: row.revokedAt ? row.revokedAt.toISOString() : null,
    expiresAt: row.expiresAt ? row.expiresAt.toISOString() : null,
    replacedById: row.replacedById,
  };
}
