// A stdio resource's requests, after the gateway has verified the key and checked tool scopes
// (src/gateway/index.ts): an initialize without a session starts the user's process; any other
// request goes to the session it names, if that session is this user's, at this resource, in the
// key's organisation and with the key's scopes; otherwise 404 "Session not found", the MCP
// spec's answer that makes a host initialize again (also after a crash, an idle stop or a change of
// the resource's command). App keys are refused: a stdio process serves one person.
// A 2026-07-28 request (no session: the `_meta` envelope, as the MCP SDK tells, see isLegacyPost())
// goes to the owner's modern process instead (src/gateway/stdio/modern.ts).
import type { IncomingHttpHeaders } from "node:http";
import { classifyInboundRequest } from "@modelcontextprotocol/server";
import { isInitializeRequest } from "@modelcontextprotocol/sdk/types.js";
import type { Ctx, KeyAuth, AppAuth } from "../../http/state.js";
import type { Resource } from "../../resources/index.js";
import { GatewayError } from "../errors.js";
import { sameProgram, type StdioPool, type StdioResource } from "./processes.js";
import type { Owner } from "./environment.js";
import type { ModernStdio } from "./modern.js";
import { webRequestOf } from "../../mcp/web-exchange.js";

export { createStdioPool, type StdioPool, type StdioLimits } from "./processes.js";
export { createModernStdio, type ModernStdio } from "./modern.js";

export async function serveStdio(
  ctx: Ctx,
  stdio: { pool: StdioPool; modern: ModernStdio },
  resource: Resource,
  auth: KeyAuth | AppAuth,
  body: unknown,
): Promise<void> {
  const { pool } = stdio;
  if (resource.transport.kind !== "stdio") throw new Error("not a stdio resource");
  if (auth.via !== "key")
    throw new GatewayError(
      403,
      "access_denied",
      `${resource.name} starts one process per person: an app key cannot use it, a user's key can`,
      { "Cache-Control": "no-store" },
    );
  const { command, env, cwd } = resource.transport;
  const program: StdioResource = { id: resource.id, slug: resource.slug, name: resource.name, url: resource.url, command, env, cwd };
  const owner: Owner = { userId: auth.user.id, email: auth.user.email, organizationId: auth.organizationId, scopes: auth.scopes };
  const sessionId = ctx.get("mcp-session-id");

  if (!sessionId && ctx.method === "POST" && !isLegacyPost(ctx.req.headers, body))
    return stdio.modern.serve(ctx, webRequestOf(ctx, resource.url), body, () => pool.modern(program, owner));

  let session;
  if (!sessionId) {
    if (ctx.method !== "POST" || !isInitializeRequest(body))
      return jsonRpcError(ctx, 400, -32000, "Bad Request: Mcp-Session-Id header is required");
    session = await pool.start(program, owner);
  } else {
    session = pool.get(sessionId);
    if (!session || !session.serves(program, owner)) return jsonRpcError(ctx, 404, -32001, "Session not found");
    if (!sameProgram(session.resource, program)) {
      void session.end("changed");
      return jsonRpcError(ctx, 404, -32001, "Session not found");
    }
  }
  const done = session.begin();
  ctx.res.once("close", done);
  ctx.respond = false;
  try {
    await session.child.handle(ctx.req, ctx.res, body);
  } catch (err) {
    done();
    throw err;
  } finally {
    // An initialize the transport refused (a bad Accept or protocol header): no client can ever reach
    // this process, so it ends now rather than after the idle time.
    if (!sessionId && session.sessionId === undefined) void session.end("closed");
  }
}

/**
 * Whether a POST (its body parsed) is 2025-era traffic: the answer of the MCP SDK's isLegacyRequest(),
 * what its createMcpHandler routes by, without the web Request that predicate takes. Given the parsed
 * body, it reads only the MCP-Protocol-Version, Mcp-Method and Mcp-Name headers of that Request and
 * hands them with the body to classifyInboundRequest(), the SDK's own classification; this hands it the
 * same values straight from Node's headers (a repeated header joined with ", ", as a web Request's
 * Headers.get() does). test/gateway-stdio-routing.test.ts holds the two to the same answers.
 */
export function isLegacyPost(headers: IncomingHttpHeaders, body: unknown): boolean {
  // isLegacyRequest: a POST without a JSON body is the legacy path's to answer.
  if (body === undefined) return true;
  const header = (name: string): string | undefined => {
    const value = headers[name];
    return Array.isArray(value) ? value.join(", ") : value;
  };
  const outcome = classifyInboundRequest({
    httpMethod: "POST",
    protocolVersionHeader: header("mcp-protocol-version"),
    mcpMethodHeader: header("mcp-method"),
    mcpNameHeader: header("mcp-name"),
    body,
  });
  return outcome.kind === "legacy";
}

/** The MCP SDK servers' own JSON-RPC error answers (no id: it is not an answer to one message). */
function jsonRpcError(ctx: Ctx, status: number, code: number, message: string): void {
  ctx.status = status;
  ctx.set("Cache-Control", "no-store");
  ctx.body = { jsonrpc: "2.0", error: { code, message }, id: null };
}
