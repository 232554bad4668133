// 2026-07-28 clients at a stdio resource. The stdio servers speak 2025-era MCP only, so the gateway is
// the 2026-07-28 server here: the MCP SDK's createMcpHandler answers each request (server/discover,
// the `_meta` envelope, MCP-Protocol-Version / Mcp-Method / Mcp-Name against the body, SSE or JSON)
// with a low-level Server that forwards every request to the owner's modern process (src/gateway/
// stdio/link.ts) and its result or error back. What the Server says of itself in server/discover is
// what the process said in its initialize (serverInfo, instructions, capabilities), except what the
// gateway does not carry (see offered()): notably no change notifications, since the process cannot
// say which client a list_changed or resources/updated is for, so `subscriptions/listen` is closed at
// once rather than left open to hear nothing.
//
// A forwarded request's progress notifications go to that request's answer (an SSE stream, before the
// result); the client leaving aborts the request, and the process is told `notifications/cancelled`.
import { Server, createMcpHandler } from "@modelcontextprotocol/server";
import type { Logger } from "../../log.js";
import type { Ctx } from "../../http/state.js";
import { sendWebResponse } from "../../mcp/web-exchange.js";
import type { Link } from "./link.js";
import type { ModernProcess } from "./processes.js";

type Progress = Parameters<NonNullable<Parameters<Link["request"]>[2]["onprogress"]>>[0];
type Capabilities = NonNullable<NonNullable<ConstructorParameters<typeof Server>[1]>["capabilities"]>;
type ForwardedRequest = Parameters<NonNullable<Server["fallbackRequestHandler"]>>[0];
type Forwarded = Awaited<ReturnType<NonNullable<Server["fallbackRequestHandler"]>>>;

/** The protocol's own `_meta` keys: the envelope is the gateway's business, not the 2025-era process's. */
const RESERVED_META = "io.modelcontextprotocol/";
/** The prefix the v1 SDK puts on an error's message; the client gets the process's own words. */
const SDK_ERROR_PREFIX = /^MCP error -?\d+: /;

export interface ModernStdio {
  /**
   * Answers one 2026-07-28 request (already checked by the gateway) with the owner's process, which
   * `start` starts or finds only once the MCP SDK has accepted the request: one it refuses (its
   * protocol version, headers or envelope) starts nothing.
   */
  serve(ctx: Ctx, request: Request, body: unknown, start: () => Promise<ModernProcess>): Promise<void>;
}

/** One request's way to its process, and what became of it. */
interface Exchange {
  start(): Promise<ModernProcess>;
  running?: ModernProcess;
  /** Ends the request's hold on the process (taken when the process is handed over). */
  done?: () => void;
  /** Why the process could not be had (the pool's limits, a start that failed): the gateway answers it, not the SDK. */
  failure?: { error: unknown };
}

export function createModernStdio(deps: { logger: Logger; timeoutMs: number }): ModernStdio {
  const { logger, timeoutMs } = deps;
  const exchanges = new WeakMap<Request, Exchange>();
  const handler = createMcpHandler(
    async ({ requestInfo }) => {
      const exchange = requestInfo && exchanges.get(requestInfo);
      if (!exchange) throw new Error("no stdio process for this MCP request");
      try {
        exchange.running = await exchange.start();
      } catch (error) {
        exchange.failure = { error };
        throw error;
      }
      // Open until the answer has been written out or the client has left (serve() returns then).
      exchange.done = exchange.running.begin();
      return forwardingServer(exchange.running.child, requestInfo.signal, timeoutMs);
    },
    { legacy: "reject", onerror: (err) => logger.debug({ err }, "MCP request at a stdio resource refused") },
  );

  return {
    async serve(ctx, request, body, start) {
      const exchange: Exchange = { start };
      exchanges.set(request, exchange);
      try {
        const response = await handler.fetch(request, { parsedBody: body });
        // The SDK answers a failing factory with a bare 500; the pool's own refusal (503 with
        // Retry-After, say) is the one the client should hear.
        if (exchange.failure) throw exchange.failure.error;
        if (response.status >= 500)
          logger.error({ status: response.status, resource: exchange.running?.resource.slug }, "MCP request failed");
        await sendWebResponse(ctx, response);
      } finally {
        exchange.done?.();
      }
    },
  };
}

function forwardingServer(link: Link, clientGone: AbortSignal, timeoutMs: number): Server {
  // The process's initialize result, parsed from JSON by the v1 SDK (which types `experimental` loosely).
  const { serverInfo, capabilities, instructions } = link.introduction;
  const server = new Server(serverInfo, {
    capabilities: offered(capabilities as Capabilities),
    ...(instructions ? { instructions } : {}),
  });
  server.fallbackRequestHandler = async (request: ForwardedRequest, ctx): Promise<Forwarded> => {
    const { params, progressToken } = forwardedParams(request.params);
    // Progress is relayed in order, and all of it before the result: the result waits for the last one.
    let relayed = Promise.resolve();
    const onprogress =
      progressToken === undefined
        ? undefined
        : (progress: Progress) => {
            const notification = { method: "notifications/progress" as const, params: { ...progress, progressToken } };
            relayed = relayed.then(() => ctx.mcpReq.notify(notification)).catch(() => undefined);
          };
    try {
      return await link.request(request.method, params, {
        signal: AbortSignal.any([ctx.mcpReq.signal, clientGone]),
        timeoutMs,
        ...(onprogress ? { onprogress } : {}),
      });
    } catch (err) {
      throw processError(err);
    } finally {
      await relayed;
    }
  };
  return server;
}

/** The request's params for the process: the client's progress token is the gateway's to keep, the envelope too. */
function forwardedParams(raw: unknown): { params: Record<string, unknown> | undefined; progressToken: string | number | undefined } {
  if (!raw || typeof raw !== "object") return { params: undefined, progressToken: undefined };
  const { _meta, ...params } = raw as Record<string, unknown>;
  if (!_meta || typeof _meta !== "object") return { params, progressToken: undefined };
  const { progressToken, ...meta } = _meta as Record<string, unknown>;
  const kept = Object.fromEntries(Object.entries(meta).filter(([key]) => !key.startsWith(RESERVED_META)));
  return {
    params: Object.keys(kept).length > 0 ? { ...params, _meta: kept } : params,
    progressToken: typeof progressToken === "string" || typeof progressToken === "number" ? progressToken : undefined,
  };
}

/** The process's JSON-RPC error as the client should see it: its code, its message, its data. */
function processError(err: unknown): Error {
  if (!(err instanceof Error)) return new Error("The MCP server failed");
  const { code, data } = err as Error & { code?: unknown; data?: unknown };
  return Object.assign(new Error(err.message.replace(SDK_ERROR_PREFIX, "")), {
    ...(typeof code === "number" ? { code } : {}),
    ...(data !== undefined ? { data } : {}),
  });
}

/**
 * What server/discover offers: the process's tools, prompts, resources and completions, without change
 * notifications (nothing would deliver them). Not its logging (its log notifications are not relayed),
 * tasks or experimental features: they are not carried through the gateway, so they are not offered.
 */
function offered(capabilities: Capabilities): Capabilities {
  const { tools, prompts, resources, completions } = capabilities;
  return {
    ...(tools ? { tools: { ...tools, listChanged: false } } : {}),
    ...(prompts ? { prompts: { ...prompts, listChanged: false } } : {}),
    ...(resources ? { resources: { ...resources, listChanged: false, subscribe: false } } : {}),
    ...(completions ? { completions } : {}),
  };
}
