// The audit events of a key's life, built here and only here. The key service writes `key.minted`
// and `key.revoked` itself, in the transaction that mints or revokes (src/keys/store.ts); callers
// only say who acts, through what, and from where (`KeyActing`). The facts are the ones the account
// page shows; never the raw key.
import type { KeyView } from "../keys/view.js";
import type { AuditInput } from "./index.js";

/** The route a key event came through: one name per place that mints or revokes keys. */
export type KeyEventVia =
  | "page" // the account page
  | "api" // the JSON API (/api/api-keys)
  | "cli" // keyward api-keys on the server
  | "org_member_keys" // an organisation admin, on a member's key (page or JSON API)
  | "org_app_keys" // an organisation admin, on an app's key (page or JSON API)
  | "oauth_token" // oidc-provider's token endpoint
  | "oauth_revocation" // RFC 7009
  | "oauth_grant_revoked" // oidc-provider revoked a grant (e.g. a code used twice)
  | "oauth_client_deleted" // RFC 7592: the client deleted its registration
  | "connected_apps" // the user disconnected an OAuth client
  | "secret_scanning" // a scanner reported the key as leaked
  | "resource_removed"; // the resource the key was bound to was removed (keyward resources remove)

/** Who mints or revokes a key, through which route, from where; `note`: facts of that route (never a secret). */
export interface KeyActing {
  actor: AuditInput["actor"];
  via: KeyEventVia;
  ip?: string | null;
  userAgent?: string | null;
  note?: Record<string, string | null>;
}

/** One shape of details for every key event, whatever the route. */
function keyEvent(action: string, ownerId: string, key: KeyView, by: KeyActing): AuditInput {
  return {
    userId: ownerId,
    actor: by.actor,
    action,
    targetId: key.id,
    ip: by.ip ?? null,
    userAgent: by.userAgent ?? null,
    details: {
      ...by.note,
      via: by.via,
      label: key.label,
      last4: key.last4,
      source: key.source,
      scopes: key.scopes.join(" "),
      clientId: key.clientId,
      organizationId: key.organizationId,
      appId: key.appId,
    },
  };
}

export const keyMinted = (ownerId: string, key: KeyView, by: KeyActing) => keyEvent("key.minted", ownerId, key, by);
export const keyRevoked = (ownerId: string, key: KeyView, by: KeyActing) => keyEvent("key.revoked", ownerId, key, by);
/** Rolled (src/keys/roll.ts): the old key, with `note.replacementId`, `note.endsAt` (its scheduled end) and `note.overlap`. */
export const keyRolled = (ownerId: string, key: KeyView, by: KeyActing) => keyEvent("key.rolled", ownerId, key, by);
/** A new label (the old one in `note.previousLabel`). */
export const keyRenamed = (ownerId: string, key: KeyView, by: KeyActing) => keyEvent("key.renamed", ownerId, key, by);
/** New limits (issue 28: IP allowlist, rate limit; the new values in `note`). */
export const keyLimitsChanged = (ownerId: string, key: KeyView, by: KeyActing) => keyEvent("key.limits_changed", ownerId, key, by);
/** A report about a key that was already revoked (secret scanning): nothing changed, but the owner learns of it. */
export const keyLeakReported = (ownerId: string, key: KeyView, by: KeyActing) => keyEvent("key.leak_reported", ownerId, key, by);
