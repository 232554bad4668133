// The Resources page: every MCP server a key from this Keyward opens (Keyward's own /mcp and each
// resource of the gateway), with its URL and the snippets that connect an MCP host to it. Owners and
// admins of a (shared) organisation also see each resource's upstream, its health as the gateway last
// saw it, and which members of THEIR organisations hold active keys that work there: never anyone of
// an organisation they do not administer.
import { Router } from "@koa/router";
import type { Services } from "../services.js";
import type { KeywardState } from "../http/state.js";
import type { MemberKeyView } from "../keys/index.js";
import { resourceMetadataUrl, type ResourceHealthView } from "../resources/index.js";
import { transportJson, transportText } from "../resources/transport.js";
import { canAdminister } from "../orgs/roles.js";
import { allHostSnippets, resourceTarget, type HostSnippet } from "../mcp/host-configs.js";
import { BUILT_IN_NAME, mcpResourceMetadataUrl } from "../mcp/metadata.js";
import { BUILT_IN_SLUG } from "../resources/choice.js";
import { sendPage } from "./render.js";
import { endOnRedirect, requireLogin } from "./require-login.js";

export const RESOURCES_PAGE = "/resources";

/** Who holds active keys that work at a resource, in one administered organisation. */
export interface KeyHolder {
  email: string;
  organization: string;
  /** Active keys bound to this resource (alone or with others). */
  bound: number;
  /** Active keys that work at every resource. */
  everywhere: number;
}

export interface ResourceEntry {
  slug: string;
  name: string;
  url: string;
  metadataUrl: string;
  builtIn: boolean;
  snippets: HostSnippet[];
  /** Admins only (null for everyone else, and for the built-in one). */
  upstream: string | null;
  health: ResourceHealthView | null;
  /** Admins only: null for everyone else. */
  holders: KeyHolder[] | null;
}

/** Active member keys of the administered organisations that work at `url`, grouped by person. */
export function keyHolders(url: string, orgKeys: readonly { organization: string; keys: readonly MemberKeyView[] }[]): KeyHolder[] {
  const holders = new Map<string, KeyHolder>();
  for (const { organization, keys } of orgKeys) {
    for (const k of keys) {
      if (k.status !== "active") continue;
      const everywhere = k.resources === null;
      if (k.resources !== null && !k.resources.includes(url)) continue;
      const id = `${organization}\u0000${k.ownerId}`;
      const holder = holders.get(id) ?? { email: k.ownerEmail, organization, bound: 0, everywhere: 0 };
      if (everywhere) holder.everywhere++;
      else holder.bound++;
      holders.set(id, holder);
    }
  }
  return [...holders.values()].sort((a, b) => a.organization.localeCompare(b.organization) || a.email.localeCompare(b.email));
}

export function resourcesRoutes(services: Services): Router<KeywardState> {
  const { config } = services;
  const router = new Router<KeywardState>();
  router.use(endOnRedirect);

  router.get(RESOURCES_PAGE, async (ctx) => {
    const user = requireLogin(ctx);
    // A personal organisation has no other members: owning it makes no one an administrator here.
    const administered = (await services.orgs.listForUser(user.id)).filter((o) => !o.personal && canAdminister(o.role));
    const isAdmin = administered.length > 0;
    const orgKeys = isAdmin
      ? await Promise.all(administered.map(async (o) => ({ organization: o.name, keys: await services.keys.listForOrganization(o.id) })))
      : [];

    const builtInUrl = `${config.baseUrl}/mcp`;
    const entries: ResourceEntry[] = [
      {
        slug: BUILT_IN_SLUG,
        name: BUILT_IN_NAME,
        url: builtInUrl,
        metadataUrl: mcpResourceMetadataUrl(config),
        builtIn: true,
        snippets: allHostSnippets(config.baseUrl),
        upstream: null,
        health: null,
        holders: isAdmin ? keyHolders(builtInUrl, orgKeys) : null,
      },
    ];
    for (const r of await services.resources.list()) {
      entries.push({
        slug: r.slug,
        name: r.name,
        url: r.url,
        metadataUrl: resourceMetadataUrl(config.baseUrl, r.slug),
        builtIn: false,
        snippets: allHostSnippets(config.baseUrl, resourceTarget(r)),
        upstream: isAdmin ? transportText(transportJson(r.transport)) : null,
        health: isAdmin ? await services.resources.health(r.id) : null,
        holders: isAdmin ? keyHolders(r.url, orgKeys) : null,
      });
    }
    await sendPage(ctx, "resources", {
      title: "Resources",
      entries,
      isAdmin,
      administered: administered.map((o) => o.name),
    });
  });

  return router;
}
