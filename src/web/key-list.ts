// The account page's key list: what its query string (search and filters, bookmarkable) and its
// rename and bulk-revoke forms may say, and the note about how fresh "Last used" is.
import { z } from "zod";
import { KEY_SOURCES, type KeySource } from "../keys/view.js";
import type { KeyFilter } from "../keys/store.js";
import { HttpError } from "../http/errors.js";
import { MAX_BULK_REVOKE } from "../keys/revoke.js";
import type { ResourceChoice } from "../resources/choice.js";

export const MAX_SEARCH_LENGTH = 100;
export const MAX_BULK_IDS = MAX_BULK_REVOKE;

const first = (v: unknown): unknown => (Array.isArray(v) ? v[0] : v);

/**
 * ?q=&status=&source=&resource= → the filter (`resource`: a slug among `choices`, the resources a key
 * can name). Lenient, as links are: a value we do not know (an old bookmark,
 * a typo) is no filter, and a search longer than a label can be is cut to that length.
 */
export function filterOfQuery(query: Record<string, unknown>, choices: readonly ResourceChoice[] = []): KeyFilter {
  const q = first(query.q);
  const status = first(query.status);
  const source = first(query.source);
  const resource = first(query.resource);
  const filter: KeyFilter = {};
  if (typeof q === "string" && q.trim()) filter.q = q.trim().slice(0, MAX_SEARCH_LENGTH);
  if (status === "active" || status === "revoked" || status === "expired") filter.status = status;
  if (typeof source === "string" && (KEY_SOURCES as readonly string[]).includes(source)) filter.source = source as KeySource;
  const chosen = choices.find((c) => c.slug === resource);
  if (chosen) filter.resource = chosen.url;
  return filter;
}

/** The filter as a query string to append to the pager's links ("" without a filter, else "&q=…"). */
export function filterQueryString(filter: KeyFilter, choices: readonly ResourceChoice[] = []): string {
  const params = new URLSearchParams();
  if (filter.q) params.set("q", filter.q);
  if (filter.status) params.set("status", filter.status);
  if (filter.source) params.set("source", filter.source);
  const chosen = choices.find((c) => c.url === filter.resource);
  if (chosen) params.set("resource", chosen.slug);
  const text = params.toString();
  return text ? `&${text}` : "";
}

export const renameForm = z.object({ label: z.string().default("") });

/** The ids a bulk form sent: checkboxes (`ids` repeated) or the confirmation page's one comma-separated field. */
export function bulkIdsInput(body: unknown): string[] {
  const raw = (body as Record<string, unknown> | undefined)?.ids;
  const values = Array.isArray(raw) ? raw : raw === undefined ? [] : [raw];
  const ids = values
    .filter((v): v is string => typeof v === "string")
    .flatMap((v) => v.split(","))
    .map((v) => v.trim())
    .filter(Boolean);
  if (ids.length > MAX_BULK_IDS) throw new HttpError(400, "invalid_request", `At most ${MAX_BULK_IDS} keys at once.`);
  return [...new Set(ids)];
}

/** "at most once a minute", from the tracker's interval (src/keys/last-used.ts, LAST_USED_FLUSH_SECONDS). */
export function lastUsedInterval(ms: number): string {
  const seconds = Math.round(ms / 1000);
  if (seconds === 60) return "once a minute";
  if (seconds % 60 === 0) return `once every ${seconds / 60} minutes`;
  return seconds === 1 ? "once a second" : `once every ${seconds} seconds`;
}

export function lastUsedNote(ms: number): string {
  return `“Last used” is saved at most ${lastUsedInterval(ms)} per key, so it can be up to that much behind.`;
}
