// The access token IS a Keyward key. oidc-provider names the token with a key from src/keys
// (see provider.ts) and hands it to this adapter, which stores it as an ordinary row of the key
// table — hashed, labelled `OAuth: <client name>`, with scopes, resource and grant. find() reads
// any key back (portal ones too), so introspection and revocation cover the whole table.
import type { Adapter, AdapterPayload } from "oidc-provider";
import type { KeyActing, KeyEventVia, Keys, WithinMint } from "../keys/index.js";
import { IDENTITY_SCOPES } from "../keys/view.js";

/** oidc-provider needs a registered client behind every token; portal and CLI keys belong to this one. */
export const FIRST_PARTY_CLIENT_ID = "keyward";
/** Keys without an expiry do not expire; introspection reports this far-future expiry for them (some consumers require one). */
export const KEY_LIFETIME_SECONDS = 10 * 365 * 24 * 3600;

/** A key's `exp` (RFC 7662, seconds): its real expiry when it has one; otherwise the far-future one (issue 26). */
export const expClaim = (key: { createdAt: string; expiresAt: string | null }): number =>
  key.expiresAt ? Math.floor(Date.parse(key.expiresAt) / 1000) : Math.floor(Date.parse(key.createdAt) / 1000) + KEY_LIFETIME_SECONDS;

export interface AccessTokenAdapterOptions {
  keys: Keys;
  scopes: readonly string[];
  defaultResource: string;
  clientName(clientId: string): Promise<string | undefined>;
  /** The OpenID Connect scopes the token request being answered was granted (`openid`, `email`): kept on the key for userinfo. */
  identityScopes?(): readonly string[];
  /**
   * True while the request is userinfo (/me): this server's own endpoint, where a key holding `openid` is read without its resource
   * audience.
   */
  atUserinfo?(): boolean;
  /**
   * The client address of the request being answered when it uses the key (userinfo): the key's IP allowlist
   * applies there as at /mcp. Undefined where a key is only described (introspection), as at every other caller.
   */
  usedFrom?(): string | undefined;
  /** Who acts in the request being answered (the audit trail of the keys it mints and revokes: key-audit.ts). */
  acting(via: KeyEventVia, clientId?: string): KeyActing;
  /** Runs before a key is minted for a user and client: superseding that user's earlier registrations of the same app (src/oauth/dedup). */
  beforeMint?(userId: string, clientId: string): Promise<void>;
  /**
   * Throws unless the client's registration is still stored, asked inside the transaction minting its
   * key (a superseded client may be deleted meanwhile: src/oauth/dedup): then no key, and the request
   * fails exactly as an unknown client's does (401 invalid_client, thrown by provider.ts). Thrown
   * there, not here: this module is imported by the CLI, which must not load oidc-provider.
   */
  requireClientRegistered?(tx: MintTransaction, clientId: string): Promise<void>;
}

type MintTransaction = Parameters<WithinMint>[0];

/** `OAuth: <client name>`, at most 100 characters, never cut inside a surrogate pair (which no database can store). */
function oauthLabel(name: string): string {
  const clean = name.replace(/[\p{Cc}\p{Cf}\p{Cs}]/gu, "").trim() || "unnamed client";
  return `OAuth: ${clean}`.slice(0, 100).replace(/[\ud800-\udbff]$/, "");
}

export function createAccessTokenAdapter(options: AccessTokenAdapterOptions): Adapter {
  const { keys } = options;
  return {
    async upsert(raw, payload) {
      const clientId = payload.clientId!;
      // Exactly what the user approved: the identity scopes, then the resource scopes (never "none = all").
      const identity = (options.identityScopes?.() ?? []).filter((s) => (IDENTITY_SCOPES as readonly string[]).includes(s));
      const scopes = [...new Set([...identity, ...(payload.scope ?? "").split(" ").filter((s) => options.scopes.includes(s))])];
      const aud = Array.isArray(payload.aud) ? payload.aud[0] : payload.aud;
      await options.beforeMint?.(payload.accountId!, clientId);
      await keys.mint(
        {
          userId: payload.accountId!,
          label: oauthLabel((await options.clientName(clientId)) ?? clientId),
          source: "oauth",
          clientId,
          scopes,
          resources: aud ? [aud] : null,
          grantId: payload.grantId ?? null,
          // RFC 9449: the client sent a DPoP proof to the token endpoint; the key is bound to its key pair.
          dpopJkt: typeof payload.jkt === "string" ? payload.jkt : null,
          // A lifetime shorter than "does not expire" is the organisation's cap (provider.ts): the key
          // expires when the token response's expires_in says. keys.mint caps it again, never refuses.
          expiresAt:
            typeof payload.exp === "number" && typeof payload.iat === "number" && payload.exp - payload.iat < KEY_LIFETIME_SECONDS
              ? new Date(payload.exp * 1000)
              : null,
        },
        options.acting("oauth_token", clientId),
        raw,
        async (tx) => {
          await options.requireClientRegistered?.(tx, clientId);
        },
      );
    },

    async find(raw) {
      const address = options.usedFrom?.();
      const result = await keys.verify(raw, address === undefined ? {} : { address });
      if (!result.ok) return undefined;
      const iat = Math.floor(Date.parse(result.key.createdAt) / 1000);
      const payload: AdapterPayload = {
        kind: "AccessToken",
        jti: raw,
        // An app key acts for an app, not a person: no subject.
        ...(result.app ? {} : { accountId: result.user.id }),
        clientId: result.key.clientId ?? FIRST_PARTY_CLIENT_ID,
        scope: result.key.scopes.join(" "),
        aud:
          result.key.scopes.includes("openid") && options.atUserinfo?.()
            ? undefined
            : (result.key.resources?.[0] ?? options.defaultResource),
        iat,
        // RFC 7662: the key's real expiry when it has one; otherwise the far-future one (issue 26).
        exp: expClaim(result.key),
        expiresWithSession: false,
        // A DPoP-bound key: introspection reports cnf.jkt and token_type DPoP; oidc-provider's own
        // resource endpoints (userinfo) check the proof against it.
        ...(result.key.dpopJkt ? { jkt: result.key.dpopJkt } : {}),
      };
      if (result.grantId) {
        payload.grantId = result.grantId;
        payload.gty = "authorization_code";
      }
      return payload;
    },

    // RFC 7009 (and oidc-provider's own token.destroy()): the key the token is.
    async destroy(raw) {
      await keys.revoke({ kind: "raw", raw }, options.acting("oauth_revocation"));
    },

    async revokeByGrantId(grantId) {
      await keys.revoke({ kind: "grant", grantId }, options.acting("oauth_grant_revoked"));
    },

    async consume() {},
    async findByUid() {
      return undefined;
    },
    async findByUserCode() {
      return undefined;
    },
  };
}
