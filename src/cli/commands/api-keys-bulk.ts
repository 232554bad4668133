// `keyward api-keys revoke --ids a,b,c | --all-unused-days N [--dry-run]`: what the options may say,
// and how the keys it revoked (or, in a dry run, would revoke) are printed.
import type { KeyView } from "../../keys/index.js";
import { MAX_BULK_REVOKE } from "../../keys/revoke.js";
import { CliError } from "../errors.js";
import { note, out, printJson } from "../io.js";

export interface RevokeOptions {
  ids?: string;
  allUnusedDays?: string;
  dryRun?: boolean;
  user?: string;
  server?: string;
  json?: boolean;
}

export type BulkTarget = { kind: "ids"; ids: string[]; dryRun: boolean } | { kind: "unused"; days: number; dryRun: boolean };

/** The most days --all-unused-days takes (a hundred years). */
const MAX_DAYS = 36_500;

/** The bulk form the options name, or null for `revoke <id>`; exactly one of <id>, --ids, --all-unused-days. */
export function bulkTarget(id: string | undefined, options: RevokeOptions): BulkTarget | null {
  const given = [id !== undefined, options.ids !== undefined, options.allUnusedDays !== undefined].filter(Boolean).length;
  if (given !== 1) throw CliError.usage("give one key id, --ids <id,id,…> or --all-unused-days <days>");
  const dryRun = options.dryRun === true;
  if (options.ids !== undefined) {
    const ids = [
      ...new Set(
        options.ids
          .split(",")
          .map((s) => s.trim())
          .filter(Boolean),
      ),
    ];
    if (ids.length === 0) throw CliError.usage("--ids: give at least one key id (key_…), separated by commas");
    if (ids.length > MAX_BULK_REVOKE) throw CliError.usage(`--ids: at most ${MAX_BULK_REVOKE} ids at once`);
    return { kind: "ids", ids, dryRun };
  }
  if (options.allUnusedDays !== undefined) {
    const text = options.allUnusedDays.trim();
    const days = /^\d{1,6}$/.test(text) ? Number(text) : NaN;
    if (!Number.isInteger(days) || days < 1 || days > MAX_DAYS)
      throw CliError.usage(`--all-unused-days: a whole number of days from 1 to ${MAX_DAYS}, not "${options.allUnusedDays}"`);
    return { kind: "unused", days, dryRun };
  }
  if (dryRun) throw CliError.usage("--dry-run goes with --ids or --all-unused-days");
  return null;
}

const day = (iso: string | null) => (iso ? iso.slice(0, 10) : "never");

/** One line per key on stdout (or a JSON array), the sum on stderr. */
export function reportBulk(keys: readonly KeyView[], target: BulkTarget, options: { json?: boolean }): void {
  if (options.json) return printJson(keys);
  const verb = target.dryRun ? "Would revoke" : "Revoked";
  for (const k of keys)
    out(`${verb} ${k.id} "${k.label}" (…${k.last4}, ${k.sourceLabel}, created ${day(k.createdAt)}, last used ${day(k.lastUsedAt)})`);
  const n = `${keys.length} ${keys.length === 1 ? "key" : "keys"}`;
  if (keys.length === 0)
    note(target.kind === "unused" ? `No active key unused for ${target.days} days: nothing to revoke.` : "Those keys are already revoked.");
  else if (target.dryRun) note(`Dry run: ${n} would be revoked; nothing was revoked.`);
  else note(`Revoked ${n}. ${keys.length === 1 ? "It stops" : "They stop"} working on the next request.`);
}
