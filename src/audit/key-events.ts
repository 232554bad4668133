// The audit events of a key's life, built the same way at every call site (page, JSON API, CLI,
// connected apps). The facts are the ones the account page shows; never the raw key.
import type { KeyView } from "../keys/index.js";
import type { AuditInput } from "./index.js";

export type KeyEventVia = "page" | "api" | "cli" | "connected_apps";

type Meta = { ip?: string | null; userAgent?: string | null };

export function keyMinted(userId: string, key: KeyView, actor: AuditInput["actor"], via: KeyEventVia, meta: Meta = {}): AuditInput {
  return { userId, actor, action: "key.minted", targetId: key.id, ...meta, details: { label: key.label, last4: key.last4, source: key.source, scopes: key.scopes.join(" "), via } };
}

export function keyRevoked(userId: string, key: KeyView, actor: AuditInput["actor"], via: KeyEventVia, meta: Meta = {}): AuditInput {
  return { userId, actor, action: "key.revoked", targetId: key.id, ...meta, details: { label: key.label, last4: key.last4, source: key.source, via } };
}
