// A blocked OAuth client (src/admin/) does not exist for oidc-provider: its authorization requests get
// the provider's "unknown client" page, its token, PAR and RFC 7592 requests `invalid_client`. The
// record stays (unblocking brings the client back as it was); its keys fail in verification
// (src/keys/verify/check-client-blocked.ts).
import type { Adapter } from "oidc-provider";
import type { Db } from "../db/client.js";

export async function isBlockedClient(db: Db, clientId: string): Promise<boolean> {
  if (clientId.includes("\u0000")) return false;
  return (await db.blockedClient.count({ where: { clientId } })) > 0;
}

export function blockedClientsAreUnknown(clients: Adapter, db: Db): Adapter {
  return {
    ...clients,
    async find(clientId) {
      if (await isBlockedClient(db, clientId)) return undefined;
      return clients.find(clientId);
    },
  };
}
