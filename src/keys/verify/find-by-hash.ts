// SHA-256 of the raw key → ONE indexed lookup that also brings what the later steps need (owner,
// the owner's role in the key's organisation, the owning app) → constant-time confirmation of the
// stored hash (key-row.ts). At most one query per verified request, none when the verification
// cache holds the row (src/keys/lookup/cache.ts). Skipped when findInCache already found it.
import type { KeyLookup } from "../lookup/read-row.js";
import { digestKey } from "../hash.js";
import type { VerifyStep } from "./context.js";
import { takeRow } from "./key-row.js";

export const findByHash =
  (lookup: KeyLookup): VerifyStep =>
  (ctx) => {
    if (ctx.row) return undefined;
    const digest = ctx.digest ?? digestKey(ctx.raw);
    return lookup.find(digest).then((found) => takeRow(ctx, digest, found));
  };
