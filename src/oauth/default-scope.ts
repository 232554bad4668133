// oidc-provider refuses an authorization that ends with no scope granted ("no scope was granted"),
// which is what a client that sends no `scope` gets. Such a client asks for the user's ordinary
// access, so it is given the whole scope catalogue (OAuth 2.1 §3.2.2.1 lets the server default it).
import querystring from "node:querystring";
import type { Middleware } from "koa";
import { providerRoute } from "./provider-routes.js";

/** Where an authorization request arrives: /auth, or pushed first (RFC 9126 PAR). */
const AUTHORIZATION_REQUESTS = new Set(["authorization", "pushed_authorization_request"]);

export function defaultScope(scopes: readonly string[]): Middleware {
  const all = scopes.join(" ");
  return async (ctx, next) => {
    if (!all || !AUTHORIZATION_REQUESTS.has(providerRoute(ctx.method, ctx.path)?.name ?? "")) return next();
    if (ctx.method === "GET") {
      const params = new URLSearchParams(ctx.querystring);
      if (!params.get("scope")) {
        params.set("scope", all);
        ctx.querystring = params.toString();
      }
    } else if (ctx.method === "POST" && ctx.is("application/x-www-form-urlencoded")) {
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of ctx.req) {
        size += (chunk as Buffer).length;
        if (size > 64 * 1024) ctx.throw(413, "request body is too large");
        chunks.push(chunk as Buffer);
      }
      const form = querystring.parse(Buffer.concat(chunks).toString("utf8"));
      if (!form.scope) form.scope = all;
      ctx.request.body = form; // oidc-provider reads a pre-parsed body
    }
    await next();
  };
}
