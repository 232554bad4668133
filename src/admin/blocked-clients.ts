// A blocked OAuth client (src/admin/) does not exist for oidc-provider: its authorization requests get
// an error page, its token requests `invalid_client`. Patched on Client.find, the one place every
// route looks a client up, so it holds however the client arrived (a stored registration, or a Client
// ID Metadata Document, which oidc-provider fetches when no stored record is found). The record stays
// (unblocking brings the client back as it was); its keys fail in verification
// (src/keys/verify/check-client-blocked.ts).
import type Provider from "oidc-provider";
import type { Db } from "../db/client.js";

export async function isBlockedClient(db: Db, clientId: string): Promise<boolean> {
  if (clientId.includes("\u0000")) return false;
  return (await db.blockedClient.count({ where: { clientId } })) > 0;
}

export function refuseBlockedClients(provider: Provider, db: Db): void {
  const Client = provider.Client as unknown as { find(id: string): Promise<unknown> };
  const find = Client.find.bind(Client);
  Client.find = async (id: string) => (typeof id === "string" && (await isBlockedClient(db, id)) ? undefined : find(id));
}
