// A separate MCP resource server, as an operator would write one (docs/resource-servers.md): its own
// process and port, the MCP SDK's requireBearerAuth with `keywardVerifier` imported from the package
// ("keyward/resource-server", the compiled build), its RFC 9728 metadata naming Keyward.
// Run by test/resource-servers-external.test.ts: it listens on port 0, prints {"url"} on stdout, then reads
// one JSON line on stdin: { issuer, slug, clientId, clientSecret }. Test-only routes under /test/
// count introspections and cut the event stream (a network failure, as the verifier sees it).
import express from "express";
import readline from "node:readline";
import type { AddressInfo } from "node:net";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { requireBearerAuth } from "@modelcontextprotocol/sdk/server/auth/middleware/bearerAuth.js";
import { keywardVerifier, type KeywardVerifier } from "keyward/resource-server";

const app = express();
let verifier: KeywardVerifier | undefined;
let issuer = "";
let introspections = 0;
let feedCut = false;
const streams = new Set<AbortController>();

// The verifier's fetch: counts introspections; while the feed is cut, the event stream fails.
const testFetch: typeof fetch = async (input, init) => {
  const url = String(input instanceof Request ? input.url : input);
  if (url.includes("/token/introspection")) introspections++;
  if (url.includes("/events")) {
    if (feedCut) throw new TypeError("fetch failed (feed cut by the test)");
    const controller = new AbortController();
    streams.add(controller);
    init?.signal?.addEventListener("abort", () => controller.abort());
    return fetch(input, { ...init, signal: controller.signal });
  }
  return fetch(input, init);
};

const server = app.listen(0, "127.0.0.1", () => {
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}/mcp`;
  const metadataUrl = `http://127.0.0.1:${port}/.well-known/oauth-protected-resource/mcp`;

  app.get("/.well-known/oauth-protected-resource/mcp", (_req, res) => {
    res.json({ resource: url, authorization_servers: [issuer], scopes_supported: ["mcp:read"], bearer_methods_supported: ["header"] });
  });

  app.get("/test/status", (_req, res) => {
    res.json({ streaming: verifier?.streaming ?? false, introspections });
  });
  app.post("/test/cut-feed", (_req, res) => {
    feedCut = true;
    for (const c of streams) c.abort();
    streams.clear();
    res.json({ ok: true });
  });
  app.post("/test/restore-feed", (_req, res) => {
    feedCut = false;
    res.json({ ok: true });
  });
  app.post("/test/assertion", express.text({ type: "*/*" }), async (req, res) => {
    try {
      res.json(await verifier!.verifyAssertion(String(req.body)));
    } catch (err) {
      res.status(401).json({ error: (err as Error).name });
    }
  });

  // A plain handler, without the SDK's middleware: verifyAccessToken called directly, as
  // docs/resource-servers.md shows for Koa or a fetch handler.
  app.get("/plain", async (req, res) => {
    const token = /^Bearer (\S+)$/i.exec(req.get("authorization") ?? "")?.[1];
    try {
      const info = await verifier!.verifyAccessToken(token ?? "");
      res.json({ sub: info.extra?.sub, scopes: info.scopes });
    } catch {
      res.status(401).set("WWW-Authenticate", `Bearer resource_metadata="${metadataUrl}"`).end();
    }
  });

  const auth: express.RequestHandler = (req, res, next) =>
    verifier
      ? requireBearerAuth({ verifier, resourceMetadataUrl: metadataUrl, expectedResource: new URL(url) })(req, res, next)
      : res.sendStatus(503);

  app.post("/mcp", express.json(), auth, async (req, res) => {
    const mcp = new McpServer({ name: "external-test-server", version: "0.0.0" });
    mcp.registerTool("whoami", { description: "who the key belongs to" }, (extra) => ({
      content: [{ type: "text", text: JSON.stringify({ extra: extra.authInfo?.extra, scopes: extra.authInfo?.scopes }) }],
    }));
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
    res.on("close", () => void transport.close());
    await mcp.connect(transport);
    await transport.handleRequest(req, res, req.body);
  });

  process.stdout.write(`${JSON.stringify({ url })}\n`);
});

readline.createInterface({ input: process.stdin }).once("line", (line) => {
  const config = JSON.parse(line) as { issuer: string; slug: string; clientId: string; clientSecret: string; resource: string };
  issuer = config.issuer;
  verifier = keywardVerifier({ ...config, reconnectMs: 200, fetch: testFetch, onError: () => {} });
});

process.on("SIGTERM", () => {
  verifier?.close();
  server.close();
  server.closeAllConnections();
  process.exit(0);
});
