// What the key may do on this request: its catalogue scopes plus everything they imply, capped by the
// user's current role (a viewer keeps only read-only scopes). A key minted deliberately without
// scopes (portal, API, CLI) has the whole catalogue; an OAuth key has exactly what the user approved,
// so with no resource scope (only `openid`/`email`, or nothing) it has no resource access at all.
// The role is the one checkMembership just read, so a demotion applies to existing keys on the next
// request. The answer depends only on (scopes, full-access rule, role) and the fixed catalogue, so it
// is computed once per triple.
import { expandScopes, type ScopeCatalogue } from "../../scopes/catalogue.js";
import { roleCap } from "../../orgs/roles.js";
import type { Role } from "../../orgs/roles.js";
import { emptyScopesMeanFullAccess, splitScopes } from "../view.js";
import type { VerifyStep } from "./context.js";

const MEMO_LIMIT = 1000;

export const resolveScopes = (catalogue: ScopeCatalogue): VerifyStep => {
  const all = catalogue.map((s) => s.name);
  const memo = new Map<string, readonly string[]>();
  const effective = (scopes: string, emptyIsAll: boolean, role: Role | null): readonly string[] => {
    const own = splitScopes(scopes);
    const granted = expandScopes(catalogue, own.length === 0 && emptyIsAll ? all : own);
    const cap = role ? roleCap(role, catalogue) : null;
    return Object.freeze(all.filter((name) => granted.has(name) && (!cap || cap.has(name))));
  };
  const resolve = (scopes: string, emptyIsAll: boolean, role: Role | null): readonly string[] => {
    const memoKey = `${role ?? ""}\n${emptyIsAll ? "" : "-"}${scopes}`;
    let out = memo.get(memoKey);
    if (!out) {
      out = effective(scopes, emptyIsAll, role);
      if (memo.size >= MEMO_LIMIT) memo.clear();
      memo.set(memoKey, out);
    }
    return out;
  };
  return (ctx) => {
    const row = ctx.row;
    ctx.scopes = resolve(row?.scopes ?? "", emptyScopesMeanFullAccess(row?.source ?? "oauth"), ctx.role ?? null);
    return undefined;
  };
};
