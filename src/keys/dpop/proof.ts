// RFC 9449 §4.3: checking a DPoP proof presented with a DPoP-bound key at a protected resource.
// The proof is a JWT the client signs, per request, with the private key the key is bound to; its
// header carries the public key. What is checked, in order: one proof of bounded size; typ
// `dpop+jwt`; an asymmetric alg from DPOP_SIGNING_ALGS (no `none`, no HMAC); a public JWK in the
// header that verifies the signature; `jti` present; `htm` = the request's method; `htu` = the
// request's URL under the ISSUER, query and fragment ignored (never the Host header); `iat` within
// DPOP_IAT_WINDOW_SECONDS of now; `ath` = SHA-256 of the key presented. The thumbprint of the JWK
// (RFC 7638) is what the key row must be bound to; replay of `jti` is replay.ts's.
import { createHash } from "node:crypto";
import { calculateJwkThumbprint, EmbeddedJWK, jwtVerify, type JWK } from "jose";

/** Proof signing algorithms accepted: those oidc-provider accepts at the token endpoint (its default). */
export const DPOP_SIGNING_ALGS: readonly string[] = Object.freeze(["ES256", "Ed25519", "EdDSA"]);
/** How far a proof's `iat` may be from this server's clock, either way (no server nonces). */
export const DPOP_IAT_WINDOW_SECONDS = 60;
/** A proof is a few hundred bytes; anything longer is refused before parsing. */
const MAX_PROOF_LENGTH = 4096;

export type ProofProblem = "dpop_proof_invalid" | "dpop_proof_htm" | "dpop_proof_htu" | "dpop_proof_iat" | "dpop_proof_ath";

export interface CheckedProof {
  /** RFC 7638 SHA-256 thumbprint of the proof's public key (base64url). */
  jkt: string;
  jti: string;
  iat: number;
}

export interface ProofRequest {
  /** The DPoP header's value. */
  proof: string;
  /** The request's method. */
  htm: string;
  /** The request's URL: the ISSUER plus the request's path, no query. */
  htu: string;
  /** The key presented with the proof (the `ath` it must carry is its SHA-256). */
  raw: string;
}

/** `htu` as RFC 9449 compares it: the URL with query and fragment removed, normalised by WHATWG URL. */
function sameUrl(claimed: unknown, expected: string): boolean {
  if (typeof claimed !== "string") return false;
  const url = URL.canParse(claimed) ? new URL(claimed) : undefined;
  if (!url) return false;
  url.search = "";
  url.hash = "";
  return url.href === new URL(expected).href;
}

export async function checkProof(request: ProofRequest, nowSeconds = Math.floor(Date.now() / 1000)): Promise<CheckedProof | ProofProblem> {
  if (request.proof.length > MAX_PROOF_LENGTH) return "dpop_proof_invalid";
  let payload: Record<string, unknown>;
  let jwk: JWK;
  try {
    const verified = await jwtVerify(request.proof, EmbeddedJWK, { typ: "dpop+jwt", algorithms: [...DPOP_SIGNING_ALGS] });
    payload = verified.payload as Record<string, unknown>;
    jwk = verified.protectedHeader.jwk as JWK;
  } catch {
    return "dpop_proof_invalid"; // malformed, wrong typ, alg not allowed, no/private/odd jwk, bad signature
  }
  const { jti, iat, htm, htu, ath } = payload;
  if (typeof jti !== "string" || jti.length === 0 || jti.length > 256 || typeof iat !== "number" || !Number.isFinite(iat))
    return "dpop_proof_invalid";
  if (htm !== request.htm) return "dpop_proof_htm";
  if (!sameUrl(htu, request.htu)) return "dpop_proof_htu";
  if (Math.abs(nowSeconds - iat) > DPOP_IAT_WINDOW_SECONDS) return "dpop_proof_iat";
  if (ath !== createHash("sha256").update(request.raw).digest("base64url")) return "dpop_proof_ath";
  return { jkt: await calculateJwkThumbprint(jwk, "sha256"), jti, iat };
}
