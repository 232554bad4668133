// The protected resource: a stateless MCP Streamable HTTP endpoint. Each request gets a fresh
// McpServer bound to the caller's verified identity, so any instance can serve any request.
import { Router } from "@koa/router";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import type { Services } from "../services.js";
import type { KeywardState } from "../http/state.js";
import { parseBody } from "../http/body.js";
import { insufficientScopeChallenge, requireKey } from "../http/key-auth.js";
import { registerTools, type Identity } from "./tools.js";
import { createNotes, type Notes } from "./notes.js";
import { lackingCall } from "./scope-guard.js";
import { headerSafe } from "../http/key-auth.js";
import { MCP_PATH, mcpResource, mcpResourceMetadataUrl } from "./metadata.js";
import type { Logger } from "../log.js";
import { enforceKeyRateLimit } from "../http/key-rate-limit.js";

export function buildMcpServer(identity: Identity, notes: Notes, logger: Logger): McpServer {
  const server = new McpServer({ name: "keyward", version: "0.1.0" });
  registerTools(server, identity, notes, logger);
  return server;
}

export function mcpRoutes(services: Services): Router<KeywardState> {
  const router = new Router<KeywardState>();
  const options = {
    resourceMetadata: mcpResourceMetadataUrl(services.config),
    issuer: services.config.baseUrl,
    resource: mcpResource(services.config),
    allowApps: true,
    doctor: services.doctor, // issue 26: connection doctor
  };
  const auth = requireKey(services.keys, options);
  const notes = createNotes(services.db);

  const limit = enforceKeyRateLimit(services.keyRateLimiter); // the key's own rate limit (429)

  router.post(MCP_PATH, auth, limit, parseBody(), async (ctx) => {
    const auth = ctx.state.auth;
    if (auth?.via !== "key" && auth?.via !== "app") throw new Error("requireKey did not run");
    const call = lackingCall(ctx.request.body, auth.scopes);
    if (call) {
      const { scope: lacking } = call;
      const tool = headerSafe(call.tool);
      const user = auth.via === "key" ? auth.user.id : null;
      const words = services.doctor.lacking({ ...auth.key, userId: user }, lacking, tool, options.resource); // issue 26
      ctx.status = 403;
      ctx.set("WWW-Authenticate", insufficientScopeChallenge(options, lacking, tool));
      ctx.set("Cache-Control", "no-store");
      ctx.body = { error: "insufficient_scope", error_description: words, scope: lacking };
      return;
    }
    const server = buildMcpServer(auth, notes, services.logger);
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
