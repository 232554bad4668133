// A stdio server process as both of its users start and end it: a session's bridge (src/gateway/
// stdio/bridge.ts, 2025-era clients) and an owner's link (src/gateway/stdio/link.ts, 2026-07-28
// clients). The process is the MCP SDK's StdioClientTransport: its start() (or a Client's connect())
// spawns it, its close() closes stdin, then sends SIGTERM, then SIGKILL. Its stderr goes to the log from
// the first byte (src/gateway/stdio/stderr.ts), tagged with the pid once started() has noted it. Ending
// it happens once: the pool hears of it as it begins (onEnd), with a promise resolved when it is gone.
import type { Readable } from "node:stream";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import type { Logger } from "../../log.js";
import { logStderr } from "./stderr.js";

/**
 * The largest line (one JSON-RPC message) a process may write on stdout. The SDK holds a line in memory
 * until its newline, so this bounds what one process can make the gateway hold; past it the SDK drops the
 * line, reports an error and closes the transport (the process ends, "exited"). 16 MiB rather than the
 * SDK's 10 MiB default, so that a large answer still passes (a file or an image read as base64 is 4/3 of
 * its size); one value for both eras, so that no answer passes for one kind of client and not the other.
 */
const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

export interface ProcessSpec {
  command: readonly string[];
  env: Record<string, string>;
  cwd: string | null;
}

export type EndReason = "exited" | "closed" | "idle" | "revoked" | "changed" | "evicted" | "shutdown";

export interface ProcessHooks {
  logger: Logger;
  tags: { resource: string; userId: string };
  /** Once, whatever ended it, as it begins to end; `finished` resolves when the process is gone. */
  onEnd(reason: EndReason, finished: Promise<void>): void;
}

export interface StdioProcess {
  /** The SDK's transport to the process, not started yet. */
  readonly transport: StdioClientTransport;
  /** The process id, once started() has noted it; kept after the process is gone, for the log. */
  readonly pid: number | null;
  /** Once the transport has started: notes the pid (every log line from now on has it, stderr's too) and logs `message`. */
  started(message: string): void;
  /** The process's end(reason): the first call tells the pool, logs the end and runs `close`; every call gets the same promise. */
  endWith(close: () => Promise<void>): (reason: EndReason) => Promise<void>;
}

/** Prepares the process (spawned when its transport starts), its stderr already going to the log. */
export function spawnStdio(spec: ProcessSpec, hooks: ProcessHooks): StdioProcess {
  const [program, ...args] = spec.command;
  const transport = new StdioClientTransport({
    command: program!,
    args,
    env: spec.env,
    ...(spec.cwd ? { cwd: spec.cwd } : {}),
    stderr: "pipe",
    maxBufferSize: MAX_MESSAGE_BYTES,
  });
  const { logger } = hooks;
  // The stderr lines' tags: the pid is filled in once known (the transport forgets it when it closes).
  const tags: { resource: string; userId: string; pid: number | null } = { ...hooks.tags, pid: null };
  if (transport.stderr) logStderr(transport.stderr as Readable, logger, tags);

  return {
    transport,
    get pid() {
      return tags.pid;
    },
    started(message) {
      tags.pid = transport.pid;
      logger.info({ ...tags }, message);
    },
    endWith(close) {
      let ended: Promise<void> | undefined;
      return (reason) => {
        if (ended) return ended;
        let finished!: () => void;
        ended = new Promise<void>((resolve) => (finished = resolve));
        hooks.onEnd(reason, ended);
        logger.info({ ...tags, reason }, "stdio server process ended");
        void close()
          .catch(() => undefined)
          .finally(finished);
        return ended;
      };
    },
  };
}
