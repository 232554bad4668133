// keyward doctor --client <id> | --key <id> [--json]: the connection doctor for operators (issue 26,
// docs/connection-doctor.md): the newest events of a client (every user's) or of a key, with the
// reason of each failure in the words the client was told. This machine's database only.
import type { Command } from "commander";
import { CliError } from "../errors.js";
import { withServices } from "../context.js";
import { formatTable, note, out, printJson } from "../io.js";

export function registerDoctor(program: Command): void {
  program
    .command("doctor")
    .description("a client's or a key's connection steps and failures, newest first (the connection doctor)")
    .option("--client <id>", "the OAuth client id (dcr_… or a metadata document URL)")
    .option("--key <id>", "the key id (key_…)")
    .option("--limit <n>", "how many events (1-50)", "20")
    .option("--json", "print the events as JSON")
    .action(async (options: { client?: string; key?: string; limit: string; json?: boolean }, cmd: Command) => {
      if ((options.client === undefined) === (options.key === undefined))
        throw CliError.usage("give --client <id> or --key <id> (one of them)");
      const limit = Number(options.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > 50) throw CliError.usage("--limit: a whole number from 1 to 50");
      const events = await withServices(cmd, (services) =>
        options.client !== undefined
          ? services.doctor.events.ofClient(options.client, limit)
          : services.doctor.events.ofKey(options.key!, limit),
      );
      if (options.json) return printJson(events);
      const subject = options.client !== undefined ? `client ${options.client}` : `key ${options.key}`;
      if (events.length === 0) return note(`no connection events for ${subject}`);
      out(
        formatTable(
          ["WHEN (UTC)", "STEP", "OUTCOME", "USER", "KEY", "REASON"],
          events.map((e) => [
            e.createdAt.slice(0, 19).replace("T", " "),
            e.step,
            e.outcome,
            e.userId ?? "-",
            e.keyId ?? "-",
            e.reason || "-",
          ]),
        ),
      );
      note(`${events.length} event(s) for ${subject}, newest first`);
    });
}
