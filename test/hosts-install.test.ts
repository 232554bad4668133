// Issue 26 item 4: per MCP host, the exact snippet or command and the host's one-click install link
// where it has one, all from src/mcp/host-configs.ts, on the API keys page, on each resource's entry
// of the Resources page and from `keyward mcp-config`. Each shape is pinned here, exactly.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  allHostSnippets,
  cursorInstallLink,
  HOST_AUTHS,
  hostSnippet,
  MCP_HOSTS,
  resourceTarget,
  shellWord,
  UnsupportedHostAuth,
  vscodeInstallLink,
} from "../src/mcp/host-configs.js";
import { signUp, startTestServer, type TestServer } from "./support/server.js";
import { expectError, keywardInProcess } from "./support/cli-run.js";

const BASE = "https://keys.example.com";
const URL_ = `${BASE}/mcp`;

/** HTML-escaped as ejs escapes text and attributes. */
const html = (s: string) =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&#34;").replace(/'/g, "&#39;");

describe("install links", () => {
  it("VS Code: vscode:mcp/install? and the URL-encoded JSON of name, type and url (and Insiders' scheme)", () => {
    const link = vscodeInstallLink("keyward", URL_);
    expect(link).toBe(
      "vscode:mcp/install?%7B%22name%22%3A%22keyward%22%2C%22type%22%3A%22http%22%2C%22url%22%3A%22https%3A%2F%2Fkeys.example.com%2Fmcp%22%7D",
    );
    expect(JSON.parse(decodeURIComponent(link.slice("vscode:mcp/install?".length)))).toEqual({ name: "keyward", type: "http", url: URL_ });
    expect(vscodeInstallLink("keyward", URL_, true)).toBe(link.replace(/^vscode:/, "vscode-insiders:"));
  });

  it("Cursor: cursor://anysphere.cursor-deeplink/mcp/install with the name and the base64 of the mcp.json entry", () => {
    const link = cursorInstallLink("keyward", URL_);
    expect(link).toBe(
      `cursor://anysphere.cursor-deeplink/mcp/install?name=keyward&config=${encodeURIComponent(Buffer.from(`{"url":"${URL_}"}`).toString("base64"))}`,
    );
    const parsed = new URL(link);
    expect(parsed.protocol).toBe("cursor:");
    expect(parsed.host).toBe("anysphere.cursor-deeplink");
    expect(parsed.pathname).toBe("/mcp/install");
    expect(parsed.searchParams.get("name")).toBe("keyward");
    expect(JSON.parse(Buffer.from(parsed.searchParams.get("config")!, "base64").toString("utf8"))).toEqual({ url: URL_ });
  });

  it("only the OAuth forms of VS Code and Cursor carry links, and no link holds a key or its variable", () => {
    const withLinks = allHostSnippets(BASE).filter((s) => s.install?.length);
    expect(withLinks.map((s) => `${s.host}/${s.auth}`)).toEqual(["vscode/oauth", "cursor/oauth"]);
    for (const s of withLinks) for (const l of s.install!) expect(decodeURIComponent(l.href)).not.toMatch(/KEYWARD_API_KEY|Bearer|input:/);
  });

  it("a resource's links name its entry and URL", () => {
    const target = resourceTarget({ slug: "notes", url: `${BASE}/mcp/notes` });
    const vscode = hostSnippet("vscode", "oauth", BASE, target);
    expect(vscode.install![0]!.href).toBe(vscodeInstallLink("keyward-notes", `${BASE}/mcp/notes`));
    expect(hostSnippet("cursor", "oauth", BASE, target).install![0]!.href).toBe(cursorInstallLink("keyward-notes", `${BASE}/mcp/notes`));
  });
});

describe("snippets of the hosts issue 26 adds", () => {
  it("ChatGPT: the connector's fields, OAuth only", () => {
    const s = hostSnippet("chatgpt", "oauth", BASE);
    expect(s.text).toBe(`Name: Keyward\nMCP Server URL: ${URL_}\nAuthentication: OAuth`);
    expect(s.note).not.toContain("cannot reach");
    expect(hostSnippet("chatgpt", "oauth", "http://localhost:3000").note).toContain("not https, so ChatGPT cannot reach it");
    expect(() => hostSnippet("chatgpt", "key", BASE)).toThrow(UnsupportedHostAuth);
    expect(HOST_AUTHS.chatgpt).toEqual(["oauth"]);
  });

  it("Goose: a streamable_http extension, or mcp-remote with the key from Goose's keyring", () => {
    expect(hostSnippet("goose", "oauth", BASE).text).toBe(
      [
        "extensions:",
        '  "keyward":',
        "    enabled: true",
        "    type: streamable_http",
        '    name: "keyward"',
        `    uri: "${URL_}"`,
        "    timeout: 300",
      ].join("\n"),
    );
    expect(hostSnippet("goose", "key", BASE).text).toBe(
      [
        "extensions:",
        '  "keyward":',
        "    enabled: true",
        "    type: stdio",
        '    name: "keyward"',
        "    cmd: npx",
        `    args: ["-y","mcp-remote","${URL_}","--header","Authorization: Bearer \${KEYWARD_API_KEY}"]`,
        '    env_keys: ["KEYWARD_API_KEY"]',
        "    timeout: 300",
      ].join("\n"),
    );
  });

  it("Windsurf: serverUrl, and ${env:…} for the key", () => {
    expect(JSON.parse(hostSnippet("windsurf", "oauth", BASE).text)).toEqual({ mcpServers: { keyward: { serverUrl: URL_ } } });
    expect(JSON.parse(hostSnippet("windsurf", "key", BASE).text)).toEqual({
      mcpServers: { keyward: { serverUrl: URL_, headers: { Authorization: "Bearer ${env:KEYWARD_API_KEY}" } } },
    });
  });

  it("mcp-remote: the command, the header in single quotes so that mcp-remote (not the shell) fills in the key", () => {
    expect(hostSnippet("mcp-remote", "oauth", BASE).text).toBe(`npx -y mcp-remote ${URL_}`);
    expect(hostSnippet("mcp-remote", "key", BASE).text).toBe(
      `npx -y mcp-remote ${URL_} --header 'Authorization: Bearer \${KEYWARD_API_KEY}'`,
    );
  });

  it("Claude Code: claude mcp add, with the URL quoted when it needs it", () => {
    expect(hostSnippet("claude-code", "oauth", BASE).text).toBe(`claude mcp add --transport http keyward ${URL_}`);
    expect(shellWord("https://x.example/mcp?a=1&b='2'")).toBe(`'https://x.example/mcp?a=1&b='\\''2'\\'''`);
    expect(shellWord("$(rm -rf ~)")).toBe("'$(rm -rf ~)'");
  });

  it("every host has a snippet for each form it supports, and only those", () => {
    const all = allHostSnippets(BASE);
    expect(all.map((s) => `${s.host}/${s.auth}`)).toEqual(MCP_HOSTS.flatMap((h) => HOST_AUTHS[h].map((a) => `${h}/${a}`)));
    for (const s of all) {
      if (s.language === "json") JSON.parse(s.text);
      expect(s.text).toContain(URL_);
      if (s.auth === "key") expect(s.text).toMatch(/KEYWARD_API_KEY|input:keyward-api-key/);
    }
  });
});

describe("on the pages and in the CLI", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
    await server.services.resources.add({ slug: "notes", name: "Notes", upstream: "http://10.1.2.3:4650/mcp" }, { actor: { type: "cli" } });
  });
  afterAll(async () => server?.close());

  it("the API keys page shows every snippet and the install links, escaped", async () => {
    const { agent } = await signUp(server);
    const page = await agent.get("/app/account/api-keys").expect(200);
    for (const s of allHostSnippets(server.url)) {
      expect(page.text).toContain(`data-host="${s.host}" data-auth="${s.auth}"`);
      expect(page.text).toContain(html(s.text));
      for (const l of s.install ?? []) expect(page.text).toContain(`href="${html(l.href)}"`);
    }
    expect(page.text).toContain(`href="${html(vscodeInstallLink("keyward", `${server.url}/mcp`))}"`);
  });

  it("each resource's entry on the Resources page has its own snippets and links", async () => {
    const { agent } = await signUp(server);
    const page = await agent.get("/resources").expect(200);
    const notes = (await server.services.resources.lookup.byUrl(`${server.url}/mcp/notes`))!;
    for (const s of allHostSnippets(server.url, resourceTarget(notes))) {
      expect(page.text).toContain(`id="snippet-notes-${s.host}-${s.auth}"`);
      expect(page.text).toContain(html(s.text));
      for (const l of s.install ?? []) expect(page.text).toContain(`href="${html(l.href)}"`);
    }
    expect(page.text).toContain(`href="${html(cursorInstallLink("keyward-notes", `${server.url}/mcp/notes`))}"`);
  });

  it("keyward mcp-config prints the new hosts, the install links on stderr, and refuses ChatGPT with a key", async () => {
    const env = { XDG_CONFIG_HOME: server.dir };
    for (const host of ["chatgpt", "goose", "windsurf", "mcp-remote"] as const) {
      const run = await keywardInProcess(["mcp-config", "--host", host, "--server", BASE], { env });
      expect(run.code, run.stderr).toBe(0);
      expect(run.stdout.trimEnd()).toBe(hostSnippet(host, "oauth", BASE).text);
    }
    const cursor = await keywardInProcess(["mcp-config", "--host", "cursor", "--server", BASE], { env });
    expect(cursor.stderr).toContain(`Install in Cursor: ${cursorInstallLink("keyward", URL_)}`);
    expectError(await keywardInProcess(["mcp-config", "--host", "chatgpt", "--auth", "key", "--server", BASE], { env }), 2, /oauth only/);
  });
});
