// SHA-256 of the raw key → ONE indexed lookup that also brings what the later steps need (owner,
// the owner's role in the key's organisation, the owning app) → constant-time confirmation of the
// stored hash (key_row.ts). At most one query per verified request, none when the verification
// cache holds the row (src/db/key-cache.ts). Skipped when find_in_cache already found it.
import type { KeyLookup } from "../../db/key-lookup.js";
import { digestKey } from "../hash.js";
import type { VerifyStep } from "./context.js";
import { takeRow } from "./key_row.js";

export const find_by_hash =
  (lookup: KeyLookup): VerifyStep =>
  (ctx) => {
    if (ctx.row) return undefined;
    const digest = ctx.digest ?? digestKey(ctx.raw);
    return lookup.find(digest).then((found) => takeRow(ctx, digest, found));
  };
