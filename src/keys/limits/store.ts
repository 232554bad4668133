// Setting a key's limits (IP allowlist, rate limit) after mint, and an OAuth client's limits for one
// user (Connected apps), which every key the client's grant mints for that user carries and which
// are copied onto the client's active keys when they change. Verification reads only the key row,
// so a change is an UPDATE of ApiKey rows: the key change token / feed makes every instance's cache
// let go of the old rows, and announceCommitted waits for them (src/keys/lookup/announce.ts).
import type { Db } from "../../db/client.js";
import type { Audit } from "../../audit/index.js";
import type { ApiKey } from "../../generated/sqlite/client.js";
import { keyLimitsChanged, type KeyActing } from "../../audit/key-events.js";
import { announceCommitted } from "../lookup/announce.js";
import { KeyInputError } from "../errors.js";
import type { KeyView } from "../view.js";
import { allowedRanges } from "./cidr.js";
import { checkedChanges, type LimitChanges } from "./input.js";

/** An OAuth client's limits for one user; null fields: none. */
export interface ClientLimits {
  allowedIps: string[] | null;
  rateLimit: number | null;
}

/** Which keys a limit change may touch. */
export type LimitTarget =
  /** A user's own key (not an app key): the key page, the JSON API, the CLI. */
  | { kind: "own"; userId: string; id: string }
  /** An app's key: its organisation's admins. */
  | { kind: "app"; appId: string; id: string };

const note = (c: { allowedIps?: string | null; rateLimit?: number | null }) => ({
  ...(c.allowedIps !== undefined ? { allowedIps: c.allowedIps ?? "" } : {}),
  ...(c.rateLimit !== undefined ? { rateLimit: c.rateLimit === null ? "" : String(c.rateLimit) } : {}),
});

export function createKeyLimits(db: Db, options: { view: (row: ApiKey) => KeyView; audit: Audit }) {
  return {
    /**
     * Changes a key's limits, with its `key.limits_changed` event in the same transaction. Null: no
     * such key in the target (another user's id answers the same). Throws KeyInputError on a bad value.
     */
    async setLimits(target: LimitTarget, changes: LimitChanges, by: KeyActing): Promise<KeyView | null> {
      const checked = checkedChanges(changes);
      if (typeof checked === "string") throw new KeyInputError(checked);
      const where = target.kind === "own" ? { id: target.id, userId: target.userId, appId: null } : { id: target.id, appId: target.appId };
      const result = await db.$transaction(async (tx) => {
        const before = await tx.apiKey.findFirst({ where });
        if (!before) return null;
        const after = { ...before, ...checked };
        if (after.allowedIps === before.allowedIps && after.rateLimit === before.rateLimit)
          return { view: options.view(before), changed: false };
        await tx.apiKey.updateMany({ where: { id: before.id }, data: checked });
        const view = options.view(after);
        await options.audit.record(keyLimitsChanged(before.userId, view, { ...by, note: { ...by.note, ...note(checked) } }), tx);
        return { view, changed: true };
      });
      if (result?.changed) await announceCommitted(db);
      return result?.view ?? null;
    },

    /** The limits a user set on an OAuth client (none: both null). */
    async clientLimits(userId: string, clientId: string): Promise<ClientLimits> {
      const row = await db.clientKeyLimit.findUnique({ where: { userId_clientId: { userId, clientId } } });
      return { allowedIps: allowedRanges(row?.allowedIps ?? null), rateLimit: row?.rateLimit ?? null };
    },

    /**
     * Sets a user's limits on an OAuth client: kept for the keys its grant mints later, and copied onto
     * its active keys for this user now (one `oauth.limits_changed` event). Returns how many keys changed.
     */
    async setClientLimits(userId: string, clientId: string, changes: Required<LimitChanges>, by: KeyActing): Promise<number> {
      const checked = checkedChanges(changes);
      if (typeof checked === "string") throw new KeyInputError(checked);
      const data = { allowedIps: checked.allowedIps ?? null, rateLimit: checked.rateLimit ?? null };
      const count = await db.$transaction(async (tx) => {
        await tx.clientKeyLimit.upsert({
          where: { userId_clientId: { userId, clientId } },
          create: { userId, clientId, ...data },
          update: data,
        });
        const updated = await tx.apiKey.updateMany({ where: { userId, clientId, source: "oauth", revokedAt: null }, data });
        await options.audit.record(
          {
            userId,
            actor: by.actor,
            action: "oauth.limits_changed",
            targetId: clientId,
            ip: by.ip ?? null,
            userAgent: by.userAgent ?? null,
            details: { via: by.via, allowedIps: data.allowedIps ?? "", rateLimit: data.rateLimit ?? "", keysChanged: updated.count },
          },
          tx,
        );
        return updated.count;
      });
      await announceCommitted(db);
      return count;
    },
  };
}

/** The limits a new key starts with: what the caller asked for; an OAuth key, its client's for that user. */
export async function limitsAtMint(
  db: Db,
  req: { userId: string; source: string; clientId?: string | null } & LimitChanges,
): Promise<{ allowedIps: string | null; rateLimit: number | null }> {
  const checked = checkedChanges({ allowedIps: req.allowedIps ?? null, rateLimit: req.rateLimit ?? null });
  if (typeof checked === "string") throw new KeyInputError(checked);
  if (req.source === "oauth" && req.clientId && req.allowedIps === undefined && req.rateLimit === undefined) {
    const client = await db.clientKeyLimit.findUnique({ where: { userId_clientId: { userId: req.userId, clientId: req.clientId } } });
    if (client) return { allowedIps: client.allowedIps, rateLimit: client.rateLimit };
  }
  return { allowedIps: checked.allowedIps ?? null, rateLimit: checked.rateLimit ?? null };
}

export type KeyLimits = ReturnType<typeof createKeyLimits>;
