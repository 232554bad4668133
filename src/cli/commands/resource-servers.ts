// keyward resource-servers add | list | remove: the confidential clients allowed to introspect
// (RFC 7662) and revoke (RFC 7009) any key. Only the operator makes them; registration cannot.
import type { Command } from "commander";
import { CliError } from "../errors.js";
import { withServices } from "../context.js";
import { formatTable, note, out, printJson } from "../io.js";
import { createResourceServers, ResourceServerInputError } from "../../oauth/resource-servers.js";

interface JsonOption {
  json?: boolean;
}

export function registerResourceServers(program: Command): void {
  const servers = program
    .command("resource-servers")
    .description("register the confidential clients (resource servers) that may introspect and revoke any key (not resources)");

  servers
    .command("add")
    .description("register a resource server and print its client id and secret (the secret is shown once)")
    .argument("<name>", 'a name for the resource server, e.g. "billing API"')
    .option("--json", "print the client as JSON")
    .action(async (name: string, options: JsonOption, cmd: Command) => {
      const created = await withServices(
        cmd,
        async ({ db }) => {
          try {
            return await createResourceServers(db).add(name);
          } catch (err) {
            if (err instanceof ResourceServerInputError) throw CliError.usage(err.message);
            throw err;
          }
        },
        { mayCreateDatabase: true },
      );
      if (options.json) {
        printJson({
          client_id: created.clientId,
          client_secret: created.clientSecret,
          client_name: created.name,
          token_endpoint_auth_method: "client_secret_basic",
          created_at: created.createdAt,
        });
        return;
      }
      out(`client_id:     ${created.clientId}`);
      out(`client_secret: ${created.clientSecret}`);
      note(
        `Registered resource server "${created.name}". The secret is not shown again; authenticate with client_secret_basic or client_secret_post.`,
      );
    });

  servers
    .command("list")
    .description("list the registered resource servers")
    .option("--json", "print JSON")
    .action(async (options: JsonOption, cmd: Command) => {
      const list = await withServices(cmd, ({ db }) => createResourceServers(db).list());
      if (options.json) printJson(list.map((s) => ({ client_id: s.clientId, client_name: s.name, created_at: s.createdAt })));
      else
        out(
          list.length
            ? formatTable(
                ["CLIENT ID", "NAME", "CREATED (UTC)"],
                list.map((s) => [s.clientId, s.name, `${s.createdAt.slice(0, 10)} ${s.createdAt.slice(11, 16)}`]),
              )
            : "No resource servers.",
        );
    });

  servers
    .command("remove")
    .description("remove a resource server: its credentials stop working at once")
    .argument("<client_id>", "the rs_… client id")
    .action(async (clientId: string, _options: unknown, cmd: Command) => {
      const removed = await withServices(cmd, ({ db }) => createResourceServers(db).remove(clientId));
      if (!removed) throw CliError.notFound(`no resource server ${clientId}`);
      out(`Removed resource server ${clientId}`);
    });
}
