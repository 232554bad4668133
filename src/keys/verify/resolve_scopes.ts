// What the key may do on this request: its scopes (none = the whole catalogue) plus everything they
// imply, capped by the user's current role (a viewer keeps only read-only scopes). The role is the
// one check_membership just read, so a demotion applies to existing keys on the next request.
import { expandScopes, type ScopeCatalogue } from "../../scopes/catalogue.js";
import { roleCap } from "../../orgs/roles.js";
import { splitScopes } from "../model.js";
import type { VerifyStep } from "./context.js";

export const resolve_scopes =
  (catalogue: ScopeCatalogue): VerifyStep =>
  (ctx) => {
    const own = splitScopes(ctx.row?.scopes ?? "");
    const granted = expandScopes(catalogue, own.length ? own : catalogue.map((s) => s.name));
    const cap = ctx.role ? roleCap(ctx.role, catalogue) : null;
    ctx.scopes = catalogue.map((s) => s.name).filter((name) => granted.has(name) && (!cap || cap.has(name)));
    return undefined;
  };
