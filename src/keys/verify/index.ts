// The one way a key is checked, read top-down. Every protected surface (/mcp, the JSON API,
// introspection) calls verify(); no other code looks a key up. A caller that lets the key act
// (src/http/key-auth.ts) says how it was presented (`presented`), which checkBinding needs;
// introspection, which only describes a key, does not.
import type { Db } from "../../db/client.js";
import type { User } from "../../generated/sqlite/client.js";
import type { LastUsedTracker } from "../last-used.js";
import { isoTime, toView, type KeyView } from "../view.js";
import { checkFormatOrLegacy } from "./check-format.js";
import { findInCache } from "./find-in-cache.js";
import { findByHash } from "./find-by-hash.js";
import type { KeyLookup } from "../lookup/read-row.js";
import { checkRevoked } from "./check-revoked.js";
import { checkResource } from "./check-resource.js";
import { touchLastUsed } from "./touch-last-used.js";
import { checkMembership } from "./check-membership.js";
import { resolveScopes } from "./resolve-scopes.js";
import { checkBinding } from "./check-binding.js";
import { createReplayGuard } from "../dpop/replay.js";
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
    findInCache(options.lookup), // a key verified before, while the cache vouches: no format check, no I/O
    checkFormatOrLegacy(options.legacyKeyPattern), // garbage stops here, before any database work
    findByHash(options.lookup), // one indexed query (or the cache, after its change check)
    checkRevoked,
    checkResource,
    checkMembership, // a pure check of what came with the row: verification never writes
    resolveScopes(options.catalogue),
    checkBinding(createReplayGuard(db)), // DPoP-bound keys: a fresh proof by their key pair (last: it records the proof)
    touchLastUsed(tracker),
  ];

  // The key's view: once per shared (cached, frozen) row, and again only when the pending last-used
  // time (touchLastUsed) moved: at most once per millisecond under load.
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
      user: row.user, // { id, email }: derived once per cached row (key-row.ts)
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
