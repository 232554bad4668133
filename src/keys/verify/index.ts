// The one way a key is checked, read top-down. Every protected surface (/mcp, the JSON API,
// introspection) calls verify(); no other code looks a key up.
import type { Db } from "../../db/client.js";
import type { User } from "../../generated/sqlite/client.js";
import type { LastUsedTracker } from "../last-used.js";
import { toView, type KeyView } from "../model.js";
import { check_format } from "./check_format.js";
import { find_by_hash } from "./find_by_hash.js";
import { check_revoked } from "./check_revoked.js";
import { check_resource } from "./check_resource.js";
import { touch_last_used } from "./touch_last_used.js";
import type { VerifyContext, VerifyFailure, VerifyStep } from "./context.js";

export type { VerifyFailure };

export type VerifyResult =
  | { ok: true; key: KeyView; user: Pick<User, "id" | "email">; grantId: string | null }
  | { ok: false; reason: VerifyFailure };

export function createVerifier(db: Db, tracker: LastUsedTracker) {
  const steps: VerifyStep[] = [
    check_format,
    find_by_hash(db),
    check_revoked,
    check_resource,
    touch_last_used(tracker),
  ];

  return async function verify(raw: string, options: { resource?: string } = {}): Promise<VerifyResult> {
    const ctx: VerifyContext = { raw, resource: options.resource };
    for (const step of steps) {
      const failure = await step(ctx);
      if (failure) return { ok: false, reason: failure };
    }
    const row = ctx.row!;
    return { ok: true, key: toView(row, tracker.pendingFor(row.id)), user: { id: row.user.id, email: row.user.email }, grantId: row.grantId };
  };
}

export type Verify = ReturnType<typeof createVerifier>;
