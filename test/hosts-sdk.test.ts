// Issue 26 item 3: the official MCP TypeScript SDK clients connect the first time, without a browser
// (the test plays the user with an HTTP agent): v1 (`@modelcontextprotocol/sdk`) and v2
// (`@modelcontextprotocol/client` 2.4.0) by dynamic registration, v2 also as a CIMD client; and a v2
// "host" that forgets its registration and registers again leaves one client (item 2).
// The browser variant of the v1 flow is test/oauth-mcp-sdk.browser.test.ts.
import http from "node:http";
import type { AddressInfo } from "node:net";
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Client as ClientV1 } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport as TransportV1 } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { UnauthorizedError as UnauthorizedV1 } from "@modelcontextprotocol/sdk/client/auth.js";
import {
  Client as ClientV2,
  StreamableHTTPClientTransport as TransportV2,
  UnauthorizedError as UnauthorizedV2,
  type OAuthClientProvider,
  type OAuthClientMetadata,
  type OAuthDiscoveryState,
  type StoredOAuthClientInformation,
  type StoredOAuthTokens,
} from "@modelcontextprotocol/client";
import { signUp, startTestServer, type TestServer } from "./support/server.js";
import { authorizeAt } from "./support/oauth/flow.js";
import { RecordingOAuthProvider } from "./support/oauth/mcp-sdk-provider.js";

let server: TestServer;
let docs: http.Server;
let docBase: string;
const documents = new Map<string, unknown>();

beforeAll(async () => {
  server = await startTestServer({ CIMD_ALLOW_LOOPBACK: "true" });
  docs = http.createServer((req, res) => {
    const doc = documents.get(req.url ?? "");
    if (!doc) return res.writeHead(404).end();
    res.writeHead(200, { "Content-Type": "application/json" }).end(JSON.stringify(doc));
  });
  await new Promise<void>((r) => docs.listen(0, "127.0.0.1", r));
  docBase = `https://127.0.0.1:${(docs.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await server?.close();
  docs?.close();
});

const REDIRECT = "http://127.0.0.1:4653/callback";

/** A v2 OAuthClientProvider that records what the SDK does and never navigates (the test plays the user). */
class V2Provider implements OAuthClientProvider {
  readonly authorizationUrls: URL[] = [];
  registrations = 0;
  private client: StoredOAuthClientInformation | undefined;
  private saved: StoredOAuthTokens | undefined;
  private verifier = "";
  constructor(
    private readonly name: string,
    readonly clientMetadataUrl?: string,
  ) {}
  get redirectUrl() {
    return REDIRECT;
  }
  get clientMetadata(): OAuthClientMetadata {
    return {
      client_name: this.name,
      redirect_uris: [REDIRECT],
      response_types: ["code"],
      token_endpoint_auth_method: "none",
      software_id: "keyward-tests",
      software_version: "2.4.0",
    };
  }
  state() {
    return randomBytes(8).toString("hex");
  }
  clientInformation() {
    return this.client;
  }
  saveClientInformation(info: StoredOAuthClientInformation) {
    this.registrations++;
    this.client = info;
  }
  tokens() {
    return this.saved;
  }
  saveTokens(tokens: StoredOAuthTokens) {
    this.saved = tokens;
  }
  redirectToAuthorization(url: URL) {
    this.authorizationUrls.push(url);
  }
  saveCodeVerifier(v: string) {
    this.verifier = v;
  }
  codeVerifier() {
    return this.verifier;
  }
  private discovery: OAuthDiscoveryState | undefined;
  saveDiscoveryState(state: OAuthDiscoveryState) {
    this.discovery = state;
  }
  discoveryState() {
    return this.discovery;
  }
  get accessToken() {
    return this.saved!.access_token;
  }
}

const whoamiText = (result: unknown) => (result as { content: { text: string }[] }).content[0]!.text;

describe("MCP SDK v1 (@modelcontextprotocol/sdk)", () => {
  it("discovers, registers, is authorized and calls whoami with the key", async () => {
    const { agent, email } = await signUp(server);
    const provider = new RecordingOAuthProvider({ redirectUrl: REDIRECT, clientName: "SDK v1 host" });
    const transport = new TransportV1(new URL(`${server.url}/mcp`), { authProvider: provider });
    await expect(new ClientV1({ name: "v1", version: "1" }).connect(transport)).rejects.toBeInstanceOf(UnauthorizedV1);
    const auth = provider.lastAuthorizationUrl;
    expect(auth.searchParams.get("resource")).toBe(`${server.url}/mcp`);
    expect(auth.searchParams.get("code_challenge_method")).toBe("S256");
    const back = await authorizeAt(agent, server, auth.href);
    await transport.finishAuth(back.searchParams.get("code")!);
    expect(provider.accessToken).toMatch(/^kw_user_/);
    const client = new ClientV1({ name: "v1", version: "1" });
    await client.connect(new TransportV1(new URL(`${server.url}/mcp`), { authProvider: provider }));
    expect(whoamiText(await client.callTool({ name: "whoami", arguments: {} }))).toContain(email);
    await client.close();
  });
});

describe("MCP SDK v2 (@modelcontextprotocol/client 2.4.0)", () => {
  async function connect(agent: Awaited<ReturnType<typeof signUp>>["agent"], provider: V2Provider) {
    const transport = new TransportV2(new URL(`${server.url}/mcp`), { authProvider: provider });
    await expect(new ClientV2({ name: "v2", version: "2" }).connect(transport)).rejects.toBeInstanceOf(UnauthorizedV2);
    const auth = provider.authorizationUrls.at(-1)!;
    const back = await authorizeAt(agent, server, auth.href);
    expect(back.searchParams.get("iss")).toBe(server.url); // RFC 9207: v2 checks it
    await transport.finishAuth(back.searchParams);
    const client = new ClientV2({ name: "v2", version: "2" });
    await client.connect(new TransportV2(new URL(`${server.url}/mcp`), { authProvider: provider }));
    return { client, auth };
  }

  it("registers (as a native app: SEP-837), is authorized and calls whoami", async () => {
    const { agent, email } = await signUp(server);
    const provider = new V2Provider("SDK v2 host");
    const { client } = await connect(agent, provider);
    expect(provider.registrations).toBe(1);
    const clientId = (provider.clientInformation() as { client_id: string }).client_id;
    const stored = await server.services.db.oidcPayload.findUniqueOrThrow({ where: { model_id: { model: "Client", id: clientId } } });
    expect(JSON.parse(stored.payload)).toMatchObject({ application_type: "native", grant_types: ["authorization_code"] });
    expect(whoamiText(await client.callTool({ name: "whoami", arguments: {} }))).toContain(email);
    await client.close();
  });

  it("a host that forgets its registration and connects ten times leaves one client and one Connected apps row", async () => {
    const { agent } = await signUp(server);
    const name = `SDK v2 forgetful host ${randomBytes(3).toString("hex")}`;
    const providers: V2Provider[] = [];
    for (let i = 0; i < 10; i++) {
      const provider = new V2Provider(name);
      const { client } = await connect(agent, provider);
      await client.close();
      providers.push(provider);
    }
    const clients = (await server.services.db.oidcPayload.findMany({ where: { model: "Client", id: { startsWith: "dcr_" } } })).filter(
      (c) => (JSON.parse(c.payload) as { client_name: string }).client_name === name,
    );
    expect(clients).toHaveLength(1);
    const page = await agent.get("/app/account/connected-apps").expect(200);
    expect(page.text.match(/class="badge source-oauth"/g)).toHaveLength(1);
    expect(page.text).toContain("10 of 10");
    for (const p of providers) {
      const client = new ClientV2({ name: "v2", version: "2" });
      await client.connect(new TransportV2(new URL(`${server.url}/mcp`), { authProvider: p }));
      await client.close();
    }
  }, 60_000);

  it("as a CIMD client: its https client id, no registration", async () => {
    const clientMetadataUrl = `${docBase}/sdk-v2.json`;
    documents.set("/sdk-v2.json", {
      client_id: clientMetadataUrl,
      client_name: "SDK v2 CIMD host",
      redirect_uris: [REDIRECT],
      token_endpoint_auth_method: "none",
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
    });
    const { agent, email } = await signUp(server);
    const provider = new V2Provider("SDK v2 CIMD host", clientMetadataUrl);
    const { client, auth } = await connect(agent, provider);
    expect(auth.searchParams.get("client_id")).toBe(clientMetadataUrl);
    expect(whoamiText(await client.callTool({ name: "whoami", arguments: {} }))).toContain(`OAuth: ${clientMetadataUrl}`);
    expect(whoamiText(await client.callTool({ name: "whoami", arguments: {} }))).toContain(email);
    await client.close();
  });
});
