// When an authorization must stop and ask the user (oidc-provider's `interactions.policy`): its base
// policy, with two rules of Keyward's.
//  - login: the provider's session is a log-in only while it is this browser's live Keyward session
//    (src/oauth/session-binding.ts); otherwise the user is asked, i.e. the Keyward session answers.
//  - consent: asked whenever a request names a resource scope the grant does not *hold*. The base
//    policy asks only about scopes the grant never "encountered", and scopes the user unticked are
//    encountered, so a client could ask again for a refused scope and silently get a key without
//    being told no — or, asking for no resource scope at all, a key the user never saw a page for.
//    Once the user has answered in this very authorization (`result.consent`), what they left
//    unticked stays refused and the request goes on.
import { interactionPolicy, type KoaContextWithOIDC } from "oidc-provider";
import { boundTo, keywardSessionOf } from "./session-binding.js";

const { base, Check } = interactionPolicy;

const notGranted = Symbol("resource scopes the grant does not hold");

function resourceScopesNotGranted(ctx: KoaContextWithOIDC): Record<string, string[]> | undefined {
  const { oidc } = ctx;
  if (!oidc.grant) return undefined;
  let missing: Record<string, string[]> | undefined;
  for (const [indicator, server] of Object.entries(oidc.resourceServers ?? {})) {
    const held = new Set(oidc.grant.getResourceScope(indicator).split(" "));
    for (const scope of oidc.requestParamScopes) {
      if (server.scopes.has(scope) && !held.has(scope)) ((missing ??= {})[indicator] ??= []).push(scope);
    }
  }
  return missing;
}

export function keywardInteractionPolicy(): interactionPolicy.DefaultPolicy {
  const policy = base();

  const login = policy.get("login")!;
  login.checks.add(
    new Check("keyward_session", "End-User authentication is required", "login_required", (ctx) =>
      ctx.oidc.session?.accountId && !boundTo(ctx.oidc.session, keywardSessionOf(ctx)) ? Check.REQUEST_PROMPT : Check.NO_NEED_TO_PROMPT,
    ),
    login.checks.findIndex((c) => c.reason === "no_session") + 1,
  );

  const consent = policy.get("consent")!;
  const at = consent.checks.findIndex((c) => c.reason === "rs_scopes_missing");
  consent.checks.remove("rs_scopes_missing");
  consent.checks.add(
    new Check(
      "rs_scopes_missing",
      "requested scopes not granted",
      "consent_required",
      (ctx) => {
        if (ctx.oidc.result?.consent) return Check.NO_NEED_TO_PROMPT;
        const missing = resourceScopesNotGranted(ctx);
        (ctx.oidc as unknown as Record<symbol, unknown>)[notGranted] = missing;
        return missing ? Check.REQUEST_PROMPT : Check.NO_NEED_TO_PROMPT;
      },
      (ctx) => ({ missingResourceScopes: (ctx.oidc as unknown as Record<symbol, unknown>)[notGranted] }),
    ),
    at < 0 ? undefined : at,
  );
  return policy;
}
