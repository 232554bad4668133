// Issue 28's limits on the command line: `api-keys create --allow-ip CIDR (repeatable) --rate-limit N`
// and `api-keys update <id> --allow-ip …|--clear-allow-ip --rate-limit N|--clear-rate-limit`, on this
// machine's database (--user) or a remote server (PATCH /api/api-keys/:id).
import { Option, type Command } from "commander";
import type { KeyActing, LimitChanges } from "../../keys/index.js";
import { parseAllowlist } from "../../keys/limits/cidr.js";
import { rateLimitFromText } from "../../keys/limits/input.js";
import { CliError } from "../errors.js";
import { requireUser, withServices } from "../context.js";
import { out, printJson } from "../io.js";
import { localUser, remoteUpdateLimits } from "../remote/api-keys.js";

const BY_CLI: KeyActing = { actor: { type: "cli", id: null }, via: "cli" };

export interface LimitOptions {
  allowIp: string[];
  clearAllowIp?: boolean;
  rateLimit?: string;
  clearRateLimit?: boolean;
}

const collect = (value: string, previous: string[]) => [...previous, value];

/** Adds --allow-ip (repeatable) and --rate-limit to a command. */
export function withLimitOptions(command: Command): Command {
  return command
    .addOption(
      new Option("--allow-ip <cidr>", "allow the key only from this IPv4/IPv6 address or CIDR range, e.g. 203.0.113.0/24 (repeatable)")
        .argParser(collect)
        .default([], "any address"),
    )
    .option("--rate-limit <n>", "at most N requests per minute at /mcp and the gateway");
}

/** The changes the options ask for (absent: unchanged); a bad CIDR or number is a usage error with words. */
export function limitChanges(options: LimitOptions): LimitChanges {
  const changes: LimitChanges = {};
  if (options.clearAllowIp && options.allowIp.length) throw CliError.usage("give --allow-ip or --clear-allow-ip, not both");
  if (options.clearRateLimit && options.rateLimit !== undefined) throw CliError.usage("give --rate-limit or --clear-rate-limit, not both");
  if (options.allowIp.length) {
    const parsed = parseAllowlist(options.allowIp);
    if (!parsed.ok) throw CliError.usage(parsed.message);
    changes.allowedIps = parsed.ranges;
  } else if (options.clearAllowIp) changes.allowedIps = null;
  if (options.rateLimit !== undefined) {
    const parsed = rateLimitFromText(options.rateLimit);
    if (!parsed.ok) throw CliError.usage(parsed.message);
    if (parsed.value === null) throw CliError.usage("--rate-limit needs a number; use --clear-rate-limit to remove the limit");
    changes.rateLimit = parsed.value;
  } else if (options.clearRateLimit) changes.rateLimit = null;
  return changes;
}

/** One line saying a key's limits. */
export function limitsText(key: { allowedIps: string[] | null; rateLimit: number | null }): string {
  return `allowed from: ${key.allowedIps ? key.allowedIps.join(" ") : "any address"}; rate limit: ${key.rateLimit === null ? "none" : `${key.rateLimit} requests per minute`}`;
}

export function registerApiKeysUpdate(apiKeys: Command): void {
  withLimitOptions(
    apiKeys
      .command("update")
      .description("change one of a user's API keys' limits: IP allowlist and rate limit (the key itself does not change)")
      .argument("<id>", "the key id (key_…), as shown by `api-keys list`"),
  )
    .option("--clear-allow-ip", "remove the IP allowlist: the key works from any address")
    .option("--clear-rate-limit", "remove the key's rate limit")
    .option("--user <email>", "the owner's email address (this machine's database; without it: a remote server)")
    .option("--server <url>", "a remote Keyward server, with the key from `keyward auth set-token` or KEYWARD_TOKEN")
    .option("--json", "print the key as JSON")
    .action(async (id: string, options: LimitOptions & { user?: string; server?: string; json?: boolean }, cmd: Command) => {
      const changes = limitChanges(options);
      if (changes.allowedIps === undefined && changes.rateLimit === undefined)
        throw CliError.usage("say what to change: --allow-ip, --clear-allow-ip, --rate-limit or --clear-rate-limit");
      const email = localUser(options);
      const key =
        email === null
          ? await remoteUpdateLimits(id, changes, options)
          : await withServices(cmd, async (services) =>
              services.keys.setLimits({ kind: "own", userId: (await requireUser(services, email)).id, id }, changes, BY_CLI),
            );
      if (!key) throw CliError.notFound(`no API key ${id} for ${email}`);
      if (options.json) printJson(key);
      else out(`Updated API key ${id} "${key.label}": ${limitsText(key)}.`);
    });
}
