// The protected resource: a stateless MCP Streamable HTTP endpoint. Each request gets a fresh
// McpServer bound to the caller's verified identity, so any instance can serve any request.
import { Router } from "@koa/router";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import type { Services } from "../services.js";
import type { KeywardState } from "../http/state.js";
import { parseBody } from "../http/body.js";
import { requireKey } from "../http/key-auth.js";
import { MCP_PATH, mcpResource, mcpResourceMetadataUrl } from "./metadata.js";

type Identity = Extract<NonNullable<KeywardState["auth"]>, { via: "key" }>;

export function buildMcpServer(identity: Identity): McpServer {
  const server = new McpServer({ name: "keyward", version: "0.1.0" });
  server.registerTool(
    "whoami",
    {
      title: "Who am I",
      description: "Returns the user and the API key this request was authenticated with.",
      annotations: { readOnlyHint: true },
    },
    async () => {
      const info = {
        email: identity.user.email,
        userId: identity.user.id,
        keyId: identity.key.id,
        keySource: identity.key.sourceLabel,
        scopes: identity.key.scopes,
      };
      return { content: [{ type: "text", text: JSON.stringify(info, null, 2) }], structuredContent: info };
    },
  );
  return server;
}

export function mcpRoutes(services: Services): Router<KeywardState> {
  const router = new Router<KeywardState>();
  const auth = requireKey(services.keys, { resourceMetadata: mcpResourceMetadataUrl(services.config), resource: mcpResource(services.config) });

  router.post(MCP_PATH, auth, parseBody(), async (ctx) => {
    const auth = ctx.state.auth;
    if (auth?.via !== "key") throw new Error("requireKey did not run");
    const server = buildMcpServer(auth);
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
    ctx.respond = false;
    ctx.res.on("close", () => {
      void transport.close();
      void server.close();
    });
    await server.connect(transport);
    await transport.handleRequest(ctx.req, ctx.res, ctx.request.body);
  });

  // Stateless server: no standalone SSE stream and no sessions to end.
  router.all(MCP_PATH, auth, (ctx) => {
    ctx.status = 405;
    ctx.set("Allow", "POST");
    ctx.body = { jsonrpc: "2.0", error: { code: -32000, message: "Method not allowed: this MCP server is stateless, use POST" }, id: null };
  });

  return router;
}
