// Rate limits per key at /mcp and the gateway (issue 28 item 4): after requireKey, the request counts
// against the key's own limit and, at a gateway resource with one, the resource's per-key limit
// (src/keys/limits/rate-limiter.ts). Every answer carries the IETF fields
// (draft-ietf-httpapi-ratelimit-headers): `RateLimit-Policy: "key";q=60;w=60` (the quota per
// window of each policy) and `RateLimit: "key";r=59;t=12` (what is left and the seconds until the
// window resets); over the limit: 429 with Retry-After, and nothing is forwarded.
import type { Middleware } from "koa";
import type { KeyRateLimiter, RateDecision, RatePolicy } from "../keys/limits/rate-limiter.js";
import { WINDOW_SECONDS } from "../keys/limits/rate-limiter.js";
import type { Ctx, KeywardState } from "./state.js";

export function ratePolicyHeader(policies: readonly RatePolicy[]): string {
  return policies.map((p) => `"${p.name}";q=${p.limit};w=${WINDOW_SECONDS}`).join(", ");
}

export function rateStateHeader(decision: RateDecision): string {
  return decision.states.map((s) => `"${s.policy.name}";r=${s.remaining};t=${decision.resetSeconds}`).join(", ");
}

const WHOSE: Record<string, string> = { key: "this key's own limit", resource: "this resource's limit per key" };

/** `extra`: further policies of the request (the gateway: its resource's per-key limit). */
export function enforceKeyRateLimit(
  limiter: KeyRateLimiter,
  extra?: (ctx: Ctx, keyId: string) => RatePolicy | undefined,
): Middleware<KeywardState> {
  return (ctx, next) => {
    const auth = ctx.state.auth;
    if (!auth || auth.via === "session") return next();
    const key = auth.key;
    const policies: RatePolicy[] = [];
    if (key.rateLimit !== null) policies.push({ name: "key", bucket: `key ${key.id}`, limit: key.rateLimit });
    const more = extra?.(ctx, key.id);
    if (more) policies.push(more);
    if (policies.length === 0) return next();
    const decision = limiter.take(policies);
    ctx.set("RateLimit-Policy", ratePolicyHeader(policies));
    ctx.set("RateLimit", rateStateHeader(decision));
    if (!decision.allowed) {
      const by = decision.refusedBy!;
      ctx.status = 429;
      ctx.set("Retry-After", String(decision.resetSeconds));
      ctx.set("Cache-Control", "no-store");
      ctx.body = {
        error: "rate_limited",
        error_description: `Too many requests: ${by.limit} per minute is ${WHOSE[by.name] ?? "the limit"}; retry in ${decision.resetSeconds} s`,
      };
      return;
    }
    return next();
  };
}
