// Upstream MCP servers for the gateway tests: a header-recording one (node:http, answers a fixed
// JSON-RPC result and remembers what it received), one that never answers, and the reference
// server-everything (@modelcontextprotocol/server-everything, Streamable HTTP, stateful) as a child process.
import { spawn, type ChildProcess } from "node:child_process";
import http, { type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { freePort } from "./processes.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");

export interface Received {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface RecordingUpstream {
  url: string;
  received: Received[];
  close(): Promise<void>;
}

async function listen(server: http.Server): Promise<string> {
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`;
}

async function closeServer(server: http.Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
}

/** Answers every request with a JSON-RPC result echoing the request id; records method, URL, headers and body. */
export async function recordingUpstream(
  answer: (req: Received, res: http.ServerResponse) => void = (req, res) => {
    let id: unknown = null;
    try {
      id = (JSON.parse(req.body) as { id?: unknown }).id ?? null;
    } catch {
      /* GET / DELETE */
    }
    res.writeHead(200, { "content-type": "application/json", "mcp-session-id": "upstream-session-1", "set-cookie": "up=1; Path=/" });
    res.end(JSON.stringify({ jsonrpc: "2.0", id, result: { ok: true } }));
  },
): Promise<RecordingUpstream> {
  const received: Received[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const got = { method: req.method ?? "", url: req.url ?? "", headers: req.headers, body: Buffer.concat(chunks).toString("utf8") };
      received.push(got);
      answer(got, res);
    });
  });
  return { url: await listen(server), received, close: () => closeServer(server) };
}

/** Accepts connections and reads requests but never answers (for the gateway's timeout). */
export async function hangingUpstream(): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer(() => {
    /* never answers */
  });
  return { url: await listen(server), close: () => closeServer(server) };
}

/** An address nothing listens on (a port just freed). */
export async function deadUpstream(): Promise<string> {
  return `http://127.0.0.1:${await freePort()}/mcp`;
}

export interface EverythingServer {
  url: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

/** server-everything in Streamable HTTP mode on a free port; resolves once it listens. */
export async function startEverything(): Promise<EverythingServer> {
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [path.join(root, "node_modules/@modelcontextprotocol/server-everything/dist/index.js"), "streamableHttp"],
    {
      env: { ...process.env, PORT: String(port) },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  const output: string[] = [];
  child.stdout!.on("data", (d) => output.push(String(d)));
  child.stderr!.on("data", (d) => output.push(String(d)));
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  const url = `http://127.0.0.1:${port}/mcp`;
  const deadline = Date.now() + 20_000;
  while (!output.join("").includes("listening on port")) {
    if (child.exitCode !== null) throw new Error(`server-everything exited: ${output.join("")}`);
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`server-everything did not start: ${output.join("")}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url,
    child,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}

// --- protocol versions (issue 26 item 5) ---

export interface ModernUpstream {
  url: string;
  /** The standard MCP headers of every POST it received, in order. */
  received: { method?: string; name?: string; protocolVersion?: string; userId?: string }[];
  close(): Promise<void>;
}

/**
 * An MCP server on the official SDK v2 (@modelcontextprotocol/server): 2026-07-28 and, through the
 * SDK's stateless fallback, 2025-era clients. Tools `echo` and `wipe`, a prompt with a non-ASCII name
 * (its Mcp-Name travels Base64-encoded); records the standard headers each POST carried.
 */
export async function modernUpstream(): Promise<ModernUpstream> {
  const { McpServer, createMcpHandler } = await import("@modelcontextprotocol/server");
  const { z } = await import("zod");
  const factory = () => {
    const server = new McpServer({ name: "modern-upstream", version: "1.0.0" });
    server.registerTool("echo", { description: "Echoes", inputSchema: z.object({ message: z.string() }) }, ({ message }) => ({
      content: [{ type: "text", text: `echo: ${message}` }],
    }));
    server.registerTool("wipe", { description: "Wipes" }, () => ({ content: [{ type: "text", text: "wiped" }] }));
    server.registerPrompt("résumé", { description: "A prompt whose name is not ASCII" }, () => ({
      messages: [{ role: "user", content: { type: "text", text: "les données" } }],
    }));
    return server;
  };
  const handler = createMcpHandler(factory);
  const received: ModernUpstream["received"] = [];
  const one = (value: string | string[] | undefined) => (Array.isArray(value) ? value.join(", ") : value);
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      void (async () => {
        if (req.method === "POST")
          received.push({
            method: one(req.headers["mcp-method"]),
            name: one(req.headers["mcp-name"]),
            protocolVersion: one(req.headers["mcp-protocol-version"]),
            userId: one(req.headers["x-keyward-user-id"]),
          });
        const headers = new Headers();
        for (const [name, value] of Object.entries(req.headers))
          for (const v of Array.isArray(value) ? value : value === undefined ? [] : [value]) headers.append(name, v);
        const body = req.method === "POST" ? Buffer.concat(chunks) : undefined;
        const response = await handler.fetch(new Request(`http://127.0.0.1${req.url ?? "/"}`, { method: req.method, headers, body }));
        res.writeHead(response.status, Object.fromEntries(response.headers));
        if (response.body) for await (const chunk of response.body) res.write(chunk);
        res.end();
      })().catch(() => res.destroy());
    });
  });
  return {
    url: await listen(server),
    received,
    close: async () => {
      await handler.close();
      await closeServer(server);
    },
  };
}
