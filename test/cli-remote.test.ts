// `keyward api-keys create|list|revoke` against a remote server (no --user): the JSON API with a
// stored portal key or KEYWARD_TOKEN; and `keyward mcp-config`, which shares its snippets with the
// account page (src/mcp/host-configs.ts).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HOST_AUTHS, hostSnippet, MCP_HOSTS } from "../src/mcp/host-configs.js";
import { mintOnPage, signUp, startTestServer, type TestServer } from "./support/server.js";
import { expectError, keyward, keywardInProcess } from "./support/cli-run.js";
import { mcpStatus } from "./support/mcp-status.js";

const KEY = /^kw_user_[0-9A-Za-z]{49}$/;

describe("remote api-keys and mcp-config", () => {
  let server: TestServer;
  let user: Awaited<ReturnType<typeof signUp>>;
  let portal: string;
  let xdg: string;
  let env: Record<string, string>;

  beforeAll(async () => {
    server = await startTestServer();
    user = await signUp(server);
    portal = (await mintOnPage(user.agent, user.csrf, "manager")).raw;
    xdg = mkdtempSync(path.join(tmpdir(), "keyward-xdg-"));
    env = { XDG_CONFIG_HOME: xdg };
  });
  afterAll(async () => {
    await server?.close();
    if (xdg) rmSync(xdg, { recursive: true, force: true });
  });

  it("create, list and revoke with the key stored by auth set-token", async () => {
    expect((await keyward(["auth", "set-token", portal, "--server", server.url], { env })).code).toBe(0);
    const created = await keyward(["api-keys", "create", "remote ci", "--scopes", "mcp:read"], { env });
    expect(created.code, created.stderr).toBe(0);
    const raw = created.stdout.trim();
    expect(raw).toMatch(KEY);
    expect(created.stderr).toContain(`on ${server.url}`);
    expect(await mcpStatus(server, raw)).toBe(200);

    const list = await keyward(["api-keys", "list", "--json"], { env });
    expect(list.code, list.stderr).toBe(0);
    const keys = JSON.parse(list.stdout) as { id: string; label: string; scopes: string[]; status: string }[];
    const mine = keys.find((k) => k.label === "remote ci")!;
    expect(mine).toMatchObject({ scopes: ["mcp:read"], status: "active" });
    expect(list.stdout).not.toContain(raw);
    const table = await keyward(["api-keys", "list", "--server", server.url], { env });
    expect(table.stdout).toMatch(new RegExp(`^${mine.id}\\s+remote ci\\s+…${raw.slice(-4)}\\s+active`, "m"));

    const revoked = await keyward(["api-keys", "revoke", mine.id], { env });
    expect(revoked.code, revoked.stderr).toBe(0);
    expect(revoked.stdout).toContain(`Revoked API key ${mine.id}`);
    expect(await mcpStatus(server, raw)).toBe(401);
    expectError(await keyward(["api-keys", "revoke", "key_doesNotExist0000000"], { env }), 3, /not found/);
  });

  it("works from KEYWARD_TOKEN + KEYWARD_SERVER alone, with no credentials file", async () => {
    const run = await keyward(["api-keys", "list", "--json"], {
      env: { XDG_CONFIG_HOME: path.join(xdg, "empty"), KEYWARD_TOKEN: portal, KEYWARD_SERVER: server.url },
    });
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual(expect.arrayContaining([expect.objectContaining({ label: "manager" })]));
  });

  it("a stored key with limited scopes: no management without keys:*, and it mints only a subset of its own", async () => {
    const readOnly = await mintOnPage(user.agent, user.csrf, "read only", ["mcp:read"]);
    const asRead = { env: { XDG_CONFIG_HOME: path.join(xdg, "empty"), KEYWARD_TOKEN: readOnly.raw, KEYWARD_SERVER: server.url } };
    expectError(await keyward(["api-keys", "list"], asRead), 1, /lacks the keys:read scope/);
    expectError(await keyward(["api-keys", "create", "escalate"], asRead), 1, /lacks the keys:write scope/);

    const manager = await mintOnPage(user.agent, user.csrf, "ci manager", ["mcp:read", "keys:write"]);
    const asManager = { env: { XDG_CONFIG_HOME: path.join(xdg, "empty"), KEYWARD_TOKEN: manager.raw, KEYWARD_SERVER: server.url } };
    expectError(await keyward(["api-keys", "create", "writer", "--scopes", "mcp:write"], asManager), 1, /cannot grant mcp:write/);
    expectError(await keyward(["api-keys", "create", "everything"], asManager), 1, /name the scopes the new key gets/);
    const ok = await keyward(["api-keys", "create", "reader", "--scopes", "mcp:read"], asManager);
    expect(ok.code, ok.stderr).toBe(0);
    expect(await mcpStatus(server, ok.stdout.trim())).toBe(200);
  });

  it("usage errors: no server anywhere, --user with --server; a bad key is exit 3", async () => {
    expectError(
      await keywardInProcess(["api-keys", "list"], { env: { XDG_CONFIG_HOME: path.join(xdg, "none") } }),
      2,
      /no server: pass --server/,
    );
    expectError(await keywardInProcess(["api-keys", "list", "--user", user.email, "--server", server.url], { env }), 2, /not both/);
    expectError(
      await keyward(["api-keys", "list"], { env: { ...env, KEYWARD_TOKEN: `${portal.slice(0, -6)}AAAAAA` } }),
      3,
      /authentication failed/,
    );
    expectError(await keywardInProcess(["api-keys", "list", "--server", "http://example.com"], { env }), 2, /use https/);
  });

  it("mcp-config prints each host's snippet for the server; the account page shows the same text", async () => {
    const page = await user.agent.get("/app/account/api-keys").expect(200);
    for (const host of MCP_HOSTS) {
      for (const auth of HOST_AUTHS[host]) {
        const run = await keywardInProcess(["mcp-config", "--host", host, "--auth", auth, "--server", server.url], { env });
        expect(run.code, run.stderr).toBe(0);
        const expected = hostSnippet(host, auth, server.url);
        expect(run.stdout.trimEnd()).toBe(expected.text);
        expect(run.stdout).toContain(`${server.url}/mcp`);
        if (expected.language === "json") JSON.parse(run.stdout);
        if (auth === "key") expect(run.stdout).toMatch(/KEYWARD_API_KEY|input:keyward-api-key/);
        expect(run.stdout).not.toContain(portal);
        // HTML-escaped on the page.
        const escaped = expected.text
          .replace(/&/g, "&amp;")
          .replace(/</g, "&lt;")
          .replace(/>/g, "&gt;")
          .replace(/"/g, "&#34;")
          .replace(/'/g, "&#39;");
        expect(page.text).toContain(escaped);
      }
    }
    const vscode = JSON.parse((await keywardInProcess(["mcp-config", "--host", "vscode"], { env })).stdout) as unknown;
    expect(vscode).toEqual({ servers: { keyward: { type: "http", url: `${server.url}/mcp` } } });
    expectError(await keywardInProcess(["mcp-config", "--host", "emacs", "--server", server.url], { env }), 2, /Allowed choices/);
  });
});
