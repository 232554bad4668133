// The Client model's persistence, with one rule on top: a client record never disappears while
// keys issued to it still work. Whatever deletes a client through oidc-provider (RFC 7592 DELETE,
// on any spelling of its path) goes through destroy(), which revokes the client's keys first.
import type { Adapter } from "oidc-provider";
import type { Keys } from "../keys/index.js";
import { oauthActing } from "./key-audit.js";

export function revokeKeysOnClientDeletion(clients: Adapter, keys: Pick<Keys, "revoke">): Adapter {
  return {
    ...clients,
    async destroy(clientId) {
      await keys.revoke({ kind: "client", clientId }, oauthActing("oauth_client_deleted", clientId));
      await clients.destroy(clientId);
    },
  };
}
