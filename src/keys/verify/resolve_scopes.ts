// What the key may do on this request: its scopes (none = the whole catalogue) plus everything they
// imply, capped by the user's current role (a viewer keeps only read-only scopes). The role is the
// one check_membership just read, so a demotion applies to existing keys on the next request.
// The answer depends only on (scopes, role) and the fixed catalogue, so it is computed once per pair,
// and remembered with each shared (cached, frozen) row, whose role came with it (ctx.shared).
import { expandScopes, type ScopeCatalogue } from "../../scopes/catalogue.js";
import { roleCap } from "../../orgs/roles.js";
import type { Role } from "../../orgs/roles.js";
import { splitScopes } from "../model.js";
import type { VerifyStep } from "./context.js";

const MEMO_LIMIT = 1000;

export const resolve_scopes = (catalogue: ScopeCatalogue): VerifyStep => {
  const all = catalogue.map((s) => s.name);
  const memo = new Map<string, readonly string[]>();
  const effective = (scopes: string, role: Role | null): readonly string[] => {
    const own = splitScopes(scopes);
    const granted = expandScopes(catalogue, own.length ? own : all);
    const cap = role ? roleCap(role, catalogue) : null;
    return Object.freeze(all.filter((name) => granted.has(name) && (!cap || cap.has(name))));
  };
  const resolve = (scopes: string, role: Role | null): readonly string[] => {
    const memoKey = `${role ?? ""}\n${scopes}`;
    let out = memo.get(memoKey);
    if (!out) {
      out = effective(scopes, role);
      if (memo.size >= MEMO_LIMIT) memo.clear();
      memo.set(memoKey, out);
    }
    return out;
  };
  return (ctx) => {
    const { row, shared } = ctx;
    let out = shared?.scopes;
    if (!out) {
      out = resolve(row?.scopes ?? "", ctx.role ?? null);
      // A shared row's role came in its own join (rows without an organisation read theirs apart).
      if (shared && row?.organizationId) shared.scopes = out;
    }
    ctx.scopes = out;
    return undefined;
  };
};
