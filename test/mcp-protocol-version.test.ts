// MCP protocol versions (issue 26 item 5): /mcp and the gateway serve clients on 2026-07-28 (the
// `server/discover` probe, the per-request `_meta` envelope, the Mcp-Method / Mcp-Name headers) as well
// as 2025-era clients (initialize). Proven with the official SDK clients: v2 (@modelcontextprotocol/
// client) pinned to 2026-07-28 and negotiating, v1 (@modelcontextprotocol/sdk) on its own versions; at
// the gateway in front of an upstream on the SDK v2 and in front of server-everything (2025-era only),
// and with raw requests whose headers lie about their body.
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Client as ClientV2, StreamableHTTPClientTransport as TransportV2 } from "@modelcontextprotocol/client";
import { Client as ClientV1 } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport as TransportV1 } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { startTestServer, uniqueEmail, type TestServer } from "./support/server.js";
import { modernUpstream, startEverything, type EverythingServer, type ModernUpstream } from "./support/upstreams.js";
import { BY_OPERATOR } from "./support/acting.js";
import { decodeHeaderValue } from "../src/gateway/tool-check.js";
import type { PublicUser } from "../src/accounts/users.js";

const MODERN = "2026-07-28";
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const EVERYTHING_STDIO = ["node", path.join(root, "node_modules/@modelcontextprotocol/server-everything/dist/index.js"), "stdio"];
const ENVELOPE = "io.modelcontextprotocol/protocolVersion";

let server: TestServer;
let modern: ModernUpstream;
let everything: EverythingServer;
let user: PublicUser;
let reader: string; // mcp:read, every resource
let writer: string; // mcp:read mcp:write, every resource
const BY = { actor: { type: "cli" as const } };

beforeAll(async () => {
  server = await startTestServer();
  modern = await modernUpstream();
  everything = await startEverything();
  await server.services.resources.add({ slug: "modern", name: "Modern", upstream: modern.url, toolScopes: { wipe: "mcp:write" } }, BY);
  await server.services.resources.add(
    { slug: "everything", name: "Everything", upstream: everything.url, toolScopes: { "get-sum": "mcp:write" } },
    BY,
  );
  await server.services.resources.add({ slug: "stdio", name: "Everything (stdio)", command: EVERYTHING_STDIO, cwd: root }, BY);
  user = await server.services.users.create(uniqueEmail("proto"), "correct horse battery");
  const mint = async (scopes: string[]) =>
    (await server.services.keys.mint({ userId: user.id, label: "proto", source: "portal", scopes }, BY_OPERATOR)).raw;
  reader = await mint(["mcp:read"]);
  writer = await mint(["mcp:read", "mcp:write"]);
}, 60_000);
afterAll(async () => {
  await server?.close();
  await modern?.close();
  await everything?.stop();
});

const mcpUrl = () => `${server.config.baseUrl}/mcp`;
const gatewayUrl = (slug: string) => `${server.config.baseUrl}/mcp/${slug}`;

type Negotiation = "legacy" | "auto" | { pin: string };

async function connectV2(url: string, key: string, mode: Negotiation) {
  const client = new ClientV2(
    { name: "keyward-protocol-test", version: "1.0.0" },
    { versionNegotiation: { mode: mode as "auto" } }, // the SDK's type names the pin form { pin: ProtocolVersion }
  );
  const transport = new TransportV2(new URL(url), { requestInit: { headers: { Authorization: `Bearer ${key}` } } });
  await client.connect(transport);
  return client;
}

/** The v1 client; with `nameFor`, its tools/call POSTs also carry Mcp-Method and Mcp-Name: nameFor(the tool called), true or not. */
async function connectV1(url: string, key: string, nameFor?: (tool: string) => string) {
  const client = new ClientV1({ name: "keyward-protocol-test", version: "1.0.0" });
  const fetchWithHeaders = async (input: string | URL | Request, init?: RequestInit) => {
    const message = typeof init?.body === "string" ? (JSON.parse(init.body) as { method?: string; params?: { name?: string } }) : undefined;
    if (nameFor && message?.method === "tools/call" && message.params?.name !== undefined) {
      const headers = new Headers(init?.headers);
      headers.set("Mcp-Method", "tools/call");
      headers.set("Mcp-Name", nameFor(message.params.name));
      return fetch(input, { ...init, headers });
    }
    return fetch(input, init);
  };
  await client.connect(
    new TransportV1(new URL(url), { requestInit: { headers: { Authorization: `Bearer ${key}` } }, fetch: fetchWithHeaders }),
  );
  return client;
}

/** A raw 2026-07-28 request: the body's envelope and the standard headers, which the caller may override. */
function modernPost(
  url: string,
  key: string,
  message: { method: string; params?: Record<string, unknown> },
  headers: Record<string, string> = {},
) {
  const body = {
    jsonrpc: "2.0",
    id: 1,
    method: message.method,
    params: {
      ...message.params,
      _meta: {
        [ENVELOPE]: MODERN,
        "io.modelcontextprotocol/clientInfo": { name: "raw", version: "1" },
        "io.modelcontextprotocol/clientCapabilities": {},
      },
    },
  };
  return fetch(url, {
    method: "POST",
    headers: {
      Authorization: `Bearer ${key}`,
      "Content-Type": "application/json",
      Accept: "application/json, text/event-stream",
      "MCP-Protocol-Version": MODERN,
      "Mcp-Method": message.method,
      ...headers,
    },
    body: JSON.stringify(body),
  });
}

const base64Name = (value: string) => `=?base64?${Buffer.from(value, "utf8").toString("base64")}?=`;

describe("/mcp", () => {
  it("a v2 client pinned to 2026-07-28 connects with a key, lists the tools and calls whoami", async () => {
    const client = await connectV2(mcpUrl(), reader, { pin: MODERN });
    try {
      expect(client.getNegotiatedProtocolVersion()).toBe(MODERN);
      expect(client.getProtocolEra()).toBe("modern");
      const { tools } = await client.listTools();
      expect(tools.map((t) => t.name)).toEqual(["whoami", "notes_list", "notes_add"]);
      const result = await client.callTool({ name: "whoami", arguments: {} });
      expect(result.isError).toBeFalsy();
      expect(result.structuredContent).toMatchObject({ email: user.email, userId: user.id, scopes: ["mcp:read"] });
    } finally {
      await client.close();
    }
  });

  it("a v2 client that negotiates (auto) lands on 2026-07-28; the tools run for the key's user", async () => {
    const client = await connectV2(mcpUrl(), writer, "auto");
    try {
      expect(client.getNegotiatedProtocolVersion()).toBe(MODERN);
      const added = await client.callTool({ name: "notes_add", arguments: { text: "from 2026-07-28" } });
      expect(added.isError).toBeFalsy();
      const listed = await client.callTool({ name: "notes_list", arguments: {} });
      expect(JSON.stringify(listed.structuredContent)).toContain("from 2026-07-28");
    } finally {
      await client.close();
    }
  });

  it("2025-era clients still work: the v1 SDK client, the v2 client in legacy mode, and initialize on each older version", async () => {
    for (const connect of [() => connectV1(mcpUrl(), reader), () => connectV2(mcpUrl(), reader, "legacy")]) {
      const client = await connect();
      try {
        if (client instanceof ClientV2) expect(client.getNegotiatedProtocolVersion()).toBe("2025-11-25");
        const result = await client.callTool({ name: "whoami", arguments: {} });
        expect(result.structuredContent).toMatchObject({ userId: user.id });
      } finally {
        await client.close();
      }
    }
    for (const version of ["2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"]) {
      const res = await fetch(mcpUrl(), {
        method: "POST",
        headers: { Authorization: `Bearer ${reader}`, "Content-Type": "application/json", Accept: "application/json, text/event-stream" },
        body: JSON.stringify({
          jsonrpc: "2.0",
          id: 1,
          method: "initialize",
          params: { protocolVersion: version, capabilities: {}, clientInfo: { name: "raw", version: "1" } },
        }),
      });
      expect(res.status, version).toBe(200);
      expect(res.headers.get("content-type")).toMatch(/^application\/json/); // the 2025 leg answers in JSON, as before
      expect(((await res.json()) as { result: { protocolVersion: string } }).result.protocolVersion).toBe(version);
    }
  });

  it("server/discover names the versions served; an unknown version is refused with the list", async () => {
    const discover = await modernPost(mcpUrl(), reader, { method: "server/discover" });
    expect(discover.status).toBe(200);
    const text = await discover.text();
    expect(text).toContain(`"supportedVersions":["${MODERN}"]`);
    const unknown = await fetch(mcpUrl(), {
      method: "POST",
      headers: {
        Authorization: `Bearer ${reader}`,
        "Content-Type": "application/json",
        Accept: "application/json, text/event-stream",
        "MCP-Protocol-Version": "2099-01-01",
        "Mcp-Method": "server/discover",
      },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "server/discover", params: { _meta: { [ENVELOPE]: "2099-01-01" } } }),
    });
    expect(unknown.status).toBe(400);
    expect(JSON.stringify(await unknown.json())).toContain(MODERN);
  });

  it("the tool list never changes: subscriptions/listen is acknowledged and closed at once, not held open", async () => {
    const res = await modernPost(mcpUrl(), reader, {
      method: "subscriptions/listen",
      params: { notifications: { toolsListChanged: true } },
    });
    expect(res.status).toBe(200);
    const text = await res.text(); // resolves: the stream ends
    expect(text).toContain("notifications/subscriptions/acknowledged");
    expect(text).toContain('"resultType":"complete"');
  });

  it("on 2026-07-28 too: a tool the key lacks the scope for → 403 insufficient_scope; no key → 401; headers that lie → 400", async () => {
    const lacking = await modernPost(
      mcpUrl(),
      reader,
      { method: "tools/call", params: { name: "notes_add", arguments: { text: "x" } } },
      { "Mcp-Name": "notes_add" },
    );
    expect(lacking.status).toBe(403);
    expect(lacking.headers.get("www-authenticate")).toContain('error="insufficient_scope", scope="mcp:write"');
    const anonymous = await modernPost(mcpUrl(), "", { method: "server/discover" }, { Authorization: "" });
    expect(anonymous.status).toBe(401);
    // The SDK checks the standard headers against the body on /mcp.
    const lying = await modernPost(
      mcpUrl(),
      writer,
      { method: "tools/call", params: { name: "whoami", arguments: {} } },
      { "Mcp-Name": "notes_add" },
    );
    expect(lying.status).toBe(400);
    const wrongMethod = await modernPost(
      mcpUrl(),
      writer,
      { method: "tools/call", params: { name: "whoami", arguments: {} } },
      { "Mcp-Method": "tools/list" },
    );
    expect(wrongMethod.status).toBe(400);
    const wrongVersion = await modernPost(
      mcpUrl(),
      writer,
      { method: "tools/call", params: { name: "whoami", arguments: {} } },
      { "Mcp-Name": "whoami", "MCP-Protocol-Version": "2025-11-25" },
    );
    expect(wrongVersion.status).toBe(400);
    const agreeing = await modernPost(
      mcpUrl(),
      writer,
      { method: "tools/call", params: { name: "whoami", arguments: {} } },
      { "Mcp-Name": "whoami" },
    );
    expect(agreeing.status).toBe(200);
  });
});

describe("a 2026-07-28 client and revocation", () => {
  it("a key revoked mid-connection is refused on the next request, at /mcp and through the gateway", async () => {
    for (const url of [mcpUrl(), gatewayUrl("modern")]) {
      const { raw, key } = await server.services.keys.mint(
        { userId: user.id, label: "doomed", source: "portal", scopes: ["mcp:read"] },
        BY_OPERATOR,
      );
      const client = await connectV2(url, raw, { pin: MODERN });
      try {
        await client.listTools();
        await server.services.keys.revoke({ kind: "own", userId: user.id, id: key.id }, BY_OPERATOR);
        await expect(client.listTools()).rejects.toThrow(/401|revoked|nauthorized/i);
      } finally {
        await client.close().catch(() => undefined);
      }
    }
  });
});

describe("Mcp-Name values as sent", () => {
  it("plain values stay; =?base64?…?= is decoded only when canonical Base64 of UTF-8", () => {
    expect(decodeHeaderValue("echo")).toBe("echo");
    expect(decodeHeaderValue(base64Name("résumé"))).toBe("résumé");
    expect(decodeHeaderValue("=?base64??=")).toBe("");
    expect(decodeHeaderValue("=?base64?ZWNobw?=")).toBeUndefined(); // padding missing
    expect(decodeHeaderValue("=?base64?ZW Nobw==?=")).toBeUndefined();
    expect(decodeHeaderValue("=?base64?/w==?=")).toBeUndefined(); // 0xFF is not UTF-8
    expect(decodeHeaderValue("=?base64?ZWNobw==")).toBe("=?base64?ZWNobw=="); // no sentinel end: a plain value
  });
});

describe("odd 2026-07-28 requests at /mcp", () => {
  it("are answered 2xx or 4xx, never 5xx, and never run a tool the key lacks the scope for", async () => {
    const meta = {
      [ENVELOPE]: MODERN,
      "io.modelcontextprotocol/clientInfo": { name: "raw", version: "1" },
      "io.modelcontextprotocol/clientCapabilities": {},
    };
    const bodies: [unknown, Record<string, string>][] = [
      [{ jsonrpc: "2.0", id: 1, method: "tools/list", params: { _meta: { [ENVELOPE]: 42 } } }, {}],
      [{ jsonrpc: "2.0", id: 1, method: "tools/list", params: { _meta: { [ENVELOPE]: MODERN } } }, {}],
      [{ jsonrpc: "2.0", id: 1, method: "tools/list", params: { _meta: "x" } }, {}],
      [{ jsonrpc: "2.0", id: 1, method: "tools/list" }, {}], // modern header, no envelope
      [
        {
          jsonrpc: "2.0",
          id: 1,
          method: "initialize",
          params: { _meta: meta, protocolVersion: MODERN, capabilities: {}, clientInfo: { name: "x", version: "1" } },
        },
        {},
      ],
      [[{ jsonrpc: "2.0", id: 1, method: "tools/list", params: { _meta: meta } }], {}],
      [{ jsonrpc: "2.0", method: "notifications/cancelled", params: { _meta: meta, requestId: 1 } }, {}],
      [{ jsonrpc: "2.0", id: 1, result: {} }, {}],
      [{ jsonrpc: "2.0", id: 1, method: "no/such/method", params: { _meta: meta } }, {}],
      [
        { jsonrpc: "2.0", id: 1, method: "tools/call", params: { _meta: meta, name: "no_such_tool", arguments: {} } },
        { "Mcp-Name": "no_such_tool" },
      ],
      [
        { jsonrpc: "2.0", id: 1, method: "tools/call", params: { _meta: meta, name: "notes_add", arguments: { text: "" } } },
        { "Mcp-Name": "notes_add" },
      ],
      [{ jsonrpc: "2.0", id: 1, method: "tools/call", params: { _meta: meta, name: "whoami" } }, { "Mcp-Name": "=?base64?%%%?=" }],
      [{ jsonrpc: "2.0", id: { x: 1 }, method: "tools/list", params: { _meta: meta } }, {}],
      [{ jsonrpc: "2.0", id: 1, method: "subscriptions/listen", params: { _meta: meta } }, {}],
    ];
    for (const [body, headers] of bodies) {
      const method =
        !Array.isArray(body) && typeof (body as { method?: unknown }).method === "string"
          ? (body as { method: string }).method
          : "tools/list";
      const res = await fetch(mcpUrl(), {
        method: "POST",
        headers: {
          Authorization: `Bearer ${writer}`,
          "Content-Type": "application/json",
          Accept: "application/json, text/event-stream",
          "MCP-Protocol-Version": MODERN,
          "Mcp-Method": method,
          ...headers,
        },
        body: JSON.stringify(body),
      });
      const text = await res.text();
      expect(res.status, `${JSON.stringify(body)} → ${res.status} ${text}`).toBeLessThan(500);
    }
    // notes_add with a read-only key, hidden in a batch or behind a lying header: never runs.
    const before = await server.services.db.note.count();
    const hidden = await fetch(mcpUrl(), {
      method: "POST",
      headers: {
        Authorization: `Bearer ${reader}`,
        "Content-Type": "application/json",
        Accept: "application/json, text/event-stream",
        "MCP-Protocol-Version": MODERN,
        "Mcp-Method": "tools/call",
        "Mcp-Name": "whoami",
      },
      body: JSON.stringify({
        jsonrpc: "2.0",
        id: 1,
        method: "tools/call",
        params: { _meta: meta, name: "notes_add", arguments: { text: "sneaky" } },
      }),
    });
    expect(hidden.status).toBe(403);
    expect(await server.services.db.note.count()).toBe(before);
  });
});

describe("the gateway", () => {
  it("a v2 client pinned to 2026-07-28 reaches an upstream on the SDK v2: tools, a prompt with a non-ASCII name, the standard headers passed on", async () => {
    const before = modern.received.length;
    const client = await connectV2(gatewayUrl("modern"), reader, { pin: MODERN });
    try {
      expect(client.getNegotiatedProtocolVersion()).toBe(MODERN);
      const { tools } = await client.listTools();
      expect(tools.map((t) => t.name)).toEqual(["echo", "wipe"]);
      const echoed = await client.callTool({ name: "echo", arguments: { message: "hello" } });
      expect(JSON.stringify(echoed.content)).toContain("echo: hello");
      // A name outside printable ASCII: the client sends Mcp-Name Base64-encoded; the gateway compares it decoded.
      const prompt = await client.getPrompt({ name: "résumé" });
      expect(JSON.stringify(prompt.messages)).toContain("les données");
    } finally {
      await client.close();
    }
    const seen = modern.received.slice(before);
    expect(seen).toContainEqual({ method: "tools/call", name: "echo", protocolVersion: MODERN, userId: user.id });
    expect(seen).toContainEqual({ method: "prompts/get", name: base64Name("résumé"), protocolVersion: MODERN, userId: user.id });
  });

  it("per-tool scopes on 2026-07-28: a mapped tool the key lacks → 403 (with or without the headers), with the scope → 200", async () => {
    const before = modern.received.length;
    const call = { method: "tools/call", params: { name: "wipe", arguments: {} } };
    const headerSets: Record<string, string>[] = [{ "Mcp-Name": "wipe" }, { "Mcp-Name": base64Name("wipe") }, { "Mcp-Method": "" }];
    for (const headers of headerSets) {
      const res = await modernPost(gatewayUrl("modern"), reader, call, headers);
      expect(res.status, JSON.stringify(headers)).toBe(403);
      expect(res.headers.get("www-authenticate")).toContain('error="insufficient_scope", scope="mcp:write"');
    }
    expect(modern.received.length).toBe(before);
    const client = await connectV2(gatewayUrl("modern"), reader, { pin: MODERN });
    try {
      await expect(client.callTool({ name: "wipe", arguments: {} })).rejects.toThrow();
    } finally {
      await client.close();
    }
    const allowed = await modernPost(gatewayUrl("modern"), writer, call, { "Mcp-Name": "wipe" });
    expect(allowed.status).toBe(200);
    expect(await allowed.text()).toContain("wiped");
  });

  it("headers that disagree with the body are refused (400) before the upstream sees them", async () => {
    const before = modern.received.length;
    type Message = { method: string; params?: Record<string, unknown> };
    const echo: Message = { method: "tools/call", params: { name: "echo", arguments: { message: "x" } } };
    const wipe: Message = { method: "tools/call", params: { name: "wipe", arguments: {} } };
    const cases: [Message, Record<string, string>][] = [
      [wipe, { "Mcp-Name": "echo" }], // the header names an allowed tool, the body calls a mapped one
      [echo, { "Mcp-Name": base64Name("wipe") }], // the same, Base64-encoded
      [{ method: "tools/call", params: { name: base64Name("echo"), arguments: {} } }, { "Mcp-Name": base64Name("echo") }], // the literal sentinel in the body is not the decoded name
      [echo, { "Mcp-Name": "=?base64?not base64!?=" }], // broken encoding
      [echo, { "Mcp-Method": "tools/list" }],
      [{ method: "tools/list" }, { "Mcp-Name": "echo" }], // tools/list names nothing
      [echo, { "Mcp-Name": "echo", "MCP-Protocol-Version": "2025-11-25" }], // the envelope says 2026-07-28
    ];
    for (const [message, headers] of cases) {
      const res = await modernPost(gatewayUrl("modern"), writer, message, headers);
      expect(res.status, JSON.stringify(headers)).toBe(400);
      expect(((await res.json()) as { error: string }).error).toBe("invalid_request");
    }
    expect(modern.received.length).toBe(before);
    // Agreeing headers pass, plain or encoded, and so does Mcp-Name for a task id (tasks/get names params.taskId).
    const agreeing: Record<string, string>[] = [{ "Mcp-Name": "echo" }, { "Mcp-Name": base64Name("echo") }];
    for (const headers of agreeing) {
      const res = await modernPost(gatewayUrl("modern"), writer, echo, headers);
      expect(res.status, JSON.stringify(headers)).toBe(200);
      await res.body?.cancel();
    }
    const task = await modernPost(gatewayUrl("modern"), writer, { method: "tasks/get", params: { taskId: "t-1" } }, { "Mcp-Name": "t-1" });
    await task.body?.cancel();
    expect(modern.received.at(-1)).toMatchObject({ method: "tasks/get", name: "t-1" });
  });

  it("older clients through the gateway: the v1 client to the v2 upstream, the negotiating v2 client to server-everything (2025-era) falls back", async () => {
    const v1 = await connectV1(gatewayUrl("modern"), reader);
    try {
      expect(JSON.stringify((await v1.callTool({ name: "echo", arguments: { message: "v1" } })).content)).toContain("echo: v1");
    } finally {
      await v1.close();
    }
    const v2 = await connectV2(gatewayUrl("everything"), reader, "auto");
    try {
      expect(v2.getProtocolEra()).toBe("legacy");
      const echoed = await v2.callTool({ name: "echo", arguments: { message: "fell back" } });
      expect(JSON.stringify(echoed.content)).toContain("fell back");
    } finally {
      await v2.close();
    }
    // Pinned to 2026-07-28, the same client is told the upstream does not speak it (no silent downgrade).
    await expect(connectV2(gatewayUrl("everything"), reader, { pin: MODERN })).rejects.toThrow(/pinned protocol version 2026-07-28/);
  });

  it("server-everything with the headers and without: agreeing headers pass, lying ones → 400, the body decides without them", async () => {
    const truthful = await connectV1(gatewayUrl("everything"), reader, (tool) => tool);
    try {
      expect(JSON.stringify((await truthful.callTool({ name: "echo", arguments: { message: "told" } })).content)).toContain("told");
      await expect(truthful.callTool({ name: "get-sum", arguments: { a: 1, b: 2 } })).rejects.toMatchObject({ code: 403 });
    } finally {
      await truthful.close();
    }
    const liar = await connectV1(gatewayUrl("everything"), reader, () => "echo");
    try {
      await expect(liar.callTool({ name: "get-sum", arguments: { a: 1, b: 2 } })).rejects.toMatchObject({ code: 400 });
    } finally {
      await liar.close();
    }
    const silent = await connectV1(gatewayUrl("everything"), reader);
    try {
      await expect(silent.callTool({ name: "get-sum", arguments: { a: 1, b: 2 } })).rejects.toMatchObject({ code: 403 });
    } finally {
      await silent.close();
    }
    const allowed = await connectV1(gatewayUrl("everything"), writer, (tool) => tool);
    try {
      expect(JSON.stringify((await allowed.callTool({ name: "get-sum", arguments: { a: 1, b: 2 } })).content)).toContain("3");
    } finally {
      await allowed.close();
    }
  });

  it("a stdio resource: the negotiating v2 client lands on 2026-07-28 (the gateway serves it), in legacy mode it keeps a 2025-era session", async () => {
    // The stdio server speaks 2025-era only; the gateway answers 2026-07-28 for it (test/gateway-stdio-modern.test.ts).
    for (const [mode, era] of [
      ["auto", "modern"],
      ["legacy", "legacy"],
    ] as const) {
      const client = await connectV2(gatewayUrl("stdio"), reader, mode);
      try {
        expect(client.getProtocolEra()).toBe(era);
        const echoed = await client.callTool({ name: "echo", arguments: { message: "over stdio" } });
        expect(JSON.stringify(echoed.content)).toContain("over stdio");
      } finally {
        await client.close();
      }
    }
  });
});
