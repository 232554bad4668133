// The gateway in front of stdio MCP servers (src/gateway/stdio/), driven by the official MCP SDK client:
// the real server-everything (stdio mode) and server-filesystem, plus a probe server of ours
// (test/support/stdio-probe-server.mjs) that reports its environment and keeps a value in memory.
// Proven from the outside: tools through the gateway, one process per user session (state of one user
// invisible to another, another user's session id answered as a missing one), the clean environment,
// tool scopes, crash → 404 → re-initialize, caps → 503 with Retry-After, revocation ends the process
// and the next request is 401, idle stop, stderr to the log, and every child ended when the server stops.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { UnauthorizedError } from "@modelcontextprotocol/sdk/client/auth.js";
import { signUp, startTestServer, uniqueEmail, type TestServer } from "./support/server.js";
import { decideOnConsent, follow } from "./support/oauth/flow.js";
import { RecordingOAuthProvider } from "./support/oauth/mcp-sdk-provider.js";
import { BY_OPERATOR } from "./support/acting.js";
import type { PublicUser } from "../src/accounts/users.js";
import { alive, until } from "./support/waiting.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const PROBE = ["node", path.join(root, "test/support/stdio-probe-server.mjs")];
const EVERYTHING = ["node", path.join(root, "node_modules/@modelcontextprotocol/server-everything/dist/index.js"), "stdio"];
const FILESYSTEM = ["node", path.join(root, "node_modules/@modelcontextprotocol/server-filesystem/dist/index.js")];
const BY = { actor: { type: "cli" as const } };

let server: TestServer;
let filesDir: string;
const saved = { DATABASE_URL: process.env.DATABASE_URL, COOKIE_SECRET: process.env.COOKIE_SECRET };

beforeAll(async () => {
  // Set in Keyward's own environment: a child must not see them.
  process.env.DATABASE_URL = "postgresql://secret-user:secret-password@db.invalid/keyward";
  process.env.COOKIE_SECRET = "cookie-secret-that-must-not-leak-0123456789";
  server = await startTestServer({
    GATEWAY_STDIO_MAX_PER_RESOURCE: "3",
    GATEWAY_STDIO_SESSIONS_PER_USER: "2",
    GATEWAY_STDIO_CHECK_SECONDS: "0.2",
  });
  filesDir = fs.mkdtempSync(path.join(server.dir, "files-"));
  const add = (slug: string, command: string[], extra: { env?: Record<string, string>; toolScopes?: Record<string, string> } = {}) =>
    server.services.resources.add({ slug, name: `The ${slug} server`, command, cwd: root, ...extra }, BY);
  await add("probe", PROBE, { env: { PROBE_SETTING: "on" }, toolScopes: { remember: "mcp:write" } });
  await add("capped", PROBE);
  await add("everything", EVERYTHING);
  await add("files", [...FILESYSTEM, filesDir]);
  await add("changing", PROBE, { env: { PROBE_SETTING: "before" } });
  await add("missing", ["/nonexistent/keyward-test-program"]);
}, 60_000);
afterAll(async () => {
  await server?.close();
  for (const [name, value] of Object.entries(saved))
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
});

const gatewayUrl = (slug: string, s: TestServer = server) => `${s.config.baseUrl}/mcp/${slug}`;

async function newUser(s: TestServer = server): Promise<PublicUser> {
  return s.services.users.create(uniqueEmail("stdio"), "correct horse battery");
}

async function mint(user: PublicUser, scopes: string[] = ["mcp:read", "mcp:write"], s: TestServer = server) {
  return s.services.keys.mint({ userId: user.id, label: "sdk", source: "portal", scopes }, BY_OPERATOR);
}

async function connect(slug: string, raw: string, s: TestServer = server) {
  const client = new Client({ name: "keyward-stdio-test", version: "1.0.0" });
  const transport = new StreamableHTTPClientTransport(new URL(gatewayUrl(slug, s)), {
    requestInit: { headers: { Authorization: `Bearer ${raw}` } },
  });
  await client.connect(transport);
  return { client, transport };
}

const textOf = (result: unknown) => (result as { content: { text: string }[] }).content[0]!.text;

/** Ends the session (DELETE: its process ends) and the client, as a host that is done does. */
async function finish(c: { client: Client; transport: StreamableHTTPClientTransport }): Promise<void> {
  await c.transport.terminateSession().catch(() => undefined);
  await c.client.close();
}

async function probeEnv(client: Client): Promise<{ pid: number; cwd: string; env: Record<string, string> }> {
  return JSON.parse(textOf(await client.callTool({ name: "environment", arguments: {} }))) as {
    pid: number;
    cwd: string;
    env: Record<string, string>;
  };
}

/** A raw JSON-RPC POST on a session (what a host sends after initialize). */
function post(slug: string, raw: string, sessionId: string | undefined, body: unknown) {
  return fetch(gatewayUrl(slug), {
    method: "POST",
    headers: {
      Authorization: `Bearer ${raw}`,
      "Content-Type": "application/json",
      Accept: "application/json, text/event-stream",
      "Mcp-Protocol-Version": "2025-06-18",
      ...(sessionId ? { "Mcp-Session-Id": sessionId } : {}),
    },
    body: JSON.stringify(body),
  });
}

const INITIALIZE = {
  jsonrpc: "2.0",
  id: 0,
  method: "initialize",
  params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "raw", version: "1" } },
};

describe("real stdio MCP servers through the gateway", () => {
  it("server-everything: initialize, tools/list, echo and a sum, in the user's own process", async () => {
    const user = await newUser();
    const { raw } = await mint(user);
    const { client, transport } = await connect("everything", raw);
    expect(transport.sessionId).toMatch(/^[0-9a-f-]{36}$/);
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name)).toEqual(expect.arrayContaining(["echo", "get-sum"]));
    expect(textOf(await client.callTool({ name: "echo", arguments: { message: "over stdio" } }))).toContain("over stdio");
    expect(textOf(await client.callTool({ name: "get-sum", arguments: { a: 2, b: 40 } }))).toContain("42");
    const mine = server.services.stdioProcesses.list().filter((p) => p.userId === user.id && p.resource === "everything");
    expect(mine).toHaveLength(1);
    expect(mine[0]!.sessionId).toBe(transport.sessionId);
    await transport.terminateSession(); // DELETE ends the session and its process
    await until(() => !server.services.stdioProcesses.list().some((p) => p.sessionId === transport.sessionId), "the process to end");
    await client.close();
  });

  it("server-filesystem: writes and reads a file in the directory its command names", async () => {
    const { raw } = await mint(await newUser());
    const c = await connect("files", raw);
    const { client } = c;
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name)).toEqual(expect.arrayContaining(["read_text_file", "write_file"]));
    const file = path.join(fs.realpathSync(filesDir), "note.txt");
    await client.callTool({ name: "write_file", arguments: { path: file, content: "written through Keyward" } });
    expect(fs.readFileSync(file, "utf8")).toBe("written through Keyward");
    expect(textOf(await client.callTool({ name: "read_text_file", arguments: { path: file } }))).toContain("written through Keyward");
    await finish(c);
  });
});

describe("OAuth from the gateway URL of a stdio resource", () => {
  it("the MCP SDK client discovers, registers, gets consent and a key bound to the resource, then runs the user's process", async () => {
    const person = await signUp(server);
    const provider = new RecordingOAuthProvider({ redirectUrl: "http://127.0.0.1:33418/callback", clientName: "stdio OAuth test" });
    const transport = () => new StreamableHTTPClientTransport(new URL(gatewayUrl("probe")), { authProvider: provider });
    const first = transport();
    await expect(new Client({ name: "oauth", version: "1" }).connect(first)).rejects.toBeInstanceOf(UnauthorizedError);
    const authUrl = provider.lastAuthorizationUrl;
    expect(authUrl.searchParams.get("resource")).toBe(gatewayUrl("probe"));
    const consent = await follow(person.agent, server, `${authUrl.pathname}${authUrl.search}`);
    expect(consent.text).toContain("The probe server");
    const back = await decideOnConsent(person.agent, server, consent);
    await first.finishAuth(back.searchParams.get("code")!);

    const c = { client: new Client({ name: "oauth", version: "1" }), transport: transport() };
    await c.client.connect(c.transport);
    const { env } = await probeEnv(c.client);
    const user = (await server.services.users.findByEmail(person.email))!;
    expect(env.KEYWARD_USER_ID).toBe(user.id);
    const key = (await server.services.keys.list(user.id)).find((k) => k.source === "oauth")!;
    expect(key.resources).toEqual([gatewayUrl("probe")]);
    expect(JSON.stringify(env)).not.toContain(provider.accessToken);
    await finish(c);
  });
});

describe("one process per user session", () => {
  it("two users get two processes: what one keeps in memory the other never sees; another user's session id is a missing one", async () => {
    const [alice, bob] = [await newUser(), await newUser()];
    const a = await connect("probe", (await mint(alice)).raw);
    const b = await connect("probe", (await mint(bob)).raw);
    const [envA, envB] = [await probeEnv(a.client), await probeEnv(b.client)];
    expect(envA.pid).not.toBe(envB.pid);
    await a.client.callTool({ name: "remember", arguments: { value: "alice's secret" } });
    expect(textOf(await b.client.callTool({ name: "recall", arguments: {} }))).toBe("(nothing)");
    expect(textOf(await a.client.callTool({ name: "recall", arguments: {} }))).toBe("alice's secret");

    // Bob's key on Alice's session id: exactly the answer for a session that does not exist.
    const bobKey = (await mint(bob)).raw;
    const recall = { jsonrpc: "2.0", id: 7, method: "tools/call", params: { name: "recall", arguments: {} } };
    const stolen = await post("probe", bobKey, a.transport.sessionId, recall);
    const missing = await post("probe", bobKey, "00000000-0000-4000-8000-000000000000", recall);
    expect(stolen.status).toBe(404);
    expect(missing.status).toBe(404);
    expect(await stolen.text()).toBe(await missing.text());
    // Alice's own weaker key (no mcp:write) cannot borrow the session her stronger key opened.
    const weaker = (await mint(alice, ["mcp:read"])).raw;
    expect((await post("probe", weaker, a.transport.sessionId, recall)).status).toBe(404);
    await finish(a);
    await finish(b);
  });

  it("a request without a session must be an initialize (400); a tool's scope is checked as for http resources (403)", async () => {
    const user = await newUser();
    const readOnly = (await mint(user, ["mcp:read"])).raw;
    const res = await post("probe", readOnly, undefined, { jsonrpc: "2.0", id: 1, method: "tools/list" });
    expect(res.status).toBe(400);
    // An initialize the transport refuses (it does not accept an SSE answer): 406, and no process is left behind.
    const refused = await fetch(gatewayUrl("probe"), {
      method: "POST",
      headers: { Authorization: `Bearer ${readOnly}`, "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify(INITIALIZE),
    });
    expect(refused.status).toBe(406);
    await until(() => !server.services.stdioProcesses.list().some((p) => p.userId === user.id), "the unreachable process to end");
    const c = await connect("probe", readOnly);
    const { client } = c;
    await expect(client.callTool({ name: "remember", arguments: { value: "x" } })).rejects.toThrow(/403|insufficient_scope/);
    expect(textOf(await client.callTool({ name: "recall", arguments: {} }))).toBe("(nothing)");
    await finish(c);
  });

  it("the process's environment: who it serves and the resource's variables; nothing of the key or of Keyward's own", async () => {
    const user = await newUser();
    const { raw, key } = await mint(user, ["mcp:read"]);
    const c = await connect("probe", raw);
    const { client } = c;
    const { env, cwd } = await probeEnv(client);
    expect(env.KEYWARD_USER_ID).toBe(user.id);
    expect(env.KEYWARD_USER_EMAIL).toBe(user.email);
    expect(env.KEYWARD_ORGANIZATION_ID).toBe(key.organizationId);
    expect(env.KEYWARD_SCOPES!.split(" ")).toContain("mcp:read");
    expect(env.PROBE_SETTING).toBe("on");
    expect(cwd).toBe(root);
    expect(env.DATABASE_URL).toBeUndefined();
    expect(env.COOKIE_SECRET).toBeUndefined();
    const names = Object.keys(env).filter((n) => !n.startsWith("KEYWARD_"));
    // Only the SDK's default set (HOME, LOGNAME, PATH, SHELL, TERM, USER), LANG, the resource's own, and what Node adds.
    for (const name of names) expect(["HOME", "LOGNAME", "PATH", "SHELL", "TERM", "USER", "LANG", "PROBE_SETTING"]).toContain(name);
    const all = JSON.stringify(env);
    expect(all).not.toContain(raw);
    expect(all).not.toContain(raw.slice(-12));
    expect(all).not.toContain(key.id);
    expect(all).not.toContain(process.env.COOKIE_SECRET!);
    await finish(c);
  });

  it("an app key is refused with 403 (a stdio process serves one person)", async () => {
    const { orgs, keys } = server.services;
    const owner = await newUser();
    const team = await orgs.create(owner.id, "Stdio team");
    const app = await orgs.createApp(team.id, "Robot");
    const { raw } = await keys.mint(
      { userId: owner.id, organizationId: team.id, appId: app.id, label: "app", source: "portal" },
      BY_OPERATOR,
    );
    const res = await post("probe", raw, undefined, INITIALIZE);
    expect(res.status).toBe(403);
    expect(((await res.json()) as { error: string }).error).toBe("access_denied");
  });
});

describe("the processes' life", () => {
  it("a crashed process: its session answers 404 (the host initializes again) and the next session starts a new one", async () => {
    const { raw } = await mint(await newUser());
    const first = await connect("probe", raw);
    const { pid } = await probeEnv(first.client);
    process.kill(pid, "SIGKILL");
    await until(() => !server.services.stdioProcesses.list().some((p) => p.pid === pid), "the crash to be noticed");
    const res = await post("probe", raw, first.transport.sessionId, { jsonrpc: "2.0", id: 3, method: "tools/list" });
    expect(res.status).toBe(404);
    const second = await connect("probe", raw);
    expect((await probeEnv(second.client)).pid).not.toBe(pid);
    await first.client.close();
    await finish(second);
  });

  it("caps: a user's third session ends their oldest; a resource over its cap answers 503 with Retry-After", async () => {
    const [carol, dave, erin] = [await newUser(), await newUser(), await newUser()];
    const carolKey = (await mint(carol)).raw;
    const one = await connect("capped", carolKey);
    const two = await connect("capped", carolKey);
    const three = await connect("capped", carolKey);
    const carols = () => server.services.stdioProcesses.list().filter((p) => p.resource === "capped" && p.userId === carol.id);
    await until(() => carols().length === 2, "carol's oldest session to end");
    expect((await post("capped", carolKey, one.transport.sessionId, { jsonrpc: "2.0", id: 1, method: "tools/list" })).status).toBe(404);
    expect((await two.client.listTools()).tools.length).toBeGreaterThan(0);
    const d = await connect("capped", (await mint(dave)).raw); // 3 processes: the cap
    const refused = await post("capped", (await mint(erin)).raw, undefined, INITIALIZE);
    expect(refused.status).toBe(503);
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect(((await refused.json()) as { error: string }).error).toBe("temporarily_unavailable");
    expect(server.services.stdioProcesses.list().filter((p) => p.resource === "capped")).toHaveLength(3);
    // The probe resource has its own count.
    const other = await connect("probe", (await mint(erin)).raw);
    for (const c of [one, two, three, d, other]) await finish(c);
  });

  it("revoking the user's last key for the resource ends the process; the next request is 401", async () => {
    const user = await newUser();
    const { raw, key } = await mint(user);
    const { client, transport } = await connect("probe", raw);
    const { pid } = await probeEnv(client);
    await server.services.keys.revoke({ kind: "own", userId: user.id, id: key.id }, BY_OPERATOR);
    await until(() => !alive(pid), "the process to end after revocation");
    expect(server.services.stdioProcesses.list().some((p) => p.userId === user.id)).toBe(false);
    const res = await post("probe", raw, transport.sessionId, { jsonrpc: "2.0", id: 3, method: "tools/list" });
    expect(res.status).toBe(401);
    await client.close();
  });

  it("operators: disabling the user ends the process; the next request is 401", async () => {
    const { createOperators } = await import("../src/admin/operators.js");
    const user = await newUser();
    const { raw } = await mint(user);
    const { client, transport } = await connect("probe", raw);
    const { pid } = await probeEnv(client);
    await createOperators(server.services.db, server.services.audit).disable(user.id, BY);
    await until(() => !alive(pid), "the process to end after the disabling");
    expect((await post("probe", raw, transport.sessionId, { jsonrpc: "2.0", id: 3, method: "tools/list" })).status).toBe(401);
    await client.close();
  });

  it("removing the user from the organisation the key acts in ends the process; the next request is 401", async () => {
    const { orgs, keys } = server.services;
    const owner = await newUser();
    const member = await newUser();
    await orgs.ensurePersonal(member.id);
    const team = await orgs.create(owner.id, "Stdio removal team");
    await server.services.db.membership.create({ data: { organizationId: team.id, userId: member.id, role: "member" } });
    const { raw } = await keys.mint({ userId: member.id, organizationId: team.id, label: "team", source: "portal" }, BY_OPERATOR);
    const { client, transport } = await connect("probe", raw);
    const { pid, env } = await probeEnv(client);
    expect(env.KEYWARD_ORGANIZATION_ID).toBe(team.id);
    await orgs.removeMember(team.id, "owner", member.id);
    await until(() => !alive(pid), "the process to end after the removal");
    expect((await post("probe", raw, transport.sessionId, { jsonrpc: "2.0", id: 3, method: "tools/list" })).status).toBe(401);
    await client.close();
  });

  it("a process keeps running while its user holds another key that works at the resource", async () => {
    const user = await newUser();
    const first = await mint(user);
    await mint(user); // a second key, for every resource
    const c = await connect("probe", first.raw);
    const { client } = c;
    const { pid } = await probeEnv(client);
    await server.services.keys.revoke({ kind: "own", userId: user.id, id: first.key.id }, BY_OPERATOR);
    await server.services.stdioProcesses.check();
    expect(alive(pid)).toBe(true);
    await finish(c);
  });

  it("a change of the resource's env ends its sessions' processes: the old session answers 404, a new one runs the new settings", async () => {
    const { raw } = await mint(await newUser());
    const before = await connect("changing", raw);
    const { pid, env } = await probeEnv(before.client);
    expect(env.PROBE_SETTING).toBe("before");
    await server.services.resources.update("changing", { env: { PROBE_SETTING: "after" } }, BY);
    expect((await post("changing", raw, before.transport.sessionId, { jsonrpc: "2.0", id: 1, method: "tools/list" })).status).toBe(404);
    await until(() => !alive(pid), "the old process to end");
    const after = await connect("changing", raw);
    expect((await probeEnv(after.client)).env.PROBE_SETTING).toBe("after");
    await before.client.close();
    await finish(after);
  });

  it("a command that cannot be started: 502 upstream_unavailable, and nothing left counted", async () => {
    const { raw } = await mint(await newUser());
    const res = await post("missing", raw, undefined, INITIALIZE);
    expect(res.status).toBe(502);
    expect(((await res.json()) as { error: string }).error).toBe("upstream_unavailable");
    expect(server.services.stdioProcesses.list().some((p) => p.resource === "missing")).toBe(false);
  });

  it("stderr goes to the log, tagged with the resource and the user", async () => {
    const user = await newUser();
    const c = await connect("probe", (await mint(user)).raw);
    const { client } = c;
    await client.callTool({ name: "shout", arguments: { line: "probe says hello on stderr" } });
    await until(() => server.logs.some((l) => l.includes("probe says hello on stderr")), "the stderr line in the log");
    const line = JSON.parse(server.logs.find((l) => l.includes("probe says hello on stderr"))!) as Record<string, unknown>;
    expect(line).toMatchObject({ resource: "probe", userId: user.id, stderr: "probe says hello on stderr" });
    await finish(c);
  });
});

describe("idle stop and shutdown", () => {
  let idle: TestServer;
  beforeAll(async () => {
    // Declared in RESOURCES_FILE, as docs/gateway.md shows.
    const file = path.join(fs.mkdtempSync(path.join(server.dir, "file-")), "resources.json");
    fs.writeFileSync(
      file,
      JSON.stringify({ resources: [{ slug: "probe", name: "Probe", command: PROBE, env: { PROBE_SETTING: "from the file" }, cwd: root }] }),
    );
    idle = await startTestServer({ GATEWAY_STDIO_IDLE_SECONDS: "0.5", RESOURCES_FILE: file });
  }, 60_000);
  afterAll(async () => idle?.close());

  it("a process with no request for the idle time ends; its session then answers 404", async () => {
    const { raw } = await mint(await newUser(idle), undefined, idle);
    const { client, transport } = await connect("probe", raw, idle);
    const { pid, env } = await probeEnv(client);
    expect(env.PROBE_SETTING).toBe("from the file");
    await transport.close(); // the SDK's GET stream would count as an open request
    await until(() => !alive(pid), "the idle process to end");
    const res = await fetch(gatewayUrl("probe", idle), {
      method: "POST",
      headers: {
        Authorization: `Bearer ${raw}`,
        "Content-Type": "application/json",
        Accept: "application/json, text/event-stream",
        "Mcp-Session-Id": transport.sessionId!,
      },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }),
    });
    expect(res.status).toBe(404);
  });

  it("stopping the server ends every child", async () => {
    const { raw } = await mint(await newUser(idle), undefined, idle);
    const { client } = await connect("probe", raw, idle);
    const { pid } = await probeEnv(client);
    expect(alive(pid)).toBe(true);
    await client.close();
    await idle.stop();
    expect(alive(pid)).toBe(false);
  });
});
