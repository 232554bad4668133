// Reads the presented key from `Authorization: Bearer <key>` or `X-API-Key: <key>`.
import type { Ctx } from "./state.js";

export type Credential = { kind: "none" } | { kind: "key"; raw: string } | { kind: "malformed"; reason: string };

export function readCredential(ctx: Ctx): Credential {
  const authorization = ctx.get("authorization");
  const apiKey = ctx.get("x-api-key");
  let bearer: string | undefined;
  if (authorization) {
    const m = /^Bearer[ ]+([^\s]+)[ ]*$/i.exec(authorization);
    if (!m) return { kind: "malformed", reason: "The Authorization header must be `Bearer <key>`" };
    bearer = m[1];
  }
  if (bearer && apiKey && bearer !== apiKey.trim()) {
    return { kind: "malformed", reason: "Send the key in one header: Authorization or X-API-Key, not two different ones" };
  }
  const raw = bearer ?? apiKey.trim();
  return raw ? { kind: "key", raw } : { kind: "none" };
}

export function hasCredential(ctx: Ctx): boolean {
  return !!(ctx.get("authorization") || ctx.get("x-api-key"));
}
