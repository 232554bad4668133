// What a caller of Keyward's own API may do: the one place that decides which management scopes a
// key carries (keys:*, orgs:*), and what a key may mint. The JSON API (user keys and app keys) and so
// the remote CLI ask here; browser sessions are the user themself and keep their full access.
//
//   - A key with no scopes is "the user's full access" (like a classic GitHub token): every scope of
//     the catalogue (capped by the role) and every management scope. Except keys issued to OAuth
//     clients: they never hold management scopes (and are bound to /mcp, which the API refuses).
//   - A key with explicit scopes manages keys or organisations only when it names keys:* / orgs:*.
//   - A viewer's key is read-only here too (the role cap): at most keys:read and orgs:read.
//   - A key mints only in the organisation it acts in, only scopes it holds itself (implications
//     expanded, role cap applied), and "no scopes" only when it has full access itself.
//   - A DPoP-bound key (RFC 9449) mints only keys bound to the same key pair: the new key inherits
//     the binding, and another one is refused. A sender-constrained key never yields a bearer key.
import { expandScopes, type ScopeCatalogue } from "../scopes/catalogue.js";
import { expandManagement, isManagementScope, MANAGEMENT_SCOPES, type ManagementScope } from "../scopes/management.js";
import type { KeyView } from "./view.js";
import type { Role } from "../orgs/roles.js";

/** Who acts: the user's browser session, or a verified user key (src/http/state.ts KeyAuth fits). */
export type Caller =
  | { via: "session" }
  | {
      via: "key";
      key: Pick<KeyView, "scopes" | "source" | "resources" | "dpopJkt" | "allowedIps" | "rateLimit">;
      /** The organisation the key acts in. */
      organizationId: string;
      /** The key's effective catalogue scopes on this request (implications expanded, role cap applied). */
      scopes: readonly string[];
      /** The key user's role in that organisation, read on this request. */
      role?: Role | null;
    };

export interface Refusal {
  status: 403;
  error: "insufficient_scope";
  description: string;
  /** The scope to ask for, when one would do (WWW-Authenticate scope="…"). */
  scope?: string;
}

/** A key minted with no scopes, not by an OAuth client: the user's full access. */
const fullAccessKey = (caller: Caller) =>
  caller.via === "session" || (caller.key.scopes.length === 0 && caller.key.source !== "oauth" && caller.key.resources === null);

/** The management scopes the caller holds (expanded; a viewer's key only the read ones). */
export function managementOf(caller: Caller): Set<ManagementScope> {
  if (caller.via === "session") return new Set(MANAGEMENT_SCOPES);
  const held = fullAccessKey(caller)
    ? new Set<ManagementScope>(MANAGEMENT_SCOPES)
    : caller.key.source !== "oauth"
      ? expandManagement(caller.key.scopes)
      : new Set<ManagementScope>();
  if (caller.role === "viewer") for (const scope of held) if (scope.endsWith(":write")) held.delete(scope);
  return held;
}

/** Null when the caller may use an API that needs `scope`. */
export function managementRefusal(caller: Caller, scope: ManagementScope): Refusal | null {
  if (managementOf(caller).has(scope)) return null;
  return { status: 403, error: "insufficient_scope", scope, description: `This key lacks the ${scope} scope` };
}

export interface MintAsk {
  /** The organisation asked for (undefined: the caller key's own, or for a session the personal one). */
  organizationId: string | undefined;
  /** The scopes asked for; empty = full access. */
  scopes: readonly string[];
  /** An app key (organisation app, not capped by a role). */
  app?: boolean;
  /** The DPoP key-pair thumbprint the new key is to be bound to (RFC 9449), if any. */
  dpopJkt?: string | null;
}

/** `dpopJkt`: the binding the new key gets (the asked one, or the calling key's own). */
export type MintDecision = { ok: true; organizationId: string | undefined; dpopJkt: string | null } | { ok: false; refusal: Refusal };

const refuse = (description: string, scope?: string): MintDecision => ({
  ok: false,
  refusal: { status: 403, error: "insufficient_scope", description, ...(scope ? { scope } : {}) },
});

/**
 * May `caller` mint a key with `ask`? Sessions: yes (keys.mint still checks membership). Keys: only in
 * their own organisation, only a subset of their own access, "everything" only from full access.
 */
export function decideMint(caller: Caller, ask: MintAsk, catalogue: ScopeCatalogue): MintDecision {
  if (caller.via === "session") return { ok: true, organizationId: ask.organizationId, dpopJkt: ask.dpopJkt ?? null };
  const bound = caller.key.dpopJkt;
  if (bound && ask.dpopJkt && ask.dpopJkt !== bound)
    return refuse("This key is DPoP-bound: the keys it mints are bound to the same key pair (leave dpop_jkt out, or name this key's own).");
  const dpopJkt = bound ?? ask.dpopJkt ?? null;
  // Another organisation (the user's or not, existing or not) gets one answer, naming only the key's own.
  if (ask.organizationId !== undefined && ask.organizationId !== caller.organizationId) {
    return refuse(
      `This key acts in organisation ${caller.organizationId} and can mint keys only there. Use a key of that organisation, or the account page.`,
    );
  }
  const held = new Set(caller.scopes);
  if (ask.scopes.length === 0) {
    if (!fullAccessKey(caller)) return refuse("This key has limited scopes: name the scopes the new key gets (a subset of this key's).");
    // App keys are not capped by a role: full access for an app is the whole catalogue.
    if (ask.app && catalogue.some((s) => !held.has(s.name)))
      return refuse("This key does not hold every scope: name the scopes the app key gets (a subset of this key's).");
    return { ok: true, organizationId: caller.organizationId, dpopJkt };
  }
  const catalogueAsked = ask.scopes.filter((s) => !isManagementScope(s));
  const missing = [...expandScopes(catalogue, catalogueAsked)].filter((s) => !held.has(s));
  if (missing.length) return refuse(`This key cannot grant ${missing.join(", ")}: a key mints only access it has itself.`, missing[0]);
  const management = managementOf(caller);
  const missingManagement = [...expandManagement(ask.scopes)].filter((s) => !management.has(s));
  if (missingManagement.length)
    return refuse(`This key cannot grant ${missingManagement.join(", ")}: a key mints only access it has itself.`, missingManagement[0]);
  return { ok: true, organizationId: caller.organizationId, dpopJkt };
}
