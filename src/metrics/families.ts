// The route family a request belongs to: the only path-derived label /metrics carries. A bounded set
// of names, never a raw path, slug or id, so an attacker's made-up URLs cannot grow the label space.
// Paths are compared in lower case, as our routers and oidc-provider's match them.
import { isGatewayPath } from "../gateway/address.js";

export const ROUTE_FAMILIES = ["health", "metrics", "static", "gateway", "mcp", "metadata", "oauth", "api", "web"] as const;
export type RouteFamily = (typeof ROUTE_FAMILIES)[number];

/** First path segments oidc-provider and its interactions answer (src/oauth/provider-routes.ts). */
const OAUTH_SEGMENTS = new Set(["auth", "request", "token", "jwks", "reg", "me", "session", "interaction"]);

export function routeFamily(path: string): RouteFamily {
  if (isGatewayPath(path)) return "gateway";
  const lower = path.toLowerCase();
  const end = lower.indexOf("/", 1);
  const first = end === -1 ? lower.slice(1) : lower.slice(1, end);
  switch (first) {
    case "healthz":
    case "readyz":
      return "health";
    case "metrics":
      return "metrics";
    case "static":
      return "static";
    case "mcp":
      return "mcp"; // the gateway's paths (/mcp/<slug>, /mcp/ and escapes) were matched above
    case ".well-known":
      return "metadata";
    case "api":
      return "api";
    default:
      return OAUTH_SEGMENTS.has(first) ? "oauth" : "web";
  }
}
