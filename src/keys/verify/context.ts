import type { KeyRow } from "../lookup/index.js";
import type { Role } from "../../orgs/roles.js";
import type { ProofProblem } from "../dpop/proof.js";

export type VerifyFailure =
  | "invalid_format"
  | "unknown_key"
  | "revoked"
  | "user_disabled" // checkUserDisabled: an operator disabled the key's owner (src/admin/)
  | "client_blocked" // checkClientBlocked: an operator blocked the key's OAuth client (src/admin/)
  | "expired" // past the key's expiresAt (checkExpiry)
  | "wrong_resource"
  | "not_member"
  | "address_not_allowed" // checkAddress: the key's IP allowlist does not hold the client's address
  // checkBinding (RFC 9449 DPoP):
  | "dpop_required" // a DPoP-bound key sent as Bearer or X-API-Key
  | "dpop_not_bound" // a bearer key sent with the DPoP scheme
  | "dpop_proof_missing" // no DPoP header, or more than one
  | ProofProblem
  | "dpop_proof_replayed"
  | "dpop_key_mismatch"; // a valid proof, signed by another key pair than the key's

/**
 * How the request presented the key (src/http/credential.ts). `dpop`: `Authorization: DPoP <key>`,
 * with every DPoP header sent, the request's method and its ISSUER-based URL (for htm and htu).
 */
export type Presentation =
  | { readonly scheme: "bearer" } // Authorization: Bearer, or X-API-Key
  | { readonly scheme: "dpop"; readonly proofs: readonly string[]; readonly htm: string; readonly htu: string };

/** What the steps read and fill in, in order. */
export interface VerifyContext {
  readonly raw: string;
  /** The resource (RFC 8707 audience) the request is for; a key bound to another one is refused. */
  readonly resource?: string;
  /** How the key was presented to a protected resource; absent when nobody is using it (introspection). */
  readonly presented?: Presentation;
  /** The client address of the request using the key (src/http/client-address.ts); absent for introspection. */
  readonly address?: string;
  /** The key's row with its owner's email (findRow); shared with the cache: read only. */
  row?: Readonly<KeyRow>;
  /** Read by findRow in the same query as the row, for checkMembership . */
  joined?: { memberRole: Role | null; app: { id: string; name: string; organizationId: string } | null };
  /** The organisation the key acts in (checkMembership). */
  organizationId?: string;
  /** The key user's role there, read on every request; null for app keys. */
  role?: Role | null;
  /** App keys: the app that owns the key. */
  app?: { id: string; name: string } | null;
  /** The key's last use as noted by touchLastUsed (epoch ms), not yet written. */
  usedAt?: number;
  /** What the key may do now: its scopes (or the whole catalogue) with implications, capped by the role. */
  scopes?: readonly string[];
}

/** One check: returns a failure to stop the chain, nothing to continue. */
export type VerifyStep = (ctx: VerifyContext) => Promise<VerifyFailure | undefined> | VerifyFailure | undefined;
