// X-Keyward-Assertion: a short-lived JWT the upstream can verify to know a request really came
// through the gateway, for whom, with which scopes. Signed with the key oidc-provider signs with (the
// set published at <ISSUER>/jwks), one signature per request; the imported private key is kept.
// Its `typ` (kw-assertion+jwt) and `aud` (the resource URL) keep it from passing for an ID token.
import { randomUUID } from "node:crypto";
import { importJWK, SignJWT, type CryptoKey, type JWK } from "jose";
import type { PrivateJwks } from "../secrets.js";
import type { AppAuth, KeyAuth } from "../http/state.js";

export const ASSERTION_TYP = "kw-assertion+jwt";
export const ASSERTION_TTL_SECONDS = 60;

const PREFERRED_ALGS = ["EdDSA", "Ed25519", "ES256", "RS256"];

/** A key's algorithm: its `alg`, or what its type implies. */
function algOf(jwk: JWK): string {
  if (typeof jwk.alg === "string") return jwk.alg;
  if (jwk.kty === "OKP") return "EdDSA";
  if (jwk.kty === "EC") return jwk.crv === "P-384" ? "ES384" : jwk.crv === "P-521" ? "ES512" : "ES256";
  return "RS256";
}

export interface AssertionSigner {
  sign(identity: KeyAuth | AppAuth, audience: string): Promise<string>;
}

export function createAssertionSigner(jwks: PrivateJwks, issuer: string): AssertionSigner {
  const signing = jwks.keys.filter((k) => k.use === undefined || k.use === "sig") as (JWK & { kid?: string })[];
  const jwk = PREFERRED_ALGS.map((alg) => signing.find((k) => algOf(k) === alg)).find(Boolean) ?? signing[0];
  if (!jwk) throw new Error("the token-signing key set holds no signing key");
  const alg = algOf(jwk);
  let key: Promise<CryptoKey | Uint8Array> | undefined;
  const privateKey = () => (key ??= importJWK(jwk, alg));

  return {
    async sign(identity, audience) {
      const { key: apiKey } = identity;
      const claims = {
        scope: identity.scopes.join(" "),
        org: identity.organizationId,
        key_id: apiKey.id,
        sub_type: identity.via === "app" ? "app" : "user",
        ...(identity.via === "key" ? { email: identity.user.email } : {}),
        ...(apiKey.source === "oauth" && apiKey.clientId ? { client_id: apiKey.clientId } : {}),
      };
      const now = Math.floor(Date.now() / 1000);
      return new SignJWT(claims)
        .setProtectedHeader({ alg, typ: ASSERTION_TYP, ...(jwk.kid ? { kid: jwk.kid } : {}) })
        .setIssuer(issuer)
        .setAudience(audience)
        .setSubject(identity.via === "app" ? identity.app.id : identity.user.id)
        .setIssuedAt(now)
        .setExpirationTime(now + ASSERTION_TTL_SECONDS)
        .setJti(randomUUID())
        .sign(await privateKey());
    },
  };
}
