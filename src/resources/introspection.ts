// RFC 7662 introspection for separate resource servers, at oidc-provider's own endpoint
// (/token/introspection, as the metadata advertises it), answered here before oidc-provider when the
// caller authenticates with a resource's credentials (`rsc_…`). oidc-provider compares a client's
// secret in clear from its Client records; a resource's secret is kept only as a hash, so its
// requests never reach it. Every other caller (clients, `keyward resource-servers`) goes on to
// oidc-provider unchanged.
//
// A resource's credentials see a key as active only when the key works at that resource: bound to it
// (alone or with others) or to every resource, and passing every check verification makes (revoked,
// membership, role). Anything else, another resource's key included, is {"active": false}.
import querystring from "node:querystring";
import type { Middleware } from "koa";
import type { Services } from "../services.js";
import type { KeywardState } from "../http/state.js";
import { HttpError } from "../http/errors.js";
import { refuseIllFormedBody } from "../http/body.js";
import { providerRoute } from "../oauth/provider-routes.js";
import { expClaim, FIRST_PARTY_CLIENT_ID } from "../oauth/access-token-adapter.js";
import { authenticateResource, basicCredentials, invalidClient, isResourceCredentialId, type PresentedCredentials } from "./server-auth.js";

/** oidc-provider's own body limit for its endpoints. */
const BODY_LIMIT = 56 * 1024;

async function readBody(ctx: { req: NodeJS.ReadableStream & { readable: boolean } }): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req) {
    size += (chunk as Buffer).length;
    if (size > BODY_LIMIT) throw new HttpError(413, "invalid_request", "request body is too large");
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString("utf8");
}

const single = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);

export function resourceIntrospection(services: Services): Middleware<KeywardState> {
  const { lookup } = services.resources;
  return async (ctx, next) => {
    if (ctx.method !== "POST" || providerRoute(ctx.method, ctx.path)?.name !== "introspection") return next();
    const basic = basicCredentials(ctx.get("authorization") || undefined);
    if (basic !== undefined && basic !== "malformed" && !isResourceCredentialId(basic.clientId)) return next();
    if (basic === "malformed") return next(); // oidc-provider answers it, as for any client
    let form: querystring.ParsedUrlQuery | undefined;
    if (ctx.is("application/x-www-form-urlencoded")) {
      const raw = await readBody(ctx);
      form = querystring.parse(raw);
      if (basic === undefined && !isResourceCredentialId(single(form.client_id) ?? "")) {
        // Not ours: oidc-provider reads the body we consumed from here (its documented fallback).
        (ctx.req as typeof ctx.req & { body?: string }).body = raw;
        return next();
      }
    } else if (basic === undefined) return next();
    ctx.set("Cache-Control", "no-store");
    if (!form) throw new HttpError(400, "invalid_request", "the request must be application/x-www-form-urlencoded");
    refuseIllFormedBody(form);
    const posted = form.client_id !== undefined || form.client_secret !== undefined;
    if (basic && posted) throw new HttpError(400, "invalid_request", "client authentication must use exactly one method");
    const presented: PresentedCredentials | undefined =
      basic ??
      (single(form.client_id) !== undefined && single(form.client_secret) !== undefined
        ? { clientId: single(form.client_id)!, clientSecret: single(form.client_secret)! }
        : undefined);
    if (!presented) throw invalidClient();
    const { resource } = await authenticateResource(lookup, presented);
    const token = single(form.token);
    if (!token) throw new HttpError(400, "invalid_request", "missing required parameter 'token'");

    const result = await services.keys.verify(token, { resource: resource.url });
    if (!result.ok) {
      ctx.body = { active: false };
      return;
    }
    const { key } = result;
    const iat = Math.floor(Date.parse(key.createdAt) / 1000);
    ctx.body = {
      active: true,
      sub: result.user.id,
      username: result.user.email,
      scope: result.scopes.join(" "),
      aud: key.resources ?? [resource.url],
      client_id: key.clientId ?? FIRST_PARTY_CLIENT_ID,
      token_type: key.dpopJkt ? "DPoP" : "Bearer",
      iat,
      // The key's expiry, or the far-future one some consumers require for a key that never expires.
      exp: expClaim(key),
      iss: services.config.baseUrl,
      organization_id: result.organizationId,
      role: result.role,
      ...(result.app ? { app: { id: result.app.id, name: result.app.name } } : {}),
      ...(key.dpopJkt ? { cnf: { jkt: key.dpopJkt } } : {}),
    };
  };
}
