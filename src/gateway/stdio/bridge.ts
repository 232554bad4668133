// One MCP session bridged to one stdio server process, with the MCP SDK's transports on both sides:
// StreamableHTTPServerTransport answers the client (session id, SSE streams, GET stream, DELETE),
// StdioClientTransport talks to the process. Messages are relayed unchanged: the process has exactly
// one client, this session, so no id needs rewriting.
//
// A stdio server cannot say which client request a message it sends relates to, so the bridge places
// it: a progress notification goes to the request that asked for progress with that token; any other
// request or notification goes to the one request in flight if there is exactly one, else to the GET
// stream (where the Streamable HTTP transport sends messages related to no request).
import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import {
  isJSONRPCErrorResponse,
  isJSONRPCNotification,
  isJSONRPCRequest,
  isJSONRPCResultResponse,
  type JSONRPCMessage,
  type RequestId,
} from "@modelcontextprotocol/sdk/types.js";
import { spawnStdio, type EndReason, type ProcessHooks, type ProcessSpec } from "./spawn.js";

export interface Bridge {
  /** The process id (for the log and the tests). */
  readonly pid: number | null;
  /** Answers one HTTP request of the session (or the initialize that starts it). */
  handle(req: IncomingMessage, res: ServerResponse, body: unknown): Promise<void>;
  /** Ends the session and the process (stdin closed, then SIGTERM, then SIGKILL); resolves when it is gone. */
  end(reason: EndReason): Promise<void>;
}

export interface BridgeHooks extends ProcessHooks {
  /** The session id the transport gave the client on initialize. */
  onSession(sessionId: string): void;
}

/** Starts the process; rejects if it cannot be spawned (no such program, not executable, bad cwd). */
export async function openBridge(spec: ProcessSpec, hooks: BridgeHooks): Promise<Bridge> {
  const spawned = spawnStdio(spec, hooks);
  const child = spawned.transport;
  const http = new StreamableHTTPServerTransport({ sessionIdGenerator: () => randomUUID(), onsessioninitialized: hooks.onSession });
  const { logger } = hooks;
  // The session first (its client's streams end), then the process.
  const end = spawned.endWith(async () => {
    await http.close().catch(() => undefined);
    await child.close();
  });

  const inFlight = new Set<RequestId>();
  const byProgressToken = new Map<string | number, RequestId>();
  const forget = (id: unknown) => {
    if (typeof id !== "string" && typeof id !== "number") return;
    inFlight.delete(id);
    for (const [token, request] of byProgressToken) if (request === id) byProgressToken.delete(token);
  };
  const relatedTo = (message: JSONRPCMessage): RequestId | undefined => {
    const token = isJSONRPCNotification(message) && message.method === "notifications/progress" ? progressToken(message.params) : undefined;
    if (token !== undefined && byProgressToken.has(token)) return byProgressToken.get(token);
    return inFlight.size === 1 ? inFlight.values().next().value : undefined;
  };

  http.onmessage = (message) => {
    if (isJSONRPCRequest(message)) {
      inFlight.add(message.id);
      const token = progressToken(message.params?._meta);
      if (token !== undefined) byProgressToken.set(token, message.id);
    } else if (isJSONRPCNotification(message) && message.method === "notifications/cancelled") {
      forget((message.params as { requestId?: unknown } | undefined)?.requestId);
    }
    child
      .send(message)
      .catch((err: unknown) => logger.warn({ ...hooks.tags, pid: spawned.pid, err }, "stdio server: could not write to the process"));
  };
  child.onmessage = (message) => {
    if (isJSONRPCResultResponse(message) || isJSONRPCErrorResponse(message)) {
      forget(message.id);
      // The client may have gone away meanwhile: its answer has nowhere to go.
      http.send(message).catch(() => undefined);
      return;
    }
    const related = relatedTo(message);
    http
      .send(message, related === undefined ? undefined : { relatedRequestId: related })
      // The request's stream has closed: the GET stream, if any, gets it instead.
      .catch(() => (related === undefined ? undefined : http.send(message)))
      .catch(() => undefined);
  };
  child.onerror = (err) => logger.warn({ ...hooks.tags, pid: spawned.pid, err }, "stdio server: process error");
  child.onclose = () => void end("exited");
  http.onclose = () => void end("closed");

  await child.start();
  spawned.started("stdio server process started");
  await http.start();

  return {
    get pid() {
      return spawned.pid;
    },
    handle: (req, res, body) => http.handleRequest(req, res, body),
    end,
  };
}

function progressToken(params: unknown): string | number | undefined {
  if (!params || typeof params !== "object") return undefined;
  const token = (params as { progressToken?: unknown }).progressToken;
  return typeof token === "string" || typeof token === "number" ? token : undefined;
}
