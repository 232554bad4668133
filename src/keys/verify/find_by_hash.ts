// SHA-256 of the raw key → ONE indexed lookup that also brings what the later steps need (owner,
// the owner's role in the key's organisation, the owning app) → constant-time confirmation of the
// stored hash. One round trip per verified request: this is the hot path of every protected call.
import type { KeyLookup } from "../../db/key-lookup.js";
import { hashKey, sameHash } from "../hash.js";
import type { VerifyStep } from "./context.js";

export const find_by_hash =
  (lookup: KeyLookup): VerifyStep =>
  async (ctx) => {
    const hash = hashKey(ctx.raw);
    const found = await lookup.find(hash);
    if (!found || !sameHash(found.hash, hash)) return "unknown_key";
    const { userEmail, memberRole, appName, appOrganizationId, ...key } = found;
    ctx.hash = hash;
    ctx.row = { ...key, user: { id: key.userId, email: userEmail } };
    ctx.joined = { memberRole, app: key.appId && appName !== null ? { id: key.appId, name: appName, organizationId: appOrganizationId! } : null };
    return undefined;
  };
