// The one source of truth for "how do I connect <MCP host> to this server": the account page and
// `keyward mcp-config` both render these snippets. OAuth form (the host discovers, registers and
// sends the user through consent; only the URL is configured) where the host supports it; the
// key form reads the key from an environment variable or the host's secret prompt, never inline.
// Where a host has a one-click install link (VS Code, Cursor), the OAuth form carries it too: a link
// holds only the URL, never a key. docs/hosts.md says what was verified for each host, and how.
export const MCP_HOSTS = ["claude-desktop", "vscode", "cursor", "claude-code", "chatgpt", "goose", "windsurf", "mcp-remote"] as const;
export type McpHost = (typeof MCP_HOSTS)[number];
export type HostAuth = "oauth" | "key";
export const KEY_ENV_VAR = "KEYWARD_API_KEY";

/** A host and form that do not go together (ChatGPT with a key). */
export class UnsupportedHostAuth extends Error {
  constructor(
    readonly host: McpHost,
    readonly auth: HostAuth,
  ) {
    super(`${host} connects with ${HOST_AUTHS[host].join(" or ")} only, not with --auth ${auth}`);
  }
}

/** A one-click install link (a host's own URL scheme). */
export interface InstallLink {
  label: string;
  href: string;
}

/**
 * VS Code's install handler (`vscode:mcp/install?<JSON>`, the same object `code --add-mcp` takes): the
 * server's name, and its type and URL; `insiders` for VS Code Insiders' own scheme.
 */
export function vscodeInstallLink(entry: string, url: string, insiders = false): string {
  return `${insiders ? "vscode-insiders" : "vscode"}:mcp/install?${encodeURIComponent(JSON.stringify({ name: entry, type: "http", url }))}`;
}

/** Cursor's install deeplink: the name, and the server's mcp.json entry as base64 of its JSON. */
export function cursorInstallLink(entry: string, url: string): string {
  const config = Buffer.from(JSON.stringify({ url }), "utf8").toString("base64");
  return `cursor://anysphere.cursor-deeplink/mcp/install?name=${encodeURIComponent(entry)}&config=${encodeURIComponent(config)}`;
}

/** A word for a POSIX shell: as it is when it is plainly safe, in single quotes otherwise. */
export function shellWord(value: string): string {
  return /^[A-Za-z0-9_@%+=:,./~-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}

/** A YAML scalar: a JSON string is a valid YAML double-quoted one. */
const yamlString = (value: string) => JSON.stringify(value);

export interface HostSnippet {
  host: McpHost;
  /** Human name of the host. */
  name: string;
  auth: HostAuth;
  /** Where the snippet goes. */
  where: string;
  language: "json" | "shell" | "yaml" | "text";
  text: string;
  /** One sentence on what happens next. */
  note: string;
  /** One-click install links, where the host has them (OAuth form only: a link never holds a key). */
  install?: InstallLink[];
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

/** What a host's snippet is made from: the URL and config entry it connects, and the key header it sends. */
interface SnippetContext {
  url: string;
  entry: string;
  /** `Authorization: Bearer ${KEYWARD_API_KEY}`, for mcp-remote to fill in from the environment. */
  header: string;
}

/** One form of one host's snippet: everything but who it is for. */
type SnippetForm = (c: SnippetContext) => Omit<HostSnippet, "host" | "auth" | "name">;

/** Each host: its name and the forms it supports, OAuth first (ChatGPT's connectors take a URL and OAuth, no custom header). */
const HOSTS: Readonly<Record<McpHost, { name: string; forms: { oauth: SnippetForm; key?: SnippetForm } }>> = {
  "claude-desktop": {
    name: "Claude Desktop",
    forms: {
      oauth: ({ url, entry }) => ({
        language: "json",
        where:
          "claude_desktop_config.json (Settings → Developer → Edit Config), or Settings → Connectors → Add custom connector with the URL alone",
        text: json({ mcpServers: { [entry]: { command: "npx", args: ["-y", "mcp-remote", url] } } }),
        note: "mcp-remote opens your browser to log in and approve on first use.",
      }),
      key: ({ url, entry, header }) => ({
        language: "json",
        where: "claude_desktop_config.json (Settings → Developer → Edit Config)",
        text: json({
          mcpServers: {
            [entry]: { command: "npx", args: ["-y", "mcp-remote", url, "--header", header], env: { [KEY_ENV_VAR]: "<your key>" } },
          },
        }),
        note: `Replace <your key> with a key from the account page; mcp-remote sends it on every request.`,
      }),
    },
  },
  vscode: {
    name: "VS Code",
    forms: {
      oauth: ({ url, entry }) => ({
        language: "json",
        where: ".vscode/mcp.json in your workspace",
        text: json({ servers: { [entry]: { type: "http", url } } }),
        note: "VS Code asks you to sign in and opens the browser the first time the server starts.",
        install: [
          { label: "Install in VS Code", href: vscodeInstallLink(entry, url) },
          { label: "Install in VS Code Insiders", href: vscodeInstallLink(entry, url, true) },
        ],
      }),
      key: ({ url, entry }) => ({
        language: "json",
        where: ".vscode/mcp.json in your workspace",
        text: json({
          inputs: [{ type: "promptString", id: `${entry}-api-key`, description: "Keyward API key", password: true }],
          servers: { [entry]: { type: "http", url, headers: { Authorization: `Bearer \${input:${entry}-api-key}` } } },
        }),
        note: "VS Code prompts for the key once and keeps it in its secret storage.",
      }),
    },
  },
  cursor: {
    name: "Cursor",
    forms: {
      oauth: ({ url, entry }) => ({
        language: "json",
        where: "~/.cursor/mcp.json (or .cursor/mcp.json in a project)",
        text: json({ mcpServers: { [entry]: { url } } }),
        note: "Cursor shows a Login button for the server; it opens the browser.",
        install: [{ label: "Install in Cursor", href: cursorInstallLink(entry, url) }],
      }),
      key: ({ url, entry }) => ({
        language: "json",
        where: "~/.cursor/mcp.json (or .cursor/mcp.json in a project)",
        text: json({ mcpServers: { [entry]: { url, headers: { Authorization: `Bearer \${env:${KEY_ENV_VAR}}` } } } }),
        note: `Cursor reads the key from the ${KEY_ENV_VAR} environment variable.`,
      }),
    },
  },
  "claude-code": {
    name: "Claude Code",
    forms: {
      oauth: ({ url, entry }) => ({
        language: "shell",
        where: "a terminal",
        text: `claude mcp add --transport http ${shellWord(entry)} ${shellWord(url)}`,
        note: "Then run /mcp in Claude Code and choose Authenticate; it opens the browser.",
      }),
      key: ({ url, entry }) => ({
        language: "json",
        where: ".mcp.json at the root of your project",
        text: json({ mcpServers: { [entry]: { type: "http", url, headers: { Authorization: `Bearer \${${KEY_ENV_VAR}}` } } } }),
        note: `Claude Code expands \${${KEY_ENV_VAR}} from the environment, so the key never lands in the file.`,
      }),
    },
  },
  chatgpt: {
    name: "ChatGPT",
    forms: {
      oauth: ({ url }) => ({
        language: "text",
        where: "ChatGPT → Settings → Apps & Connectors → Advanced settings (turn on Developer mode) → Create",
        text: `Name: Keyward\nMCP Server URL: ${url}\nAuthentication: OAuth`,
        note:
          "ChatGPT connects from OpenAI's servers: the URL must be public and https. It sends you here to log in and approve." +
          (url.startsWith("https://") ? "" : " This server's URL is not https, so ChatGPT cannot reach it."),
      }),
    },
  },
  goose: {
    name: "Goose",
    forms: {
      oauth: ({ url, entry }) => ({
        language: "yaml",
        where: "~/.config/goose/config.yaml (or goose configure → Add Extension → Remote Extension (Streamable HTTP))",
        text: [
          "extensions:",
          `  ${yamlString(entry)}:`,
          "    enabled: true",
          "    type: streamable_http",
          `    name: ${yamlString(entry)}`,
          `    uri: ${yamlString(url)}`,
          "    timeout: 300",
        ].join("\n"),
        note: "Goose opens the browser to log in and approve the first time it starts the extension.",
      }),
      key: ({ url, entry, header }) => ({
        language: "yaml",
        where: "~/.config/goose/config.yaml",
        text: [
          "extensions:",
          `  ${yamlString(entry)}:`,
          "    enabled: true",
          "    type: stdio",
          `    name: ${yamlString(entry)}`,
          "    cmd: npx",
          `    args: ${JSON.stringify(["-y", "mcp-remote", url, "--header", header])}`,
          `    env_keys: [${yamlString(KEY_ENV_VAR)}]`,
          "    timeout: 300",
        ].join("\n"),
        note: `Goose asks for ${KEY_ENV_VAR} once and keeps it in the system keyring; mcp-remote sends it on every request.`,
      }),
    },
  },
  windsurf: {
    name: "Windsurf",
    forms: {
      oauth: ({ url, entry }) => ({
        language: "json",
        where: "~/.codeium/windsurf/mcp_config.json (Windsurf Settings → Cascade → MCP servers → View raw config)",
        text: json({ mcpServers: { [entry]: { serverUrl: url } } }),
        note: "Windsurf opens the browser to log in and approve when the server first starts.",
      }),
      key: ({ url, entry }) => ({
        language: "json",
        where: "~/.codeium/windsurf/mcp_config.json",
        text: json({ mcpServers: { [entry]: { serverUrl: url, headers: { Authorization: `Bearer \${env:${KEY_ENV_VAR}}` } } } }),
        note: `Windsurf reads the key from the ${KEY_ENV_VAR} environment variable.`,
      }),
    },
  },
  "mcp-remote": {
    name: "mcp-remote (any stdio-only host)",
    forms: {
      oauth: ({ url }) => ({
        language: "shell",
        where: "the command line of a host that runs local (stdio) servers",
        text: `npx -y mcp-remote ${shellWord(url)}`,
        note: "mcp-remote opens your browser to log in and approve, and keeps the key under ~/.mcp-auth.",
      }),
      key: ({ url, header }) => ({
        language: "shell",
        where: `the command line of a host that runs local (stdio) servers, with ${KEY_ENV_VAR} in its environment`,
        text: `npx -y mcp-remote ${shellWord(url)} --header ${shellWord(header)}`,
        note: `mcp-remote fills in \${${KEY_ENV_VAR}} itself, so the key is not in the process arguments.`,
      }),
    },
  },
};

/** The forms each host supports, from the table above. */
export const HOST_AUTHS: Readonly<Record<McpHost, readonly HostAuth[]>> = MCP_HOSTS.reduce(
  (all, host) => ({ ...all, [host]: (["oauth", "key"] as const).filter((auth) => HOSTS[host].forms[auth]) }),
  {} as Record<McpHost, readonly HostAuth[]>,
);

export function hostSnippet(host: McpHost, auth: HostAuth, baseUrl: string, target?: SnippetTarget): HostSnippet {
  const form = HOSTS[host].forms[auth];
  if (!form) throw new UnsupportedHostAuth(host, auth);
  const url = target?.url ?? `${baseUrl.replace(/\/+$/, "")}/mcp`;
  const entry = target?.entry ?? "keyward";
  return { host, auth, name: HOSTS[host].name, ...form({ url, entry, header: `Authorization: Bearer \${${KEY_ENV_VAR}}` }) };
}

export function allHostSnippets(baseUrl: string, target?: SnippetTarget): HostSnippet[] {
  return MCP_HOSTS.flatMap((host) => HOST_AUTHS[host].map((auth) => hostSnippet(host, auth, baseUrl, target)));
}
