// Where a request came from, as the audit trail records it.
import type { Ctx } from "./state.js";

export function requestMeta(ctx: Pick<Ctx, "ip" | "get">): { ip: string | null; userAgent: string | null } {
  return { ip: ctx.ip || null, userAgent: ctx.get("user-agent") || null };
}
