// 2026-07-28 clients at a stdio resource (issue 26 item 5): the gateway is the 2026-07-28 server in
// front of a 2025-era stdio server (the real server-everything in stdio mode), one process per owner.
// Proven with the official v2 client pinned to 2026-07-28 and with raw requests: server/discover
// (from the process's initialize), tools/list, echo, progress streamed before the result, per-tool
// scope 403, revocation (401, the process ends on the owner check), two users → two processes, the cap
// → 503 with Retry-After, the client leaving → the process is told notifications/cancelled, the
// upstream timeout (reset by progress) → -32001 and cancelled, a 2025-era session beside a modern
// process at the same resource, and where a session-less POST goes (test/gateway-stdio-routing.test.ts
// holds the gateway's predicate to the MCP SDK's for every shape of request).
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Client as ClientV2, StreamableHTTPClientTransport as TransportV2 } from "@modelcontextprotocol/client";
import { Client as ClientV1 } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport as TransportV1 } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { startTestServer, uniqueEmail, type TestServer } from "./support/server.js";
import { BY_OPERATOR } from "./support/acting.js";
import type { PublicUser } from "../src/accounts/users.js";
import { alive, until } from "./support/waiting.js";

const MODERN = "2026-07-28";
const ENVELOPE = "io.modelcontextprotocol/protocolVersion";
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const EVERYTHING = ["node", path.join(root, "node_modules/@modelcontextprotocol/server-everything/dist/index.js"), "stdio"];
const BY = { actor: { type: "cli" as const } };

let server: TestServer;

beforeAll(async () => {
  // A short upstream timeout: the long-running tools below outlast it only because progress resets it.
  server = await startTestServer({
    GATEWAY_STDIO_MAX_PER_RESOURCE: "2",
    GATEWAY_STDIO_CHECK_SECONDS: "3600",
    GATEWAY_UPSTREAM_TIMEOUT_SECONDS: "2.5",
  });
  const add = (slug: string, toolScopes?: Record<string, string>) =>
    server.services.resources.add(
      { slug, name: `The ${slug} server`, command: EVERYTHING, cwd: root, ...(toolScopes ? { toolScopes } : {}) },
      BY,
    );
  await add("everything");
  await add("scoped", { "get-sum": "mcp:write" });
  await add("both");
  await add("pair");
  await add("revoke");
  await add("routing");
  await server.services.resources.add(
    { slug: "probe", name: "The probe server", command: ["node", path.join(root, "test/support/stdio-probe-server.mjs")], cwd: root },
    BY,
  );
}, 60_000);
afterAll(async () => {
  await server?.close();
});

const gatewayUrl = (slug: string) => `${server.config.baseUrl}/mcp/${slug}`;
const newUser = (): Promise<PublicUser> => server.services.users.create(uniqueEmail("modern"), "correct horse battery");
const mint = (user: PublicUser, scopes: string[] = ["mcp:read", "mcp:write"]) =>
  server.services.keys.mint({ userId: user.id, label: "modern", source: "portal", scopes }, BY_OPERATOR);
const processes = (slug: string) => server.services.stdioProcesses.list().filter((p) => p.resource === slug);

async function connectModern(slug: string, key: string) {
  const client = new ClientV2({ name: "keyward-modern-test", version: "1.0.0" }, {
    versionNegotiation: { mode: { pin: MODERN } },
  } as never);
  await client.connect(new TransportV2(new URL(gatewayUrl(slug)), { requestInit: { headers: { Authorization: `Bearer ${key}` } } }));
  return client;
}

/** A raw 2026-07-28 request: the body's envelope and the standard headers. */
function modernPost(slug: string, key: string, id: number, method: string, params: Record<string, unknown> = {}, signal?: AbortSignal) {
  const name: Record<string, string> = typeof params.name === "string" ? { "Mcp-Name": params.name } : {};
  return fetch(gatewayUrl(slug), {
    method: "POST",
    signal,
    headers: {
      Authorization: `Bearer ${key}`,
      "Content-Type": "application/json",
      Accept: "application/json, text/event-stream",
      "MCP-Protocol-Version": MODERN,
      "Mcp-Method": method,
      ...name,
    },
    body: JSON.stringify({
      jsonrpc: "2.0",
      id,
      method,
      params: {
        ...params,
        _meta: {
          ...((params._meta as object | undefined) ?? {}),
          [ENVELOPE]: MODERN,
          "io.modelcontextprotocol/clientInfo": { name: "raw", version: "1" },
          "io.modelcontextprotocol/clientCapabilities": {},
        },
      },
    }),
  });
}

const textOf = (result: unknown) => JSON.stringify((result as { content: unknown }).content);

describe("a 2026-07-28 client at a stdio resource", () => {
  it("server/discover comes from the process; tools/list and echo run in the owner's one process", async () => {
    const user = await newUser();
    const client = await connectModern("everything", (await mint(user)).raw);
    try {
      expect(client.getNegotiatedProtocolVersion()).toBe(MODERN);
      expect(client.getProtocolEra()).toBe("modern");
      // What the process said in its initialize, less what the gateway does not carry.
      expect(client.getServerVersion()?.name).toBe("mcp-servers/everything");
      expect(client.getInstructions()).toBeTruthy();
      const capabilities = client.getServerCapabilities()!;
      expect(capabilities.tools).toEqual({ listChanged: false });
      expect(capabilities.resources).toEqual({ listChanged: false, subscribe: false });
      expect(capabilities).not.toHaveProperty("logging");
      expect(capabilities).not.toHaveProperty("tasks");
      const { tools } = await client.listTools();
      expect(tools.map((t) => t.name)).toEqual(expect.arrayContaining(["echo", "get-sum", "trigger-long-running-operation"]));
      // The gateway's initialize declares no client capabilities: the process offers nothing that needs them.
      expect(tools.map((t) => t.name)).not.toContain("trigger-sampling-request");
      expect(tools.map((t) => t.name)).not.toContain("trigger-elicitation-request");
      expect(textOf(await client.callTool({ name: "echo", arguments: { message: "modern over stdio" } }))).toContain("modern over stdio");
      expect(textOf(await client.callTool({ name: "get-sum", arguments: { a: 2, b: 40 } }))).toContain("42");
      const mine = processes("everything").filter((p) => p.userId === user.id);
      expect(mine).toEqual([expect.objectContaining({ era: "modern", sessionId: undefined })]);
      expect(alive(mine[0]!.pid!)).toBe(true);
    } finally {
      await client.close();
    }
  });

  it("a long-running tool's progress reaches the client before its result, streamed as it happens", async () => {
    const user = await newUser();
    const { raw } = await mint(user);
    const client = await connectModern("everything", raw);
    try {
      const seen: string[] = [];
      const result = await client.callTool({ name: "trigger-long-running-operation", arguments: { duration: 1.5, steps: 3 } }, {
        onprogress: (p: { progress: number }) => seen.push(`progress ${p.progress}`),
      } as never);
      seen.push("result");
      expect(seen).toEqual(["progress 1", "progress 2", "progress 3", "result"]);
      expect(textOf(result)).toContain("Long running operation completed");
    } finally {
      await client.close();
    }

    // Raw: the first progress event is read while the answer is still open (no result yet), so the
    // answer is streamed, not buffered until the end.
    const res = await modernPost("everything", raw, 9, "tools/call", {
      name: "trigger-long-running-operation",
      arguments: { duration: 3, steps: 3 },
      _meta: { progressToken: "tok-1" },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/event-stream");
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let text = "";
    while (!text.includes("notifications/progress")) {
      const { value, done } = await reader.read();
      if (done) throw new Error("the stream ended before any progress");
      text += decoder.decode(value, { stream: true });
    }
    expect(text).toContain('"progressToken":"tok-1"');
    expect(text).not.toContain('"result"');
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
    expect(text.indexOf("notifications/progress")).toBeLessThan(text.indexOf('"result"'));
    expect(text).toContain("Long running operation completed");
  });

  it("a per-tool scope is checked before the process: 403 insufficient_scope; the key's other tools work", async () => {
    const user = await newUser();
    const reader = (await mint(user, ["mcp:read"])).raw;
    const res = await modernPost("scoped", reader, 1, "tools/call", { name: "get-sum", arguments: { a: 1, b: 2 } });
    expect(res.status).toBe(403);
    expect(res.headers.get("www-authenticate")).toContain("insufficient_scope");
    expect(((await res.json()) as { error: string }).error).toBe("insufficient_scope");
    const client = await connectModern("scoped", reader);
    try {
      await expect(client.callTool({ name: "get-sum", arguments: { a: 1, b: 2 } })).rejects.toThrow(/insufficient.scope/i);
      expect(textOf(await client.callTool({ name: "echo", arguments: { message: "still fine" } }))).toContain("still fine");
    } finally {
      await client.close();
    }
  });

  it("the client leaving mid-call aborts it: the process is told notifications/cancelled and serves on", async () => {
    const user = await newUser();
    const { raw } = await mint(user);
    const tag = `t${Date.now()}`;
    const abort = new AbortController();
    const call = modernPost("probe", raw, 5, "tools/call", { name: "wait", arguments: { tag } }, abort.signal).catch(() => undefined);
    await until(() => server.logs.some((l) => l.includes(`waiting ${tag}`)), "the call to reach the process");
    abort.abort();
    await call;
    await until(() => server.logs.some((l) => l.includes(`cancelled ${tag}`)), "the process to be told of the cancellation");
    expect(server.logs.find((l) => l.includes(`cancelled ${tag}`))).not.toContain("timeout"); // the client left: not the timeout
    const pid = processes("probe").find((p) => p.userId === user.id)!.pid!;
    expect(alive(pid)).toBe(true);
    const client = await connectModern("probe", raw);
    try {
      expect((await client.listTools()).tools.map((t) => t.name)).toContain("wait");
      expect(processes("probe").filter((p) => p.userId === user.id)).toHaveLength(1);
    } finally {
      await client.close();
    }
  });

  it("a call with neither answer nor progress for GATEWAY_UPSTREAM_TIMEOUT_SECONDS fails (-32001) and is cancelled in the process", async () => {
    const user = await newUser();
    const { raw } = await mint(user);
    const tag = `t${Date.now()}-timeout`;
    const res = await modernPost("probe", raw, 6, "tools/call", { name: "wait", arguments: { tag } });
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).toContain('"code":-32001');
    expect(text).toContain("Request timed out");
    await until(() => server.logs.some((l) => l.includes(`cancelled ${tag}`)), "the process to be told of the cancellation");
    expect(server.logs.find((l) => l.includes(`cancelled ${tag}`))).toContain("the gateway's timeout for this request");
  });
});

describe("one modern process per owner, under the pool's rules", () => {
  it("two users get two processes; a third user over the resource's cap gets 503 with Retry-After", async () => {
    const [alice, bob, carol] = [await newUser(), await newUser(), await newUser()];
    const a = await connectModern("pair", (await mint(alice)).raw);
    const b = await connectModern("pair", (await mint(bob)).raw);
    try {
      await a.listTools();
      await b.listTools();
      await a.listTools(); // the same process again: an owner has one
      const running = processes("pair");
      expect(running.map((p) => p.userId).sort()).toEqual([alice.id, bob.id].sort());
      expect(new Set(running.map((p) => p.pid)).size).toBe(2);
      const refused = await modernPost("pair", (await mint(carol)).raw, 1, "tools/list");
      expect(refused.status).toBe(503);
      expect(Number(refused.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
      expect(((await refused.json()) as { error: string }).error).toBe("temporarily_unavailable");
      expect(processes("pair")).toHaveLength(2);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it("the key revoked: the next request is 401 and the owner check ends the process", async () => {
    const user = await newUser();
    const { raw, key } = await mint(user);
    const client = await connectModern("revoke", raw);
    try {
      await client.listTools();
      const pid = processes("revoke").find((p) => p.userId === user.id)!.pid!;
      expect(alive(pid)).toBe(true);
      await server.services.keys.revoke({ kind: "own", userId: user.id, id: key.id }, BY_OPERATOR);
      expect((await modernPost("revoke", raw, 2, "tools/list")).status).toBe(401);
      await server.services.stdioProcesses.check();
      await until(() => !alive(pid), "the process to end after the owner check");
      expect(processes("revoke").some((p) => p.userId === user.id)).toBe(false);
    } finally {
      await client.close();
    }
  });

  it("a 2025-era session of the same user at the same resource keeps its own process", async () => {
    const user = await newUser();
    const { raw } = await mint(user);
    const modern = await connectModern("both", raw);
    const legacy = new ClientV1({ name: "keyward-v1", version: "1.0.0" });
    const transport = new TransportV1(new URL(gatewayUrl("both")), { requestInit: { headers: { Authorization: `Bearer ${raw}` } } });
    try {
      await modern.listTools();
      await legacy.connect(transport);
      expect(transport.sessionId).toBeDefined();
      expect(JSON.stringify((await legacy.callTool({ name: "echo", arguments: { message: "v1" } })).content)).toContain("v1");
      const mine = processes("both").filter((p) => p.userId === user.id);
      expect(mine.map((p) => p.era).sort()).toEqual(["legacy", "modern"]);
    } finally {
      await transport.terminateSession().catch(() => undefined);
      await legacy.close();
      await modern.close();
    }
  });

  it("a session-less POST goes where the MCP SDK's classification says: the modern path refuses what is not its own", async () => {
    const user = await newUser();
    const key = (await mint(user)).raw;
    const raw = (headers: Record<string, string>, body: unknown) =>
      fetch(gatewayUrl("routing"), {
        method: "POST",
        headers: {
          Authorization: `Bearer ${key}`,
          "Content-Type": "application/json",
          Accept: "application/json, text/event-stream",
          ...headers,
        },
        body: JSON.stringify(body),
      });
    const initialize = {
      jsonrpc: "2.0",
      id: 1,
      method: "initialize",
      params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "raw", version: "1" } },
    };
    // An initialize is the 2025 handshake, unless it comes with a 2026-07-28 MCP-Protocol-Version header:
    // then it is the modern path's, which refuses the disagreement (-32020) and starts no session.
    const mismatched = await raw({ "MCP-Protocol-Version": MODERN }, initialize);
    expect(mismatched.status).toBe(400);
    expect(mismatched.headers.get("mcp-session-id")).toBeNull();
    expect(((await mismatched.json()) as { error: { code: number } }).error.code).toBe(-32020);
    // A request the MCP SDK refuses starts nothing: the owner's process is started only for one it takes.
    expect(processes("routing").filter((p) => p.userId === user.id)).toEqual([]);
    // A notification with no envelope: the header decides. With it, the modern path accepts it (202); without,
    // it is 2025-era traffic and needs a session (400).
    const notification = { jsonrpc: "2.0", method: "notifications/initialized" };
    expect((await raw({ "MCP-Protocol-Version": MODERN, "Mcp-Method": "notifications/initialized" }, notification)).status).toBe(202);
    expect(
      processes("routing")
        .filter((p) => p.userId === user.id)
        .map((p) => p.era),
    ).toEqual(["modern"]);
    const legacyNotification = await raw({}, notification);
    expect(legacyNotification.status).toBe(400);
    expect(await legacyNotification.text()).toContain("Mcp-Session-Id header is required");
    // The 2025 initialize starts a session.
    const started = await raw({}, initialize);
    expect(started.status).toBe(200);
    const sessionId = started.headers.get("mcp-session-id");
    expect(sessionId).toBeTruthy();
    await started.body?.cancel();
    await fetch(gatewayUrl("routing"), { method: "DELETE", headers: { Authorization: `Bearer ${key}`, "Mcp-Session-Id": sessionId! } });
  });

  it("app keys are refused (403 access_denied), as for 2025-era clients", async () => {
    const { orgs, keys } = server.services;
    const owner = await newUser();
    const team = await orgs.create(owner.id, "Modern stdio team");
    const app = await orgs.createApp(team.id, "Robot");
    const { raw } = await keys.mint(
      { userId: owner.id, organizationId: team.id, appId: app.id, label: "app", source: "portal" },
      BY_OPERATOR,
    );
    const res = await modernPost("pair", raw, 1, "server/discover");
    expect(res.status).toBe(403);
    expect(((await res.json()) as { error: string }).error).toBe("access_denied");
  });
});
