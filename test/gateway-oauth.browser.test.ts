// End to end through the gateway, with nothing but the gateway URL: the official MCP SDK client
// is given <ISSUER>/mcp/everything (a real MCP server nobody here wrote, @modelcontextprotocol/
// server-everything, behind Keyward), gets its 401, discovers that resource's own metadata,
// registers, sends the user (headless Chromium) through log-in and consent, and receives a key bound
// to exactly that resource. Then: tools/list, echo, a long-running tool whose progress
// notifications arrive before its result (streaming proven, not assumed), the key refused by Keyward's
// own /mcp and a second resource's key refused here, and a revocation mid-session (next request 401).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Browser, type BrowserContext, type Page } from "playwright-core";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { UnauthorizedError } from "@modelcontextprotocol/sdk/client/auth.js";
import type { FetchLike } from "@modelcontextprotocol/sdk/shared/transport.js";
import { launchChromium, logInWhenAsked, noBrowser } from "./support/browser.js";
import { signUp, startTestServer, type TestServer } from "./support/server.js";
import { RecordingOAuthProvider } from "./support/oauth/mcp-sdk-provider.js";
import { startCallbackServer, type CallbackServer } from "./support/oauth/callback-server.js";
import { startEverything, type EverythingServer } from "./support/upstreams.js";

const BY_CLI = { actor: { type: "cli" as const } };

describe.skipIf(noBrowser)("the MCP SDK through the gateway: OAuth from the gateway URL alone, streaming, audience, revocation", () => {
  let server: TestServer;
  let upstream: EverythingServer;
  let callbacks: CallbackServer;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let user: { email: string; password: string };
  let gatewayUrl: string;
  let client: Client | undefined;
  const calls: string[] = [];
  let provider: RecordingOAuthProvider;

  beforeAll(async () => {
    [server, upstream, callbacks, browser] = await Promise.all([
      startTestServer(),
      startEverything(),
      startCallbackServer(),
      launchChromium(),
    ]);
    await server.services.resources.add({ slug: "everything", name: "Everything server", upstream: upstream.url }, BY_CLI);
    await server.services.resources.add({ slug: "second", name: "Second server", upstream: upstream.url }, BY_CLI);
    gatewayUrl = `${server.url}/mcp/everything`;
    context = await browser.newContext();
    page = await context.newPage();
    const signedUp = await signUp(server);
    user = { email: signedUp.email, password: signedUp.password };
    provider = new RecordingOAuthProvider({ redirectUrl: callbacks.redirectUri, clientName: "Gateway e2e client" });
  });

  afterAll(async () => {
    await client?.close().catch(() => {});
    await context?.close().catch(() => {});
    await browser?.close().catch(() => {});
    await callbacks?.close();
    await upstream?.stop();
    await server?.close();
  });

  const loggingFetch: FetchLike = async (url, init) => {
    const res = await fetch(url, init);
    const target = new URL(String(url));
    calls.push(`${init?.method ?? "GET"} ${target.origin === server.url ? target.pathname : target.href} ${res.status}`);
    return res;
  };
  const transport = () => new StreamableHTTPClientTransport(new URL(gatewayUrl), { authProvider: provider, fetch: loggingFetch });

  it("completes OAuth from nothing but the gateway URL, consent naming the resource", { timeout: 30_000 }, async () => {
    const first = new Client({ name: "keyward-gateway-e2e", version: "0.0.0" });
    const firstTransport = transport();
    await expect(first.connect(firstTransport)).rejects.toBeInstanceOf(UnauthorizedError);
    expect(calls.slice(0, 4)).toEqual([
      "POST /mcp/everything 401",
      "GET /.well-known/oauth-protected-resource/mcp/everything 200",
      "GET /.well-known/oauth-authorization-server 200",
      "POST /reg 201",
    ]);
    expect(provider.discovery?.resourceMetadata?.resource).toBe(gatewayUrl);
    const authUrl = provider.lastAuthorizationUrl;
    expect(authUrl.searchParams.get("resource")).toBe(gatewayUrl);

    const state = authUrl.searchParams.get("state")!;
    const arrived = callbacks.waitFor(state);
    await page.goto(authUrl.href);
    await logInWhenAsked(page, user);
    await page.waitForURL((u) => u.origin === server.url && u.pathname.startsWith("/interaction/"));
    const consent = (await page.locator("section.consent").textContent()) ?? "";
    expect(consent).toContain("Everything server");
    expect(consent).toContain(gatewayUrl);
    await page.getByRole("button", { name: "Allow", exact: true }).click();
    const query = await arrived;
    expect(query.get("code")).toBeTruthy();
    await firstTransport.finishAuth(query.get("code")!);
    expect(provider.accessToken).toMatch(/^kw_user_/);

    client = new Client({ name: "keyward-gateway-e2e", version: "0.0.0" });
    await client.connect(transport());
    const key = (await server.services.keys.list((await server.services.users.findByEmail(user.email))!.id)).find(
      (k) => k.source === "oauth",
    )!;
    expect(key.resources).toEqual([gatewayUrl]);
  });

  it("lists the upstream's tools and calls echo through the gateway", async () => {
    const tools = await client!.listTools();
    expect(tools.tools.map((t) => t.name)).toEqual(expect.arrayContaining(["echo", "trigger-long-running-operation"]));
    const echoed = await client!.callTool({ name: "echo", arguments: { message: "through the gateway" } });
    expect(JSON.stringify(echoed.content)).toContain("through the gateway");
  });

  it(
    "streams: each progress notification of a long-running tool arrives before its result, spaced as the upstream sent them",
    { timeout: 20_000 },
    async () => {
      const progressAt: number[] = [];
      const started = performance.now();
      const result = await client!.callTool({ name: "trigger-long-running-operation", arguments: { duration: 1.5, steps: 3 } }, undefined, {
        onprogress: () => progressAt.push(performance.now() - started),
        timeout: 15_000,
      });
      const resultAt = performance.now() - started;
      expect(JSON.stringify(result.content)).toContain("Long running operation completed");
      expect(progressAt).toHaveLength(3);
      // Buffered, all three would arrive with the result (≈1.5 s); streamed, the first comes after ≈0.5 s.
      expect(progressAt[0]!).toBeLessThan(resultAt - 700);
      expect(progressAt[1]! - progressAt[0]!).toBeGreaterThan(250);
    },
  );

  it("the key works only at its resource: Keyward's own /mcp refuses it, and a second resource's key is refused here", async () => {
    const atBuiltIn = await fetch(`${server.url}/mcp`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${provider.accessToken}`,
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
      },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list", params: {} }),
    });
    expect(atBuiltIn.status).toBe(401);
    expect(atBuiltIn.headers.get("www-authenticate")).toContain('error="invalid_token"');

    const owner = (await server.services.users.findByEmail(user.email))!;
    const other = await server.services.keys.mint(
      { userId: owner.id, label: "second only", source: "portal", resources: [`${server.url}/mcp/second`] },
      { actor: { type: "user", id: owner.id }, via: "api" },
    );
    const here = await fetch(gatewayUrl, {
      method: "POST",
      headers: { authorization: `Bearer ${other.raw}`, "content-type": "application/json", accept: "application/json, text/event-stream" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list", params: {} }),
    });
    expect(here.status).toBe(401);
    expect(here.headers.get("www-authenticate")).toContain(
      `resource_metadata="${server.url}/.well-known/oauth-protected-resource/mcp/everything"`,
    );
  });

  it("a key revoked mid-session is refused on the very next request", async () => {
    const owner = (await server.services.users.findByEmail(user.email))!;
    const key = (await server.services.keys.list(owner.id)).find((k) => k.source === "oauth")!;
    await server.services.keys.revoke({ kind: "own", userId: owner.id, id: key.id }, { actor: { type: "user", id: owner.id }, via: "api" });
    const before = calls.length;
    const failure = await client!.listTools().then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(failure).toBeInstanceOf(UnauthorizedError);
    expect(calls.slice(before)[0]).toBe("POST /mcp/everything 401");
  });
});
