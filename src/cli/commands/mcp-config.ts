// keyward mcp-config --host <host>: the exact config snippet an MCP host needs for a server (the
// same text as the account page, from src/mcp/host-configs.ts). Snippet on stdout, advice on stderr.
// Without --server (or KEYWARD_SERVER, or a stored login) it is this machine's server: ISSUER, or
// http://localhost:PORT, as `keyward serve` would announce itself.
import { Option, type Command } from "commander";
import { hostSnippet, MCP_HOSTS, UnsupportedHostAuth, type HostAuth, type McpHost } from "../../mcp/host-configs.js";
import { CliError } from "../errors.js";
import { loadConfig } from "../../config.js";
import { note, out } from "../io.js";
import { resolveServer } from "../remote/client.js";
import { withoutDatabase } from "../help.js";

export function registerMcpConfig(program: Command): void {
  withoutDatabase(program.command("mcp-config"))
    .description("print the config snippet an MCP host needs to connect to a Keyward server")
    .addOption(new Option("--host <host>", "the MCP host").choices(MCP_HOSTS).makeOptionMandatory())
    .addOption(
      new Option("--auth <kind>", "oauth: the host logs in through the browser; key: the host sends a key from an environment variable")
        .choices(["oauth", "key"])
        .default("oauth"),
    )
    .option(
      "--server <url>",
      "the Keyward server (default: KEYWARD_SERVER, then the last server logged in to, then this machine's: ISSUER or http://localhost:PORT)",
    )
    .action((options: { host: McpHost; auth: HostAuth; server?: string }) => {
      let local = false;
      const server = resolveServer(options.server, () => {
        local = true;
        return loadConfig(process.env).baseUrl;
      });
      let snippet;
      try {
        snippet = hostSnippet(options.host, options.auth, server);
      } catch (err) {
        if (err instanceof UnsupportedHostAuth) throw CliError.usage(err.message);
        throw err;
      }
      if (local) note(`No --server given: using this machine's server, ${server} (set ISSUER, or pass --server <url>, for another).`);
      note(`${snippet.name} — put this in ${snippet.where}:`);
      out(snippet.text);
      note(snippet.note);
      for (const link of snippet.install ?? []) note(`${link.label}: ${link.href}`);
    });
}
