// SHA-256 of the raw key → ONE indexed query that also brings what the later steps need (owner,
// the owner's role in the key's organisation, the owning app) → constant-time confirmation of the
// stored hash. One round trip per verified request: this is the hot path of every protected call.
import type { Db } from "../../db/client.js";
import type { ApiKey } from "../../generated/sqlite/client.js";
import { hashKey, sameHash } from "../hash.js";
import type { VerifyStep } from "./context.js";

/** The key row with its joins, as the single lookup returns it. */
export interface KeyLookupRow extends ApiKey {
  userEmail: string;
  /** The owner's role in the key's organisation; null when not a member (or no organisation). */
  memberRole: string | null;
  appName: string | null;
  appOrganizationId: string | null;
}

export const find_by_hash =
  (db: Db): VerifyStep =>
  async (ctx) => {
    const hash = hashKey(ctx.raw);
    const rows = await db.$queryRaw<KeyLookupRow[]>`
      SELECT k.*, u.email AS "userEmail", m.role AS "memberRole", a.name AS "appName", a."organizationId" AS "appOrganizationId"
      FROM "ApiKey" k
      JOIN "User" u ON u.id = k."userId"
      LEFT JOIN "Membership" m ON m."organizationId" = k."organizationId" AND m."userId" = k."userId"
      LEFT JOIN "App" a ON a.id = k."appId"
      WHERE k.hash = ${hash}`;
    const found = rows[0];
    if (!found || !sameHash(found.hash, hash)) return "unknown_key";
    const { userEmail, memberRole, appName, appOrganizationId, ...key } = found;
    ctx.hash = hash;
    ctx.row = { ...key, user: { id: key.userId, email: userEmail } };
    ctx.joined = { memberRole, app: key.appId && appName !== null ? { id: key.appId, name: appName, organizationId: appOrganizationId! } : null };
    return undefined;
  };
