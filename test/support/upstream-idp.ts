// A real OpenID Connect provider (a second oidc-provider) as the upstream identity provider of the
// upstream-login tests. It listens on 127.0.0.1 at once (so Keyward's config can name its issuer),
// and serves once `configure` gave it its clients (Keyward's redirect URIs are known only then). Its
// log-in step has no UI: the next interaction logs in as whoever `loginAs` named, and consents.
// It also makes what every upstream-login test sets up against it (people, UPSTREAM_PROVIDERS
// entries, its clients for Keyward's callbacks), so that those files share one way of doing it.
import http from "node:http";
import type { AddressInfo } from "node:net";
import Provider from "oidc-provider";
import request from "supertest";
import { startTestServer, type TestServer } from "./server.js";

export interface UpstreamAccount {
  email?: string;
  email_verified?: boolean;
  name?: string;
}

export interface UpstreamClient {
  clientId: string;
  clientSecret: string;
  redirectUri: string;
}

/** An entry of Keyward's UPSTREAM_PROVIDERS (src/config.ts checks it; a test may add any field, even a wrong one). */
export interface UpstreamProviderEntry {
  id: string;
  name: string;
  issuer: string;
  clientId: string;
  clientSecret: string;
  [field: string]: unknown;
}

export interface UpstreamIdp {
  issuer: string;
  /** Accounts by `sub`; the claims they give. */
  accounts: Map<string, UpstreamAccount>;
  /** A new person at the upstream ("Test Person", with these claims); returns their `sub`, unique in this run. */
  person(claims: Omit<UpstreamAccount, "name">): string;
  /**
   * Keyward's UPSTREAM_PROVIDERS entry `id` for this upstream: its own client (`keyward-<id>`) and
   * secret; `extra` adds fields or overrides these (another issuer, client, …).
   */
  provider(id: string, extra?: Record<string, unknown>): UpstreamProviderEntry;
  /**
   * Who logs in at the next interaction; `quirks` (for that flow only) make it a provider that says the
   * log-in happened at `authTime` (seconds), or that ignores the request's prompt and max_age (so gives no auth_time).
   */
  loginAs(sub: string, quirks?: LoginQuirks): void;
  configure(clients: UpstreamClient[]): void;
  close(): Promise<void>;
}

export interface LoginQuirks {
  authTime?: number;
  ignoreReauthParams?: boolean;
}

export async function startUpstreamIdp(): Promise<UpstreamIdp> {
  let handle: http.RequestListener = (_req, res) => {
    res.statusCode = 503;
    res.end();
  };
  const server = http.createServer((req, res) => handle(req, res));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const accounts = new Map<string, UpstreamAccount>();
  let next = "";
  let quirks: LoginQuirks = {};
  let people = 0;
  return {
    issuer,
    accounts,
    person(claims) {
      const sub = `sub-${Date.now()}-${people++}`;
      accounts.set(sub, { name: "Test Person", ...claims });
      return sub;
    },
    provider: (id, extra = {}) => ({
      id,
      name: `Test IdP ${id}`,
      issuer,
      clientId: `keyward-${id}`,
      clientSecret: `secret-of-${id}-0123456789abcdef`,
      ...extra,
    }),
    loginAs(sub, nextQuirks = {}) {
      next = sub;
      quirks = nextQuirks;
    },
    configure(clients) {
      const provider = new Provider(issuer, {
        clients: clients.map((c) => ({
          client_id: c.clientId,
          client_secret: c.clientSecret,
          redirect_uris: [c.redirectUri],
          grant_types: ["authorization_code"],
          response_types: ["code"],
          token_endpoint_auth_method: "client_secret_basic",
        })),
        findAccount: (_ctx, sub) => {
          const account = accounts.get(sub);
          return account ? { accountId: sub, claims: () => ({ sub, ...account }) } : undefined;
        },
        claims: { openid: ["sub"], email: ["email", "email_verified"], profile: ["name"] },
        pkce: { required: () => true },
        interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
        features: { devInteractions: { enabled: false } },
        cookies: { keys: ["upstream-idp-test-cookie-secret-0123456789"] },
      });
      const callback = provider.callback();
      handle = (req, res) => {
        if (quirks.ignoreReauthParams && req.url?.startsWith("/auth?")) {
          const url = new URL(req.url, issuer);
          for (const name of ["prompt", "max_age"]) url.searchParams.delete(name);
          req.url = url.pathname + url.search;
        }
        if (!req.url?.startsWith("/interaction/")) return void callback(req, res);
        void (async () => {
          const details = await provider.interactionDetails(req, res);
          if (details.prompt.name === "login") {
            const login = { accountId: next, ...(quirks.authTime === undefined ? {} : { ts: quirks.authTime }) };
            await provider.interactionFinished(req, res, { login }, { mergeWithLastSubmission: false });
            return;
          }
          const grant = new provider.Grant({ accountId: details.session!.accountId, clientId: String(details.params.client_id) });
          grant.addOIDCScope(String(details.params.scope));
          await provider.interactionFinished(req, res, { consent: { grantId: await grant.save() } }, { mergeWithLastSubmission: false });
        })().catch((err: unknown) => {
          res.statusCode = 500;
          res.end(String(err));
        });
      };
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** The upstream's clients for these UPSTREAM_PROVIDERS entries of the Keyward at `keywardUrl` (for `configure`). */
export function clientsFor(
  keywardUrl: string,
  providers: readonly Pick<UpstreamProviderEntry, "id" | "clientId" | "clientSecret">[],
): UpstreamClient[] {
  return providers.map((p) => ({
    clientId: p.clientId,
    clientSecret: p.clientSecret,
    redirectUri: `${keywardUrl}/login/upstream/${p.id}/callback`,
  }));
}

/**
 * A Keyward with these UPSTREAM_PROVIDERS (and `env`), and one with LOCAL_PASSWORDS=off offering the
 * providers `offIds` through their own clients (`keyward-off-<id>`); the upstream is configured for both.
 */
export async function startKeywardsFor(
  idp: UpstreamIdp,
  providers: UpstreamProviderEntry[],
  offIds: string[],
  env: Record<string, string> = {},
): Promise<{ server: TestServer; withoutPasswords: TestServer }> {
  const server = await startTestServer({ UPSTREAM_PROVIDERS: JSON.stringify(providers), ...env });
  const offProviders = offIds.map((id) => idp.provider(id, { clientId: `keyward-off-${id}` }));
  const withoutPasswords = await startTestServer({ UPSTREAM_PROVIDERS: JSON.stringify(offProviders), LOCAL_PASSWORDS: "off" });
  idp.configure([...clientsFor(server.url, providers), ...clientsFor(withoutPasswords.url, offProviders)]);
  return { server, withoutPasswords };
}

/**
 * The browser at the upstream: follows `authorizeUrl` through the upstream's log-in and consent
 * (its own cookies) until it redirects away; returns where it sent the browser (Keyward's callback).
 */
export async function throughUpstream(idp: UpstreamIdp, authorizeUrl: string): Promise<string> {
  const agent = request.agent(idp.issuer);
  let url = new URL(authorizeUrl, idp.issuer);
  for (let i = 0; i < 10; i++) {
    if (url.origin !== idp.issuer) return url.href;
    const res = await agent.get(url.pathname + url.search).redirects(0);
    if (res.status < 300 || res.status >= 400 || !res.headers.location)
      throw new Error(`upstream answered ${res.status}: ${res.text.slice(0, 300)}`);
    url = new URL(res.headers.location, url);
  }
  throw new Error("too many redirects at the upstream");
}
