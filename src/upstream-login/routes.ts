// Log-in through an upstream OpenID Connect provider (docs/upstream-login.md):
//   POST /login/upstream/<id>            (the "Continue with …" button, CSRF-checked) seals state, nonce,
//                                        PKCE verifier and return_to in a cookie, and sends the browser
//                                        to the provider's authorization endpoint;
//   GET  /login/upstream/<id>/callback   the provider's answer: openid-client checks state, iss (RFC 9207),
//                                        the code exchange with PKCE and the ID token (signature, iss,
//                                        aud, nonce); then the account is found, linked or made
//                                        (./accounts.ts) and a Keyward session starts, on to return_to;
//                                        or, when the sealed cookie says a signed-in person started a
//                                        link (./link-routes.ts), the identity is linked and nothing
//                                        logs in; when it says they asked to confirm it is them, the
//                                        session is marked re-authenticated (finishConfirm), nothing
//                                        logs in either. The cookie decides, never the URL.
// The redirect_uri derives from ISSUER, never from the Host header. An upstream log-in has no Keyward
// second factor: it relies on the provider's own.
import { Router } from "@koa/router";
import { z } from "zod";
import * as oidc from "openid-client";
import type { Services } from "../services.js";
import type { Ctx, KeywardState } from "../http/state.js";
import { requestMeta } from "../http/request-meta.js";
import { requireCsrf } from "../web/csrf.js";
import { sendPage } from "../web/render.js";
import { safeReturnTo } from "../web/return-to.js";
import { startSession } from "../web/start-session.js";
import { HttpError } from "../http/errors.js";
import type { UpstreamProvider } from "./config.js";
import { UpstreamUnavailable } from "./discovery.js";
import { upstreamAccounts, type Refusal } from "./accounts.js";
import { callbackUrl, UPSTREAM_LOGIN_PATH, upstreamFlow } from "./flow.js";
import { finishConfirm, finishLink, linkProblemPage } from "./link-routes.js";

export { callbackUrl, UPSTREAM_LOGIN_PATH };

const LINKING = Symbol("linking");

const startForm = z.object({ return_to: z.string().max(2000).optional() });

const REFUSALS: Record<Refusal, (name: string) => string> = {
  no_email: (name) => `${name} did not give Keyward your email address, so no Keyward account can be found for you.`,
  unverified_email: (name) =>
    `${name} says your email address is not verified. Verify it there first: Keyward links and creates accounts by verified email only.`,
  domain_not_allowed: (name) => `Your ${name} account's email address is not at a domain allowed to log in here.`,
  already_linked: (name) =>
    `The Keyward account with your email address is already linked to another ${name} account. Log in with that one.`,
  unconfirmed_account: (name) =>
    `A Keyward account with your email address already exists, but its address was never confirmed, so it cannot be linked to your ${name} account. Log in with its password instead; once the address is confirmed (a password reset by email confirms it), ${name} works too.`,
  no_account: (name) => `There is no Keyward account for your ${name} account's email address. Ask an administrator for one.`,
  organization_missing: (name) =>
    `Log-in with ${name} is not set up correctly on this server (its organisation does not exist). Tell an administrator.`,
};

export function upstreamLoginRoutes(services: Services): Router<KeywardState> {
  const { config, audit, logger } = services;
  const router = new Router<KeywardState>({ prefix: UPSTREAM_LOGIN_PATH });
  const { providers, discovery, pending } = upstreamFlow(services);
  const accounts = upstreamAccounts(services.db);

  /** An unknown id answers like any missing page. */
  const providerOf = (ctx: Ctx): UpstreamProvider => {
    const p = providers.get(String(ctx.params.id ?? "").toLowerCase());
    if (!p) throw new HttpError(404, "not_found", "There is nothing at this address.");
    return p;
  };

  /** Where the page leads back: the log-in page with `return_to`, or (LINKING) the sign-in methods page. */
  type Back = string | typeof LINKING;
  const problemPage = (ctx: Ctx, status: number, message: string, returnTo: Back = safeReturnTo(undefined)) =>
    returnTo === LINKING
      ? linkProblemPage(ctx, status, message)
      : sendPage(ctx, "upstream-login-error", { title: "Log-in did not work", message, returnTo }, status);

  const configurationOf = async (ctx: Ctx, p: UpstreamProvider, returnTo: Back) => {
    try {
      return await discovery.configurationOf(p);
    } catch (err) {
      if (!(err instanceof UpstreamUnavailable)) throw err;
      logger.warn({ provider: p.id, err: err.message }, "upstream identity provider: discovery failed");
      await problemPage(ctx, 502, `Keyward cannot reach ${p.name} right now. Try again in a few minutes, or log in another way.`, returnTo);
      return null;
    }
  };

  router.post("/:id", requireCsrf, async (ctx) => {
    const p = providerOf(ctx);
    const returnTo = safeReturnTo(startForm.parse(ctx.request.body ?? {}).return_to);
    const configuration = await configurationOf(ctx, p, returnTo);
    if (!configuration) return;
    await upstreamFlow(services).redirectToProvider(ctx, p, configuration, returnTo);
  });

  router.get("/:id/callback", async (ctx) => {
    const p = providerOf(ctx);
    const started = pending.take(ctx);
    if (!started || started.provider !== p.id)
      return problemPage(
        ctx,
        400,
        `This log-in with ${p.name} has expired or was started in another browser. Start it again from the log-in page.`,
      );
    // A link's (or confirmation's) failures lead back to the sign-in methods page; its successes never log in (./link-routes.ts).
    const returnTo: Back = started.link || started.confirm ? LINKING : started.returnTo;
    const configuration = await configurationOf(ctx, p, returnTo);
    if (!configuration) return;
    // The URL the provider sent the browser to: ISSUER's origin and path, the request's query.
    const current = new URL(callbackUrl(config.baseUrl, p.id));
    current.search = ctx.querystring;
    let tokens: Awaited<ReturnType<typeof oidc.authorizationCodeGrant>>;
    try {
      tokens = await oidc.authorizationCodeGrant(configuration, current, {
        pkceCodeVerifier: started.verifier,
        expectedState: started.state,
        expectedNonce: started.nonce,
        idTokenExpected: true,
      });
    } catch (err) {
      return refused(ctx, p, err, returnTo);
    }
    const idClaims = tokens.claims()!;
    // Who and when is all a confirmation needs: the ID token's sub and auth_time, never userinfo.
    if (started.confirm) return finishConfirm(services, ctx, p, started.confirm, idClaims);
    let email = typeof idClaims.email === "string" ? idClaims.email : null;
    let verified: unknown = idClaims.email_verified;
    // Many providers put email (or whether it is verified) only in userinfo; its answer must be about the same subject.
    if (email === null || typeof verified !== "boolean") {
      try {
        const info = await oidc.fetchUserInfo(configuration, tokens.access_token, idClaims.sub);
        // Its email and flag together, or else the ID token's: a flag only ever speaks for its own email.
        if (typeof info.email === "string") [email, verified] = [info.email, info.email_verified];
      } catch (err) {
        return refused(ctx, p, err, returnTo);
      }
    }
    if (started.link) return finishLink(services, ctx, p, started.link, { subject: idClaims.sub, email, emailVerified: verified === true });
    const resolution = await accounts.resolve(p, { subject: idClaims.sub, email, emailVerified: verified === true });
    const meta = requestMeta(ctx);
    if (!resolution.ok) {
      if (resolution.reason === "organization_missing")
        logger.error({ provider: p.id, organization: p.organization }, "upstream identity provider: its organization does not exist");
      if (resolution.userId)
        await audit.record({
          userId: resolution.userId,
          actor: { type: "user", id: null },
          action: "login.failed",
          ...meta,
          details: { reason: "upstream", provider: p.id, providerName: p.name, refusal: resolution.reason },
        });
      return problemPage(ctx, resolution.reason === "organization_missing" ? 503 : 403, REFUSALS[resolution.reason](p.name), returnTo);
    }
    const actor = { type: "user" as const, id: resolution.userId };
    const about = { provider: p.id, providerName: p.name };
    if (resolution.created)
      await audit.record({
        userId: resolution.userId,
        actor,
        action: "upstream.account_created",
        ...meta,
        details: { ...about, organizationId: p.organization ?? null, role: p.organization ? p.role : null },
      });
    if (resolution.linked) await audit.record({ userId: resolution.userId, actor, action: "upstream.linked", ...meta, details: about });
    // Operators (src/admin/): a disabled account does not log in through a provider either.
    if (await services.users.isDisabled(resolution.userId)) {
      await audit.record({ userId: resolution.userId, actor, action: "login.failed", ...meta, details: { reason: "disabled", ...about } });
      return problemPage(ctx, 403, "This account has been disabled by an administrator of this server.", returnTo);
    }
    await audit.record({ userId: resolution.userId, actor, action: "login.succeeded", ...meta, details: { method: "upstream", ...about } });
    await startSession(services, ctx, resolution.userId, started.returnTo);
  });

  /** The provider's answer did not verify, or the provider said no: a page in words; the details go to the log. */
  const refused = async (ctx: Ctx, p: UpstreamProvider, err: unknown, returnTo: Back) => {
    if (err instanceof oidc.AuthorizationResponseError) {
      logger.info({ provider: p.id, error: err.error }, "upstream identity provider: authorization refused");
      const cancelled = err.error === "access_denied";
      return problemPage(
        ctx,
        403,
        cancelled ? `You did not allow ${p.name} to log you in.` : `${p.name} did not log you in (${err.error.slice(0, 100)}).`,
        returnTo,
      );
    }
    const network =
      err instanceof TypeError ||
      (err instanceof Error && err.name === "TimeoutError") ||
      (err instanceof Error && (err as { cause?: unknown }).cause instanceof TypeError);
    logger.warn(
      { provider: p.id, code: (err as { code?: string }).code, err: err instanceof Error ? err.message : String(err) },
      "upstream identity provider: response refused",
    );
    if (network) return problemPage(ctx, 502, `Keyward cannot reach ${p.name} right now. Try again in a few minutes.`, returnTo);
    return problemPage(
      ctx,
      400,
      returnTo === LINKING
        ? `The answer from ${p.name} could not be verified, so nothing was linked. Start again from your sign-in methods page.`
        : `The answer from ${p.name} could not be verified, so you were not logged in. Start again from the log-in page.`,
      returnTo,
    );
  };

  return router;
}
