// SHA-256 of the raw key → ONE indexed lookup that also brings what the later steps need (owner,
// the owner's role in the key's organisation, the owning app) → constant-time confirmation of the
// stored hash. At most one query per verified request, none when the verification cache holds the
// row (src/db/key-cache.ts): this is the hot path of every protected call. A cached row is the same
// object on every hit, so what is derived from it (the context's row and join, later the key's
// view) is derived once per row and shared, read-only.
import type { KeyLookup, KeyLookupRow } from "../../db/key-lookup.js";
import { hashKey, sameHash } from "../hash.js";
import type { VerifyContext, VerifyStep } from "./context.js";

type Derived = Pick<Required<VerifyContext>, "row" | "joined">;

/** A cached row is frozen by the cache; its derived row is frozen too, which tells later steps it is shared. */
function derive(found: KeyLookupRow): Derived {
  const { userEmail, memberRole, appName, appOrganizationId, ...key } = found;
  const row = { ...key, user: { id: key.userId, email: userEmail } };
  return {
    row: Object.isFrozen(found) ? Object.freeze(row) : row,
    joined: { memberRole, app: key.appId && appName !== null ? { id: key.appId, name: appName, organizationId: appOrganizationId! } : null },
  };
}

export const find_by_hash = (lookup: KeyLookup): VerifyStep => {
  const derived = new WeakMap<KeyLookupRow, Derived>();
  return async (ctx) => {
    const hash = hashKey(ctx.raw);
    const found = await lookup.find(hash);
    if (!found) return "unknown_key";
    // Keep what is derived only for cached rows (the cache freezes them); a fresh row's is dropped with it.
    // A row with derived data has passed the constant-time comparison, and the cache hands it out only
    // for that exact hash (a Map key), so the comparison runs once per row read from the database.
    let d = derived.get(found);
    if (!d) {
      if (!sameHash(found.hash, hash)) return "unknown_key";
      d = derive(found);
      if (Object.isFrozen(found)) derived.set(found, d);
    }
    ctx.hash = hash;
    ctx.row = d.row;
    ctx.joined = d.joined;
    return undefined;
  };
};
