// What the row-finding steps (findInCache, findByHash) share: taking a found row into the
// context. A cached row is the same (frozen) object on every hit, so what is derived from it (the
// context's row and join, later its effective scopes and the key's view: ctx.shared) is derived
// once per row and shared, read-only.
import type { KeyLookupRow } from "../lookup/read-row.js";
import { sameHash } from "../hash.js";
import { asRole } from "../../orgs/roles.js";
import type { VerifyContext, VerifyFailure } from "./context.js";

type Derived = Pick<Required<VerifyContext>, "row" | "joined"> & Pick<VerifyContext, "shared">;

/** Only frozen (cached) rows are kept; a fresh row's derived data is dropped with it. */
const derivedOf = new WeakMap<KeyLookupRow, Derived>();

/** A cached row is frozen by the cache; its derived row is frozen too, which tells later steps it is shared. */
function derive(found: KeyLookupRow): Derived {
  const { userEmail, memberRole, appName, appOrganizationId, ...key } = found;
  const row = { ...key, user: Object.freeze({ id: key.userId, email: userEmail }) };
  const shared = Object.isFrozen(found);
  return {
    row: shared ? Object.freeze(row) : row,
    joined: { memberRole: memberRole ? asRole(memberRole) : null, app: key.appId && appName !== null ? { id: key.appId, name: appName, organizationId: appOrganizationId! } : null },
    shared: shared ? {} : undefined,
  };
}

/**
 * The row found for `digest`, confirmed with a constant-time comparison of the stored hash. A row
 * with derived data has passed that comparison, and the cache hands it out only for that exact
 * digest (a Map key), so the comparison runs once per row read from the database.
 */
export function takeRow(ctx: VerifyContext, digest: string, found: KeyLookupRow | undefined): VerifyFailure | undefined {
  if (!found) return "unknown_key";
  let d = derivedOf.get(found);
  if (!d) {
    if (!sameHash(found.hash, digest)) return "unknown_key";
    d = derive(found);
    if (Object.isFrozen(found)) derivedOf.set(found, d);
  }
  ctx.digest = digest;
  ctx.row = d.row;
  ctx.joined = d.joined;
  ctx.shared = d.shared;
  return undefined;
}
