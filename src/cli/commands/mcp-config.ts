// keyward mcp-config --host <host>: the exact config snippet an MCP host needs for a server (the
// same text as the account page, from src/mcp/host-configs.ts). Snippet on stdout, advice on stderr.
import { Option, type Command } from "commander";
import { hostSnippet, MCP_HOSTS, type HostAuth, type McpHost } from "../../mcp/host-configs.js";
import { note, out } from "../io.js";
import { resolveServer } from "../remote/client.js";

export function registerMcpConfig(program: Command): void {
  program
    .command("mcp-config")
    .description("print the config snippet an MCP host needs to connect to a Keyward server")
    .addOption(new Option("--host <host>", "the MCP host").choices(MCP_HOSTS).makeOptionMandatory())
    .addOption(
      new Option("--auth <kind>", "oauth: the host logs in through the browser; key: the host sends a key from an environment variable")
        .choices(["oauth", "key"])
        .default("oauth"),
    )
    .option("--server <url>", "the Keyward server (default: KEYWARD_SERVER, then the last server logged in to)")
    .action((options: { host: McpHost; auth: HostAuth; server?: string }) => {
      const snippet = hostSnippet(options.host, options.auth, resolveServer(options.server));
      note(`${snippet.name} — put this in ${snippet.where}:`);
      out(snippet.text);
      note(snippet.note);
    });
}
