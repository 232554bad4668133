// RFC 9449 DPoP: a key bound to a key pair (row.dpopJkt, the JWK thumbprint recorded when the token
// endpoint issued it) works only as `Authorization: DPoP <key>` with a fresh proof signed by that
// key pair; sent as Bearer or X-API-Key it is refused (§7.2: no downgrade to bearer). A bearer key
// sent with the DPoP scheme is refused too (as oidc-provider's own userinfo does): the client
// believes in a binding that does not exist. Everything is read from the row and from what the
// request presented. A bearer key presented as Bearer costs one comparison: no proof is looked at.
// The proof is checked only for a key that passed every other step (no signature work or replay
// record for unknown, revoked or foreign keys), and its `jti` is recorded last, once all else holds.
import { checkProof } from "../dpop/proof.js";
import type { ReplayGuard } from "../dpop/replay.js";
import type { VerifyContext, VerifyFailure, VerifyStep } from "./context.js";

export const checkBinding = (replay: ReplayGuard): VerifyStep => {
  const checkBound = async (
    ctx: VerifyContext,
    jkt: string,
    htm: string,
    htu: string,
    proof: string,
  ): Promise<VerifyFailure | undefined> => {
    const checked = await checkProof({ proof, htm, htu, raw: ctx.raw });
    if (typeof checked === "string") return checked;
    if (checked.jkt !== jkt) return "dpop_key_mismatch";
    return (await replay.firstUse(checked.jkt, checked.jti, checked.iat)) ? undefined : "dpop_proof_replayed";
  };
  return (ctx) => {
    const presented = ctx.presented;
    if (!presented) return undefined; // not a use of the key (introspection reports the binding instead)
    const jkt = ctx.row?.dpopJkt;
    if (!jkt) return presented.scheme === "dpop" ? "dpop_not_bound" : undefined;
    if (presented.scheme !== "dpop") return "dpop_required";
    if (presented.proofs.length !== 1) return "dpop_proof_missing";
    return checkBound(ctx, jkt, presented.htm, presented.htu, presented.proofs[0]!);
  };
};
