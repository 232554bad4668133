// Who acts when oidc-provider mints or revokes a key: the OAuth client of the request being
// answered (the token endpoint: 'key.minted'; RFC 7009 revocation, a revoked grant, a deleted
// registration: 'key.revoked'), from where (IP, user agent). It comes from oidc-provider's
// per-request context; the key service writes the event itself (src/keys/revoke.ts, service.ts).
import Provider from "oidc-provider";
import type { KeyActing, KeyEventVia } from "../keys/index.js";
import { requestMeta } from "../http/request-meta.js";

/** `clientId`: the client the key belongs to, when no request names one (a hook outside a request). */
export function oauthActing(via: KeyEventVia, clientId: string | null = null): KeyActing {
  const ctx = Provider.ctx;
  const client = ctx?.oidc?.client?.clientId ?? clientId;
  return { actor: client ? { type: "oauth_client", id: client } : { type: "system" }, via, ...(ctx ? requestMeta(ctx) : {}) };
}
