// Keyward as seen by a strict, spec-checking OAuth client (oauth4webapi): discovery (RFC 8414 and
// OpenID), dynamic registration and its management (RFC 7591/7592), authorization code + PKCE with
// the RFC 9207 iss check, pushed authorization requests (RFC 9126), introspection (RFC 7662) and
// revocation (RFC 7009) of OAuth and portal keys by a resource server the operator registered
// (`keyward resource-servers add`), and what a self-registered client may not do there.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as oauth from "oauth4webapi";
import { generateKey } from "../src/keys/format.js";
import { mintOnPage, signUp, startTestServer, type TestServer } from "./support/server.js";
import { rowFor, unescapeHtml } from "./support/test-db.js";
import { approve, discover, insecure, whoami } from "./support/oauth/strict.js";
import { follow } from "./support/oauth/flow.js";
import { keyward } from "./support/cli-run.js";

const KEY_SHAPE = /^kw_user_[0-9A-Za-z]{49}$/;
const YEAR = 365 * 24 * 3600;
const CLIENT_NAME = "Strict Client 4WA";
const REDIRECT_URI = "http://127.0.0.1:47123/callback";

let server: TestServer;
let as: oauth.AuthorizationServer;
let resource: string;
let user: Awaited<ReturnType<typeof signUp>>;

// Filled in as the flow goes; each step builds on the previous one.
let publicClient: oauth.Client;
let resourceServer: oauth.Client;
let resourceServerAuth: oauth.ClientAuth;
let selfRegistered: oauth.Client;
let selfRegisteredAuth: oauth.ClientAuth;
let oauthKey: string;
let userId: string;

const introspect = async (client: oauth.Client, auth: oauth.ClientAuth, token: string) =>
  oauth.processIntrospectionResponse(as, client, await oauth.introspectionRequest(as, client, auth, token, insecure));

/**
 * Builds the authorization request with oauth4webapi's helpers, approves it in the user's browser
 * session, and validates the response (RFC 9207 iss — the metadata promises it — and state).
 */
async function authorizeWithPkce() {
  const verifier = oauth.generateRandomCodeVerifier();
  const challenge = await oauth.calculatePKCECodeChallenge(verifier);
  const state = oauth.generateRandomState();
  const authorizationUrl = new URL(as.authorization_endpoint!);
  authorizationUrl.search = new URLSearchParams({
    client_id: publicClient.client_id,
    redirect_uri: REDIRECT_URI,
    response_type: "code",
    scope: "mcp:read mcp:write",
    code_challenge: challenge,
    code_challenge_method: "S256",
    state,
    resource,
  }).toString();
  const callback = await approve(user.agent, server, authorizationUrl);
  const params = oauth.validateAuthResponse(as, publicClient, callback, state);
  return { callback, state, params, verifier };
}

const redeem = (params: URLSearchParams, verifier: string) =>
  oauth.authorizationCodeGrantRequest(as, publicClient, oauth.None(), params, REDIRECT_URI, verifier, {
    ...insecure,
    additionalParameters: { resource },
  });

beforeAll(async () => {
  server = await startTestServer();
  resource = `${server.url}/mcp`;
  user = await signUp(server);
});
afterAll(async () => server?.close());

describe("a strict OAuth client (oauth4webapi)", () => {
  it("discovers the server through RFC 8414 and OpenID metadata", async () => {
    const oauth2 = await discover(server, "oauth2");
    const oidc = await discover(server, "oidc");
    expect(oauth2.requested).toBe(`${server.url}/.well-known/oauth-authorization-server`);
    expect(oidc.requested).toBe(`${server.url}/.well-known/openid-configuration`);

    for (const metadata of [oauth2.as, oidc.as]) {
      expect(metadata.issuer).toBe(server.url);
      expect(metadata.code_challenge_methods_supported).toEqual(["S256"]);
      expect(metadata.authorization_response_iss_parameter_supported).toBe(true);
      expect(metadata.response_types_supported).toEqual(["code"]);
      expect(metadata.client_id_metadata_document_supported).toBe(true);
      expect(metadata.grant_types_supported).toContain("authorization_code");
      expect(metadata.authorization_endpoint).toBe(`${server.url}/auth`);
      expect(metadata.token_endpoint).toBe(`${server.url}/token`);
      expect(metadata.registration_endpoint).toBe(`${server.url}/reg`);
      expect(metadata.introspection_endpoint).toBe(`${server.url}/token/introspection`);
      expect(metadata.revocation_endpoint).toBe(`${server.url}/token/revocation`);
      expect(metadata.pushed_authorization_request_endpoint).toBe(`${server.url}/request`);
      expect(metadata.grant_types_supported).toEqual(["authorization_code"]);
      expect(metadata.response_modes_supported).toEqual(["query", "fragment"]);
      expect(metadata.scopes_supported).not.toContain("offline_access");
    }
    // Both documents describe the same server.
    expect(oidc.as).toEqual(oauth2.as);
    as = oauth2.as;

    const prm = await fetch(`${server.url}/.well-known/oauth-protected-resource/mcp`);
    expect(prm.status).toBe(200);
    const body = (await prm.json()) as { resource: string; authorization_servers: string[] };
    expect(body.resource).toBe(resource);
    expect(body.authorization_servers).toContain(as.issuer);
  });

  it("registers a public and a confidential client (RFC 7591), and reads them back (RFC 7592)", async () => {
    const pub = await oauth.processDynamicClientRegistrationResponse(
      await oauth.dynamicClientRegistrationRequest(
        as,
        {
          client_name: CLIENT_NAME,
          redirect_uris: [REDIRECT_URI],
          token_endpoint_auth_method: "none",
          grant_types: ["authorization_code"],
          response_types: ["code"],
        },
        insecure,
      ),
    );
    expect(pub.client_id).toMatch(/^dcr_[0-9A-Za-z]{22}$/);
    expect(pub.client_secret).toBeUndefined();
    expect(pub.token_endpoint_auth_method).toBe("none");
    expect(pub.redirect_uris).toEqual([REDIRECT_URI]);
    publicClient = { client_id: pub.client_id, token_endpoint_auth_method: "none" };

    // client_credentials is not a grant this server offers: refused as invalid metadata.
    const cc = await oauth.dynamicClientRegistrationRequest(
      as,
      {
        client_name: "Resource server (cc)",
        token_endpoint_auth_method: "client_secret_basic",
        grant_types: ["client_credentials"],
        response_types: [],
      },
      insecure,
    );
    expect(cc.status).toBe(400);
    expect(((await cc.json()) as { error: string }).error).toBe("invalid_client_metadata");

    // No grants at all: a client that would like to introspect and revoke. Registration gives it a
    // secret, but not the resource-server mark (see the attacks below).
    const rs = await oauth.processDynamicClientRegistrationResponse(
      await oauth.dynamicClientRegistrationRequest(
        as,
        {
          client_name: "Self-made resource server",
          token_endpoint_auth_method: "client_secret_basic",
          grant_types: [],
          response_types: [],
        },
        insecure,
      ),
    );
    expect(rs.client_id).toMatch(/^dcr_/);
    expect(rs.token_endpoint_auth_method).toBe("client_secret_basic");
    expect(rs.grant_types).toEqual([]);
    expect(rs.response_types).toEqual([]);
    expect(typeof rs.client_secret).toBe("string");
    expect((rs.client_secret as string).length).toBeGreaterThanOrEqual(32);
    selfRegistered = { client_id: rs.client_id };
    selfRegisteredAuth = oauth.ClientSecretBasic(rs.client_secret as string);

    // RFC 7592 read: the registration access token opens the client's configuration endpoint.
    const uri = pub.registration_client_uri as string;
    const rat = pub.registration_access_token as string;
    expect(uri).toBe(`${server.url}/reg/${pub.client_id}`);
    expect(typeof rat).toBe("string");
    const read = await fetch(uri, { headers: { authorization: `Bearer ${rat}`, accept: "application/json" } });
    expect(read.status).toBe(200);
    const config = (await read.json()) as Record<string, unknown>;
    expect(config).toMatchObject({
      client_id: pub.client_id,
      client_name: CLIENT_NAME,
      redirect_uris: [REDIRECT_URI],
      token_endpoint_auth_method: "none",
      grant_types: ["authorization_code"],
      response_types: ["code"],
    });

    const anonymous = await fetch(uri, { headers: { accept: "application/json" } });
    expect(anonymous.status).toBe(401);
    const anonymousBody = (await anonymous.json()) as Record<string, unknown>;
    expect(anonymousBody.error).toBe("invalid_token");
    expect(anonymousBody.client_id).toBeUndefined();
    // Another client's registration access token does not open this one.
    const foreign = await fetch(uri, { headers: { authorization: `Bearer ${rs.registration_access_token as string}` } });
    expect(foreign.status).toBe(401);
  });

  it("registers the resource server through the operator's CLI (keyward resource-servers add)", async () => {
    const env = { DATABASE_URL: server.database.url };
    const added = await keyward(["resource-servers", "add", "Billing API", "--json"], { env });
    expect(added.code, added.stderr).toBe(0);
    const created = JSON.parse(added.stdout) as { client_id: string; client_secret: string; client_name: string };
    expect(created.client_id).toMatch(/^rs_[0-9A-Za-z]{22}$/);
    expect(created.client_secret.length).toBeGreaterThanOrEqual(43);
    expect(created.client_name).toBe("Billing API");
    resourceServer = { client_id: created.client_id };
    resourceServerAuth = oauth.ClientSecretBasic(created.client_secret);

    const listed = await keyward(["resource-servers", "list", "--json"], { env });
    expect(listed.code, listed.stderr).toBe(0);
    expect(JSON.parse(listed.stdout)).toEqual([expect.objectContaining({ client_id: created.client_id, client_name: "Billing API" })]);
    expect(listed.stdout).not.toContain(created.client_secret);
  });

  it("completes a pushed authorization request (RFC 9126) with the strict client", async () => {
    const verifier = oauth.generateRandomCodeVerifier();
    const state = oauth.generateRandomState();
    const pushed = await oauth.pushedAuthorizationRequest(
      as,
      publicClient,
      oauth.None(),
      new URLSearchParams({
        redirect_uri: REDIRECT_URI,
        response_type: "code",
        scope: "mcp:read",
        code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
        code_challenge_method: "S256",
        state,
        resource,
      }),
      insecure,
    );
    expect(pushed.status).toBe(201);
    const { request_uri } = await oauth.processPushedAuthorizationResponse(as, publicClient, pushed);
    expect(request_uri).toMatch(/^urn:ietf:params:oauth:request_uri:/);

    const authorizationUrl = new URL(as.authorization_endpoint!);
    authorizationUrl.search = new URLSearchParams({ client_id: publicClient.client_id, request_uri }).toString();
    const callback = await approve(user.agent, server, authorizationUrl);
    const params = oauth.validateAuthResponse(as, publicClient, callback, state);
    const tokens = await oauth.processAuthorizationCodeResponse(
      as,
      publicClient,
      await oauth.authorizationCodeGrantRequest(as, publicClient, oauth.None(), params, REDIRECT_URI, verifier, {
        ...insecure,
        additionalParameters: { resource },
      }),
    );
    expect(tokens.access_token).toMatch(KEY_SHAPE);
    expect(tokens.scope).toBe("mcp:read");
    expect((await whoami(server, tokens.access_token)).res.status).toBe(200);
    // The request_uri is single-use.
    const again = await follow(user.agent, server, authorizationUrl.href);
    const replay = new URL(again.location!).searchParams;
    expect(replay.get("code")).toBeNull();
    expect(replay.get("error")).toBe("invalid_request_uri");
  });

  it("runs authorization code + PKCE S256 and gets a Keyward key that works at /mcp", async () => {
    const { callback, state, params, verifier } = await authorizeWithPkce();
    expect(callback.origin + callback.pathname).toBe(REDIRECT_URI);
    expect(callback.searchParams.get("state")).toBe(state);
    expect(params.get("iss")).toBe(server.url);
    expect(params.get("code")).toMatch(/^[\w-]{20,}$/);

    const tokens = await oauth.processAuthorizationCodeResponse(as, publicClient, await redeem(params, verifier));
    expect(tokens.token_type).toBe("bearer");
    expect(tokens.refresh_token).toBeUndefined();
    expect(tokens.id_token).toBeUndefined();
    expect(tokens.expires_in).toBeGreaterThanOrEqual(YEAR);
    expect(tokens.scope).toBe("mcp:read mcp:write");
    expect(tokens.access_token).toMatch(KEY_SHAPE);
    oauthKey = tokens.access_token;

    const { res, info } = await whoami(server, oauthKey);
    expect(res.status, res.text).toBe(200);
    expect(info).toMatchObject({ email: user.email, keySource: `OAuth: ${publicClient.client_id}`, scopes: ["mcp:read", "mcp:write"] });
    userId = info!.userId;
    expect(userId).toMatch(/^usr_/);
  });

  it("introspects OAuth and portal keys for the resource server (RFC 7662)", async () => {
    const now = Math.floor(Date.now() / 1000);
    const active = await introspect(resourceServer, resourceServerAuth, oauthKey);
    expect(active.active).toBe(true);
    expect(active.client_id).toBe(publicClient.client_id);
    expect(active.sub).toBe(userId);
    expect(active.iss).toBe(server.url);
    expect(active.token_type).toBe("Bearer");
    expect([active.aud].flat()).toContain(resource);
    expect(active.scope).toBe("mcp:read mcp:write");
    expect(active.exp).toBeGreaterThan(now + 5 * YEAR);
    expect(active.iat).toBeGreaterThanOrEqual(now - 60);
    expect(active.iat).toBeLessThanOrEqual(now + 5);
    // The token is not echoed back (oidc-provider would put a differing jti here).
    expect(active.jti).toBeUndefined();
    expect(JSON.stringify(active)).not.toContain(oauthKey);

    const portal = await mintOnPage(user.agent, user.csrf, "portal for introspection", ["mcp:read"]);
    const portalInfo = await introspect(resourceServer, resourceServerAuth, portal.raw);
    expect(portalInfo.active).toBe(true);
    expect(portalInfo.client_id).toBe("keyward");
    expect(portalInfo.sub).toBe(userId);
    expect(portalInfo.scope).toBe("mcp:read");
    expect([portalInfo.aud].flat()).toContain(resource);
    expect(portalInfo.exp).toBeGreaterThan(now + 5 * YEAR);

    expect(await introspect(resourceServer, resourceServerAuth, "not-a-key")).toEqual({ active: false });
    // Right prefix, right shape, wrong checksum.
    expect(await introspect(resourceServer, resourceServerAuth, `kw_user_${"a".repeat(49)}`)).toEqual({ active: false });
    // A real, well-formed key that was never stored.
    const unknown = generateKey("kw_user_");
    expect(unknown).toMatch(KEY_SHAPE);
    expect(await introspect(resourceServer, resourceServerAuth, unknown)).toEqual({ active: false });
  });

  it("lets a public client introspect its own key only", async () => {
    const own = await introspect(publicClient, oauth.None(), oauthKey);
    expect(own).toMatchObject({ active: true, client_id: publicClient.client_id, sub: userId });

    // Someone else's keys (a portal key, another client's OAuth key) look inactive: nothing leaks.
    const portal = await mintOnPage(user.agent, user.csrf, "portal for public introspection");
    expect(await introspect(publicClient, oauth.None(), portal.raw)).toEqual({ active: false });

    const other = await oauth.processDynamicClientRegistrationResponse(
      await oauth.dynamicClientRegistrationRequest(
        as,
        { client_name: "Other public client", redirect_uris: [REDIRECT_URI], token_endpoint_auth_method: "none" },
        insecure,
      ),
    );
    const otherClient: oauth.Client = { client_id: other.client_id, token_endpoint_auth_method: "none" };
    expect(await introspect(otherClient, oauth.None(), oauthKey)).toEqual({ active: false });

    // Revocation by a foreign public client is refused with the RFC 7009 error, and the key survives.
    for (const key of [oauthKey, portal.raw]) {
      const refused = await oauth.revocationRequest(as, otherClient, oauth.None(), key, insecure);
      expect(refused.status).toBe(400);
      expect(await refused.json()).toEqual({
        error: "invalid_request",
        error_description: "client is not authorized to revoke the presented token",
      });
      expect((await whoami(server, key)).res.status).toBe(200);
    }
  });

  it("gives a self-registered confidential client nothing beyond its own keys (issue 22 #14)", async () => {
    const portal = await mintOnPage(user.agent, user.csrf, "portal vs self-registered");
    for (const key of [oauthKey, portal.raw]) {
      expect(await introspect(selfRegistered, selfRegisteredAuth, key)).toEqual({ active: false });
      const refused = await oauth.revocationRequest(as, selfRegistered, selfRegisteredAuth, key, insecure);
      expect(refused.status).toBe(400);
      expect(((await refused.json()) as { error: string }).error).toBe("invalid_request");
      expect((await whoami(server, key)).res.status).toBe(200);
    }
    // The resource server the operator registered sees the same keys.
    expect((await introspect(resourceServer, resourceServerAuth, portal.raw)).active).toBe(true);
  });

  it("shows the OAuth key on the account page with the client's badge and label", async () => {
    const { info } = await whoami(server, oauthKey);
    const page = await user.agent.get("/app/account/api-keys").expect(200);
    const row = unescapeHtml(rowFor(page.text, info!.keyId));
    expect(row).toContain(`<span class="badge source-oauth">OAuth: ${publicClient.client_id}</span>`);
    expect(row).toContain(`<td class="label">OAuth: ${CLIENT_NAME}</td>`);
    expect(row).toContain(`<span class="status active">Active</span>`);
    expect(row).toContain(`<code>…${oauthKey.slice(-4)}</code>`);
    expect(row).toContain("mcp:read mcp:write");
    expect(row).not.toContain(oauthKey);
  });

  it("revokes the OAuth key for its own public client (RFC 7009): dead on the next request", async () => {
    const { info } = await whoami(server, oauthKey);
    const response = await oauth.revocationRequest(as, publicClient, oauth.None(), oauthKey, insecure);
    expect(response.status).toBe(200);
    await oauth.processRevocationResponse(response);

    const after = await whoami(server, oauthKey);
    expect(after.res.status).toBe(401);
    expect(after.res.headers["www-authenticate"]).toContain('error="invalid_token"');
    expect(after.res.body.error_description).toBe("The key has been revoked (just now)");
    expect(await introspect(resourceServer, resourceServerAuth, oauthKey)).toEqual({ active: false });
    expect(await introspect(publicClient, oauth.None(), oauthKey)).toEqual({ active: false });

    const page = await user.agent.get("/app/account/api-keys").expect(200);
    expect(rowFor(page.text, info!.keyId)).toContain(`<span class="status revoked">Revoked</span>`);
    // Revoking again is a no-op, still 200.
    await oauth.processRevocationResponse(await oauth.revocationRequest(as, publicClient, oauth.None(), oauthKey, insecure));
  });

  it("revokes a portal key for the confidential resource server (RFC 7009): dead on the next request", async () => {
    const portal = await mintOnPage(user.agent, user.csrf, "portal to revoke");
    const before = await whoami(server, portal.raw);
    expect(before.res.status).toBe(200);
    const keyId = before.info!.keyId;

    // Needs features.revocation.allowedPolicy in src/oauth/provider.ts to mirror the introspection
    // policy: oidc-provider's default answers 400 invalid_request for any token of another client.
    const response = await oauth.revocationRequest(as, resourceServer, resourceServerAuth, portal.raw, insecure);
    expect(response.status, await response.clone().text()).toBe(200);
    await oauth.processRevocationResponse(response);

    const after = await whoami(server, portal.raw);
    expect(after.res.status).toBe(401);
    expect(after.res.body.error_description).toBe("The key has been revoked (just now)");
    expect(await introspect(resourceServer, resourceServerAuth, portal.raw)).toEqual({ active: false });

    const page = await user.agent.get("/app/account/api-keys").expect(200);
    const row = rowFor(page.text, keyId);
    expect(row).toContain(`<span class="status revoked">Revoked</span>`);
    expect(row).toContain(`<td class="label">portal to revoke</td>`);
  });

  it("treats a replayed authorization code as an attack: invalid_grant, and the key it bought is revoked", async () => {
    const { params, verifier } = await authorizeWithPkce();
    const tokens = await oauth.processAuthorizationCodeResponse(as, publicClient, await redeem(params, verifier));
    expect(tokens.access_token).toMatch(KEY_SHAPE);
    expect((await whoami(server, tokens.access_token)).res.status).toBe(200);

    const replay = await redeem(params, verifier);
    expect(replay.status).toBe(400);
    expect(((await replay.json()) as { error: string }).error).toBe("invalid_grant");
    // RFC 6749 §4.1.2 / OAuth 2.1: tokens issued from a replayed code are revoked (via the grant).
    const after = await whoami(server, tokens.access_token);
    expect(after.res.status).toBe(401);
    expect(after.res.body.error_description).toBe("The key has been revoked (just now)");
    expect(await introspect(resourceServer, resourceServerAuth, tokens.access_token)).toEqual({ active: false });
  });

  it("stops accepting a resource server's credentials once the operator removes it", async () => {
    const env = { DATABASE_URL: server.database.url };
    const removed = await keyward(["resource-servers", "remove", resourceServer.client_id], { env });
    expect(removed.code, removed.stderr).toBe(0);
    const portal = await mintOnPage(user.agent, user.csrf, "after removal");
    const res = await oauth.introspectionRequest(as, resourceServer, resourceServerAuth, portal.raw, insecure);
    expect(res.status).toBe(401);
    expect(((await res.json()) as { error: string }).error).toBe("invalid_client");
    const again = await keyward(["resource-servers", "remove", resourceServer.client_id], { env });
    expect(again.code).toBe(3);
  });
});
