// The Client model's persistence, with one rule on top: a client record never disappears while
// keys issued to it still work. Whatever deletes a client through oidc-provider (RFC 7592 DELETE,
// on any spelling of its path) goes through destroy(), which revokes the client's keys first.
import type { Adapter } from "oidc-provider";

export function revokeKeysOnClientDeletion(clients: Adapter, revokeAllOfClient: (clientId: string) => Promise<unknown>): Adapter {
  return {
    ...clients,
    async destroy(clientId) {
      await revokeAllOfClient(clientId);
      await clients.destroy(clientId);
    },
  };
}
