// keyward api-keys create | list | rename | revoke (one, --ids or --all-unused-days) | usage: the same key service as the account page.
import { Option, type Command } from "commander";
import type { KeyActing, KeyView } from "../../keys/index.js";
import { scopesSchema } from "../../keys/input.js";
import { parseExpiry, type ExpiryAsk } from "../../keys/expiry.js";
import { KeyInputError } from "../../keys/errors.js";
import { CliError } from "../errors.js";
import { requireUser, withServices } from "../context.js";
import { formatTable, note, out, printJson } from "../io.js";
import { localUser, remoteBulkRevoke, remoteCreate, remoteList, remoteRename, remoteRevoke, remoteRoll } from "../remote/api-keys.js";
import { bulkTarget, reportBulk, type BulkTarget, type RevokeOptions } from "./api-keys-bulk.js";
import { limitChanges, limitsText, registerApiKeysUpdate, withLimitOptions, type LimitOptions } from "./api-keys-limits.js";
import { registerApiKeysUsage } from "./api-keys-usage.js";
import type { Services } from "../../services.js";
import {
  ALL_RESOURCES,
  resolveResources,
  resourceChoices,
  resourcesText,
  shortResourceName,
  UnknownResourceError,
} from "../../resources/choice.js";

/** The overlaps of `api-keys roll` (src/keys/roll.ts ROLL_OVERLAPS; listed here so --help loads no key code). */
const ROLL_OVERLAP_CHOICES: readonly string[] = ["now", "1h", "24h", "7d"];

/** The CLI runs on the server with database access: the operator, not a user, acts. */
const BY_CLI: KeyActing = { actor: { type: "cli", id: null }, via: "cli" };

interface UserOptions {
  /** Without it, the command goes to a server over the JSON API (src/cli/remote/api-keys.ts). */
  user?: string;
  server?: string;
  json?: boolean;
}

interface CreateOptions extends UserOptions, LimitOptions {
  scopes: string[];
  /** never, <n>d, YYYY-MM-DD or an ISO 8601 time (src/keys/expiry.ts). */
  expires?: string;
  /** Slugs ("mcp": Keyward's own) or URLs; none: every resource. */
  resource: string[];
}

const collect = (value: string, previous: string[]) => [...previous, value];

/** --expires, read as the page and the JSON API read it; a bad value is a usage error (exit 2). */
function parseExpiryOption(value: string | undefined): ExpiryAsk {
  try {
    return parseExpiry(value ?? "never");
  } catch (err) {
    throw err instanceof KeyInputError ? CliError.usage(`--expires: ${err.message}`) : err;
  }
}

function parseScopes(values: string[]): string[] {
  const parsed = scopesSchema.safeParse(values.join(" "));
  if (!parsed.success) throw CliError.usage(parsed.error.issues[0]?.message ?? "invalid scopes");
  return parsed.data;
}

/** 2025-01-02T13:45:12.345Z → 2025-01-02 13:45 */
const when = (iso: string | null, none: string) => (iso ? `${iso.slice(0, 10)} ${iso.slice(11, 16)}` : none);
const clip = (s: string, max: number) => (s.length > max ? `${s.slice(0, max - 1)}…` : s);

export function keyTable(keys: readonly KeyView[]): string {
  return formatTable(
    ["ID", "LABEL", "LAST4", "STATUS", "SOURCE", "SCOPES", "RESOURCES", "CREATED (UTC)", "LAST USED (UTC)", "EXPIRES (UTC)"],
    keys.map((k) => [
      k.id,
      clip(k.label, 40),
      `…${k.last4}`,
      k.status,
      k.sourceLabel,
      k.scopes.length ? k.scopes.join(" ") : k.source === "oauth" ? "none" : "full access",
      k.resources ? k.resources.map((url) => shortResourceName(url)).join(" ") : "all",
      when(k.createdAt, "-"),
      when(k.lastUsedAt, "never"),
      when(k.expiresAt, "never"),
    ]),
  );
}

/** --ids (all or none) or --all-unused-days on this machine's database; with --dry-run, only what would go. */
async function localBulkRevoke(services: Services, userId: string, email: string, bulk: BulkTarget): Promise<KeyView[]> {
  if (bulk.kind === "ids") {
    const selected = await services.keys.getMany(userId, bulk.ids);
    if (!selected) throw CliError.notFound(`not every id in --ids is an API key of ${email}: nothing was revoked`);
    if (bulk.dryRun) return selected.filter((k) => k.status === "active");
    const done = await services.keys.revoke({ kind: "ownMany", userId, ids: bulk.ids }, BY_CLI);
    return done.filter((d) => d.wasActive).map((d) => d.key);
  }
  const now = new Date();
  if (bulk.dryRun) return services.keys.unusedKeys(userId, bulk.days, now);
  const done = await services.keys.revoke({ kind: "ownUnused", userId, days: bulk.days, now }, BY_CLI);
  return done.filter((d) => d.wasActive).map((d) => d.key);
}

export function registerApiKeys(program: Command): void {
  const apiKeys = program.command("api-keys").description("mint, list, rename, limit and revoke a user's API keys, and show their usage");

  withLimitOptions(apiKeys.command("create"))
    .description("mint an API key for a user and print it once")
    .argument("<label>", 'a name for the key, e.g. "laptop" ("" for "Untitled key")')
    .option("--user <email>", "the owner's email address (this machine's database; without it: a remote server)")
    .option("--server <url>", "a remote Keyward server, with the key from `keyward auth set-token` or KEYWARD_TOKEN")
    .addOption(
      new Option("--scopes <scopes>", 'space- or comma-separated scopes, e.g. "mcp:read mcp:write" (repeatable)')
        .argParser(collect)
        .default([], "full access"),
    )
    .addOption(
      new Option(
        "--resource <slug>",
        'bind the key to this resource: a slug from `keyward resources list`, "mcp" for Keyward\'s own /mcp, or a resource URL (repeatable)',
      )
        .argParser(collect)
        .default([], "all resources"),
    )
    .option(
      "--expires <when>",
      "never (the default), a number of days (30d), a date (2027-01-31: works through that day, UTC) or an ISO 8601 time",
    )
    .option("--json", 'print the key\'s details and the raw key (field "key") as JSON')
    .action(async (label: string, options: CreateOptions, cmd: Command) => {
      const scopes = parseScopes(options.scopes);
      const limits = limitChanges(options); // --allow-ip, --rate-limit (src/cli/commands/api-keys-limits.ts)
      const email = localUser(options);
      const asked = options.resource;
      const expiry = parseExpiryOption(options.expires);
      if (email === null) return remoteCreate(label, scopes, options, asked.length ? asked : null, limits, options.expires);
      const { user, minted, bound } = await withServices(cmd, async (services) => {
        const owner = await requireUser(services, email);
        const sources = { baseUrl: services.config.baseUrl, resources: services.resources };
        const resources = asked.length
          ? await resolveResources(asked, sources).catch((err: unknown) => {
              throw err instanceof UnknownResourceError ? CliError.usage(err.message) : err;
            })
          : null;
        const minted = await services.keys
          .mint(
            { userId: owner.id, label, scopes, source: "cli", resources, ...limits, expiresAt: expiry.never ? null : expiry.at },
            BY_CLI,
          )
          .catch((err: unknown) => {
            throw err instanceof KeyInputError ? CliError.usage(err.message) : err;
          });
        const names = resources ? resourcesText(resources, await resourceChoices(sources)) : ALL_RESOURCES;
        return { user: owner, minted, bound: names };
      });
      if (options.json) {
        printJson({ ...minted.key, key: minted.raw });
        return;
      }
      out(minted.raw);
      const scopeText = minted.key.scopes.length ? minted.key.scopes.join(" ") : "full access";
      note(
        `Created API key ${minted.key.id} "${minted.key.label}" for ${user.email} (${scopeText}; works at: ${bound}; expires: ${minted.key.expiresAt ?? "never"}).`,
      );
      if (minted.key.allowedIps || minted.key.rateLimit !== null) note(`Limits: ${limitsText(minted.key)}.`);
      note("Copy it now: it will not be shown again.");
      // Resource URLs derive from ISSUER: without it they are this machine's default address, which
      // the server only answers to if it runs without ISSUER too.
      if (asked.length && !process.env.ISSUER)
        note(`ISSUER is not set: the key is bound to ${minted.key.resources?.join(", ")}. If the server has an ISSUER, set the same here.`);
    });

  apiKeys
    .command("list")
    .description("list a user's API keys, newest first (revoked keys included)")
    .option("--user <email>", "the owner's email address (this machine's database; without it: a remote server)")
    .option("--server <url>", "a remote Keyward server, with the key from `keyward auth set-token` or KEYWARD_TOKEN")
    .option("--json", "print a JSON array")
    .action(async (options: UserOptions, cmd: Command) => {
      const email = localUser(options);
      if (email === null) return remoteList(options, keyTable);
      const { user, list } = await withServices(cmd, async (services) => {
        const owner = await requireUser(services, email);
        return { user: owner, list: await services.keys.list(owner.id) };
      });
      if (options.json) printJson(list);
      else if (list.length === 0) note(`${user.email} has no API keys.`);
      else out(keyTable(list));
    });

  apiKeys
    .command("rename")
    .description("give one of a user's API keys a new label (the key itself does not change)")
    .argument("<id>", "the key id (key_…), as shown by `api-keys list`")
    .argument("<label>", "the new label (1–100 characters)")
    .option("--user <email>", "the owner's email address (this machine's database; without it: a remote server)")
    .option("--server <url>", "a remote Keyward server, with the key from `keyward auth set-token` or KEYWARD_TOKEN")
    .option("--json", "print the renamed key as JSON")
    .action(async (id: string, label: string, options: UserOptions, cmd: Command) => {
      const email = localUser(options);
      if (email === null) return remoteRename(id, label, options);
      const key = await withServices(cmd, async (services) =>
        services.keys.rename((await requireUser(services, email)).id, id, label, BY_CLI),
      );
      if (!key) throw CliError.notFound(`no API key ${id} for ${email}`);
      if (options.json) printJson(key);
      else out(`Renamed API key ${id} to "${key.label}".`);
    });

  registerApiKeysUpdate(apiKeys); // issue 28: IP allowlist and rate limit

  apiKeys
    .command("roll")
    .description("mint a replacement of one of a user's API keys (printed once) and end the old key after an overlap")
    .argument("<id>", "the key id (key_…), as shown by `api-keys list`")
    .requiredOption("--overlap <window>", "how long both keys work: now, 1h, 24h or 7d")
    .option("--user <email>", "the owner's email address (this machine's database; without it: a remote server)")
    .option("--server <url>", "a remote Keyward server, with the key from `keyward auth set-token` or KEYWARD_TOKEN")
    .option("--json", 'print the new key\'s details, the raw key (field "key") and the old key (field "replaces") as JSON')
    .action(async (id: string, options: UserOptions & { overlap: string }, cmd: Command) => {
      if (!ROLL_OVERLAP_CHOICES.includes(options.overlap))
        throw CliError.usage(`--overlap must be one of ${ROLL_OVERLAP_CHOICES.join(", ")}`);
      const email = localUser(options);
      if (email === null) return remoteRoll(id, options.overlap, options);
      const rolled = await withServices(cmd, async (services) => {
        const { isRollOverlap, RollRefusedError } = await import("../../keys/roll.js");
        if (!isRollOverlap(options.overlap)) throw CliError.usage(`--overlap must be one of ${ROLL_OVERLAP_CHOICES.join(", ")}`);
        const userId = (await requireUser(services, email)).id;
        return services.keys.roll({ kind: "own", userId, id }, options.overlap, BY_CLI).catch((err: unknown) => {
          if (err instanceof RollRefusedError) throw err.status === 400 ? CliError.usage(err.message) : new CliError(err.message);
          throw err instanceof KeyInputError ? CliError.usage(err.message) : err;
        });
      });
      if (!rolled) throw CliError.notFound(`no API key ${id} for ${email}`);
      if (options.json) return printJson({ ...rolled.key, key: rolled.raw, replaces: rolled.old });
      out(rolled.raw);
      note(`Rolled API key ${id}: the new key is ${rolled.key.id} "${rolled.key.label}"; ${id} works until ${rolled.old.expiresAt}.`);
      note("Copy it now: it will not be shown again.");
    });

  apiKeys
    .command("revoke")
    .description("revoke one of a user's API keys (idempotent), several (--ids), or every key unused for N days")
    .argument("[id]", "the key id (key_…), as shown by `api-keys list`")
    .option("--ids <ids>", "comma-separated key ids: all of them are revoked, or none if any is not the user's")
    .option("--all-unused-days <days>", "every active key created more than N days ago and not used in the last N days (N ≥ 1)")
    .option("--dry-run", "with --ids or --all-unused-days: list the keys that would be revoked, revoke nothing")
    .option("--user <email>", "the owner's email address (this machine's database; without it: a remote server)")
    .option("--server <url>", "a remote Keyward server, with the key from `keyward auth set-token` or KEYWARD_TOKEN")
    .option("--json", "print the revoked key as JSON (bulk forms: a JSON array of the keys revoked or, with --dry-run, to revoke)")
    .action(async (id: string | undefined, options: RevokeOptions, cmd: Command) => {
      const bulk = bulkTarget(id, options);
      const email = localUser(options);
      if (bulk) {
        if (email === null) return reportBulk(await remoteBulkRevoke(bulk, options), bulk, options);
        const keys = await withServices(cmd, async (services) => {
          const userId = (await requireUser(services, email)).id;
          return localBulkRevoke(services, userId, email, bulk);
        });
        return reportBulk(keys, bulk, options);
      }
      if (email === null) return remoteRevoke(id!, options);
      const [done] = await withServices(cmd, async (services) =>
        services.keys.revoke({ kind: "own", userId: (await requireUser(services, email)).id, id: id! }, BY_CLI),
      );
      if (!done) throw CliError.notFound(`no API key ${id} for ${email}`);
      if (options.json) printJson(done.key);
      else out(done.wasActive ? `Revoked API key ${id} "${done.key.label}".` : `API key ${id} was already revoked.`);
    });

  registerApiKeysUsage(apiKeys);
}
