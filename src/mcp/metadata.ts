// RFC 9728 protected-resource metadata: for Keyward's own /mcp (the built-in resource) and for each
// resource of the gateway at /.well-known/oauth-protected-resource/mcp/<slug>. Tells MCP clients which
// authorization server issues keys for it, which scopes exist and how to present keys.
import { Router } from "@koa/router";
import type { Config } from "../config.js";
import type { KeywardState } from "../http/state.js";
import { BUILT_IN_NAME } from "../resources/identity.js";
import { DPOP_SIGNING_ALGS } from "../keys/dpop/proof.js";
import { SLUG } from "../resources/identity.js";
import type { ResourceLookup } from "../resources/lookup.js";

export const MCP_PATH = "/mcp";
export const PRM_PATH = "/.well-known/oauth-protected-resource/mcp";
export { BUILT_IN_NAME };

export const mcpResource = (config: Config) => `${config.baseUrl}${MCP_PATH}`;
export const mcpResourceMetadataUrl = (config: Config) => `${config.baseUrl}${PRM_PATH}`;

/** The metadata document of a resource: the built-in one by default, or `{ url, name }` of a gateway resource. */
export function protectedResourceMetadata(
  config: Config,
  resource: { url: string; name: string } = { url: mcpResource(config), name: BUILT_IN_NAME },
) {
  return {
    resource: resource.url,
    authorization_servers: [config.baseUrl],
    bearer_methods_supported: ["header"],
    // RFC 9449 §5.1: DPoP-bound keys are accepted with proofs signed with these.
    dpop_signing_alg_values_supported: [...DPOP_SIGNING_ALGS],
    scopes_supported: config.scopes,
    resource_name: resource.name,
    resource_documentation: `${config.baseUrl}/`,
  };
}

/**
 * `resources`: how a gateway resource is read (services.resources.lookup: cached behind the key
 * lookup's change token, so a resource added through any instance is discoverable on the next request).
 */
export function metadataRoutes(config: Config, resources?: Pick<ResourceLookup, "bySlug">): Router<KeywardState> {
  const router = new Router<KeywardState>();
  const body = protectedResourceMetadata(config);
  for (const path of [PRM_PATH, "/.well-known/oauth-protected-resource"]) {
    router.get(path, (ctx) => {
      ctx.set("Access-Control-Allow-Origin", "*");
      ctx.set("Cache-Control", "public, max-age=300");
      ctx.body = body;
    });
  }
  if (resources) {
    router.get(`${PRM_PATH}/:slug`, async (ctx) => {
      ctx.set("Access-Control-Allow-Origin", "*");
      // Only the canonical slug (lowercase, one segment): any other spelling names no resource, so
      // no path variant can reach another resource's document.
      const slug = ctx.params.slug ?? "";
      const found = SLUG.test(slug) ? await resources.bySlug(slug) : undefined;
      // A separate resource server publishes its own metadata (docs/resource-servers.md): Keyward serves nothing at its slug.
      const resource = found?.transport.kind === "external" ? undefined : found;
      if (!resource) {
        // Never cached: a resource added a moment later must be discoverable at once.
        ctx.set("Cache-Control", "no-store");
        ctx.status = 404;
        ctx.body = { error: "not_found", error_description: "There is no protected resource at this address." };
        return;
      }
      // A minute, not the built-in's five: a resource can be renamed or removed at any time, and a
      // client that fetched this during discovery learns about a removal from the resource's own
      // 401/404 anyway. Short enough that a renamed resource shows its new name soon everywhere.
      ctx.set("Cache-Control", "public, max-age=60");
      ctx.body = protectedResourceMetadata(config, resource);
    });
  }
  return router;
}
