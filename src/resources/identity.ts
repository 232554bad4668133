// What names a protected resource: its slug, and the URL built from it that is its RFC 8707
// identifier (the audience keys are bound to) and the address MCP hosts are given.
// Keyward's own /mcp is the built-in resource: it has no slug and no upstream.
export const GATEWAY_PREFIX = "/mcp/";
export const BUILT_IN_PATH = "/mcp";
/** What the built-in resource is called on consent, key pages and in its metadata (resource_name). */
export const BUILT_IN_NAME = "Keyward MCP server";

/** Lowercase letters, digits and inner hyphens, 1 to 40 characters: one path segment, the same however a URL is written. */
export const SLUG = /^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$/;

/** `<ISSUER>/mcp/<slug>`: the resource's public URL and RFC 8707 identifier. */
export const resourceUrl = (baseUrl: string, slug: string): string => `${baseUrl}${GATEWAY_PREFIX}${slug}`;

/** The built-in resource's URL: Keyward's own MCP endpoint. */
export const builtInResourceUrl = (baseUrl: string): string => `${baseUrl}${BUILT_IN_PATH}`;

/** RFC 9728 metadata of a resource: the well-known prefix inserted before the resource's path. */
export const resourceMetadataUrl = (baseUrl: string, slug: string): string =>
  `${baseUrl}/.well-known/oauth-protected-resource${GATEWAY_PREFIX}${slug}`;

/** The slug a gateway resource URL names, or undefined for any other URL (the built-in one included). */
export function slugOfUrl(baseUrl: string, url: string): string | undefined {
  const prefix = `${baseUrl}${GATEWAY_PREFIX}`;
  if (!url.startsWith(prefix)) return undefined;
  const slug = url.slice(prefix.length);
  return SLUG.test(slug) ? slug : undefined;
}
