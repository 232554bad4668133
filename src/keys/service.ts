// Mint, list, get and revoke: the only code that writes key rows.
import type { Db } from "../db/client.js";
import { generateKey, last4, randomBase62 } from "./format.js";
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
    async mint(req: MintRequest): Promise<Minted> {
      const label = labelSchema.safeParse(req.label);
      if (!label.success) throw new KeyInputError(label.error.issues[0]!.message);
      const scopes = req.scopes ?? [];
      const scopeError = scopeCatalogueError(scopes, options.scopes);
      if (scopeError) throw new KeyInputError(scopeError);
      const raw = generateKey(options.prefix);
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
  };
}

export type KeyService = ReturnType<typeof createKeyService>;
