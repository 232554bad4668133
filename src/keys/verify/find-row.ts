// SHA-256 of the raw key → ONE indexed lookup that also brings what the later steps need (owner,
// the owner's role in the key's organisation, the owning app) → constant-time confirmation of the
// stored hash. At most one query per verified request, none when the verification cache holds the
// row (the reader is then the cache: src/keys/lookup/cache.ts).
import type { KeyReader, KeyRow } from "../lookup/index.js";
import { digestKey, sameHash } from "../hash.js";
import { asRole } from "../../orgs/roles.js";
import type { VerifyContext, VerifyStep } from "./context.js";

export const findRow =
  (reader: KeyReader): VerifyStep =>
  async (ctx) => {
    const digest = digestKey(ctx.raw);
    const found = await reader.find(digest);
    if (!found || !sameHash(found.hash, digest)) return "unknown_key";
    take(ctx, found);
    return undefined;
  };

/** The key row and its join, as the later steps read them. */
function take(ctx: VerifyContext, found: KeyRow): void {
  const { userEmail, memberRole, appName, appOrganizationId, ...key } = found;
  ctx.row = { ...key, user: { id: key.userId, email: userEmail } };
  ctx.joined = {
    memberRole: memberRole ? asRole(memberRole) : null,
    app: key.appId && appName !== null ? { id: key.appId, name: appName, organizationId: appOrganizationId! } : null,
  };
}
