// SHA-256 of the raw key → indexed lookup → constant-time confirmation of the stored hash.
import type { Db } from "../../db/client.js";
import { hashKey, sameHash } from "../hash.js";
import type { VerifyStep } from "./context.js";

export const find_by_hash =
  (db: Db): VerifyStep =>
  async (ctx) => {
    const hash = hashKey(ctx.raw);
    const row = await db.apiKey.findUnique({ where: { hash }, include: { user: true } });
    if (!row || !sameHash(row.hash, hash)) return "unknown_key";
    ctx.hash = hash;
    ctx.row = row;
    return undefined;
  };
