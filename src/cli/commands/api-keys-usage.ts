// keyward api-keys usage <id> [--json]: a key's requests per day for the last 30 days, errors apart
// (issue 28 item 5): the numbers of GET /api/api-keys/:id/usage and of the key's page. With --user,
// this machine's database (what every server has flushed); without it, a remote server's JSON API.
import type { Command } from "commander";
import type { UsageReport } from "../../keys/index.js";
import { CliError } from "../errors.js";
import { requireUser, withServices } from "../context.js";
import { formatTable, note, out, printJson } from "../io.js";
import { localUser, remoteUsage } from "../remote/api-keys.js";

export interface KeyUsage extends UsageReport {
  key_id: string;
}

export function printUsage(usage: KeyUsage, json: boolean | undefined): void {
  if (json) return printJson(usage);
  const t = usage.totals;
  const active = usage.days.filter((d) => d.requests + d.unauthorized + d.forbidden + d.limited > 0);
  if (active.length > 0)
    out(
      formatTable(
        ["DAY (UTC)", "REQUESTS", "401", "403", "429"],
        active.map((d) => [d.date, String(d.requests), String(d.unauthorized), String(d.forbidden), String(d.limited)]),
      ),
    );
  note(
    `${usage.key_id}, ${usage.from.slice(0, 10)} to ${usage.to.slice(0, 10)}: ${t.requests} requests, ` +
      `${t.unauthorized} × 401, ${t.forbidden} × 403, ${t.limited} × 429.`,
  );
}

export function registerApiKeysUsage(apiKeys: Command): void {
  apiKeys
    .command("usage")
    .description("a key's requests per day for the last 30 days, 401/403/429 apart (--json: per day and per hour)")
    .argument("<id>", "the key id (key_…), as shown by `api-keys list`")
    .option("--user <email>", "the owner's email address (this machine's database; without it: a remote server)")
    .option("--server <url>", "a remote Keyward server, with the key from `keyward auth set-token` or KEYWARD_TOKEN")
    .option("--json", "print the usage as JSON (the JSON API's answer)")
    .action(async (id: string, options: { user?: string; server?: string; json?: boolean }, cmd: Command) => {
      const email = localUser(options);
      if (email === null) return printUsage(await remoteUsage(id, options), options.json);
      const usage = await withServices(cmd, async (services) => {
        const key = await services.keys.get((await requireUser(services, email)).id, id);
        if (!key) throw CliError.notFound(`no API key ${id} for ${email}`);
        return { key_id: key.id, ...(await services.keys.usage.forKeys([key.id])) };
      });
      printUsage(usage, options.json);
    });
}
