// THE revoke path: every route that revokes keys (the account page, the JSON API, the CLI, an
// organisation admin, RFC 7009, a revoked grant, a deleted client, a disconnected app, secret
// scanning) names which keys and who acts; this revokes them, writes one `key.revoked` event per key
// it revoked in the same transaction, and says what it found. Revoking a revoked key changes nothing
// and records nothing (idempotent). A key outside the named scope (another user's, another
// organisation's) is not found: the caller answers exactly as for a missing id.
import type { Db } from "../db/client.js";
import { announceCommitted } from "./lookup/announce.js";
import type { Prisma } from "../generated/sqlite/client.js";
import type { Audit } from "../audit/index.js";
import { keyRevoked, type KeyActing } from "../audit/key-events.js";
import type { KeyView } from "./view.js";
import { boundTo } from "./audience-where.js";
import { keyEventsCommitted } from "./events/index.js";

/** The most ids one bulk revoke may name (the page, the JSON API, the CLI). */
export const MAX_BULK_REVOKE = 500;

/** Which keys to revoke. */
export type RevokeTarget =
  /** A user's own key (not an app key): the account page, the JSON API, the CLI. */
  | { kind: "own"; userId: string; id: string }
  /** A member's key in an organisation (not an app key): its admins. */
  | { kind: "member"; organizationId: string; id: string }
  /** An app's key: its organisation's admins. */
  | { kind: "app"; appId: string; id: string }
  /** The key with this raw value, found by verification's own checks (RFC 7009, secret scanning). */
  | { kind: "raw"; raw: string }
  /** Every key issued under an OAuth grant. */
  | { kind: "grant"; grantId: string }
  /** Every key an OAuth client received; with `userId`, from that user only (disconnect). */
  | { kind: "client"; clientId: string; userId?: string }
  /** Every key bound to this resource URL, alone or with others (the resource was removed). */
  | { kind: "resource"; resource: string }
  /** Several of a user's own keys at once (bulk revoke); ids that are not theirs are simply not found. */
  | { kind: "ownMany"; userId: string; ids: readonly string[] }
  /**
   * A user's own active keys unused for `days` days before `now`: created before then, and never used
   * or last used before then (as written to the database: src/keys/last-used.ts writes at most once per interval).
   */
  | { kind: "ownUnused"; userId: string; days: number; now: Date };

/** One key the call found, as it is now. */
export interface RevokedKey {
  key: KeyView;
  /** True when this call revoked it; false when it was revoked already. */
  wasActive: boolean;
  /** Whose key it is (app keys: the admin who minted it). */
  owner: { id: string; email: string };
  /** The OAuth grant it was issued under. */
  grantId: string | null;
}

type KeyRow = Prisma.ApiKeyGetPayload<{ include: { user: { select: { email: true } } } }>;

export interface RevocationDeps {
  view: (row: KeyRow) => KeyView;
  audit: Audit;
  /** The raw-key lookup (src/keys/verify/find-by-raw.ts). */
  findByRaw: (raw: string) => Promise<{ id: string } | undefined>;
  /** Told of the keys a call revoked, after the commit (src/mail/: the owner is mailed when someone else acted); must not throw. */
  onRevoked?: (revoked: RevokedKey[], by: KeyActing) => void;
}

async function whereOf(target: RevokeTarget, deps: RevocationDeps): Promise<Prisma.ApiKeyWhereInput | null> {
  switch (target.kind) {
    case "own":
      return { id: target.id, userId: target.userId, appId: null };
    case "member":
      return { id: target.id, organizationId: target.organizationId, appId: null };
    case "app":
      return { id: target.id, appId: target.appId };
    case "raw": {
      const row = await deps.findByRaw(target.raw);
      return row ? { id: row.id } : null;
    }
    case "grant":
      return { grantId: target.grantId };
    case "client":
      return target.userId === undefined ? { clientId: target.clientId } : { clientId: target.clientId, userId: target.userId };
    case "resource":
      return boundTo(target.resource);
    case "ownMany":
      return { id: { in: [...target.ids] }, userId: target.userId, appId: null };
    case "ownUnused":
      return unusedWhere(target.userId, target.days, target.now);
  }
}

/** A user's own active keys not used in the `days` days before `now` (and older than that). */
export function unusedWhere(userId: string, days: number, now: Date): Prisma.ApiKeyWhereInput {
  if (!Number.isInteger(days) || days < 1) throw new RangeError("days must be a whole number of at least 1");
  const cutoff = new Date(now.getTime() - days * 86_400_000);
  return {
    userId,
    appId: null,
    revokedAt: null,
    createdAt: { lt: cutoff },
    OR: [{ lastUsedAt: null }, { lastUsedAt: { lt: cutoff } }],
  };
}

export function createRevocation(db: Db, deps: RevocationDeps) {
  const found = (row: KeyRow, wasActive: boolean): RevokedKey => ({
    key: deps.view(row),
    wasActive,
    owner: { id: row.userId, email: row.user.email },
    grantId: row.grantId,
  });

  return {
    /** The keys `revoke({ kind: "ownUnused", … })` would revoke now, without revoking them (a dry run). */
    async unusedKeys(userId: string, days: number, now: Date): Promise<KeyView[]> {
      const rows = await db.apiKey.findMany({
        where: unusedWhere(userId, days, now),
        include: { user: { select: { email: true } } },
        orderBy: [{ createdAt: "asc" }, { id: "asc" }],
      });
      return rows.map((row) => deps.view(row));
    },

    /** Revokes the keys `target` names; `by`: who acts, through which route, from where (the audit trail). */
    async revoke(target: RevokeTarget, by: KeyActing): Promise<RevokedKey[]> {
      const where = await whereOf(target, deps);
      if (!where) return [];
      const rows = await db.apiKey.findMany({
        where,
        include: { user: { select: { email: true } } },
        orderBy: [{ createdAt: "asc" }, { id: "asc" }],
      });
      if (rows.every((row) => row.revokedAt)) {
        // Already revoked (in SQL, or by a request whose announcement could not be confirmed): "revoked"
        // is still said only once every instance has let go of the key (src/keys/lookup/announce.ts).
        if (rows.length > 0) await announceCommitted(db);
        return rows.map((row) => found(row, false));
      }
      const revokedAt = new Date();
      const out = await db.$transaction(
        async (tx) => {
          const done: RevokedKey[] = [];
          for (const row of rows) {
            if (row.revokedAt) {
              done.push(found(row, false));
              continue;
            }
            // Per row, so that of two concurrent revocations exactly one revokes (and records) it.
            const { count } = await tx.apiKey.updateMany({ where: { id: row.id, revokedAt: null }, data: { revokedAt } });
            const now = count === 1 ? { ...row, revokedAt } : { ...row, ...(await tx.apiKey.findUnique({ where: { id: row.id } })) };
            done.push(found(now, count === 1));
          }
          await deps.audit.recordAll(
            done.filter((r) => r.wasActive).map((r) => keyRevoked(r.owner.id, r.key, by)),
            tx,
          );
          return done;
        },
        // A client or grant with many keys: one statement per key, all or none.
        { maxWait: 10_000, timeout: 60_000 },
      );
      // PostgreSQL: every instance's verification cache lets go of the keys after the commit and
      // before anyone is told they are revoked (at the end of the request; at once outside one: the
      // CLI, oidc-provider hooks).
      await announceCommitted(db);
      // Separate resource servers streaming from this instance get the revocation before we answer.
      if (out.some((r) => r.wasActive)) await keyEventsCommitted();
      const revoked = out.filter((r) => r.wasActive);
      if (revoked.length > 0) deps.onRevoked?.(revoked, by);
      return out;
    },
  };
}
