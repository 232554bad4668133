// Verification outcomes: a thin wrapper around THE verify function (src/keys/verify/), counting each
// result as "ok" or its failure reason (a fixed set: VerifyFailure). It changes nothing it returns.
import type { Verify } from "../keys/index.js";
import type { Metrics } from "./registry.js";

export function observeVerify(verify: Verify, metrics: Metrics): Verify {
  return async (raw, options) => {
    const result = await verify(raw, options);
    metrics.verification(result.ok ? "ok" : result.reason);
    return result;
  };
}
