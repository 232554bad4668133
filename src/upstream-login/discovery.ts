// Each upstream's OpenID Connect discovery, done on its first use and kept (openid-client refetches
// its keys when it meets one it does not know). A failed discovery is not kept: the next log-in tries
// again, so a provider that was down at first use works once it is back.
import * as oidc from "openid-client";
import type { UpstreamProvider } from "./config.js";

const TIMEOUT_SECONDS = 10;

export interface Discovery {
  /** The provider's client configuration; rejects with UpstreamUnavailable when it cannot be had. */
  configurationOf(provider: UpstreamProvider): Promise<oidc.Configuration>;
}

/** Discovery failed: the provider is down, or its metadata is unusable (e.g. it names another issuer). */
export class UpstreamUnavailable extends Error {}

export function createDiscovery(): Discovery {
  const cache = new Map<string, Promise<oidc.Configuration>>();
  const discover = async (p: UpstreamProvider): Promise<oidc.Configuration> => {
    const auth =
      p.tokenEndpointAuthMethod === "client_secret_post" ? oidc.ClientSecretPost(p.clientSecret) : oidc.ClientSecretBasic(p.clientSecret);
    const insecure = new URL(p.issuer).protocol === "http:"; // loopback only (src/upstream-login/config.ts)
    try {
      return await oidc.discovery(new URL(p.issuer), p.clientId, undefined, auth, {
        timeout: TIMEOUT_SECONDS,
        ...(insecure ? { execute: [oidc.allowInsecureRequests] } : {}),
      });
    } catch (err) {
      throw new UpstreamUnavailable(err instanceof Error ? err.message : String(err), { cause: err });
    }
  };
  return {
    configurationOf(p) {
      let pending = cache.get(p.id);
      if (!pending) {
        pending = discover(p);
        cache.set(p.id, pending);
        pending.catch(() => cache.delete(p.id));
      }
      return pending;
    },
  };
}
