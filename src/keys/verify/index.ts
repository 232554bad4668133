// The one way a key is checked, read top-down. Every protected surface (/mcp, the JSON API,
// introspection) calls verify(); no other code looks a key up.
import type { Db } from "../../db/client.js";
import type { User } from "../../generated/sqlite/client.js";
import type { LastUsedTracker } from "../last-used.js";
import { toView, type KeyView } from "../model.js";
import { check_format_or_legacy } from "./check_format.js";
import { find_in_cache } from "./find_in_cache.js";
import { find_by_hash } from "./find_by_hash.js";
import type { KeyLookup } from "../../db/key-lookup.js";
import { check_revoked } from "./check_revoked.js";
import { check_resource } from "./check_resource.js";
import { touch_last_used } from "./touch_last_used.js";
import { check_membership } from "./check_membership.js";
import { resolve_scopes } from "./resolve_scopes.js";
import { createOrganizations } from "../../orgs/organizations.js";
import type { Role } from "../../orgs/roles.js";
import type { ScopeCatalogue } from "../../scopes/catalogue.js";
import type { VerifyContext, VerifyFailure, VerifyStep } from "./context.js";

export type { VerifyFailure };

export type VerifyResult =
  | {
      ok: true;
      key: KeyView;
      /** User keys: the owner. App keys: the admin who minted it (the key acts for `app`, not for them). */
      user: Pick<User, "id" | "email">;
      grantId: string | null;
      organizationId: string;
      /** The user's current role in the organisation; null for app keys. */
      role: Role | null;
      app: { id: string; name: string } | null;
      /** Effective scopes: implications expanded, capped by the role. */
      scopes: string[];
    }
  | { ok: false; reason: VerifyFailure };

export function createVerifier(db: Db, tracker: LastUsedTracker, options: { legacyKeyPattern?: RegExp; catalogue: ScopeCatalogue; lookup: KeyLookup }) {
  const steps: VerifyStep[] = [
    find_in_cache(options.lookup), // a key verified before, while the cache vouches: no format check, no I/O
    check_format_or_legacy(options.legacyKeyPattern), // garbage stops here, before any database work
    find_by_hash(options.lookup), // one indexed query (or the cache, after its change check)
    check_revoked,
    check_resource,
    check_membership(db, createOrganizations(db)),
    resolve_scopes(options.catalogue),
    touch_last_used(tracker),
  ];

  // The key's view, once per shared (cached, frozen) row as find_by_hash does, and again only when
  // the pending last-used time moved (at most once per millisecond under load).
  const views = new WeakMap<object, { view: KeyView; pending: number | undefined; withPending: KeyView }>();
  const viewOf = (row: NonNullable<VerifyContext["row"]>): KeyView => {
    const pending = tracker.pendingMs(row.id);
    let memo = views.get(row);
    if (!memo) {
      const view = toView(row);
      memo = { view, pending: undefined, withPending: view };
      if (Object.isFrozen(row)) views.set(row, memo);
    }
    if (pending === undefined || (row.lastUsedAt && pending <= row.lastUsedAt.getTime())) return memo.view;
    if (memo.pending !== pending) {
      memo.pending = pending;
      memo.withPending = { ...memo.view, lastUsedAt: new Date(pending).toISOString() };
    }
    return memo.withPending;
  };

  return async function verify(raw: string, options: { resource?: string } = {}): Promise<VerifyResult> {
    const ctx: VerifyContext = { raw, resource: options.resource };
    for (const step of steps) {
      const outcome = step(ctx);
      // Most steps answer at once; only a step that returns a promise (the lookup) is awaited.
      const failure = outcome instanceof Promise ? await outcome : outcome;
      if (failure) return { ok: false, reason: failure };
    }
    const row = ctx.row!;
    return {
      ok: true,
      key: viewOf(row),
      user: row.user, // { id, email }: derived once per cached row (key_row.ts)
      grantId: row.grantId,
      organizationId: ctx.organizationId!,
      role: ctx.role ?? null,
      app: ctx.app ?? null,
      scopes: ctx.scopes ?? [],
    };
  };
}

export type Verify = ReturnType<typeof createVerifier>;
