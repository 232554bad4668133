// The user-facing steps of an authorization: log-in (the existing browser session is reused; without
// one the user goes through /login and comes back) and consent (Allow / Deny).
import { Router } from "@koa/router";
import type Provider from "oidc-provider";
import type { Services } from "../services.js";
import type { Ctx, KeywardState } from "../http/state.js";
import { HttpError } from "../http/errors.js";
import { requireCsrf } from "../web/csrf.js";
import { requestMeta } from "../http/request-meta.js";
import { sendPage } from "../web/render.js";
import { loginUrl } from "../web/require-login.js";
import { INTERACTION_PATH } from "./provider.js";
import { chooseScopes, grantsNothing, offeredScopes, SCOPE_CHOICE_FIELD } from "./consent-scopes.js";

type Details = Awaited<ReturnType<Provider["interactionDetails"]>>;
type Missing = { missingOIDCScope?: string[]; missingOIDCClaims?: string[]; missingResourceScopes?: Record<string, string[]> };

const missingOf = (d: Details) => d.prompt.details as Missing;

function hostOf(uri: unknown): string {
  const url = typeof uri === "string" ? URL.parse(uri) : null;
  if (!url) return String(uri ?? "");
  return url.protocol === "http:" || url.protocol === "https:" ? url.host : `${url.protocol}//${url.host}`;
}

export function interactionRoutes(services: Services, provider: Provider): Router<KeywardState> {
  const router = new Router<KeywardState>({ prefix: INTERACTION_PATH });
  const { config } = services;

  const details = async (ctx: Ctx): Promise<Details> => {
    try {
      const d = await provider.interactionDetails(ctx.req, ctx.res);
      if (d.uid !== ctx.params.uid) throw new Error("mismatch");
      return d;
    } catch {
      throw new HttpError(400, "invalid_request", "This authorization request has expired or was already completed. Go back to the application and start connecting again.");
    }
  };

  const finish = async (ctx: Ctx, result: Parameters<Provider["interactionResult"]>[2]) => {
    const returnTo = await provider.interactionResult(ctx.req, ctx.res, result, { mergeWithLastSubmission: false });
    ctx.status = 303;
    ctx.redirect(returnTo);
  };

  router.get("/:uid", async (ctx) => {
    const d = await details(ctx);
    const session = ctx.state.session;
    if (d.prompt.name === "login") {
      if (!session) return ctx.redirect(loginUrl(`${INTERACTION_PATH}/${d.uid}`));
      return finish(ctx, { login: { accountId: session.user.id } });
    }
    if (!session || session.user.id !== d.session?.accountId) {
      return ctx.redirect(loginUrl(`${INTERACTION_PATH}/${d.uid}`));
    }
    const clientId = String(d.params.client_id);
    const client = await provider.Client.find(clientId);
    if (!client) throw new HttpError(400, "invalid_client", "The application asking for access is no longer registered.");
    await sendPage(ctx, "consent", {
      title: "Authorize application",
      uid: d.uid,
      client: { id: clientId, name: client.clientName ?? "", uri: client.clientUri ?? "", isMetadataDocument: clientId.startsWith("https://") },
      redirectHost: hostOf(d.params.redirect_uri),
      redirectUri: String(d.params.redirect_uri ?? ""),
      scopes: offeredScopes(missingOf(d).missingResourceScopes, config.scopeCatalogue),
      scopeChoiceField: SCOPE_CHOICE_FIELD,
      resource: String(d.params.resource ?? `${config.baseUrl}/mcp`),
    });
  });

  router.post("/:uid/confirm", requireCsrf, async (ctx) => {
    const d = await details(ctx);
    const session = ctx.state.session;
    if (!session || d.prompt.name !== "consent" || session.user.id !== d.session?.accountId) {
      throw new HttpError(400, "invalid_request", "Log in again to finish authorizing this application.");
    }
    const clientId = String(d.params.client_id);
    const client = await provider.Client.find(clientId);
    if (!client) throw new HttpError(400, "invalid_client", "The application asking for access is no longer registered.");
    const grant = d.grantId ? await provider.Grant.find(d.grantId) : new provider.Grant({ accountId: session.user.id, clientId });
    if (!grant) throw new HttpError(400, "invalid_request", "This authorization request has expired.");
    const missing = missingOf(d);
    // Only the ticked scopes are granted; the rest are recorded as rejected so the provider does
    // not ask again (src/oauth/consent-scopes.ts). Ticking none is a denial.
    const choice = chooseScopes(missing.missingResourceScopes, ctx.request.body);
    if (grantsNothing(choice, missing.missingResourceScopes)) {
      return finish(ctx, { error: "access_denied", error_description: "The user granted none of the requested permissions" });
    }
    if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(" "));
    if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
    for (const [indicator, scopes] of Object.entries(choice.granted)) if (scopes.length) grant.addResourceScope(indicator, scopes.join(" "));
    for (const [indicator, scopes] of Object.entries(choice.rejected)) if (scopes.length) grant.rejectResourceScope(indicator, scopes.join(" "));
    const grantId = await grant.save();
    await services.audit.record({
      userId: session.user.id,
      actor: { type: "user", id: session.user.id },
      action: "oauth.authorized",
      targetId: clientId,
      ...requestMeta(ctx),
      details: { clientName: client.clientName ?? null, scopes: Object.values(choice.granted).flat().join(" "), resource: typeof d.params.resource === "string" ? d.params.resource : null },
    });
    await finish(ctx, { consent: { grantId } });
  });

  router.post("/:uid/abort", requireCsrf, async (ctx) => {
    await details(ctx);
    await finish(ctx, { error: "access_denied", error_description: "The user denied the authorization request" });
  });

  return router;
}
