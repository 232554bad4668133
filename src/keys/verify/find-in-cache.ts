// The hot path of every protected call: a key this instance has verified before, found in the
// verification cache by the SHA-256 digest of what was presented, while the cache can vouch for it
// at once (PostgreSQL's key-change feed; src/keys/lookup/cache.ts). No I/O, no promise, and no format
// check: only the exact key hashes to a stored key's hash, and it passed checkFormat when it was
// first read. A miss (or a cache that must first check for changes: SQLite) goes on to checkFormat
// and findByHash; checkFormat is skipped there too when the cache holds a row for the digest,
// current or not (the same proof: only that key has that digest, and it passed before).
import type { KeyLookup } from "../lookup/read-row.js";
import { digestKey } from "../hash.js";
import type { VerifyStep } from "./context.js";
import { takeRow } from "./key-row.js";
import { MAX_KEY_LENGTH } from "../format.js";
import { MAX_LEGACY_KEY_LENGTH } from "../legacy.js";

const MAX_LENGTH = Math.max(MAX_KEY_LENGTH, MAX_LEGACY_KEY_LENGTH);

export const findInCache =
  (lookup: KeyLookup): VerifyStep =>
  (ctx) => {
    // Without a cache there is nothing to find: hash after checkFormat. Nothing longer than any key
    // is hashed before checkFormat has had its say (bounds the work on junk).
    if (!lookup.holds || ctx.raw.length > MAX_LENGTH) return undefined;
    const digest = digestKey(ctx.raw);
    ctx.digest = digest;
    const found = lookup.cached?.(digest);
    if (found) return takeRow(ctx, digest, found);
    ctx.wellFormed = lookup.holds(digest);
    return undefined;
  };
