// The parts of an upstream authorization that log-in (./routes.ts) and linking (./link-routes.ts)
// share: one discovery cache, one sealed pending cookie, and the redirect to the provider with a
// fresh state, nonce and PKCE verifier. One flow per Services, so both routers share the cache.
import * as oidc from "openid-client";
import type { Services } from "../services.js";
import type { Ctx } from "../http/state.js";
import type { UpstreamProvider } from "./config.js";
import { createDiscovery, type Discovery } from "./discovery.js";
import { pendingStates, type PendingStates, type PendingUpstreamLogin } from "./pending-state.js";

export const UPSTREAM_LOGIN_PATH = "/login/upstream";

export const callbackUrl = (baseUrl: string, providerId: string) => `${baseUrl}${UPSTREAM_LOGIN_PATH}/${providerId}/callback`;

export interface UpstreamFlow {
  providers: ReadonlyMap<string, UpstreamProvider>;
  discovery: Discovery;
  pending: PendingStates;
  /**
   * Seals a fresh state, nonce and verifier (with `returnTo` and, for a link or a confirmation, whose) and
   * redirects to the provider; `params` adds to the authorization request (a confirmation's prompt and max_age).
   */
  redirectToProvider(
    ctx: Ctx,
    p: UpstreamProvider,
    configuration: oidc.Configuration,
    returnTo: string,
    bound?: Pick<PendingUpstreamLogin, "link" | "confirm">,
    params?: Record<string, string>,
  ): Promise<void>;
}

const flows = new WeakMap<Services, UpstreamFlow>();

export function upstreamFlow(services: Services): UpstreamFlow {
  const known = flows.get(services);
  if (known) return known;
  const { config } = services;
  const pending = pendingStates(services.secrets.cookieSecrets, config.secureCookies);
  const flow: UpstreamFlow = {
    providers: new Map(config.upstreamProviders.map((p) => [p.id, p])),
    discovery: createDiscovery(),
    pending,
    async redirectToProvider(ctx, p, configuration, returnTo, bound = {}, params = {}) {
      const state = oidc.randomState();
      const nonce = oidc.randomNonce();
      const verifier = oidc.randomPKCECodeVerifier();
      const url = oidc.buildAuthorizationUrl(configuration, {
        ...params,
        redirect_uri: callbackUrl(config.baseUrl, p.id),
        response_type: "code",
        scope: p.scopes.join(" "),
        state,
        nonce,
        code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
        code_challenge_method: "S256",
      });
      pending.set(ctx, { provider: p.id, state, nonce, verifier, returnTo, ...bound });
      ctx.status = 303;
      ctx.redirect(url.href);
    },
  };
  flows.set(services, flow);
  return flow;
}
