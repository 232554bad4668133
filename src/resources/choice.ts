// Which resources a portal key is bound to, as people name them: the account page's checkboxes, the
// JSON API's `resources` and the CLI's `--resource`. A resource is named by its slug or its URL
// (`<ISSUER>/mcp/<slug>`, or a separate resource server's own URL); Keyward's own /mcp, which has no slug, is "mcp" or `<ISSUER>/mcp`.
// Keys store URLs (src/keys/: RFC 8707 audiences); this turns names into URLs and URLs back into names.
import type { ResourceLookup } from "./lookup.js";
import type { Resource } from "./store.js";
import { BUILT_IN_NAME, SLUG, slugOfUrl } from "./identity.js";

/** The built-in resource's name where a slug goes. */
export const BUILT_IN_SLUG = "mcp";
export const ALL_RESOURCES = "All resources";

export interface ResourceChoice {
  /** The slug, or "mcp" for the built-in resource. */
  slug: string;
  name: string;
  url: string;
  builtIn: boolean;
}

/** A name that is no resource, in words (the page shows it, the API answers 400, the CLI exits 2). */
export class UnknownResourceError extends Error {}

interface Sources {
  baseUrl: string;
  resources: { list(): Promise<Resource[]>; lookup: Pick<ResourceLookup, "bySlug" | "byUrl"> };
}

export const builtInChoice = (baseUrl: string): ResourceChoice => ({
  slug: BUILT_IN_SLUG,
  name: BUILT_IN_NAME,
  url: `${baseUrl}/mcp`,
  builtIn: true,
});

/** Every resource a key can be bound to: the built-in one first, then the gateway's by slug. */
export async function resourceChoices(sources: Sources): Promise<ResourceChoice[]> {
  const gateway = (await sources.resources.list()).map((r) => ({ slug: r.slug, name: r.name, url: r.url, builtIn: false }));
  return [builtInChoice(sources.baseUrl), ...gateway];
}

/**
 * The URLs of the named resources (slugs or URLs, "mcp" for the built-in), duplicates dropped, in the
 * order given. Throws UnknownResourceError naming the first name that is no resource.
 */
export async function resolveResources(names: readonly string[], sources: Sources): Promise<string[]> {
  const builtIn = builtInChoice(sources.baseUrl).url;
  const urls: string[] = [];
  for (const raw of names) {
    const name = raw.trim();
    const asUrl = name.replace(/\/+$/, "");
    let url: string | undefined;
    if (name === BUILT_IN_SLUG || asUrl === builtIn) url = builtIn;
    else if (slugOfUrl(sources.baseUrl, asUrl) !== undefined) url = (await sources.resources.lookup.byUrl(asUrl))?.url;
    else if (SLUG.test(name)) url = (await sources.resources.lookup.bySlug(name))?.url;
    // A separate resource server, by its own URL (as registered, or without its trailing slash).
    else if (/^https?:\/\//.test(name))
      url = (await sources.resources.lookup.byUrl(name))?.url ?? (await sources.resources.lookup.byUrl(asUrl))?.url;
    if (!url) {
      const shown = name.length > 100 ? `${name.slice(0, 100)}…` : name;
      throw new UnknownResourceError(
        `Unknown resource "${shown}": name a resource by its slug (as the Resources page lists them, "${BUILT_IN_SLUG}" for Keyward's own) or by its URL`,
      );
    }
    if (!urls.includes(url)) urls.push(url);
  }
  return urls;
}

/** How a key's binding reads: "All resources", or the resources' names (a removed one by its URL). */
export function resourcesText(bound: readonly string[] | null, choices: readonly ResourceChoice[]): string {
  if (bound === null) return ALL_RESOURCES;
  return bound.map((url) => choices.find((c) => c.url === url)?.name ?? url).join(", ");
}

/** The slug-like short name of a resource URL, for tables without names: "mcp", the slug, or the URL. */
export function shortResourceName(url: string, baseUrl?: string): string {
  const base = baseUrl ?? url.replace(/\/mcp(\/[^/]+)?$/, "");
  if (url === `${base}/mcp`) return BUILT_IN_SLUG;
  return slugOfUrl(base, url) ?? url;
}
