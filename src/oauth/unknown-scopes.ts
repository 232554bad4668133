// oidc-provider drops scopes it does not know without a word; a client asking for a permission this
// server does not have should hear so (RFC 6749 §4.1.2.1 invalid_scope). Called from
// getResourceServerInfo, which runs after the redirect URI is checked, so the error goes back to
// the client's redirect_uri like any other authorization error.
import { errors, type KoaContextWithOIDC } from "oidc-provider";

/** Scopes oidc-provider itself understands (OpenID Connect). */
export const OIDC_SCOPES = ["openid", "email"] as const;
/**
 * Asked for by clients out of habit and ignored (OpenID Connect Core §11 lets a server not issue
 * refresh tokens): never published, never granted, and not worth failing an authorization over.
 */
const IGNORED_SCOPES = ["offline_access"] as const;

export function unknownScopes(requested: unknown, catalogue: readonly string[]): string[] {
  const known = new Set<string>([...OIDC_SCOPES, ...IGNORED_SCOPES, ...catalogue]);
  return typeof requested === "string" ? [...new Set(requested.split(" ").filter((s) => s && !known.has(s)))] : [];
}

/** Unknown scopes named in an error (a client that sent 1,500 would otherwise get a 20 kB redirect). */
const MAX_NAMED = 10;

export function refuseUnknownScopes(ctx: KoaContextWithOIDC, catalogue: readonly string[]): void {
  const unknown = unknownScopes(ctx.oidc?.params?.scope, catalogue);
  if (unknown.length) {
    // The description travels in the redirect's Location header: name a few, count the rest.
    const named =
      unknown.length > MAX_NAMED ? `${unknown.slice(0, MAX_NAMED).join(", ")} and ${unknown.length - MAX_NAMED} more` : unknown.join(", ");
    throw new errors.InvalidScope(
      `unknown scope${unknown.length > 1 ? "s" : ""} ${named}; this server knows ${catalogue.join(", ")}`,
      unknown.slice(0, MAX_NAMED).join(" "),
    );
  }
}
