// Mint, list, get and revoke: the only code that writes key rows.
import type { Db } from "../db/client.js";
import { checkFormat, generateKey, last4, randomBase62 } from "./format.js";
import { hashKey } from "./hash.js";
import type { LastUsedTracker } from "./last-used.js";
import { toView, type KeySource, type KeyView } from "./model.js";
import { labelSchema, scopeCatalogueError } from "./input.js";

export class KeyInputError extends Error {}

export interface MintRequest {
  userId: string;
  label: string;
  source: KeySource;
  clientId?: string | null;
  scopes?: string[];
  resource?: string | null;
  /** The OAuth grant the key is issued under (oidc-provider revokes keys by grant). */
  grantId?: string | null;
}

export interface Minted {
  /** The raw key: exists only in this return value, to be shown once. */
  raw: string;
  key: KeyView;
}

export function newKeyId(): string {
  return `key_${randomBase62(20)}`;
}

export function createKeyService(db: Db, options: { prefix: string; scopes: readonly string[]; tracker: LastUsedTracker }) {
  const view = (row: Parameters<typeof toView>[0]) => toView(row, options.tracker.pendingFor(row.id));

  return {
    /** A fresh raw key in this server's format (the OAuth token endpoint names its token with it). */
    newRawKey(): string {
      return generateKey(options.prefix);
    },

    /** Stores a key. `raw` is given only by the OAuth token endpoint, which generated it with newRawKey(). */
    async mint(req: MintRequest, raw: string = generateKey(options.prefix)): Promise<Minted> {
      if (checkFormat(raw)) throw new KeyInputError("not a key in this server's format");
      const label = labelSchema.safeParse(req.label);
      if (!label.success) throw new KeyInputError(label.error.issues[0]!.message);
      const scopes = req.scopes ?? [];
      const scopeError = scopeCatalogueError(scopes, options.scopes);
      if (scopeError) throw new KeyInputError(scopeError);
      const row = await db.apiKey.create({
        data: {
          id: newKeyId(),
          userId: req.userId,
          hash: hashKey(raw),
          last4: last4(raw),
          label: label.data || "Untitled key",
          source: req.source,
          clientId: req.clientId ?? null,
          scopes: scopes.join(" "),
          resource: req.resource ?? null,
          grantId: req.grantId ?? null,
        },
      });
      return { raw, key: view(row) };
    },

    /** Newest first; revoked keys stay in the list for the audit trail. */
    async list(userId: string): Promise<KeyView[]> {
      const rows = await db.apiKey.findMany({ where: { userId }, orderBy: [{ createdAt: "desc" }, { id: "desc" }] });
      return rows.map(view);
    },

    /** Another user's id and a missing id are the same: null. */
    async get(userId: string, id: string): Promise<KeyView | null> {
      const row = await db.apiKey.findFirst({ where: { id, userId } });
      return row ? view(row) : null;
    },

    /** Idempotent: revoking a revoked key returns it unchanged. Null when the user has no such key. */
    async revoke(userId: string, id: string): Promise<KeyView | null> {
      await db.apiKey.updateMany({ where: { id, userId, revokedAt: null }, data: { revokedAt: new Date() } });
      return this.get(userId, id);
    },

    /** Revokes the key with this raw value (RFC 7009 revocation). True when a key was revoked. */
    async revokeRaw(raw: string): Promise<boolean> {
      if (checkFormat(raw)) return false;
      const { count } = await db.apiKey.updateMany({ where: { hash: hashKey(raw), revokedAt: null }, data: { revokedAt: new Date() } });
      return count > 0;
    },

    /** Revokes every key issued under an OAuth grant. */
    async revokeGrant(grantId: string): Promise<number> {
      const { count } = await db.apiKey.updateMany({ where: { grantId, revokedAt: null }, data: { revokedAt: new Date() } });
      return count;
    },

    /** A client deleted its registration (RFC 7592): none of its keys may outlive it. */
    async revokeAllOfClient(clientId: string): Promise<number> {
      const { count } = await db.apiKey.updateMany({ where: { clientId, revokedAt: null }, data: { revokedAt: new Date() } });
      return count;
    },

    /** Disconnects an OAuth client from one user: revokes every key it received. */
    async revokeClient(userId: string, clientId: string): Promise<number> {
      const { count } = await db.apiKey.updateMany({ where: { userId, clientId, revokedAt: null }, data: { revokedAt: new Date() } });
      return count;
    },
  };
}

export type KeyService = ReturnType<typeof createKeyService>;
