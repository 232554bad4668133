// A tiny stdio MCP server for the stdio gateway tests (src/gateway/stdio/): it reports its own
// environment and pid through a tool, keeps a value in memory (remember / recall) so tests can prove
// one user's process state is invisible to another's, can crash on demand, and says when a call is
// cancelled (wait). Plain JS: the gateway
// starts it with `node`.
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import { z } from "zod";

const server = new McpServer({ name: "keyward-stdio-probe", version: "1.0.0" });
let remembered = null;
const text = (value) => ({ content: [{ type: "text", text: typeof value === "string" ? value : JSON.stringify(value) }] });

server.registerTool("environment", { description: "this process's environment and pid" }, () =>
  text({ pid: process.pid, cwd: process.cwd(), env: process.env }),
);
server.registerTool("remember", { description: "keep a value in this process", inputSchema: { value: z.string() } }, ({ value }) => {
  remembered = value;
  return text("ok");
});
server.registerTool("recall", { description: "the value this process keeps" }, () => text(remembered ?? "(nothing)"));
server.registerTool("shout", { description: "writes to stderr", inputSchema: { line: z.string() } }, ({ line }) => {
  process.stderr.write(`${line}\n`);
  return text("ok");
});
// Says on stderr when it starts and when it is cancelled, with the reason (notifications/cancelled aborts its signal).
server.registerTool("wait", { description: "waits until cancelled", inputSchema: { tag: z.string() } }, ({ tag }, extra) => {
  process.stderr.write(`waiting ${tag}\n`);
  return new Promise((resolve) =>
    extra.signal.addEventListener("abort", () => {
      process.stderr.write(`cancelled ${tag}: ${String(extra.signal.reason)}\n`);
      resolve(text("cancelled"));
    }),
  );
});

await server.connect(new StdioServerTransport());
