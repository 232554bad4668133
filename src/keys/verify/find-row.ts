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

/** The key row as found (the cache's rows are shared: read, never changed) and its join, parsed. */
function take(ctx: VerifyContext, found: KeyRow): void {
  ctx.row = found;
  ctx.joined = {
    memberRole: found.memberRole ? asRole(found.memberRole) : null,
    app: found.appId && found.appName !== null ? { id: found.appId, name: found.appName, organizationId: found.appOrganizationId! } : null,
  };
}
