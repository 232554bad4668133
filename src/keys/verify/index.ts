// The one way a key is checked, read top-down. Every protected surface (/mcp, the JSON API,
// introspection) calls verify(); no other code looks a key up. A caller that lets the key act
// (src/http/key-auth.ts) says how it was presented (`presented`), which check_binding needs;
// introspection, which only describes a key, does not.
import type { Db } from "../../db/client.js";
import type { User } from "../../generated/sqlite/client.js";
import type { LastUsedTracker } from "../last-used.js";
import { isoTime, toView, type KeyView } from "../model.js";
import { check_format_or_legacy } from "./check_format.js";
import { find_in_cache } from "./find_in_cache.js";
import { find_by_hash } from "./find_by_hash.js";
import type { KeyLookup } from "../../db/key-lookup.js";
import { check_revoked } from "./check_revoked.js";
import { check_resource } from "./check_resource.js";
import { touch_last_used } from "./touch_last_used.js";
import { check_membership } from "./check_membership.js";
import { resolve_scopes } from "./resolve_scopes.js";
import { check_binding } from "./check_binding.js";
import { createReplayGuard } from "../dpop/replay.js";
import { createOrganizations } from "../../orgs/organizations.js";
import type { Role } from "../../orgs/roles.js";
import type { ScopeCatalogue } from "../../scopes/catalogue.js";
import type { Presentation, SharedRow, VerifyContext, VerifyFailure, VerifyStep } from "./context.js";

export type { Presentation, VerifyFailure };

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
      /** Effective scopes: implications expanded, capped by the role (shared: do not modify). */
      scopes: readonly string[];
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
    check_binding(createReplayGuard(db)), // DPoP-bound keys: a fresh proof by their key pair (last: it records the proof)
    touch_last_used(tracker),
  ];

  // The key's view: once per shared (cached, frozen) row, and again only when the pending last-used
  // time (touch_last_used) moved: at most once per millisecond under load.
  const viewOf = (row: NonNullable<VerifyContext["row"]>, shared: SharedRow | undefined, pending: number | undefined): KeyView => {
    const memo = shared ?? {};
    const view = (memo.view ??= toView(row));
    if (pending === undefined || (row.lastUsedAt && pending <= row.lastUsedAt.getTime())) return view;
    if (memo.pending !== pending || !memo.withPending) {
      memo.pending = pending;
      memo.withPending = { ...view, lastUsedAt: isoTime(pending) };
    }
    return memo.withPending;
  };

  const succeed = (ctx: VerifyContext): VerifyResult => {
    const row = ctx.row!;
    return {
      ok: true,
      key: viewOf(row, ctx.shared, ctx.usedAt),
      user: row.user, // { id, email }: derived once per cached row (key_row.ts)
      grantId: row.grantId,
      organizationId: ctx.organizationId!,
      role: ctx.role ?? null,
      app: ctx.app ?? null,
      scopes: ctx.scopes ?? [],
    };
  };

  // The steps in order. Most answer at once; only one that returns a promise (the lookup, the
  // personal organisation of an imported key) is waited for, so a key the cache holds is verified
  // without a single promise (the hot path of every protected request).
  const run = (ctx: VerifyContext, from: number): VerifyResult | Promise<VerifyResult> => {
    for (let i = from; i < steps.length; i++) {
      const outcome = steps[i]!(ctx);
      if (outcome instanceof Promise) return outcome.then((failure) => (failure ? { ok: false, reason: failure } : run(ctx, i + 1)));
      if (outcome) return { ok: false, reason: outcome };
    }
    return succeed(ctx);
  };

  /** The answer at once when every step could give it (a cached key), a promise otherwise: `await` it either way. */
  return function verify(raw: string, options: { resource?: string; presented?: Presentation } = {}): VerifyResult | Promise<VerifyResult> {
    // Every field from the start: one shape for every request, so each step's reads stay monomorphic.
    const ctx: VerifyContext = { raw, resource: options.resource, presented: options.presented, digest: undefined, wellFormed: undefined, row: undefined, joined: undefined, shared: undefined, organizationId: undefined, role: undefined, app: undefined, usedAt: undefined, scopes: undefined };
    return run(ctx, 0);
  };
}

export type Verify = ReturnType<typeof createVerifier>;
