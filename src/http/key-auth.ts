// Key middleware: presented key → keys.verify() → ctx.state.auth, or a 401 that points MCP clients
// at the protected-resource metadata (RFC 9728) so they can start OAuth: an RFC 6750 `Bearer`
// challenge, or an RFC 9449 `DPoP` one (with the accepted proof algorithms) when the request used
// the DPoP scheme or the key must be sent with it.
import type { Middleware } from "koa";
import { DPOP_SIGNING_ALGS, type Keys, type Presentation, type VerifyFailure, type VerifyResult } from "../keys/index.js";
import { readCredential } from "./credential.js";
import type { Ctx, KeywardState } from "./state.js";
import { describe } from "../doctor/reasons.js";
import type { Doctor } from "../doctor/index.js";

const DESCRIPTIONS: Record<VerifyFailure, string> = {
  invalid_format: "The key is malformed or mistyped",
  unknown_key: "The key is not recognised",
  revoked: "The key has been revoked",
  user_disabled: "The key's owner has been disabled by an administrator of this server",
  client_blocked: "The OAuth client the key was issued to has been blocked by an administrator of this server",
  expired: "key expired",
  wrong_resource: "The key was issued for another resource",
  not_member: "The key's owner is no longer a member of the key's organisation",
  address_not_allowed: "The key is not allowed from this client IP address (its IP allowlist does not include it)",
  dpop_required: "The key is DPoP-bound: send it as Authorization: DPoP <key> with a DPoP proof",
  dpop_not_bound: "The key is not DPoP-bound: send it as Authorization: Bearer <key>",
  dpop_proof_missing: "Send exactly one DPoP header with a DPoP-bound key",
  dpop_proof_invalid: "The DPoP proof is not a valid dpop+jwt signed with an accepted algorithm by the key in its header",
  dpop_proof_htm: "The DPoP proof's htm is not this request's method",
  dpop_proof_htu: "The DPoP proof's htu is not this request's URL",
  dpop_proof_iat: "The DPoP proof's iat is not recent enough",
  dpop_proof_ath: "The DPoP proof's ath is not the hash of this key",
  dpop_proof_replayed: "The DPoP proof has been used before",
  dpop_key_mismatch: "The DPoP proof was not signed by the key pair the key is bound to",
};

/** RFC 9449 §7.1: problems with the proof itself are `invalid_dpop_proof`; the rest `invalid_token`. */
const PROOF_FAILURES = new Set<VerifyFailure>([
  "dpop_proof_missing",
  "dpop_proof_invalid",
  "dpop_proof_htm",
  "dpop_proof_htu",
  "dpop_proof_iat",
  "dpop_proof_ath",
  "dpop_proof_replayed",
]);
/** Failures that are about DPoP: answered with a DPoP challenge whatever scheme the request used. */
const DPOP_FAILURES = new Set<VerifyFailure>([...PROOF_FAILURES, "dpop_required", "dpop_key_mismatch"]);
const DPOP_ALGS = DPOP_SIGNING_ALGS.join(" ");

export interface KeyAuthOptions {
  /** URL of the protected-resource metadata, named in WWW-Authenticate. */
  resourceMetadata: string;
  /**
   * The public base URL (ISSUER). A DPoP proof's `htu` must be this plus the request's path: the
   * URL clients see, never one built from the Host header.
   */
  issuer: string;
  /** The resource identifier the request is for (RFC 8707 audience check). */
  resource?: string;
  /** Accept app keys (keys owned by an organisation's app, not a person). Default: refuse them. */
  allowApps?: boolean;
  /**
   * The gateway: the resource is the request's own (chosen by an earlier middleware), so its
   * identifier and its metadata URL are read per request, replacing `resource` and `resourceMetadata`.
   */
  forRequest?: (ctx: Ctx) => { resource: string; resourceMetadata: string };
  /** The connection doctor (src/doctor/): a found key's refusal in its words, recorded; an OAuth key's first use. */
  doctor?: Doctor;
  /** The doctor's words only, nothing recorded (the JSON API: its requests are not a connection's steps). */
  doctorWordsOnly?: boolean;
}

/**
 * RFC 6750 §3.1 insufficient_scope, naming the scope to ask for (MCP clients step up with it), and in
 * words the tool that needs it (the connection doctor's words: src/doctor/reasons.ts).
 */
export function insufficientScopeChallenge(options: Pick<KeyAuthOptions, "resourceMetadata">, scope: string, tool?: string): string {
  const words = describe({ kind: "missing_scope", scope, tool: headerSafe(tool) });
  return `Bearer error="insufficient_scope", scope="${scope}", resource_metadata="${options.resourceMetadata}", error_description="${words}"`;
}

/** A tool name as it may appear in a quoted header value; anything else is left out. */
export function headerSafe(name: string | undefined): string | undefined {
  return name !== undefined && /^[\w.:/-]{1,100}$/.test(name) ? name : undefined;
}

export function challenge(
  options: Pick<KeyAuthOptions, "resourceMetadata">,
  error?: { code: string; description: string },
  scheme: "Bearer" | "DPoP" = "Bearer",
): string {
  const parts =
    scheme === "DPoP"
      ? [`algs="${DPOP_ALGS}"`, `resource_metadata="${options.resourceMetadata}"`]
      : [`resource_metadata="${options.resourceMetadata}"`];
  if (error) parts.push(`error="${error.code}"`, `error_description="${error.description}"`);
  return `${scheme} ${parts.join(", ")}`;
}

function fail(
  ctx: Ctx,
  options: KeyAuthOptions,
  status: number,
  code: string | undefined,
  description: string,
  scheme: "Bearer" | "DPoP" = "Bearer",
): void {
  ctx.status = status;
  ctx.set("WWW-Authenticate", challenge(options, code ? { code, description } : undefined, scheme));
  ctx.set("Cache-Control", "no-store");
  ctx.body = { error: code ?? "unauthorized", error_description: description };
}

const BEARER: Presentation = Object.freeze({ scheme: "bearer" });

/** The status an error thrown by a later middleware will be answered with (the error middleware's rule). */
function statusOfError(err: unknown): number {
  const status = (err as { status?: unknown; statusCode?: unknown } | null)?.status ?? (err as { statusCode?: unknown } | null)?.statusCode;
  return typeof status === "number" && status >= 400 && status < 600 ? status : 500;
}

export function requireKey(keys: Keys, options: KeyAuthOptions): Middleware<KeywardState> {
  const issuer = options.issuer.replace(/\/+$/, "");
  // Usage (src/keys/usage/): every request whose key is known is counted by the status it got:
  // refusals here (a revoked key's 401), and the answer of whatever ran after (403, 429 or served).
  // With KEY_USAGE_COUNTING=false the request goes on untouched (no callback at all).
  const { note, enabled } = keys.usage;
  const counted = (ctx: Ctx, keyId: string, next: () => Promise<unknown> | unknown) =>
    // A middleware after this one may answer at once without a promise (a rate limit's 429).
    Promise.resolve(next()).then(
      () => note(keyId, ctx.status),
      (err: unknown) => {
        note(keyId, statusOfError(err));
        throw err;
      },
    );
  /** The verified key becomes ctx.state.auth, and the request goes on; anything else is answered here. */
  /** A refusal (401), in the connection doctor's words (issue 26) when the key was found. */
  const refuse = async (ctx: Ctx, target: KeyAuthOptions, result: Extract<VerifyResult, { ok: false }>, presented: Presentation) => {
    const { reason, found } = result;
    const scheme = presented.scheme === "dpop" || DPOP_FAILURES.has(reason) ? "DPoP" : "Bearer";
    const { doctor } = options;
    const words =
      found && doctor
        ? await (options.doctorWordsOnly ? doctor.explained : doctor.refused)(reason, found, target.resource, DESCRIPTIONS[reason])
        : DESCRIPTIONS[reason];
    fail(ctx, target, 401, PROOF_FAILURES.has(reason) ? "invalid_dpop_proof" : "invalid_token", words, scheme);
    if (result.keyId) note(result.keyId, ctx.status);
  };
  const admit = (ctx: Ctx, target: KeyAuthOptions, result: VerifyResult, presented: Presentation, next: () => Promise<unknown>) => {
    if (!result.ok) return refuse(ctx, target, result, presented);
    const { organizationId, scopes, key } = result;
    if (result.app) {
      if (!options.allowApps) {
        fail(ctx, target, 401, "invalid_token", "App keys cannot be used here");
        return note(key.id, ctx.status);
      }
      ctx.state.auth = { via: "app", user: null, app: result.app, organizationId, role: null, key, scopes };
    } else {
      ctx.state.auth = { via: "key", user: result.user, app: null, organizationId, role: result.role, key, scopes };
    }
    if (!options.doctorWordsOnly)
      options.doctor?.used({ id: key.id, clientId: key.clientId, source: key.source, userId: result.user.id }, target.resource); // issue 26
    return enabled ? counted(ctx, key.id, next) : next();
  };
  return async (ctx, next) => {
    const target = options.forRequest ? { ...options, ...options.forRequest(ctx) } : options;
    const credential = readCredential(ctx);
    if (credential.kind === "none")
      return fail(ctx, target, 401, undefined, "Authentication required: send Authorization: Bearer <key> or X-API-Key: <key>");
    if (credential.kind === "malformed") return fail(ctx, target, 400, "invalid_request", credential.reason);
    // RFC 9449 §4.3: htu is the request's URL without query and fragment, as the client addressed it.
    // The client address (src/http/client-address.ts) for the key's IP allowlist, if it has one.
    const verifyOptions =
      credential.scheme === "dpop"
        ? {
            resource: target.resource,
            presented: { scheme: "dpop", proofs: credential.proofs, htm: ctx.method, htu: `${issuer}${ctx.path}` } as const,
            address: ctx.ip,
          }
        : { resource: target.resource, presented: BEARER, address: ctx.ip };
    const presented = verifyOptions.presented;
    return admit(ctx, target, await keys.verify(credential.raw, verifyOptions), presented, next);
  };
}
