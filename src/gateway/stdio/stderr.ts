// A stdio server's stderr, to the log: one warn line per line it writes, tagged with the resource and
// the user, each line cut at MAX_LINE characters and at most MAX_BYTES per process (then one line
// saying the rest is dropped), so a chatty or hostile server cannot fill the log.
import type { Readable } from "node:stream";
import type { Logger } from "../../log.js";

const MAX_LINE = 2000;
const MAX_BYTES = 256 * 1024;

export function logStderr(stream: Readable, logger: Logger, tags: { resource: string; userId: string; pid: number | null }): void {
  let logged = 0;
  let pending = "";
  let dropped = false;
  const emit = (line: string) => {
    if (dropped || line === "") return;
    if (logged >= MAX_BYTES) {
      dropped = true;
      logger.warn(tags, `stdio server stderr: more than ${MAX_BYTES} bytes, the rest of this process's stderr is dropped`);
      return;
    }
    const text = line.length > MAX_LINE ? `${line.slice(0, MAX_LINE)}…` : line;
    logged += text.length;
    logger.warn({ ...tags, stderr: text }, "stdio server stderr");
  };
  stream.setEncoding("utf8");
  stream.on("data", (chunk: string) => {
    pending += chunk;
    const lines = pending.split("\n");
    pending = lines.pop() ?? "";
    // A line with no end in sight is logged in pieces rather than held without bound.
    if (pending.length > MAX_LINE) {
      lines.push(pending);
      pending = "";
    }
    for (const line of lines) emit(line.replace(/\r$/, ""));
  });
  stream.on("end", () => emit(pending));
  stream.on("error", () => undefined);
}
