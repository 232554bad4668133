// The Client model's persistence, with one rule on top: a client record never disappears while
// keys issued to it still work. Whatever deletes a client through oidc-provider (RFC 7592 DELETE,
// on any spelling of its path) goes through destroy(), which revokes the client's keys first.
import type { Adapter } from "oidc-provider";
import type { Keys } from "../keys/index.js";
import type { Audit } from "../audit/index.js";
import { oauthActing } from "./key-audit.js";

export function revokeKeysOnClientDeletion(clients: Adapter, keys: Pick<Keys, "revoke">, audit?: Pick<Audit, "record">): Adapter {
  return {
    ...clients,
    async destroy(clientId) {
      const acting = oauthActing("oauth_client_deleted", clientId);
      await keys.revoke({ kind: "client", clientId }, acting);
      const existed = await clients.find(clientId);
      await clients.destroy(clientId);
      // Operators (src/admin/): the deletion itself is on the instance-wide audit trail.
      if (existed && audit)
        await audit.record({
          userId: null,
          actor: acting.actor,
          action: "oauth_client.deleted",
          targetId: clientId,
          ip: acting.ip,
          userAgent: acting.userAgent,
          details: { clientName: typeof existed.client_name === "string" ? existed.client_name : null },
        });
    },
  };
}
