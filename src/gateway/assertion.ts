// X-Keyward-Assertion: a short-lived JWT the upstream can verify to know a request really came
// through the gateway, for whom, with which scopes. Signed with the key oidc-provider signs with (the
// set published at <ISSUER>/jwks), one signature per request; the imported private key is kept.
// Its `typ` (kw-assertion+jwt) and `aud` (the resource URL) keep it from passing for an ID token.
//
// Signed with node:crypto's one-shot sign() rather than jose's SignJWT: the same compact JWS, without
// WebCrypto's promise job and jose's builder, which cost more than the Ed25519 signature itself (a
// fifth of Keyward's CPU per gateway request before, bench/RESULTS-gateway.md). Never reused across
// requests, even for the same key, resource and scopes: each carries its own `jti`, and upstreams
// are told they may refuse a `jti` seen before (docs/gateway-upstream.md).
//
// Signed one ahead: when a request takes its assertion, the next one for the same claims (same key,
// resource, scopes, user) is signed just after, off the request's path (setImmediate: while the
// upstream works on this request), and waits for the next request, which takes it if it is at most
// AHEAD_FRESH_SECONDS old (so it has 55 s or more left) and signs on the spot otherwise. A signature
// is the largest piece of work before the gateway can forward (a third of it on a request that comes
// after a pause, bench/RESULTS-gateway.md); this takes it off the path of every request but a key's
// first. Each assertion still goes to one request only; `iat` is when it was signed. The price: a
// key used once leaves one signed for nothing (dropped when stale or when AHEAD_HELD others came later).
import { createPrivateKey, randomUUID, sign, type JsonWebKey, type KeyObject } from "node:crypto";
import type { JWK } from "jose";
import type { PrivateJwks } from "../secrets.js";
import type { AppAuth, KeyAuth } from "../http/state.js";

export const ASSERTION_TYP = "kw-assertion+jwt";
export const ASSERTION_TTL_SECONDS = 60;

const PREFERRED_ALGS = ["EdDSA", "Ed25519", "ES256", "RS256"];

/** How node:crypto signs for each JWS algorithm a signing key may name (RFC 7518 §3, RFC 8037). */
const SIGNING: Readonly<Record<string, { digest: string | null; dsaEncoding?: "ieee-p1363" }>> = {
  EdDSA: { digest: null },
  Ed25519: { digest: null },
  ES256: { digest: "sha256", dsaEncoding: "ieee-p1363" },
  ES384: { digest: "sha384", dsaEncoding: "ieee-p1363" },
  ES512: { digest: "sha512", dsaEncoding: "ieee-p1363" },
  RS256: { digest: "sha256" },
  RS384: { digest: "sha384" },
  RS512: { digest: "sha512" },
};

/** A key's algorithm: its `alg`, or what its type implies. */
function algOf(jwk: JWK): string {
  if (typeof jwk.alg === "string") return jwk.alg;
  if (jwk.kty === "OKP") return "EdDSA";
  if (jwk.kty === "EC") return jwk.crv === "P-384" ? "ES384" : jwk.crv === "P-521" ? "ES512" : "ES256";
  return "RS256";
}

const base64url = (value: object) => Buffer.from(JSON.stringify(value)).toString("base64url");

export interface AssertionSigner {
  sign(identity: KeyAuth | AppAuth, audience: string): Promise<string>;
}

/** An assertion signed ahead is handed out only while it is at most this old (it lives 60 s). */
export const AHEAD_FRESH_SECONDS = 5;
/** How many (claims → assertion signed ahead) are held; the oldest goes first. */
const AHEAD_HELD = 1000;

type Claims = Record<string, string>;

export function createAssertionSigner(jwks: PrivateJwks, issuer: string, options: { now?: () => number } = {}): AssertionSigner {
  const signing = jwks.keys.filter((k) => k.use === undefined || k.use === "sig") as (JWK & { kid?: string })[];
  const jwk = PREFERRED_ALGS.map((alg) => signing.find((k) => algOf(k) === alg)).find(Boolean) ?? signing[0];
  if (!jwk) throw new Error("the token-signing key set holds no signing key");
  const alg = algOf(jwk);
  const how = Object.hasOwn(SIGNING, alg) ? SIGNING[alg] : undefined;
  if (!how) throw new Error(`the token-signing key's algorithm ${alg} cannot sign gateway assertions`);
  let key: KeyObject | undefined;
  const privateKey = () => (key ??= createPrivateKey({ key: jwk as JsonWebKey, format: "jwk" }));
  const header = base64url({ alg, typ: ASSERTION_TYP, ...(jwk.kid ? { kid: jwk.kid } : {}) });
  const seconds = () => Math.floor((options.now ?? Date.now)() / 1000);

  const signed = (claims: Claims): { token: string; iat: number } => {
    const iat = seconds();
    const input = `${header}.${base64url({ ...claims, iat, exp: iat + ASSERTION_TTL_SECONDS, jti: randomUUID() })}`;
    const signature = sign(how.digest, Buffer.from(input), {
      key: privateKey(),
      ...(how.dsaEncoding ? { dsaEncoding: how.dsaEncoding } : {}),
    });
    return { token: `${input}.${signature.toString("base64url")}`, iat };
  };

  // Claims (as JSON) → the assertion signed ahead for them; each is deleted as it is handed out.
  const ahead = new Map<string, { token: string; iat: number }>();
  const beingSigned = new Set<string>();
  const signAhead = (id: string, claims: Claims) => {
    if (beingSigned.has(id)) return;
    beingSigned.add(id);
    setImmediate(() => {
      beingSigned.delete(id);
      if (ahead.size >= AHEAD_HELD) ahead.delete(ahead.keys().next().value!);
      ahead.set(id, signed(claims));
    });
  };

  return {
    // async: the interface stays what callers await, whatever signs.
    async sign(identity, audience) {
      const { key: apiKey } = identity;
      const claims: Claims = {
        scope: identity.scopes.join(" "),
        org: identity.organizationId,
        key_id: apiKey.id,
        sub_type: identity.via === "app" ? "app" : "user",
        ...(identity.via === "key" ? { email: identity.user.email } : {}),
        ...(apiKey.source === "oauth" && apiKey.clientId ? { client_id: apiKey.clientId } : {}),
        iss: issuer,
        aud: audience,
        sub: identity.via === "app" ? identity.app.id : identity.user.id,
      };
      const id = JSON.stringify(claims);
      const ready = ahead.get(id);
      if (ready) ahead.delete(id);
      signAhead(id, claims);
      return ready && seconds() - ready.iat <= AHEAD_FRESH_SECONDS ? ready.token : signed(claims).token;
    },
  };
}
