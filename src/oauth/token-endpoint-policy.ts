// Who may introspect (RFC 7662) and revoke (RFC 7009) which key: a client, the keys issued to it;
// a resource server the operator registered (resource-servers.ts), any key in the table.
// Portal, CLI and app keys belong to the first-party public client `keyward`, which has no secret:
// naming it proves nothing, so it introspects nothing. It may revoke the key presented (whoever holds
// a key may end it: `keyward auth logout` does), which a leaked key's finder can do anyway by reporting it.
import { errors, type KoaContextWithOIDC } from "oidc-provider";
import { isResourceServer, type ClientLike } from "./resource-servers.js";
import { FIRST_PARTY_CLIENT_ID } from "./access-token-adapter.js";

const ownsToken = (client: ClientLike, token: object) => "clientId" in token && token.clientId === client.clientId;

/** features.introspection.allowedPolicy: a foreign key looks inactive ({"active": false}), nothing leaks. */
export async function introspectionAllowedPolicy(_ctx: KoaContextWithOIDC, client: ClientLike, token: object): Promise<boolean> {
  return isResourceServer(client) || (client.clientId !== FIRST_PARTY_CLIENT_ID && ownsToken(client, token));
}

/**
 * features.revocation.allowedPolicy: a foreign key is refused with oidc-provider's RFC 7009 error (400 invalid_request) and keeps working.
 */
export async function revocationAllowedPolicy(_ctx: KoaContextWithOIDC, client: ClientLike, token: object): Promise<boolean> {
  if (isResourceServer(client) || ownsToken(client, token)) return true;
  throw new errors.InvalidRequest("client is not authorized to revoke the presented token");
}
