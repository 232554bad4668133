// The protected resource: a stateless MCP Streamable HTTP endpoint. Each request gets a fresh
// McpServer bound to the caller's verified identity, so any instance can serve any request.
//
// Served with the MCP SDK v2 (@modelcontextprotocol/server), for both protocol eras on one URL:
// - 2026-07-28 (a request whose params carry the `_meta` envelope naming its protocol version, or
//   whose MCP-Protocol-Version header names it): the SDK's createMcpHandler, which answers
//   `server/discover`, checks MCP-Protocol-Version / Mcp-Method / Mcp-Name against the body and
//   serves the request.
// - 2025-11-25 and older (`initialize`, then requests without the envelope): a stateless
//   Streamable HTTP transport answering in JSON, as before.
// The SDK's own isLegacyRequest() decides which, so the routing is the one its handler would make.
// Key verification, rate limits and the per-tool scope check (403 insufficient_scope) come first,
// the same for both eras.
import { Router } from "@koa/router";
import { McpServer, WebStandardStreamableHTTPServerTransport, createMcpHandler, isLegacyRequest } from "@modelcontextprotocol/server";
import type { Services } from "../services.js";
import type { Ctx, KeywardState } from "../http/state.js";
import { parseBody } from "../http/body.js";
import { headerSafe, insufficientScopeChallenge, requireKey } from "../http/key-auth.js";
import { registerTools, type Identity } from "./tools.js";
import { createNotes, type Notes } from "./notes.js";
import { lackingCall } from "./scope-guard.js";
import { MCP_PATH, mcpResource, mcpResourceMetadataUrl } from "./metadata.js";
import type { Logger } from "../log.js";
import { enforceKeyRateLimit } from "../http/key-rate-limit.js";
import { sendWebResponse, webRequestOf } from "./web-exchange.js";

export function buildMcpServer(identity: Identity, notes: Notes, logger: Logger): McpServer {
  // The tool list never changes, so no list_changed to listen for: a 2026-07-28 `subscriptions/listen`
  // is acknowledged and closed at once instead of holding a connection open.
  const server = new McpServer({ name: "keyward", version: "0.1.0" }, { capabilities: { tools: { listChanged: false } } });
  registerTools(server, identity, notes, logger);
  return server;
}

export function mcpRoutes(services: Services): Router<KeywardState> {
  const router = new Router<KeywardState>();
  const { logger } = services;
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

  // 2026-07-28: one handler, a fresh server per request for the identity verified for that request.
  const identities = new WeakMap<Request, Identity>();
  const modern = createMcpHandler(
    ({ requestInfo }) => {
      const identity = requestInfo && identities.get(requestInfo);
      if (!identity) throw new Error("no verified identity for this MCP request");
      return buildMcpServer(identity, notes, logger);
    },
    { legacy: "reject", onerror: (err) => logger.debug({ err }, "MCP request refused") },
  );

  // 2025-era: the stateless transport of before, answering in JSON.
  const legacy = async (ctx: Ctx, identity: Identity, request: Request, body: unknown) => {
    const server = buildMcpServer(identity, notes, logger);
    const transport = new WebStandardStreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
    ctx.res.once("close", () => {
      void transport.close();
      void server.close();
    });
    await server.connect(transport);
    return transport.handleRequest(request, { parsedBody: body });
  };

  router.post(MCP_PATH, auth, limit, parseBody(), async (ctx) => {
    const auth = ctx.state.auth;
    if (auth?.via !== "key" && auth?.via !== "app") throw new Error("requireKey did not run");
    const body: unknown = ctx.request.body;
    const call = lackingCall(body, auth.scopes);
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
    const request = webRequestOf(ctx, options.resource);
    let response: Response;
    if (await isLegacyRequest(request, body)) {
      response = await legacy(ctx, auth, request, body);
    } else {
      identities.set(request, auth);
      response = await modern.fetch(request, { parsedBody: body });
      // The SDK reports refusals and failures alike through onerror (logged at debug): a failure is the 5xx.
      if (response.status >= 500) logger.error({ status: response.status, keyId: auth.key.id }, "MCP request failed");
    }
    await sendWebResponse(ctx, response);
  });

  // Stateless server: no standalone SSE stream and no sessions to end.
  router.all(MCP_PATH, auth, (ctx) => {
    ctx.status = 405;
    ctx.set("Allow", "POST");
    ctx.body = { jsonrpc: "2.0", error: { code: -32000, message: "Method not allowed: this MCP server is stateless, use POST" }, id: null };
  });

  return router;
}
