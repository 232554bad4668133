// THE answer to "which oidc-provider endpoint does this request reach?". oidc-provider's router
// matches paths case-insensitively, accepts one trailing slash and percent-decodes parameters, so
// `POST /REG/` is registration just like `POST /reg`. Anything that applies a policy to a provider
// endpoint (the mount, the registration policy, default scopes, which errors are JSON) asks this
// module, which matches with the provider's own router class over the provider's route table —
// never by comparing path strings.
import Router from "oidc-provider/lib/helpers/router.js";

type Method = "GET" | "POST" | "PUT" | "DELETE" | "OPTIONS";

/** oidc-provider's routes for the features provider.ts enables (lib/helpers/initialize_app.js, default `routes`). */
const ROUTES: readonly (readonly [Method, string, string])[] = [
  ["GET", "discovery", "/.well-known/oauth-authorization-server"],
  ["OPTIONS", "cors.discovery", "/.well-known/oauth-authorization-server"],
  ["GET", "discovery", "/.well-known/openid-configuration"],
  ["OPTIONS", "cors.discovery", "/.well-known/openid-configuration"],
  ["GET", "authorization", "/auth"],
  ["GET", "resume", "/auth/:uid"],
  ["POST", "pushed_authorization_request", "/request"],
  ["OPTIONS", "cors.pushed_authorization_request", "/request"],
  ["GET", "userinfo", "/me"],
  ["POST", "userinfo", "/me"],
  ["OPTIONS", "cors.userinfo", "/me"],
  ["POST", "token", "/token"],
  ["OPTIONS", "cors.token", "/token"],
  ["GET", "jwks", "/jwks"],
  ["OPTIONS", "cors.jwks", "/jwks"],
  ["POST", "registration", "/reg"],
  ["GET", "client", "/reg/:clientId"],
  ["PUT", "client_update", "/reg/:clientId"],
  ["DELETE", "client_delete", "/reg/:clientId"],
  ["POST", "revocation", "/token/revocation"],
  ["OPTIONS", "cors.revocation", "/token/revocation"],
  ["POST", "introspection", "/token/introspection"],
  ["OPTIONS", "cors.introspection", "/token/introspection"],
  ["POST", "end_session_confirm", "/session/end/confirm"],
];

const METHODS: readonly Method[] = ["GET", "POST", "PUT", "DELETE", "OPTIONS"];
const noop = () => undefined;
const router = new Router();
for (const [method, name, path] of ROUTES) {
  if (method === "GET") router.get(name, path, noop);
  else if (method === "POST") router.post(name, path, noop);
  else if (method === "PUT") router.put(name, path, noop);
  else if (method === "DELETE") router.delete(name, path, noop);
  else router.options(name, path, noop);
}

export interface ProviderRoute {
  /** oidc-provider's route name: "registration", "client_delete", "token", … */
  name: string;
  /** Decoded path parameters (e.g. `clientId`), as oidc-provider will see them. */
  params: Record<string, string>;
}

/** The provider endpoint `method path` reaches, or undefined when the provider would not handle it. */
export function providerRoute(method: string, path: string): ProviderRoute | undefined {
  const matched = router.match(method.toUpperCase(), path);
  return matched ? { name: matched.route.name, params: matched.params } : undefined;
}

/** The provider endpoint `path` reaches with any method (for decisions that do not depend on it). */
export function providerRouteOfPath(path: string): ProviderRoute | undefined {
  for (const method of METHODS) {
    const route = providerRoute(method, path);
    if (route) return route;
  }
  return undefined;
}

/** Endpoints that answer machines (JSON errors), as opposed to /auth, which a browser opens. */
const MACHINE_ROUTES = new Set([
  "discovery",
  "token",
  "jwks",
  "userinfo",
  "registration",
  "client",
  "client_update",
  "client_delete",
  "revocation",
  "introspection",
  "pushed_authorization_request",
]);

export function isMachineEndpoint(path: string): boolean {
  const route = providerRouteOfPath(path);
  return route !== undefined && MACHINE_ROUTES.has(route.name.replace(/^cors\./, ""));
}
