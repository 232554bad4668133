// Roll (issue 28, as Stripe does it): one action mints the replacement of a key and schedules the old
// key's end after an overlap window (now, 1 h, 24 h or 7 days); both work during the window. The
// replacement keeps the label, scopes, resources, organisation, app and DPoP binding; a key with an
// expiry gets one of the same length from now (within the organisation's cap). The old key's end is
// its `expiresAt` (./expiry.ts): at the end of the window it fails with "key expired", on every
// instance at once. One transaction writes the new row, its `key.minted` event, the old key's end and
// replacedById, and a `key.rolled` event naming both ids; the old key is claimed only while it is
// active and not rolled yet, so of two concurrent rolls exactly one wins.
//
// OAuth keys are not rolled: the app that holds one cannot receive a replacement shown in a browser.
// Their owner revokes the key (or disconnects the app) and the app signs in again for a new one.
import type { Db } from "../db/client.js";
import type { ApiKey } from "../generated/sqlite/client.js";
import { keyRolled, type KeyActing } from "../audit/key-events.js";
import type { Audit } from "../audit/index.js";
import { announceCommitted } from "./lookup/announce.js";
import { isExpired } from "./expiry.js";
import { activeAt } from "./audience-where.js";
import { toView, type KeySource } from "./view.js";
import { allowedRanges } from "./limits/cidr.js";
import type { KeyService, Minted } from "./store.js";

/** The overlap windows a roll offers, in ms. */
export const ROLL_OVERLAPS = { now: 0, "1h": 3_600_000, "24h": 86_400_000, "7d": 7 * 86_400_000 } as const;
export type RollOverlap = keyof typeof ROLL_OVERLAPS;
export const ROLL_OVERLAP_NAMES = Object.keys(ROLL_OVERLAPS) as RollOverlap[];
export const isRollOverlap = (value: unknown): value is RollOverlap =>
  typeof value === "string" && Object.prototype.hasOwnProperty.call(ROLL_OVERLAPS, value);

/** Which key to roll, scoped like revoke.ts's targets (another user's or app's id is not found). */
export type RollTarget =
  /** A user's own key (not an app key): the account page, the JSON API, the CLI. */
  | { kind: "own"; userId: string; id: string }
  /** An app's key: its organisation's admins (`userId`: the admin, who mints the replacement). */
  | { kind: "app"; appId: string; userId: string; id: string };

/** The key cannot be rolled as it is (revoked, expired, rolled already: 409) or at all (an OAuth key: 400). */
export class RollRefusedError extends Error {
  constructor(
    readonly status: 400 | 409,
    message: string,
  ) {
    super(message);
  }
}

export interface Rolled extends Minted {
  /** The old key, as it is after the roll (its end in `expiresAt`, `replacedById` the new key). */
  old: ReturnType<typeof toView>;
}

/** The replacement's source: CLI keys stay CLI keys; portal and imported keys become portal keys. */
const replacementSource = (source: string): KeySource => (source === "cli" ? "cli" : "portal");

function refusal(row: ApiKey, now: number): RollRefusedError | null {
  if (row.source === "oauth")
    return new RollRefusedError(
      400,
      "OAuth keys cannot be rolled: the app that holds the key could not receive the new one. Revoke the key (or disconnect the app) and let the app sign in again.",
    );
  if (row.revokedAt) return new RollRefusedError(409, "This key is revoked: it cannot be rolled. Create a new key instead.");
  if (row.replacedById) return new RollRefusedError(409, `This key was rolled already: its replacement is ${row.replacedById}.`);
  if (isExpired(row.expiresAt, now))
    return new RollRefusedError(409, "This key has expired: it cannot be rolled. Create a new key instead.");
  return null;
}

export function createRoll(db: Db, deps: { mint: KeyService["mint"]; audit: Audit }) {
  return {
    /**
     * Rolls the key `target` names; null when there is no such key (another user's: the same). `by`:
     * who acts (the audit trail). Throws RollRefusedError, or KeyInputError when the replacement
     * cannot be minted (the owner left the organisation, the app is gone).
     */
    async roll(target: RollTarget, overlap: RollOverlap, by: KeyActing): Promise<Rolled | null> {
      const where = target.kind === "own" ? { id: target.id, userId: target.userId, appId: null } : { id: target.id, appId: target.appId };
      const old = await db.apiKey.findFirst({ where });
      if (!old) return null;
      const now = Date.now();
      const refused = refusal(old, now);
      if (refused) throw refused;
      const lifetime = old.expiresAt ? old.expiresAt.getTime() - old.createdAt.getTime() : null;
      const end = new Date(Math.min(now + ROLL_OVERLAPS[overlap], old.expiresAt?.getTime() ?? Infinity));
      let after: ApiKey | undefined;
      const minted = await deps.mint(
        {
          userId: target.userId,
          label: old.label,
          source: replacementSource(old.source),
          scopes: old.scopes.split(" ").filter(Boolean),
          resources: old.resource ? old.resource.split(" ").filter(Boolean) : null,
          organizationId: old.organizationId,
          appId: old.appId,
          dpopJkt: old.dpopJkt,
          // Its limits too: a roll never yields a less limited key (src/keys/limits/).
          allowedIps: allowedRanges(old.allowedIps),
          rateLimit: old.rateLimit,
          expiresAt: lifetime === null ? null : new Date(now + Math.max(lifetime, 60_000)),
          capExpiry: true,
        },
        { ...by, note: { ...by.note, rolledFrom: old.id } },
        undefined,
        async (tx, created) => {
          // Claimed only while still active and not rolled: a concurrent roll or revoke makes this one fail as a whole.
          const { count } = await tx.apiKey.updateMany({
            where: { id: old.id, replacedById: null, ...activeAt(new Date()) },
            data: { expiresAt: end, replacedById: created.id },
          });
          if (count !== 1) {
            const current = await tx.apiKey.findUnique({ where: { id: old.id } });
            throw (
              (current && refusal(current, Date.now())) ??
              new RollRefusedError(409, "This key changed while it was being rolled: try again.")
            );
          }
          after = { ...old, expiresAt: end, replacedById: created.id };
          await deps.audit.record(
            keyRolled(old.userId, toView(after), {
              ...by,
              note: { ...by.note, replacementId: created.id, endsAt: end.toISOString(), overlap },
            }),
            tx,
          );
        },
      );
      // Every instance's verification cache lets go of the old row (its new end) before anyone is told.
      await announceCommitted(db);
      return { ...minted, old: toView(after!) };
    },
  };
}
