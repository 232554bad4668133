// RFC 9449 §11.1: a DPoP proof is accepted once. Its `jti` is recorded in the database, so every
// instance sees it, by a single INSERT that the primary key makes atomic: of two requests racing
// with one proof (on one instance or two), exactly one inserts and the other is refused.
// The record lives in oidc-provider's replay store (OidcPayload rows of model ReplayDetection, the
// id a SHA-256 as oidc-provider makes its own), until the proof's `iat` leaves the window; the
// housekeeping sweep removes it after that, with every other expired OAuth record.
import { createHash } from "node:crypto";
import type { Db } from "../../db/client.js";
import { DPOP_IAT_WINDOW_SECONDS } from "./proof.js";

const MODEL = "ReplayDetection";

export interface ReplayGuard {
  /** True the first time this key pair's proof id is seen (and records it); false on any later use. */
  firstUse(jkt: string, jti: string, iat: number): Promise<boolean>;
}

export function createReplayGuard(db: Db): ReplayGuard {
  return {
    async firstUse(jkt, jti, iat) {
      // Namespaced by the key pair: only its holder can sign a proof that gets this far.
      const iss = `dpop:${jkt}`;
      const id = createHash("sha256").update(`${iss}${jti}`).digest("base64url");
      const exp = iat + DPOP_IAT_WINDOW_SECONDS + 1;
      try {
        await db.oidcPayload.create({
          data: { model: MODEL, id, payload: JSON.stringify({ iss, jti: id, kind: MODEL, exp }), expiresAt: new Date(exp * 1000) },
        });
        return true;
      } catch (err) {
        if ((err as { code?: string }).code === "P2002") return false;
        throw err;
      }
    },
  };
}
