// The audit trail of keys that oidc-provider mints and revokes: the token endpoint ('key.minted',
// actor = the OAuth client) and RFC 7009 revocation / grant revocation ('key.revoked'). The request
// (IP, user agent, calling client) comes from oidc-provider's per-request context.
import Provider from "oidc-provider";
import type { Audit } from "../audit/index.js";
import type { KeyView, RevokedKey } from "../keys/index.js";
import { requestMeta } from "../http/request-meta.js";

function current() {
  const ctx = Provider.ctx;
  return { meta: ctx ? requestMeta(ctx) : { ip: null, userAgent: null }, clientId: ctx?.oidc?.client?.clientId ?? null };
}

export function keyAuditHooks(audit: Audit) {
  return {
    async onMinted(userId: string, key: KeyView): Promise<void> {
      const { meta } = current();
      await audit.record({
        userId,
        actor: { type: "oauth_client", id: key.clientId },
        action: "key.minted",
        targetId: key.id,
        ...meta,
        details: { label: key.label, last4: key.last4, source: key.source, scopes: key.scopes.join(" ") },
      });
    },

    async onRevoked(revoked: RevokedKey[], how: "token_revocation" | "grant_revoked"): Promise<void> {
      const { meta, clientId } = current();
      for (const { userId, key } of revoked) {
        await audit.record({
          userId,
          actor: clientId ? { type: "oauth_client", id: clientId } : { type: "system" },
          action: "key.revoked",
          targetId: key.id,
          ...meta,
          details: { label: key.label, last4: key.last4, via: how === "token_revocation" ? "oauth_revocation" : "oauth_grant_revoked" },
        });
      }
    },
  };
}
