// Builds the Koa app. The whole request pipeline is composed here, in order.
import Koa, { type Middleware } from "koa";
import type { Services } from "./services.js";
import type { KeywardState } from "./http/state.js";
import { errorHandler } from "./http/errors.js";
import { requestLog } from "./http/request-log.js";
import { setClientAddress } from "./http/client-address.js";
import { securityHeaders } from "./http/security-headers.js";
import { serveStatic } from "./web/static.js";
import { renderError } from "./web/render.js";
import { health } from "./http/health.js";
import { loadSession } from "./web/session.js";
import { provideCsrfToken } from "./web/csrf.js";
import { landingRoutes } from "./web/landing.js";
import { authRoutes } from "./web/auth-routes.js";
import { apiKeysPageRoutes } from "./web/api-keys-routes.js";
import { apiKeysApi } from "./api/api-keys.js";
import { metadataRoutes } from "./mcp/metadata.js";
import { mcpRoutes } from "./mcp/server.js";
import { gateway } from "./gateway/index.js";
import { HttpError } from "./http/errors.js";
import { rejectIllFormedUrl } from "./http/reject-ill-formed-url.js";
import { parseBody } from "./http/body.js";
import { createProvider } from "./oauth/provider.js";
import { providerEndpoints } from "./oauth/mount.js";
import { isMachineEndpoint } from "./oauth/provider-routes.js";
import { endProviderSessionWithKeyward, endUnboundProviderSessions } from "./oauth/session-binding.js";
import { registrationPolicy } from "./oauth/registration-policy.js";
import { clientSecretsInRegistrationManagement } from "./oauth/client-secrets/registration.js";
import { defaultScope } from "./oauth/default-scope.js";
import { interactionRoutes } from "./oauth/interactions.js";
import { connectedAppsRoutes } from "./web/connected-apps-routes.js";
import { keyLimitsRoutes } from "./web/key-limits-routes.js";
import { orgsRoutes } from "./web/orgs-routes.js";
import { orgsApi } from "./api/orgs.js";
import { secondFactorRoutes } from "./web/second-factor-routes.js";
import { securityRoutes } from "./web/security-routes.js";
import { signInMethodsRoutes } from "./upstream-login/link-routes.js";
import { auditRoutes } from "./web/audit-routes.js";
import { resourcesRoutes } from "./web/resources-routes.js";
import { mailRoutes } from "./mail/routes.js"; // Email: forgot password, email verification
import { secretScanningReport } from "./secret-scanning/report.js";
import { announceKeyWrites } from "./http/key-writes.js";
import { pinPublicOrigin } from "./http/public-origin.js";
import { resourceIntrospection } from "./resources/introspection.js";
import { resourceEventsRoute } from "./resources/events-route.js";
import { countRequests, metricsEndpoint, observeOAuth } from "./metrics/index.js"; // observability (issue 29)
import { openApiRoute } from "./api/openapi.js";
import { upstreamLoginRoutes } from "./upstream-login/routes.js"; // issue 29: upstream identity providers
// Operators (issue 29): admin pages, blocked clients' registrations
import { adminRoutes } from "./admin/routes.js";
import { refuseBlockedRegistrations } from "./admin/registration-refusal.js";
import { explainOAuthErrors, watchConnections } from "./doctor/provider-events.js"; // issue 26: connection doctor
import { doctorRoutes } from "./doctor/routes.js";
import { noteDiscovery } from "./doctor/discovery.js";

export interface AppOptions {
  /**
   * Middleware mounted right after the health checks, built from the services: the benchmark's routes (bench/serve.ts); none in production.
   */
  mount?: (services: Services) => Middleware<KeywardState>[];
}

export function createApp(services: Services, options: AppOptions = {}): Koa<KeywardState> {
  const { config, logger } = services;
  const app = new Koa<KeywardState>();
  app.proxy = config.trustProxy;
  pinPublicOrigin(app.request, config.baseUrl); // every URL we publish derives from ISSUER, not Host / X-Forwarded-*
  app.silent = true; // errors are logged by errorHandler, once
  // Koa's name for cookie-signing secrets; shared with oidc-provider, which runs on this app's context
  app.keys = services.secrets.cookieSecrets;

  const provider = createProvider(services);
  observeOAuth(provider, services.metrics); // observability: OAuth flow steps, from the provider's events
  watchConnections(provider, services); // issue 26: connection doctor (OAuth steps)

  const pages = [
    landingRoutes(services),
    authRoutes(services),
    upstreamLoginRoutes(services), // issue 29: "Continue with …" through an upstream OpenID Connect provider
    secondFactorRoutes(services),
    securityRoutes(services),
    signInMethodsRoutes(services), // password and upstream identities: see, link, unlink
    auditRoutes(services),
    apiKeysPageRoutes(services),
    connectedAppsRoutes(services),
    keyLimitsRoutes(services), // issue 28: a key's limits, an OAuth client's limits
    orgsRoutes(services),
    resourcesRoutes(services),
    mailRoutes(services), // Email (src/mail/)
    interactionRoutes(services, provider),
    doctorRoutes(services), // issue 26: connection doctor pages
  ];

  app.use(setClientAddress(config.trustedProxies)); // ctx.ip, for every reader below: the right end of X-Forwarded-For, never the left
  app.use(requestLog(logger));
  if (services.metrics) app.use(countRequests(services.metrics)); // observability: outside the error handler, so refusals count too
  app.use(noteDiscovery(services.doctor.discovery)); // issue 26: discovery requests, for the client that registers next
  app.use(securityHeaders({ hsts: config.secureCookies }));
  app.use(errorHandler(logger, { page: renderError, isMachinePath: isMachineEndpoint })); // browsers get a page, machines JSON
  app.use(rejectIllFormedUrl); // no NUL, no ill-formed Unicode in the path or query
  app.use(announceKeyWrites(services.announceKeyWrites)); // revocations hold on every instance before we answer
  app.use(health(services.db, { isStopping: () => services.stopping }));
  if (services.metrics && config.metricsToken) app.use(metricsEndpoint(services.metrics, config.metricsToken)); // observability
  for (const extra of options.mount?.(services) ?? []) app.use(extra); // the benchmark's routes only (bench/serve.ts)
  app.use(serveStatic);
  // <ISSUER>/mcp/<slug>: the MCP servers Keyward protects (src/gateway/). Early: nothing below (OAuth,
  // browser sessions, pages) concerns a proxied request, and each hop it skips is latency added to every call.
  app.use(gateway(services));

  // Machine surfaces: metadata, the OAuth server, the MCP endpoint, the JSON API.
  app.use(metadataRoutes(config, services.resources.lookup).routes());
  // Separate resource servers (docs/resource-servers.md): introspection with their credentials, before
  // oidc-provider (which never sees them), and their revocation feed.
  app.use(resourceIntrospection(services));
  app.use(resourceEventsRoute(services));
  app.use(registrationPolicy({ rateLimiter: services.rateLimiter, perHour: config.registrationPerHour }));
  app.use(clientSecretsInRegistrationManagement(services.db)); // RFC 7592 with client secrets stored hashed
  app.use(refuseBlockedRegistrations(services.db)); // operators: a blocked client's metadata cannot register again
  app.use(defaultScope(config.scopes));
  // The browser session is read before the OAuth server runs: the provider's own session counts
  // only while it is this one (src/oauth/session-binding.ts).
  app.use(loadSession(services.sessions));
  app.use(endUnboundProviderSessions(provider));
  app.use(endProviderSessionWithKeyward(provider));
  app.use(explainOAuthErrors); // issue 26: the connection doctor's words in OAuth error_description
  app.use(providerEndpoints(provider));
  app.use(mcpRoutes(services).routes());
  app.use(secretScanningReport(services));
  app.use(openApiRoute); // GET /api/openapi.json (issue 29)
  app.use(apiKeysApi(services).routes());
  app.use(orgsApi(services).routes());

  // Browser pages: form bodies, a CSRF token for their forms, then the routes.
  app.use(parseBody());
  app.use(provideCsrfToken(config.secureCookies));
  for (const router of pages) app.use(router.routes()).use(router.allowedMethods());
  // Operators (issue 29): /admin/… for instance administrators only; no allowedMethods (a 405 would tell non-admins a route exists).
  app.use(adminRoutes(services).routes());

  app.use(() => {
    throw new HttpError(404, "not_found", "There is nothing at this address.");
  });
  return app;
}
