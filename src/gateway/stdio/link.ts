// One stdio server process spoken to by the gateway itself, for 2026-07-28 clients (src/gateway/stdio/
// modern.ts): the gateway does the 2025 handshake (initialize) once, as an MCP SDK Client, and then
// sends each client request on as its own request. 2026-07-28 has no sessions, so one such process
// serves every modern request of one owner at one resource (src/gateway/stdio/processes.ts).
//
// The Client declares no capabilities: the process may not ask for sampling, elicitation or roots
// (2026-07-28 has no server→client requests to carry them; if it asks anyway, the Client answers
// "method not found"). Notifications the process sends outside of a request's progress (logging,
// list_changed) are dropped: a stdio server cannot say which request they belong to.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import {
  ErrorCode,
  McpError,
  ResultSchema,
  isJSONRPCNotification,
  type Implementation,
  type Progress,
  type Result,
  type ServerCapabilities,
} from "@modelcontextprotocol/sdk/types.js";
import { spawnStdio, type EndReason, type ProcessHooks, type ProcessSpec } from "./spawn.js";

/** How long the process may take to answer the gateway's initialize. */
const INITIALIZE_TIMEOUT_MS = 30_000;
/** The SDK Client's own timeout, out of the way: the link keeps its own, reset on progress. */
const NO_SDK_TIMEOUT_MS = 2 ** 31 - 1;

/** What the process said of itself in its initialize result: served again in `server/discover`. */
export interface Introduction {
  serverInfo: Implementation;
  capabilities: ServerCapabilities;
  instructions: string | undefined;
}

export interface ForwardOptions {
  signal: AbortSignal;
  /** Called with each progress notification of this request (only when the client asked for progress). */
  onprogress?: (progress: Progress) => void;
  /** Without an answer or a progress notification for this long, the request fails (-32001). */
  timeoutMs: number;
}

export interface Link {
  readonly pid: number | null;
  readonly introduction: Introduction;
  /** Sends one request to the process and resolves with its result (rejects with its JSON-RPC error). */
  request(method: string, params: Record<string, unknown> | undefined, options: ForwardOptions): Promise<Result>;
  /** Ends the process (stdin closed, then SIGTERM, then SIGKILL); resolves when it is gone. */
  end(reason: EndReason): Promise<void>;
}

/** Starts the process and initializes it; rejects if it cannot be spawned or does not initialize. */
export async function openLink(spec: ProcessSpec, hooks: ProcessHooks): Promise<Link> {
  const spawned = spawnStdio(spec, hooks);
  const { transport } = spawned;
  const client = new Client({ name: "keyward-gateway", version: "1.0.0" }, { capabilities: {} });
  const { logger } = hooks;
  // The Client closes the transport, and so the process.
  const end = spawned.endWith(() => client.close());

  client.onerror = (err) => logger.debug({ ...hooks.tags, pid: spawned.pid, err }, "stdio server: protocol error");
  try {
    await client.connect(transport, { timeout: INITIALIZE_TIMEOUT_MS });
  } catch (err) {
    await transport.close().catch(() => undefined);
    throw err;
  }
  spawned.started("stdio server process started (2026-07-28 clients)");
  // Set after connect: the Client's own onclose handling is installed by then and chains to this.
  client.onclose = () => void end("exited");

  const introduction: Introduction = {
    serverInfo: client.getServerVersion() ?? { name: "stdio server", version: "0" },
    capabilities: client.getServerCapabilities() ?? {},
    instructions: client.getInstructions(),
  };

  // Progress is taken off the wire here, in the order the process wrote it, before the Client sees the
  // result that follows it: the SDK Client dispatches a notification a tick later and forgets the
  // request's progress handler as soon as the result is read, so the last progress would be lost.
  const progressOf = new Map<string, (progress: Progress) => void>();
  const deliver = transport.onmessage;
  transport.onmessage = (message, ...extra) => {
    if (isJSONRPCNotification(message) && message.method === "notifications/progress") {
      const { progressToken, ...progress } = (message.params ?? {}) as Progress & { progressToken?: unknown };
      const listener = typeof progressToken === "string" ? progressOf.get(progressToken) : undefined;
      if (listener) return listener(progress);
    }
    deliver?.(message, ...extra);
  };
  let requests = 0;

  const request: Link["request"] = async (method, params, options) => {
    const token = options.onprogress ? `keyward-${++requests}` : undefined;
    const timedOut = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const arm = () => {
      clearTimeout(timer);
      // The reason travels to the process in notifications/cancelled.
      timer = setTimeout(() => timedOut.abort("the gateway's timeout for this request"), options.timeoutMs);
    };
    arm();
    if (token && options.onprogress) {
      const onprogress = options.onprogress;
      progressOf.set(token, (progress) => {
        arm();
        onprogress(progress);
      });
    }
    const sent = token ? { ...params, _meta: { ...(params?._meta as object | undefined), progressToken: token } } : params;
    try {
      return await client.request({ method, ...(sent ? { params: sent } : {}) } as Parameters<Client["request"]>[0], ResultSchema, {
        // Aborting tells the process notifications/cancelled.
        signal: AbortSignal.any([options.signal, timedOut.signal]),
        timeout: NO_SDK_TIMEOUT_MS,
      });
    } catch (err) {
      if (timedOut.signal.aborted && !options.signal.aborted) throw new McpError(ErrorCode.RequestTimeout, "Request timed out");
      throw err;
    } finally {
      clearTimeout(timer);
      if (token) progressOf.delete(token);
    }
  };

  return {
    get pid() {
      return spawned.pid;
    },
    introduction,
    request,
    end,
  };
}
