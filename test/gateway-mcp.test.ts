// The gateway in front of a real MCP server nobody here wrote (server-everything, Streamable HTTP,
// stateful), driven by the official MCP SDK client: a session through the gateway, streaming proven
// by arrival times, audience binding, revocation mid-session, per-tool scopes, and the upstream
// stopped (502) or hanging (504); plus a raw SSE upstream for client disconnects and streams per key.
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { startTestServer, uniqueEmail, type TestServer } from "./support/server.js";
import { deadUpstream, hangingUpstream, startEverything, type EverythingServer } from "./support/upstreams.js";
import { BY_OPERATOR } from "./support/acting.js";
import type { PublicUser } from "../src/accounts/users.js";

let server: TestServer;
let everything: EverythingServer;
let hanging: Awaited<ReturnType<typeof hangingUpstream>>;
let user: PublicUser;
const BY = { actor: { type: "cli" as const } };
const STREAMS_PER_KEY = 3;

beforeAll(async () => {
  server = await startTestServer({ GATEWAY_UPSTREAM_TIMEOUT_SECONDS: "1", GATEWAY_STREAMS_PER_KEY: String(STREAMS_PER_KEY) });
  everything = await startEverything();
  hanging = await hangingUpstream();
  const add = (slug: string, upstream: string, toolScopes: Record<string, string> = {}) =>
    server.services.resources.add({ slug, name: `The ${slug} server`, upstream, toolScopes }, BY);
  await add("everything", everything.url, { "get-sum": "mcp:write" });
  await add("second", everything.url);
  await add("hanging", hanging.url);
  await add("gone", await deadUpstream());
  user = await server.services.users.create(uniqueEmail("gwmcp"), "correct horse battery");
}, 60_000);
afterAll(async () => {
  await server?.close();
  await everything?.stop();
  await hanging?.close();
});

const gatewayUrl = (slug: string) => `${server.config.baseUrl}/mcp/${slug}`;
const prm = (slug: string) => `${server.config.baseUrl}/.well-known/oauth-protected-resource/mcp/${slug}`;

async function mint(scopes: string[], resources: string[] | null = null) {
  return server.services.keys.mint({ userId: user.id, label: "sdk", source: "portal", scopes, resources }, BY_OPERATOR);
}

async function connect(slug: string, raw: string) {
  const client = new Client({ name: "keyward-gateway-test", version: "1.0.0" });
  const transport = new StreamableHTTPClientTransport(new URL(gatewayUrl(slug)), {
    requestInit: { headers: { Authorization: `Bearer ${raw}` } },
  });
  await client.connect(transport);
  return { client, transport };
}

const gatewayLines = () => server.logs.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === "gateway");

describe("through the gateway with the MCP SDK client", () => {
  it("initialize, tools/list, echo; the session id passes through; GET stream and DELETE work", async () => {
    const { raw, key } = await mint(["mcp:read"], [gatewayUrl("everything")]);
    const { client, transport } = await connect("everything", raw);
    expect(transport.sessionId).toMatch(/^[0-9a-f-]{36}$/);
    expect(client.getServerVersion()?.name).toBeTruthy();
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name)).toEqual(expect.arrayContaining(["echo", "get-sum", "trigger-long-running-operation"]));
    const echoed = await client.callTool({ name: "echo", arguments: { message: "through the gateway" } });
    expect(JSON.stringify(echoed.content)).toContain("through the gateway");
    // The SDK has opened the session's GET stream (server → client messages) through the gateway: the
    // upstream allows one per session, so a second one is refused by it (409) with the session id passed on.
    const get = await fetch(gatewayUrl("everything"), {
      headers: { Authorization: `Bearer ${raw}`, "Mcp-Session-Id": transport.sessionId!, Accept: "text/event-stream" },
    });
    expect(get.status).toBe(409);
    await get.body?.cancel();
    // DELETE ends the upstream session; the session id is then unknown upstream.
    const sessionId = transport.sessionId!;
    await transport.terminateSession();
    const after = await fetch(gatewayUrl("everything"), {
      method: "POST",
      headers: {
        Authorization: `Bearer ${raw}`,
        "Mcp-Session-Id": sessionId,
        "Content-Type": "application/json",
        Accept: "application/json, text/event-stream",
      },
      body: JSON.stringify({ jsonrpc: "2.0", id: 99, method: "tools/list" }),
    });
    expect(after.status).toBeGreaterThanOrEqual(400);
    expect(after.status).toBeLessThan(500);
    await client.close();
    // The SDK's GET stream, logged when it closed: answered 200 by the upstream through the gateway.
    await new Promise((r) => setTimeout(r, 100));
    expect(gatewayLines().some((l) => l.method === "GET" && l.keyId === key.id && l.status === 200)).toBe(true);
    expect(gatewayLines().some((l) => l.method === "DELETE" && l.keyId === key.id && l.status === 200)).toBe(true);
  });

  it("progress notifications of a long-running tool arrive before its result, as they are sent (streaming, not buffering)", async () => {
    const { raw } = await mint(["mcp:read"]);
    const { client } = await connect("everything", raw);
    const started = performance.now();
    const progress: number[] = [];
    const result = await client.callTool({ name: "trigger-long-running-operation", arguments: { duration: 1.2, steps: 4 } }, undefined, {
      onprogress: () => progress.push(performance.now() - started),
    });
    const done = performance.now() - started;
    expect(JSON.stringify(result.content)).toContain("Long running operation completed");
    expect(progress).toHaveLength(4);
    // Each step is 300 ms apart upstream: the first must reach us long before the result does, and
    // each one after the one before (a buffering proxy would deliver all five at once, at the end).
    expect(progress[0]!).toBeLessThan(done - 600);
    for (let i = 1; i < progress.length; i++) expect(progress[i]! - progress[i - 1]!).toBeGreaterThan(150);
    expect(progress.at(-1)!).toBeLessThanOrEqual(done);
    await client.close();
  });

  it("a key bound to another resource → 401 naming this resource's metadata", async () => {
    const { raw } = await mint(["mcp:read"], [gatewayUrl("second")]);
    const res = await fetch(gatewayUrl("everything"), {
      method: "POST",
      headers: { Authorization: `Bearer ${raw}`, "Content-Type": "application/json", Accept: "application/json, text/event-stream" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }),
    });
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toBe(
      `Bearer resource_metadata="${prm("everything")}", error="invalid_token", error_description="The key was issued for another resource: it is bound to ${gatewayUrl("second")} but was sent to ${gatewayUrl("everything")}"`,
    );
    // It does work where it is bound.
    const { client } = await connect("second", raw);
    expect((await client.listTools()).tools.length).toBeGreaterThan(0);
    await expect(connect("everything", raw)).rejects.toThrow();
    await client.close();
  });

  it("revocation mid-session: the next request is refused with 401", async () => {
    const { raw, key } = await mint(["mcp:read"]);
    const { client } = await connect("everything", raw);
    await client.listTools();
    await server.services.keys.revoke({ kind: "own", userId: user.id, id: key.id }, BY_OPERATOR);
    await expect(client.listTools()).rejects.toThrow(/401|revoked|Unauthorized/i);
    await client.close();
  });

  it("a tool mapped to a scope the key lacks → 403 insufficient_scope with the scope; with it, the tool runs", async () => {
    const reader = await mint(["mcp:read"]);
    const { client } = await connect("everything", reader.raw);
    await expect(client.callTool({ name: "get-sum", arguments: { a: 1, b: 2 } })).rejects.toThrow(/403|insufficient_scope|mcp:write/);
    const res = await fetch(gatewayUrl("everything"), {
      method: "POST",
      headers: { Authorization: `Bearer ${reader.raw}`, "Content-Type": "application/json", Accept: "application/json, text/event-stream" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "get-sum", arguments: { a: 1, b: 2 } } }),
    });
    expect(res.status).toBe(403);
    expect(res.headers.get("www-authenticate")).toContain(`scope="mcp:write", resource_metadata="${prm("everything")}"`);
    await client.close();
    const writer = await mint(["mcp:write"]);
    const second = await connect("everything", writer.raw);
    const sum = await second.client.callTool({ name: "get-sum", arguments: { a: 1, b: 2 } });
    expect(JSON.stringify(sum.content)).toContain("3");
    await second.client.close();
  });

  it("an upstream that does not answer in time → 504, naming the resource, never its address", async () => {
    const { raw } = await mint(["mcp:read"]);
    const started = Date.now();
    const res = await fetch(gatewayUrl("hanging"), {
      method: "POST",
      headers: { Authorization: `Bearer ${raw}`, "Content-Type": "application/json", Accept: "application/json, text/event-stream" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }),
    });
    expect(res.status).toBe(504);
    expect(Date.now() - started).toBeLessThan(5000);
    const text = await res.text();
    expect(JSON.parse(text)).toEqual({
      error: "upstream_timeout",
      error_description: "The MCP server The hanging server did not answer in time",
    });
    expect(text).not.toContain(new URL(hanging.url).port);
  });

  it("an upstream nobody listens on → 502, and the health record says so in words", async () => {
    const { raw } = await mint(["mcp:read"]);
    const res = await fetch(gatewayUrl("gone"), {
      method: "POST",
      headers: { Authorization: `Bearer ${raw}`, "Content-Type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }),
    });
    expect(res.status).toBe(502);
    expect(await res.json()).toEqual({
      error: "upstream_unavailable",
      error_description: "The MCP server The gone server is not reachable",
    });
    const gone = await server.services.resources.get("gone");
    let health = await server.services.resources.health(gone.id);
    for (let i = 0; i < 70 && !health?.lastErrorAt; i++) {
      await new Promise((r) => setTimeout(r, 100));
      health = await server.services.resources.health(gone.id);
    }
    expect(health).toMatchObject({ lastError: "connection refused", lastOkAt: null });
  });
});

describe("streams", () => {
  let sse: http.Server;
  let closed: number[];
  let sseUrl: string;
  beforeAll(async () => {
    closed = [];
    // An SSE upstream that sends an event every 100 ms until the client goes away.
    sse = http.createServer((req, res) => {
      req.resume();
      res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
      let n = 0;
      const timer = setInterval(() => res.write(`id: ${++n}\ndata: {"n":${n}}\n\n`), 100);
      res.write(`id: 0\ndata: {"n":0}\n\n`);
      res.on("close", () => {
        clearInterval(timer);
        closed.push(Date.now());
      });
    });
    await new Promise<void>((r) => sse.listen(0, "127.0.0.1", r));
    sseUrl = `http://127.0.0.1:${(sse.address() as AddressInfo).port}/mcp`;
    await server.services.resources.add({ slug: "sse", name: "SSE", upstream: sseUrl }, BY);
  });
  afterAll(async () => {
    sse.closeAllConnections();
    await new Promise<void>((r) => sse.close(() => r()));
  });

  const open = (raw: string, signal: AbortSignal) =>
    fetch(gatewayUrl("sse"), { headers: { Authorization: `Bearer ${raw}`, Accept: "text/event-stream" }, signal });

  it("events arrive one by one, and a client that goes away ends the upstream request", async () => {
    const { raw } = await mint(["mcp:read"]);
    const controller = new AbortController();
    const res = await open(raw, controller.signal);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/event-stream");
    const reader = res.body!.getReader();
    const arrivals: number[] = [];
    let text = "";
    while (arrivals.length < 3) {
      const { value } = await reader.read();
      text += new TextDecoder().decode(value);
      arrivals.push(Date.now());
    }
    expect(text).toContain('data: {"n":0}');
    expect(arrivals[2]! - arrivals[0]!).toBeGreaterThan(100);
    const before = closed.length;
    const abortedAt = Date.now();
    controller.abort();
    for (let i = 0; i < 50 && closed.length === before; i++) await new Promise((r) => setTimeout(r, 20));
    expect(closed.length).toBe(before + 1);
    expect(closed.at(-1)! - abortedAt).toBeLessThan(1000);
  });

  it("a stream that stays quiet after its headers: the client has them at once, not with a first event", async () => {
    const quiet = http.createServer((req, res) => {
      req.resume();
      res.writeHead(200, { "content-type": "text/event-stream" }).flushHeaders(); // and nothing more until the client leaves
    });
    await new Promise<void>((r) => quiet.listen(0, "127.0.0.1", r));
    try {
      const url = `http://127.0.0.1:${(quiet.address() as AddressInfo).port}/mcp`;
      await server.services.resources.add({ slug: "quiet", name: "Quiet", upstream: url }, BY);
      const { raw } = await mint(["mcp:read"]);
      const controller = new AbortController();
      const timer = setTimeout(() => controller.abort(), 15_000); // fetch resolves at the headers: without them it would wait here
      const res = await fetch(gatewayUrl("quiet"), {
        headers: { Authorization: `Bearer ${raw}`, Accept: "text/event-stream" },
        signal: controller.signal,
      });
      clearTimeout(timer);
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toBe("text/event-stream");
      controller.abort();
    } finally {
      quiet.closeAllConnections();
      await new Promise<void>((r) => quiet.close(() => r()));
    }
  });

  it("an upstream that breaks off mid-answer: the client's answer ends short too (never as if complete), and the key's slot is freed", async () => {
    const broken = http.createServer((req, res) => {
      req.resume();
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.write(`id: 0\ndata: {"n":0}\n\n`);
      setTimeout(() => res.socket?.destroy(), 50); // no terminating chunk: the answer is cut
    });
    await new Promise<void>((r) => broken.listen(0, "127.0.0.1", r));
    try {
      const url = `http://127.0.0.1:${(broken.address() as AddressInfo).port}/mcp`;
      await server.services.resources.add({ slug: "broken", name: "Broken", upstream: url }, BY);
      const { raw } = await mint(["mcp:read"]);
      for (let i = 0; i < STREAMS_PER_KEY + 1; i++) {
        // More times than the key has slots: each cut answer gave its slot back.
        const res = await fetch(gatewayUrl("broken"), { headers: { Authorization: `Bearer ${raw}`, Accept: "text/event-stream" } });
        expect(res.status).toBe(200);
        const reader = res.body!.getReader();
        let text = "";
        const outcome = await (async () => {
          for (;;) {
            const { value, done } = await reader.read();
            if (done) return "complete";
            text += new TextDecoder().decode(value);
          }
        })().catch(() => "cut short");
        expect(text).toContain('data: {"n":0}');
        expect(outcome).toBe("cut short");
      }
    } finally {
      broken.closeAllConnections();
      await new Promise<void>((r) => broken.close(() => r()));
    }
  });

  it(`at most ${STREAMS_PER_KEY} open streams per key → 429 with Retry-After; a closed one frees its slot`, async () => {
    const { raw } = await mint(["mcp:read"]);
    const controllers = Array.from({ length: STREAMS_PER_KEY }, () => new AbortController());
    const streams = await Promise.all(controllers.map((c) => open(raw, c.signal)));
    expect(streams.map((s) => s.status)).toEqual(controllers.map(() => 200));
    const refused = await fetch(gatewayUrl("sse"), { headers: { Authorization: `Bearer ${raw}`, Accept: "text/event-stream" } });
    expect(refused.status).toBe(429);
    expect(refused.headers.get("retry-after")).toBe("1");
    expect((await refused.json()).error).toBe("too_many_requests");
    // Another key is not affected.
    const other = await mint(["mcp:read"]);
    const otherController = new AbortController();
    expect((await open(other.raw, otherController.signal)).status).toBe(200);
    otherController.abort();
    controllers[0]!.abort();
    await new Promise((r) => setTimeout(r, 100));
    const again = new AbortController();
    expect((await open(raw, again.signal)).status).toBe(200);
    again.abort();
    for (const c of controllers) c.abort();
  });

  it("backpressure: a client that does not read holds the upstream back (nothing buffers the whole answer)", async () => {
    const TOTAL = 200 * 1024 * 1024;
    let flushed = 0;
    const big = http.createServer((req, res) => {
      req.resume();
      res.writeHead(200, { "content-type": "text/event-stream" });
      const chunk = Buffer.alloc(64 * 1024, "x");
      const pump = () => {
        while (flushed < TOTAL) {
          flushed += chunk.length;
          if (!res.write(chunk)) return void res.once("drain", pump);
        }
        res.end();
      };
      pump();
      res.on("close", () => res.removeAllListeners("drain"));
    });
    await new Promise<void>((r) => big.listen(0, "127.0.0.1", r));
    try {
      await server.services.resources.add(
        { slug: "big", name: "Big", upstream: `http://127.0.0.1:${(big.address() as AddressInfo).port}/mcp` },
        BY,
      );
      const { raw } = await mint(["mcp:read"]);
      const controller = new AbortController();
      const res = await fetch(gatewayUrl("big"), { headers: { Authorization: `Bearer ${raw}` }, signal: controller.signal });
      expect(res.status).toBe(200);
      await new Promise((r) => setTimeout(r, 1000)); // the client reads nothing
      expect(flushed).toBeLessThan(TOTAL / 4);
      controller.abort();
    } finally {
      big.closeAllConnections();
      await new Promise<void>((r) => big.close(() => r()));
    }
  });

  it("the upstream stopped mid-session → 502", async () => {
    const { raw } = await mint(["mcp:read"]);
    const { client } = await connect("second", raw);
    await client.listTools();
    await everything.stop();
    await expect(client.listTools()).rejects.toThrow(/502|not reachable/);
    await client.close().catch(() => undefined);
  });
});
