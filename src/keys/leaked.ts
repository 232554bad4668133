// A key reported as leaked (secret scanning): found by its hash and revoked at once. The caller
// learns whose key it was (for the audit trail) and whether it was still active; never the raw key.
import type { Db } from "../db/client.js";
import { digestKey, hexOfDigest, sameHash } from "./hash.js";
import { acceptsShape } from "./legacy.js";
import { toView, type KeyView } from "./model.js";

export interface LeakedKey {
  userId: string;
  key: KeyView;
  /** False when the key had already been revoked before this report. */
  wasActive: boolean;
}

export function createLeakHandling(db: Db, options: { legacyKeyPattern?: RegExp }) {
  return {
    /** Revokes the key with this raw value; null when no such key exists (a false positive). */
    async revokeLeaked(raw: string): Promise<LeakedKey | null> {
      if (!acceptsShape(raw, options.legacyKeyPattern)) return null;
      const digest = digestKey(raw);
      const row = await db.apiKey.findUnique({ where: { hash: hexOfDigest(digest) } });
      if (!row || !sameHash(row.hash, digest)) return null;
      const { count } = await db.apiKey.updateMany({ where: { id: row.id, revokedAt: null }, data: { revokedAt: new Date() } });
      const after = (await db.apiKey.findUnique({ where: { id: row.id } })) ?? row;
      return { userId: row.userId, key: toView(after), wasActive: count > 0 };
    },
  };
}
