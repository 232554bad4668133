// Which requests are the gateway's, and which resource they name. Every path under /mcp/ (in any
// case, with any escapes) belongs to the gateway; only the canonical `/mcp/<slug>` of an existing
// resource is served. Every other spelling (upper case, a trailing slash, %-escapes, `..`, a sub-path)
// gets the same 404 as an unknown slug, so no variant can reach an upstream or tell resources apart.
import { GATEWAY_PREFIX, SLUG } from "../resources/index.js";

/** True for a path the gateway answers (served or 404); Keyward's own /mcp is not one of them. */
export function isGatewayPath(path: string): boolean {
  const lower = path.toLowerCase();
  if (lower.startsWith(GATEWAY_PREFIX)) return true;
  // "/mcp%2F…" and other escapes of the separator are still ours (to refuse), never someone else's route.
  return lower.startsWith("/mcp%2f") || lower.startsWith("/mcp%5c") || lower.startsWith("/mcp\\");
}

/** The slug of a canonical gateway path, or undefined for every other spelling. */
export function slugOfPath(path: string): string | undefined {
  if (!path.startsWith(GATEWAY_PREFIX)) return undefined;
  const slug = path.slice(GATEWAY_PREFIX.length);
  return SLUG.test(slug) ? slug : undefined;
}
