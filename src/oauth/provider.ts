// The OAuth 2.1 authorization server: oidc-provider, configured as data. Spec names are used
// literally; everything it persists goes through the database (adapter.ts), and the access token it
// issues is a Keyward key (access-token-adapter.ts).
import Provider, { errors, type Configuration } from "oidc-provider";
import type { Services } from "../services.js";
import { mcpResource } from "../mcp/metadata.js";
import { createPayloadAdapter } from "./adapter.js";
import { createAccessTokenAdapter, FIRST_PARTY_CLIENT_ID, KEY_LIFETIME_SECONDS } from "./access-token-adapter.js";
import { isInternalHost, loopbackPortMatch } from "./redirect-uris.js";
import { randomBase62 } from "../keys/format.js";
import { OIDC_SCOPES, refuseUnknownScopes } from "./unknown-scopes.js";
import { keywardInteractionPolicy } from "./interaction-policy.js";
import { clientMetadataPolicy } from "./client-policy.js";
import { revokeKeysOnClientDeletion } from "./client-adapter.js";
import { refuseBlockedClients } from "../admin/blocked-clients.js";
import { verifyHashedClientSecrets } from "./client-secrets/verify.js";
import { oauthActing } from "./key-audit.js";
import { renderAuthorizationError } from "./interactions-error-page.js";
import { describe } from "../doctor/reasons.js";
import { defaultedResource } from "../doctor/provider-events.js";
import { registrationStored, supersedeEarlierRegistrations } from "./dedup/supersede.js";
import { introspectionAllowedPolicy, revocationAllowedPolicy } from "./token-endpoint-policy.js";

export const INTERACTION_PATH = "/interaction";

function payloadAdapter(services: Services, name: string) {
  const adapter = createPayloadAdapter(services.db, name);
  return name === "Client" ? revokeKeysOnClientDeletion(adapter, services.keys, services.audit) : adapter;
}

export function createProvider(services: Services): Provider {
  const { config, keys, users, secrets } = services;
  const resource = mcpResource(config);
  let provider: Provider | undefined;

  const accessTokens = createAccessTokenAdapter({
    keys,
    scopes: config.scopes,
    defaultResource: resource,
    clientName: async (clientId) => (await provider?.Client.find(clientId))?.clientName,
    // The token request minting the key: its code's OIDC scopes, as far as the grant holds them.
    identityScopes: () => {
      const { AuthorizationCode: code, Grant: grant } = Provider.ctx?.oidc.entities ?? {};
      return code && grant ? grant.getOIDCScopeFiltered(code.scopes).split(" ").filter(Boolean) : [];
    },
    atUserinfo: () => Provider.ctx?.oidc.route === "userinfo",
    usedFrom: () => (Provider.ctx?.oidc.route === "userinfo" ? Provider.ctx.ip : undefined),
    acting: oauthActing,
    // Issue 26: a host that registers again on every connect leaves one client (docs/hosts.md#registrations).
    // Best effort: a failure to tidy up never fails the connection (the key is minted all the same).
    beforeMint: async (userId, clientId) => {
      await supersedeEarlierRegistrations(services.db, services.audit, services.keys, { userId, clientId }).catch((err: unknown) =>
        services.logger.error({ err, clientId }, "superseding earlier registrations failed"),
      );
    },
    requireClientRegistered: async (tx, clientId) => {
      if (!(await registrationStored(tx, clientId))) throw new errors.InvalidClientAuth("client not found");
    },
  });

  const configuration: Configuration = {
    adapter: (name: string) => (name === "AccessToken" ? accessTokens : payloadAdapter(services, name)),
    jwks: secrets.tokenSigningJwks as Configuration["jwks"],
    cookies: { keys: secrets.cookieSecrets, long: { signed: true }, short: { signed: true } },

    // The first-party client every portal/CLI key belongs to (never used to authorize).
    clients: [
      {
        client_id: FIRST_PARTY_CLIENT_ID,
        client_name: "Keyward portal",
        grant_types: [],
        response_types: [],
        redirect_uris: [],
        token_endpoint_auth_method: "none",
      },
    ],

    async findAccount(_ctx, sub) {
      const user = await users.findEnabledById(sub); // a disabled account (src/admin/) is no account
      return user ? { accountId: user.id, claims: async () => ({ sub: user.id, email: user.email }) } : undefined;
    },
    claims: { openid: ["sub"], email: ["email"] },
    scopes: [...OIDC_SCOPES, ...config.scopes],

    responseTypes: ["code"],
    pkce: { required: () => true },
    clientDefaults: { grant_types: ["authorization_code"], response_types: ["code"], token_endpoint_auth_method: "none" },
    // Not client_secret_jwt: secrets are stored hashed (client-secrets/), and it needs the clear one as an HMAC key.
    clientAuthMethods: ["none", "client_secret_basic", "client_secret_post"],
    // Redirect URI policy, text hygiene, grants and response modes for every client however it arrived.
    extraClientMetadata: clientMetadataPolicy,

    features: {
      devInteractions: { enabled: false },
      registration: {
        enabled: config.registration === "open",
        initialAccessToken: false,
        idFactory: () => `dcr_${randomBase62(22)}`,
      },
      registrationManagement: { enabled: config.registration === "open", rotateRegistrationAccessToken: false },
      clientIdMetadataDocument: {
        enabled: config.clientIdMetadataDocuments,
        ack: "draft-02",
        cacheDuration: { min: 60, max: 86400 },
        // Names that point inside the network are refused before any fetch; names that merely
        // resolve there are stopped by oidc-provider's SSRF guard on the socket.
        allowFetch: async (_ctx, clientId) => config.cimdAllowLoopback || !isInternalHost(new URL(clientId).hostname),
      },
      resourceIndicators: {
        enabled: true,
        defaultResource: (ctx) => defaultedResource(ctx, services, resource), // issue 26: the doctor notes a request without one
        useGrantedResource: () => true,
        async getResourceServerInfo(ctx, requested) {
          refuseUnknownScopes(ctx, config.scopes);
          const url = requested.replace(/\/+$/, "");
          // Keyward's own /mcp, a resource of the gateway (<ISSUER>/mcp/<slug>) or a separate resource
          // server (its own URL, as registered), read as every request reads it: a resource added on
          // another instance is known at once.
          const audience =
            url === resource
              ? resource
              : ((await services.resources.lookup.byUrl(url))?.url ?? (await services.resources.lookup.byUrl(requested))?.url);
          if (!audience) throw new errors.InvalidTarget(describe({ kind: "unknown_resource", resource: requested, builtIn: resource })); // issue 26: the doctor's words
          // The key's lifetime: KEY_LIFETIME_SECONDS (keys do not expire), or the cap of the policy of the
          // organisation the key will act in (the user's personal one), so that expires_in and the key agree.
          const accountId = ctx.oidc.account?.accountId;
          const cap = accountId ? await keys.oauthLifetimeCapSeconds(accountId) : null;
          const accessTokenTTL = Math.min(KEY_LIFETIME_SECONDS, cap ?? KEY_LIFETIME_SECONDS);
          return { scope: config.scopes.join(" "), audience, accessTokenFormat: "opaque", accessTokenTTL };
        },
      },
      // Clients introspect and revoke only the keys issued to them; resource servers the operator
      // registered (`keyward resource-servers add`) any key in the table, portal keys included.
      introspection: { enabled: true, allowedPolicy: introspectionAllowedPolicy },
      revocation: { enabled: true, allowedPolicy: revocationAllowedPolicy },
      pushedAuthorizationRequests: { enabled: true, requirePushedAuthorizationRequests: false },
      userinfo: { enabled: true },
      // RFC 9449: a DPoP proof at /token binds the key to the client's key pair (the thumbprint is
      // stored on the key row, access-token-adapter.ts); every resource then demands a proof by it
      // (src/keys/verify/check-binding.ts). Proof algorithms: oidc-provider's default, DPOP_SIGNING_ALGS.
      dPoP: { enabled: true },
      rpInitiatedLogout: { enabled: false },
    },

    ttl: {
      // The resource's lifetime (getResourceServerInfo above: the organisation's cap, if any), so expires_in is the key's real one.
      AccessToken: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? KEY_LIFETIME_SECONDS,
      AuthorizationCode: 120,
      Grant: 2 * KEY_LIFETIME_SECONDS,
      Interaction: 3600,
      Session: Math.ceil(config.sessionTtlMs / 1000), // never longer than the Keyward session it is bound to
      IdToken: 3600,
    },
    expiresWithSession: () => false,
    // No refresh tokens: keys do not expire. oidc-provider's default issues one only to clients
    // allowed the refresh_token grant, which client-policy.ts never grants.

    interactions: { policy: keywardInteractionPolicy(), url: (_ctx, interaction) => `${INTERACTION_PATH}/${interaction.uid}` },
    renderError: renderAuthorizationError, // a page in words, in the site's layout (interactions-error-page.ts)
  };

  if (config.cimdAllowLoopback) {
    // Test mode: metadata documents may be served on loopback, over plain http.
    configuration.fetch = (input, init) => {
      const target = new URL(input instanceof Request ? input.url : String(input));
      if (["127.0.0.1", "localhost", "[::1]"].includes(target.hostname)) target.protocol = "http:";
      const { dispatcher: _ssrfGuard, ...rest } = (init ?? {}) as RequestInit & { dispatcher?: unknown };
      return fetch(target, rest);
    };
  }

  provider = new Provider(config.baseUrl, configuration);
  provider.proxy = config.trustProxy;
  refuseBlockedClients(provider, services.db); // operators (src/admin/): a blocked client is no client
  verifyHashedClientSecrets(provider); // the stored client_secret is a hash (client-secrets/)

  // The token value is a Keyward key (see access-token-adapter.ts). The original must run first:
  // it sets the token's format.
  // (generateTokenId is not in the type definitions.)
  const tokenPrototype = provider.AccessToken.prototype as unknown as { generateTokenId(this: { format?: string }): string };
  const generateTokenId = tokenPrototype.generateTokenId;
  tokenPrototype.generateTokenId = function () {
    const id = generateTokenId.call(this);
    return this.format === "opaque" ? keys.newRawKey() : id;
  };

  // RFC 8252 §7.3: loopback redirects match on any port, for web-type clients too (MCP clients
  // register http://127.0.0.1:<port>/callback and come back on whatever port is free).
  const redirectUriAllowed = provider.Client.prototype.redirectUriAllowed;
  provider.Client.prototype.redirectUriAllowed = function (this: InstanceType<Provider["Client"]>, value: string) {
    return redirectUriAllowed.call(this, value) || loopbackPortMatch(value, this.redirectUris ?? []);
  };

  return provider;
}
