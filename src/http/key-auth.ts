// Bearer middleware: presented key → keys.verify() → ctx.state.auth, or an RFC 6750 401 that
// points MCP clients at the protected-resource metadata (RFC 9728) so they can start OAuth.
import type { Middleware } from "koa";
import type { Keys, VerifyFailure, VerifyResult } from "../keys/index.js";
import { readCredential } from "./credential.js";
import type { Ctx, KeywardState } from "./state.js";

const DESCRIPTIONS: Record<VerifyFailure, string> = {
  invalid_format: "The key is malformed or mistyped",
  unknown_key: "The key is not recognised",
  revoked: "The key has been revoked",
  wrong_resource: "The key was issued for another resource",
  not_member: "The key's owner is no longer a member of the key's organisation",
};

export interface KeyAuthOptions {
  /** URL of the protected-resource metadata, named in WWW-Authenticate. */
  resourceMetadata: string;
  /** The resource identifier the request is for (RFC 8707 audience check). */
  resource?: string;
  /** Accept app keys (keys owned by an organisation's app, not a person). Default: refuse them. */
  allowApps?: boolean;
}

/** RFC 6750 §3.1 insufficient_scope, naming the scope to ask for (MCP clients step up with it). */
export function insufficientScopeChallenge(options: KeyAuthOptions, scope: string): string {
  return `Bearer error="insufficient_scope", scope="${scope}", resource_metadata="${options.resourceMetadata}", error_description="This key lacks the ${scope} scope"`;
}

export function challenge(options: KeyAuthOptions, error?: { code: string; description: string }): string {
  const parts = [`resource_metadata="${options.resourceMetadata}"`];
  if (error) parts.push(`error="${error.code}"`, `error_description="${error.description}"`);
  return `Bearer ${parts.join(", ")}`;
}

function fail(ctx: Ctx, options: KeyAuthOptions, status: number, code: string | undefined, description: string): void {
  ctx.status = status;
  ctx.set("WWW-Authenticate", challenge(options, code ? { code, description } : undefined));
  ctx.set("Cache-Control", "no-store");
  ctx.body = { error: code ?? "unauthorized", error_description: description };
}

export function requireKey(keys: Keys, options: KeyAuthOptions): Middleware<KeywardState> {
  const verifyOptions = { resource: options.resource };
  /** The verified key becomes ctx.state.auth, and the request goes on; anything else is answered here. */
  const admit = (ctx: Ctx, result: VerifyResult, next: () => Promise<unknown>) => {
    if (!result.ok) return fail(ctx, options, 401, "invalid_token", DESCRIPTIONS[result.reason]);
    const { organizationId, scopes, key } = result;
    if (result.app) {
      if (!options.allowApps) return fail(ctx, options, 401, "invalid_token", "App keys cannot be used here");
      ctx.state.auth = { via: "app", user: null, app: result.app, organizationId, role: null, key, scopes };
    } else {
      ctx.state.auth = { via: "key", user: result.user, app: null, organizationId, role: result.role, key, scopes };
    }
    return next();
  };
  // Not an async function: a key the verification cache holds is checked without a promise, and
  // the request goes straight on to next() (keys.verify answers at once then).
  return (ctx, next) => {
    const credential = readCredential(ctx);
    if (credential.kind === "none") return fail(ctx, options, 401, undefined, "Authentication required: send Authorization: Bearer <key> or X-API-Key: <key>");
    if (credential.kind === "malformed") return fail(ctx, options, 400, "invalid_request", credential.reason);
    const result = keys.verify(credential.raw, verifyOptions);
    return result instanceof Promise ? result.then((r) => admit(ctx, r, next)) : admit(ctx, result, next);
  };
}
