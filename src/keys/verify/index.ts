// The one way a key is checked, read top-down. Every protected surface (/mcp, the JSON API,
// introspection) calls verify(); no other code looks a key up. A caller that lets the key act
// (src/http/key-auth.ts) says how it was presented (`presented`), which checkBinding needs;
// introspection, which only describes a key, does not.
import type { Db } from "../../db/client.js";
import type { User } from "../../generated/sqlite/client.js";
import type { LastUsedTracker } from "../last-used.js";
import { toView, type KeyView } from "../view.js";
import { checkFormatOrLegacy } from "./check-format.js";
import { findRow } from "./find-row.js";
import type { KeyReader, KeyRow } from "../lookup/index.js";
import { checkRevoked } from "./check-revoked.js";
import { checkUserDisabled } from "./check-user-disabled.js";
import { checkClientBlocked } from "./check-client-blocked.js";
import { checkExpiry } from "./check-expiry.js";
import { checkResource } from "./check-resource.js";
import { touchLastUsed } from "./touch-last-used.js";
import { checkMembership } from "./check-membership.js";
import { resolveScopes } from "./resolve-scopes.js";
import { checkBinding } from "./check-binding.js";
import { checkAddress } from "./check-address.js";
import { createReplayGuard } from "../dpop/replay.js";
import type { Role } from "../../orgs/roles.js";
import type { ScopeCatalogue } from "../../scopes/catalogue.js";
import type { Presentation, VerifyContext, VerifyFailure, VerifyStep } from "./context.js";

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
  /**
   * `keyId`: the key the request presented, when it was found (a revoked key, say): its usage counts the refusal.
   * `found`: its row (shared with the cache: read only), for the connection doctor's words (src/doctor/).
   */
  | { ok: false; reason: VerifyFailure; keyId?: string; found?: Readonly<KeyRow> };

/** `reader`: how a key row is found (the server's reads through the verification cache: src/keys/lookup/). */
export function createVerifier(
  db: Db,
  tracker: LastUsedTracker,
  options: { legacyKeyPattern?: RegExp; catalogue: ScopeCatalogue; reader: KeyReader },
) {
  const steps: VerifyStep[] = [
    checkFormatOrLegacy(options.legacyKeyPattern), // garbage stops here, before any database work
    findRow(options.reader), // one indexed query, or none when the cache holds the row
    checkRevoked,
    checkUserDisabled, // an operator disabled the owner's account (src/admin/)
    checkClientBlocked, // an operator blocked the OAuth client the key was issued to (src/admin/)
    checkExpiry, // compared with the clock on every request: a cached row expires by itself
    checkResource,
    checkAddress, // IP allowlists: the request's client address against the row's ranges
    checkMembership, // a pure check of what came with the row: verification never writes
    resolveScopes(options.catalogue),
    checkBinding(createReplayGuard(db)), // DPoP-bound keys: a fresh proof by their key pair (last: it records the proof)
    touchLastUsed(tracker),
  ];

  const succeed = (ctx: VerifyContext): VerifyResult => {
    const row = ctx.row!;
    return {
      ok: true,
      key: toView(row, ctx.usedAt === undefined ? undefined : new Date(ctx.usedAt)),
      user: { id: row.userId, email: row.userEmail },
      grantId: row.grantId,
      organizationId: ctx.organizationId!,
      role: ctx.role ?? null,
      app: ctx.app ?? null,
      scopes: ctx.scopes ?? [],
    };
  };

  return async function verify(
    raw: string,
    options: { resource?: string; presented?: Presentation; address?: string } = {},
  ): Promise<VerifyResult> {
    const ctx: VerifyContext = { raw, resource: options.resource, presented: options.presented, address: options.address };
    for (const step of steps) {
      const outcome = step(ctx);
      // Most steps answer at once; only those that return a promise are waited for (each promise
      // costs async-hook work in the server, where AsyncLocalStorage is in use).
      const failure = outcome instanceof Promise ? await outcome : outcome;
      if (failure) return ctx.row ? { ok: false, reason: failure, keyId: ctx.row.id, found: ctx.row } : { ok: false, reason: failure };
    }
    return succeed(ctx);
  };
}

export type Verify = ReturnType<typeof createVerifier>;
