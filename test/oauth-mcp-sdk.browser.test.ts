// End to end with the official MCP TypeScript SDK and a real browser: the SDK client starts from
// /mcp's 401, discovers the protected-resource and authorization-server metadata, registers
// dynamically, and sends the user (headless Chromium) to log in and click Allow; the browser lands
// on the client's loopback redirect URI, the SDK exchanges the code for a Keyward key and calls
// whoami. The key then shows on the account page, is revoked there, and stops working for the SDK.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import request from "supertest";
import { type Browser, type BrowserContext, type Page } from "playwright-core";
import { launchChromium, logInWhenAsked, noBrowser } from "./support/browser.js";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { UnauthorizedError } from "@modelcontextprotocol/sdk/client/auth.js";
import type { FetchLike } from "@modelcontextprotocol/sdk/shared/transport.js";
import { signUp, type TestServer, startTestServer } from "./support/server.js";
import { RecordingOAuthProvider } from "./support/oauth/mcp-sdk-provider.js";
import { startCallbackServer, type CallbackServer } from "./support/oauth/callback-server.js";
import type { WhoAmI } from "./support/oauth/strict.js";

// In CI the test must run (and fail loudly if Chromium is missing); locally it needs Chromium.

// ---------------------------------------------------------------------------------------------
// One SDK "installation": its provider, the HTTP calls it made, and a Client/transport factory.

interface SdkClient {
  provider: RecordingOAuthProvider;
  /** "METHOD /path STATUS" for every HTTP request the SDK made (MCP and OAuth alike). */
  calls: string[];
  newTransport(): StreamableHTTPClientTransport;
}

function sdkClient(server: TestServer, redirectUri: string, clientName: string): SdkClient {
  const provider = new RecordingOAuthProvider({ redirectUrl: redirectUri, clientName });
  const calls: string[] = [];
  const loggingFetch: FetchLike = async (url, init) => {
    const res = await fetch(url, init);
    const target = new URL(String(url));
    calls.push(`${init?.method ?? "GET"} ${target.origin === server.url ? target.pathname : target.href} ${res.status}`);
    return res;
  };
  return {
    provider,
    calls,
    newTransport: () => new StreamableHTTPClientTransport(new URL(`${server.url}/mcp`), { authProvider: provider, fetch: loggingFetch }),
  };
}

const newMcpClient = () => new Client({ name: "keyward-e2e", version: "0.0.0" });

async function whoami(client: Client): Promise<WhoAmI> {
  const result = await client.callTool({ name: "whoami", arguments: {} });
  expect(result.isError ?? false).toBe(false);
  const info = result.structuredContent as unknown as WhoAmI;
  const content = result.content as { type: string; text: string }[];
  expect(JSON.parse(content[0]!.text)).toEqual(info);
  return info;
}

// ---------------------------------------------------------------------------------------------

describe.skipIf(noBrowser)("MCP SDK client + browser: OAuth from /mcp's 401 to a revocable key", () => {
  let server: TestServer;
  let callbacks: CallbackServer;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let user: { email: string; password: string };

  beforeAll(async () => {
    [server, callbacks, browser] = await Promise.all([startTestServer(), startCallbackServer(), launchChromium()]);
    context = await browser.newContext();
    page = await context.newPage();
    const signedUp = await signUp(server);
    user = { email: signedUp.email, password: signedUp.password };
  });

  let clientA: Client | undefined;
  let clientB: Client | undefined;

  afterAll(async () => {
    await clientA?.close().catch(() => {});
    await clientB?.close().catch(() => {});
    await context?.close().catch(() => {});
    await browser?.close().catch(() => {});
    await callbacks?.close();
    await server?.close();
  });

  /**
   * Plays the user: opens the authorization URL the SDK handed its provider, logs in when asked,
   * clicks Allow, and returns what reached the redirect URI.
   */
  async function consentInBrowser(sdk: SdkClient, expectLogin: boolean): Promise<URLSearchParams> {
    const authUrl = sdk.provider.lastAuthorizationUrl;
    const state = authUrl.searchParams.get("state")!;
    expect(state).toBe(sdk.provider.states.at(-1));
    const arrived = callbacks.waitFor(state);

    await page.goto(authUrl.href);
    if (expectLogin) await logInWhenAsked(page, user);

    await page.waitForURL((u) => u.origin === server.url && u.pathname.startsWith("/interaction/"));
    const consent = page.locator("section.consent");
    await expect.poll(() => consent.locator("h1").textContent()).toBe(`Authorize ${sdk.provider.clientMetadata.client_name}?`);
    const facts = (await consent.textContent()) ?? "";
    expect(facts).toContain(sdk.provider.clientId);
    expect(facts).toContain(user.email);
    expect(facts).toContain("mcp:read");
    expect(facts).toContain("mcp:write");
    expect(facts).toContain(`${server.url}/mcp`);

    await page.getByRole("button", { name: "Allow", exact: true }).click();
    await page.waitForURL((u) => u.href.startsWith(`${callbacks.redirectUri}?`));
    const query = await arrived;
    expect(query.get("state")).toBe(state);
    expect(query.get("iss")).toBe(server.url);
    expect(query.get("error")).toBeNull();
    expect(query.get("code")).toBeTruthy();
    return query;
  }

  /** The whole connect dance for one SDK client: 401 → auth → browser → finishAuth → connected. */
  async function connectWithOAuth(sdk: SdkClient, expectLogin: boolean): Promise<Client> {
    const first = newMcpClient();
    const firstTransport = sdk.newTransport();
    await expect(first.connect(firstTransport)).rejects.toBeInstanceOf(UnauthorizedError);
    expect(sdk.provider.authorizationUrls).toHaveLength(1);

    const query = await consentInBrowser(sdk, expectLogin);
    await firstTransport.finishAuth(query.get("code")!);
    expect(sdk.provider.accessToken).toMatch(/^kw_user_/);

    const client = newMcpClient();
    await client.connect(sdk.newTransport());
    return client;
  }

  let sdkA: SdkClient;
  let whoA: WhoAmI;

  it("the SDK discovers, registers, sends the user through log-in and consent, and calls whoami", { timeout: 20_000 }, async () => {
    sdkA = sdkClient(server, callbacks.redirectUri, "SDK e2e client A");
    clientA = await connectWithOAuth(sdkA, true);

    // It started from /mcp's 401, then: protected-resource metadata → AS metadata → registration.
    expect(sdkA.calls.slice(0, 4)).toEqual([
      "POST /mcp 401",
      "GET /.well-known/oauth-protected-resource/mcp 200",
      "GET /.well-known/oauth-authorization-server 200",
      "POST /reg 201",
    ]);
    expect(sdkA.calls).toContain("POST /token 200");
    const discovery = sdkA.provider.discovery!;
    expect(String(discovery.authorizationServerUrl).replace(/\/$/, "")).toBe(server.url);
    expect(discovery.resourceMetadata?.resource).toBe(`${server.url}/mcp`);
    expect(discovery.authorizationServerMetadata?.issuer).toBe(server.url);
    expect(discovery.authorizationServerMetadata?.registration_endpoint).toBe(`${server.url}/reg`);

    // Registered dynamically, and the authorization request it built names the resource and scopes.
    expect(sdkA.provider.clientId).toMatch(/^dcr_[A-Za-z0-9]+$/);
    expect(sdkA.provider.registrations).toBe(1);
    const authUrl = sdkA.provider.authorizationUrls[0]!;
    expect(`${authUrl.origin}${authUrl.pathname}`).toBe(`${server.url}/auth`);
    expect(authUrl.searchParams.get("client_id")).toBe(sdkA.provider.clientId);
    expect(authUrl.searchParams.get("redirect_uri")).toBe(callbacks.redirectUri);
    expect(authUrl.searchParams.get("code_challenge_method")).toBe("S256");
    expect(authUrl.searchParams.get("resource")).toBe(`${server.url}/mcp`);
    expect(authUrl.searchParams.get("scope")?.split(" ").sort()).toEqual(["mcp:read", "mcp:write"]);

    // The token response: a Keyward key, no refresh token.
    const tokens = sdkA.provider.tokens()!;
    expect(tokens.token_type.toLowerCase()).toBe("bearer");
    expect(tokens.refresh_token).toBeUndefined();

    const tools = await clientA.listTools();
    expect(tools.tools.map((t) => t.name)).toContain("whoami");
    whoA = await whoami(clientA);
    expect(whoA.email).toBe(user.email);
    expect(whoA.keySource).toBe(`OAuth: ${sdkA.provider.clientId}`);
    expect([...whoA.scopes].sort()).toEqual(["mcp:read", "mcp:write"]);
  });

  let sdkB: SdkClient;
  let whoB: WhoAmI;

  it("a second SDK client, consented by the same (already logged-in) user, gets a second, distinct key", { timeout: 15_000 }, async () => {
    sdkB = sdkClient(server, callbacks.redirectUri, "SDK e2e client B");
    clientB = await connectWithOAuth(sdkB, false);
    expect(sdkB.provider.clientId).toMatch(/^dcr_/);
    expect(sdkB.provider.clientId).not.toBe(sdkA.provider.clientId);
    expect(sdkB.provider.accessToken).not.toBe(sdkA.provider.accessToken);
    whoB = await whoami(clientB);
    expect(whoB.email).toBe(user.email);
    expect(whoB.userId).toBe(whoA.userId);
    expect(whoB.keySource).toBe(`OAuth: ${sdkB.provider.clientId}`);
    expect(whoB.keyId).not.toBe(whoA.keyId);
  });

  it("the account page lists both keys; revoking A's there makes the SDK's next call fail with a 401", { timeout: 15_000 }, async () => {
    await page.goto(`${server.url}/app/account/api-keys`);
    expect(new URL(page.url()).pathname).toBe("/app/account/api-keys"); // still logged in, no detour via /login

    const rowA = page.locator(`tr[data-key-id="${whoA.keyId}"]`);
    const rowB = page.locator(`tr[data-key-id="${whoB.keyId}"]`);
    await expect.poll(() => page.locator("table.keys tbody tr").count()).toBe(2);
    expect(await rowA.locator(".badge").textContent()).toBe(`OAuth: ${sdkA.provider.clientId}`);
    expect(await rowA.locator("td.label").textContent()).toBe("OAuth: SDK e2e client A");
    expect(await rowA.locator(".status").textContent()).toBe("Active");
    expect(await rowB.locator(".badge").textContent()).toBe(`OAuth: ${sdkB.provider.clientId}`);
    expect(await rowB.locator("td.label").textContent()).toBe("OAuth: SDK e2e client B");
    expect(await rowB.locator("td code").first().textContent()).toBe(`…${sdkB.provider.accessToken.slice(-4)}`);
    expect(await rowA.locator("td code").first().textContent()).toBe(`…${sdkA.provider.accessToken.slice(-4)}`);

    // Revoke → dialog → "Yes, revoke this key".
    await rowA.getByRole("link", { name: "Revoke" }).click();
    const dialog = page.locator("dialog#revoke-dialog");
    await dialog.waitFor({ state: "visible" });
    expect(await dialog.locator("#revoke-dialog-last4").textContent()).toBe(sdkA.provider.accessToken.slice(-4));
    await Promise.all([
      page.waitForURL((u) => u.pathname === "/app/account/api-keys" && u.searchParams.get("revoked") === whoA.keyId),
      dialog.getByRole("button", { name: "Yes, revoke this key" }).click(),
    ]);
    expect(await page.locator('p.alert[role="status"]').textContent()).toContain("was revoked");
    expect(await rowA.locator(".status").textContent()).toBe("Revoked");
    expect(await rowB.locator(".status").textContent()).toBe("Active");

    // The raw key A now gets a 401 challenge at /mcp.
    const raw = await request(server.url)
      .post("/mcp")
      .set("Authorization", `Bearer ${sdkA.provider.accessToken}`)
      .set("Accept", "application/json, text/event-stream")
      .send({ jsonrpc: "2.0", id: 1, method: "tools/list", params: {} });
    expect(raw.status).toBe(401);
    expect(raw.headers["www-authenticate"]).toBe(
      `Bearer resource_metadata="${server.url}/.well-known/oauth-protected-resource/mcp", error="invalid_token", error_description="The key has been revoked (just now)"`,
    );

    // The SDK's next call: a 401, then the SDK tries to re-authorize (recorded, not followed) → rejects.
    const before = sdkA.calls.length;
    const failure = await clientA!.callTool({ name: "whoami", arguments: {} }).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(failure).toBeInstanceOf(UnauthorizedError);
    expect(sdkA.calls.slice(before)[0]).toBe("POST /mcp 401");
    expect(sdkA.provider.authorizationUrls).toHaveLength(2); // it asked the user to authorize again
    expect(sdkA.calls.slice(before)).not.toContain("POST /token 200");

    // Client B's key is untouched.
    expect((await whoami(clientB!)).keyId).toBe(whoB.keyId);
  });
});
