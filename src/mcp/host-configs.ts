// The one source of truth for "how do I connect <MCP host> to this server": the account page and
// `keyward mcp-config` both render these snippets. OAuth form (the host discovers, registers and
// sends the user through consent; only the URL is configured) where the host supports it; the
// key form reads the key from an environment variable or the host's secret prompt, never inline.
export const MCP_HOSTS = ["claude-desktop", "vscode", "cursor", "claude-code"] as const;
export type McpHost = (typeof MCP_HOSTS)[number];
export type HostAuth = "oauth" | "key";
export const KEY_ENV_VAR = "KEYWARD_API_KEY";

export interface HostSnippet {
  host: McpHost;
  /** Human name of the host. */
  name: string;
  auth: HostAuth;
  /** Where the snippet goes. */
  where: string;
  language: "json" | "shell";
  text: string;
  /** One sentence on what happens next. */
  note: string;
}

const json = (value: unknown) => JSON.stringify(value, null, 2);

/** What a snippet connects to: Keyward's own /mcp by default, or a resource of the gateway. */
export interface SnippetTarget {
  /** The MCP URL the host is given. */
  url: string;
  /** The entry's name in the host's config (a key of mcpServers / servers, the Claude Code server name). */
  entry: string;
}

/** A gateway resource's target: its URL, and `keyward-<slug>` as the entry so it sits beside the built-in one. */
export const resourceTarget = (resource: { url: string; slug: string }): SnippetTarget => ({
  url: resource.url,
  entry: `keyward-${resource.slug}`,
});

export function hostSnippet(host: McpHost, auth: HostAuth, baseUrl: string, target?: SnippetTarget): HostSnippet {
  const url = target?.url ?? `${baseUrl.replace(/\/+$/, "")}/mcp`;
  const entry = target?.entry ?? "keyward";
  const header = `Authorization: Bearer \${${KEY_ENV_VAR}}`;
  switch (host) {
    case "claude-desktop":
      return auth === "oauth"
        ? {
            host,
            auth,
            name: "Claude Desktop",
            language: "json",
            where:
              "claude_desktop_config.json (Settings → Developer → Edit Config), or Settings → Connectors → Add custom connector with the URL alone",
            text: json({ mcpServers: { [entry]: { command: "npx", args: ["-y", "mcp-remote", url] } } }),
            note: "mcp-remote opens your browser to log in and approve on first use.",
          }
        : {
            host,
            auth,
            name: "Claude Desktop",
            language: "json",
            where: "claude_desktop_config.json (Settings → Developer → Edit Config)",
            text: json({
              mcpServers: {
                [entry]: { command: "npx", args: ["-y", "mcp-remote", url, "--header", header], env: { [KEY_ENV_VAR]: "<your key>" } },
              },
            }),
            note: `Replace <your key> with a key from the account page; mcp-remote sends it on every request.`,
          };
    case "vscode":
      return auth === "oauth"
        ? {
            host,
            auth,
            name: "VS Code",
            language: "json",
            where: ".vscode/mcp.json in your workspace",
            text: json({ servers: { [entry]: { type: "http", url } } }),
            note: "VS Code asks you to sign in and opens the browser the first time the server starts.",
          }
        : {
            host,
            auth,
            name: "VS Code",
            language: "json",
            where: ".vscode/mcp.json in your workspace",
            text: json({
              inputs: [{ type: "promptString", id: `${entry}-api-key`, description: "Keyward API key", password: true }],
              servers: { [entry]: { type: "http", url, headers: { Authorization: `Bearer \${input:${entry}-api-key}` } } },
            }),
            note: "VS Code prompts for the key once and keeps it in its secret storage.",
          };
    case "cursor":
      return auth === "oauth"
        ? {
            host,
            auth,
            name: "Cursor",
            language: "json",
            where: "~/.cursor/mcp.json (or .cursor/mcp.json in a project)",
            text: json({ mcpServers: { [entry]: { url } } }),
            note: "Cursor shows a Login button for the server; it opens the browser.",
          }
        : {
            host,
            auth,
            name: "Cursor",
            language: "json",
            where: "~/.cursor/mcp.json (or .cursor/mcp.json in a project)",
            text: json({ mcpServers: { [entry]: { url, headers: { Authorization: `Bearer \${env:${KEY_ENV_VAR}}` } } } }),
            note: `Cursor reads the key from the ${KEY_ENV_VAR} environment variable.`,
          };
    case "claude-code":
      return auth === "oauth"
        ? {
            host,
            auth,
            name: "Claude Code",
            language: "shell",
            where: "a terminal",
            text: `claude mcp add --transport http ${entry} ${url}`,
            note: "Then run /mcp in Claude Code and choose Authenticate; it opens the browser.",
          }
        : {
            host,
            auth,
            name: "Claude Code",
            language: "json",
            where: ".mcp.json at the root of your project",
            text: json({ mcpServers: { [entry]: { type: "http", url, headers: { Authorization: `Bearer \${${KEY_ENV_VAR}}` } } } }),
            note: `Claude Code expands \${${KEY_ENV_VAR}} from the environment, so the key never lands in the file.`,
          };
  }
}

export function allHostSnippets(baseUrl: string, target?: SnippetTarget): HostSnippet[] {
  return MCP_HOSTS.flatMap((host) => (["oauth", "key"] as const).map((auth) => hostSnippet(host, auth, baseUrl, target)));
}
