// Issue 26 item 3: mcp-remote (0.15.1), the stdio proxy desktop hosts run for remote servers, driven
// for real: spawned as a host would spawn it, it discovers, registers, prints the authorization URL
// (the test plays the user with an HTTP agent instead of a browser), takes the code on its loopback
// callback, and proxies tools/call with the key. When the key is revoked it gets a 401 and
// authorizes again with the client it registered (no new registration).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { signUp, startTestServer, type TestServer } from "./support/server.js";
import { authorizeAt } from "./support/oauth/flow.js";

const CALLBACK_PORT = "4655";
const MCP_REMOTE = path.resolve("node_modules/mcp-remote/dist/proxy.js");

let server: TestServer;
let configDir: string;
beforeAll(async () => {
  server = await startTestServer();
  configDir = mkdtempSync(path.join(tmpdir(), "keyward-mcp-remote-"));
});
afterAll(async () => {
  await server?.close();
  if (configDir) rmSync(configDir, { recursive: true, force: true });
});

/** Every authorization URL mcp-remote printed, in order, as they come. */
function authorizationUrls(stderr: Readable) {
  const urls: string[] = [];
  const waiters: (() => void)[] = [];
  let text = "";
  stderr.on("data", (chunk: Buffer) => {
    text += chunk.toString("utf8");
    for (const m of text.matchAll(/Please authorize this client by visiting:\s+(\S+)/g)) if (!urls.includes(m[1]!)) urls.push(m[1]!);
    waiters.splice(0).forEach((w) => w());
  });
  return {
    urls,
    log: () => text,
    async next(count: number, timeoutMs = 30_000): Promise<string> {
      const until = Date.now() + timeoutMs;
      while (urls.length < count) {
        if (Date.now() > until) throw new Error(`mcp-remote printed no authorization URL #${count}:\n${text.slice(-3000)}`);
        await new Promise<void>((r) => {
          waiters.push(r);
          setTimeout(r, 500);
        });
      }
      return urls[count - 1]!;
    },
  };
}

/** Brings the code to mcp-remote's callback, as the browser would (it may still be starting to listen: a person is slower). */
async function deliver(callback: URL): Promise<number> {
  for (let i = 0; ; i++) {
    try {
      return (await fetch(callback)).status;
    } catch (err) {
      if (i >= 40) throw err;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

describe("mcp-remote", () => {
  it("authorizes through its printed URL and loopback callback, proxies whoami, and re-authorizes on 401", async () => {
    const { agent, email } = await signUp(server);
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [MCP_REMOTE, `${server.url}/mcp`, CALLBACK_PORT, "--host", "127.0.0.1", "--auth-timeout", "60"],
      env: { ...process.env, MCP_REMOTE_CONFIG_DIR: configDir, BROWSER: "true", DISPLAY: "" } as Record<string, string>,
      stderr: "pipe",
    });
    const printed = authorizationUrls(transport.stderr as Readable);
    const client = new Client({ name: "desktop-host", version: "1" });
    const connecting = client.connect(transport);

    const first = new URL(await printed.next(1));
    expect(`${first.origin}${first.pathname}`).toBe(`${server.url}/auth`);
    expect(first.searchParams.get("redirect_uri")).toBe(`http://127.0.0.1:${CALLBACK_PORT}/oauth/callback`);
    expect(first.searchParams.get("code_challenge_method")).toBe("S256");
    expect(first.searchParams.get("resource")).toBe(`${server.url}/mcp`);
    const clientId = first.searchParams.get("client_id")!;
    expect(clientId).toMatch(/^dcr_/);
    const back = await authorizeAt(agent, server, first.href);
    expect(await deliver(back)).toBeLessThan(400); // the code reaches mcp-remote's callback
    await connecting;

    const who = await client.callTool({ name: "whoami", arguments: {} });
    const text = (who.content as { text: string }[])[0]!.text;
    expect(text).toContain(email);
    expect(text).toContain(`OAuth: ${clientId}`);

    // Disconnect the app: its key is revoked, the next call is a 401, mcp-remote asks again.
    const key = await server.services.db.apiKey.findFirstOrThrow({ where: { clientId } });
    await server.services.keys.revoke({ kind: "client", clientId }, { actor: { type: "cli" }, via: "cli" });
    // (mcp-remote may print the first URL more than once while it connects: count from here.)
    const seen = printed.urls.length;
    const calling = client.callTool({ name: "whoami", arguments: {} }).catch((err: unknown) => err);
    const second = new URL(await printed.next(seen + 1, 45_000));
    expect(second.searchParams.get("client_id")).toBe(clientId); // the same registration, not a new one
    const again = await authorizeAt(agent, server, second.href);
    expect(await deliver(again)).toBeLessThan(400);
    const retried = await calling;
    const after = retried instanceof Error ? await client.callTool({ name: "whoami", arguments: {} }) : retried;
    expect(JSON.stringify(after)).toContain(email);
    const keys = await server.services.db.apiKey.findMany({ where: { clientId } });
    expect(keys.length).toBe(2);
    expect(keys.find((k) => k.id === key.id)?.revokedAt).not.toBeNull();
    await client.close();
  }, 120_000);
});
