// The user-facing steps of an authorization: log-in (the existing browser session is reused; without
// one the user goes through /login and comes back) and consent (Allow / Deny). The provider's session
// is the Keyward session's (src/oauth/session-binding.ts): its log-in is the Keyward user at the
// moment that session began, and an authorization whose provider session no longer is this browser's
// Keyward session starts over rather than sending the user round to /login.
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
import { chooseScopes, grantsNothing, identityScopesAsked, offeredScopes, SCOPE_CHOICE_FIELD } from "./consent-scopes.js";
import { boundTo, loginTsOf } from "./session-binding.js";
import { isSelfRegistered } from "./interactions-asking-client.js";
import { BUILT_IN_NAME, mcpResource } from "../mcp/metadata.js";

type Details = Awaited<ReturnType<Provider["interactionDetails"]>>;
type Missing = { missingOIDCScope?: string[]; missingOIDCClaims?: string[]; missingResourceScopes?: Record<string, string[]> };

const missingOf = (d: Details) => d.prompt.details as Missing;

function hostOf(uri: unknown): string {
  const url = typeof uri === "string" ? URL.parse(uri) : null;
  if (!url) return String(uri ?? "");
  return url.protocol === "http:" || url.protocol === "https:" ? url.host : `${url.protocol}//${url.host}`;
}

/** Scopes the user ticks now are no longer refused: a Grant keeps its refusals, and a refusal outweighs a grant. */
function unreject(grant: InstanceType<Provider["Grant"]>, indicator: string, scopes: string[]): void {
  const refused = grant.rejected?.resources;
  if (!refused?.[indicator]) return;
  const left = refused[indicator].split(" ").filter((s) => s && !scopes.includes(s));
  if (left.length) refused[indicator] = left.join(" ");
  else delete refused[indicator];
}

export function interactionRoutes(services: Services, provider: Provider): Router<KeywardState> {
  const router = new Router<KeywardState>({ prefix: INTERACTION_PATH });
  const { config } = services;

  /**
   * The resource(s) the key will be bound to, by name: the consent page says which MCP server the
   * application gets to use. The provider has already refused an unknown one (invalid_target); one
   * removed since then shows as its URL. A request naming several shows them all.
   */
  const resourceNamed = async (asked: unknown): Promise<{ resource: string; resourceName: string }> => {
    const listed = (Array.isArray(asked) ? asked : [asked]).filter((r): r is string => typeof r === "string" && r !== "");
    const urls = listed.length ? [...new Set(listed.map((r) => r.replace(/\/+$/, "")))] : [mcpResource(config)];
    const names = await Promise.all(
      urls.map(async (url) => (url === mcpResource(config) ? BUILT_IN_NAME : ((await services.resources.lookup.byUrl(url))?.name ?? url))),
    );
    return { resource: urls.join(" "), resourceName: names.join(" and ") };
  };

  const details = async (ctx: Ctx): Promise<Details> => {
    try {
      const d = await provider.interactionDetails(ctx.req, ctx.res);
      if (d.uid !== ctx.params.uid) throw new Error("mismatch");
      return d;
    } catch {
      throw new HttpError(
        400,
        "invalid_request",
        "This authorization request has expired or was already completed. Go back to the application and start connecting again.",
      );
    }
  };

  const finish = async (ctx: Ctx, result: Parameters<Provider["interactionResult"]>[2]) => {
    const returnTo = await provider.interactionResult(ctx.req, ctx.res, result, { mergeWithLastSubmission: false });
    ctx.status = 303;
    ctx.redirect(returnTo);
  };

  /** The provider session this authorization runs in is still this browser's Keyward session. */
  const stillBound = async (d: Details, session: NonNullable<KeywardState["session"]>): Promise<boolean> => {
    if (!d.session?.uid) return true; // begun without a log-in: the login step binds it
    const providerSession = await provider.Session.findByUid(d.session.uid);
    return !!providerSession && boundTo(providerSession, session);
  };

  /** The same authorization request again, from the start: the log-in it began under has ended. */
  const startOver = (ctx: Ctx, request: Record<string, unknown>) => {
    const params = new URLSearchParams();
    for (const [name, value] of Object.entries(request)) if (typeof value === "string") params.set(name, value);
    ctx.status = 303;
    ctx.redirect(`/auth?${params}`);
  };

  /**
   * The request of this browser's authorization whose provider session has already ended (the log-out
   * ended it: session-binding.ts), which the provider then no longer describes; undefined otherwise.
   */
  const orphanedRequest = async (ctx: Ctx): Promise<Record<string, unknown> | undefined> => {
    const uid = ctx.params.uid!;
    if (ctx.cookies.get(provider.cookieName("interaction"), { signed: true }) !== uid) return undefined;
    return (await provider.Interaction.find(uid))?.params;
  };

  router.get("/:uid", async (ctx) => {
    const d = await details(ctx).catch(async (err: unknown) => {
      const request = ctx.state.session ? await orphanedRequest(ctx) : undefined;
      if (request) return startOver(ctx, request);
      throw err;
    });
    if (!d) return;
    const session = ctx.state.session;
    if (!session) return ctx.redirect(loginUrl(`${INTERACTION_PATH}/${d.uid}`));
    // Someone logged out (or another user logged in) since this authorization began.
    if (!(await stillBound(d, session))) return startOver(ctx, d.params);
    if (d.prompt.name === "login") {
      return finish(ctx, { login: { accountId: session.user.id, ts: loginTsOf(session) } });
    }
    const clientId = String(d.params.client_id);
    const client = await provider.Client.find(clientId);
    if (!client) throw new HttpError(400, "invalid_client", "The application asking for access is no longer registered.");
    // Requested scopes this client already holds: the key gets them too, without a checkbox.
    const grant = d.grantId ? await provider.Grant.find(d.grantId) : undefined;
    const requested = new Set(String(d.params.scope ?? "").split(" "));
    const held = grant
      ? Object.keys(grant.resources ?? {})
          .flatMap((r) => grant.getResourceScope(r).split(" "))
          .filter((s) => s && requested.has(s))
      : [];
    await sendPage(ctx, "consent", {
      title: "Authorize application",
      uid: d.uid,
      client: {
        id: clientId,
        name: client.clientName ?? "",
        uri: client.clientUri ?? "",
        isMetadataDocument: clientId.startsWith("https://"),
        selfRegistered: isSelfRegistered(clientId),
      },
      redirectHost: hostOf(d.params.redirect_uri),
      redirectUri: String(d.params.redirect_uri ?? ""),
      scopes: offeredScopes(missingOf(d).missingResourceScopes, config.scopeCatalogue),
      identityScopes: identityScopesAsked(missingOf(d).missingOIDCScope),
      alreadyAllowed: [...new Set(held)],
      scopeChoiceField: SCOPE_CHOICE_FIELD,
      ...(await resourceNamed(d.params.resource)),
    });
  });

  router.post("/:uid/confirm", requireCsrf, async (ctx) => {
    const d = await details(ctx);
    const session = ctx.state.session;
    if (!session || d.prompt.name !== "consent" || session.user.id !== d.session?.accountId || !(await stillBound(d, session))) {
      throw new HttpError(400, "invalid_request", "Log in again to finish authorizing this application.");
    }
    const clientId = String(d.params.client_id);
    const client = await provider.Client.find(clientId);
    if (!client) throw new HttpError(400, "invalid_client", "The application asking for access is no longer registered.");
    const grant = d.grantId ? await provider.Grant.find(d.grantId) : new provider.Grant({ accountId: session.user.id, clientId });
    if (!grant) throw new HttpError(400, "invalid_request", "This authorization request has expired.");
    const missing = missingOf(d);
    // Only the ticked scopes are granted; the rest are recorded as rejected, and a later request
    // naming one of them shows this page again (src/oauth/interaction-policy.ts). Ticking none is a denial.
    const choice = chooseScopes(missing.missingResourceScopes, ctx.request.body);
    if (grantsNothing(choice, missing.missingResourceScopes)) {
      services.doctor.events.record({
        clientId,
        userId: session.user.id,
        step: "consent",
        outcome: "failed",
        reason: { kind: "consent_denied" },
      }); // issue 26
      return finish(ctx, { error: "access_denied", error_description: "The user granted none of the requested permissions" });
    }
    if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(" "));
    if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
    for (const [indicator, scopes] of Object.entries(choice.granted)) {
      if (!scopes.length) continue;
      grant.addResourceScope(indicator, scopes.join(" "));
      unreject(grant, indicator, scopes);
    }
    for (const [indicator, scopes] of Object.entries(choice.rejected))
      if (scopes.length) grant.rejectResourceScope(indicator, scopes.join(" "));
    const grantId = await grant.save();
    await services.audit.record({
      userId: session.user.id,
      actor: { type: "user", id: session.user.id },
      action: "oauth.authorized",
      targetId: clientId,
      ...requestMeta(ctx),
      details: {
        clientName: client.clientName ?? null,
        scopes: Object.values(choice.granted).flat().join(" "),
        resource: typeof d.params.resource === "string" ? d.params.resource : null,
      },
    });
    const granted = Object.values(choice.granted).flat();
    services.doctor.events.record({ clientId, userId: session.user.id, step: "consent", outcome: "ok", detail: { scopes: granted } }); // issue 26
    await finish(ctx, { consent: { grantId } });
  });

  router.post("/:uid/abort", requireCsrf, async (ctx) => {
    const d = await details(ctx);
    const clientId = typeof d.params.client_id === "string" ? d.params.client_id : undefined;
    if (clientId)
      services.doctor.events.record({
        clientId,
        userId: d.session?.accountId ?? null,
        step: "consent",
        outcome: "failed",
        reason: { kind: "consent_denied" },
      }); // issue 26
    await finish(ctx, { error: "access_denied", error_description: "The user denied the authorization request" });
  });

  return router;
}
