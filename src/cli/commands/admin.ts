// keyward admin …: the operator's acts on the instance (docs/operators.md), the same as the admin
// pages (src/admin/). Whoever runs these has the database: no role is checked.
import type { Command } from "commander";
import { CliError } from "../errors.js";
import { withServices } from "../context.js";
import { formatTable, out, printJson } from "../io.js";
import type { Services } from "../../services.js";

const BY_CLI = { actor: { type: "cli" as const, id: null } };

async function operatorsOf(services: Services) {
  const { createOperators, AdminError } = await import("../../admin/operators.js");
  const operators = createOperators(services.db, services.audit);
  /** AdminError → a CLI error with the right exit code. */
  const run = async <T>(fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof AdminError) throw err.code === "not_found" ? CliError.notFound(err.message) : new CliError(err.message);
      throw err;
    }
  };
  return { operators, run };
}

const dateOption = (name: string, value: string | undefined): Date | undefined => {
  if (value === undefined) return undefined;
  const ms = Date.parse(/^\d{4}-\d{2}-\d{2}$/.test(value) ? `${value}T00:00:00Z` : value);
  if (!Number.isFinite(ms)) throw CliError.usage(`${name}: not a date (YYYY-MM-DD or an ISO 8601 time)`);
  return new Date(ms);
};

export function registerAdmin(program: Command): void {
  const admin = program.command("admin").description("operate the instance: administrators, users, OAuth clients, the audit trail");

  const userCommand = (name: string, description: string, act: "grant" | "revoke" | "disable" | "enable", done: string) =>
    admin
      .command(name)
      .description(description)
      .argument("<user>", "the account's email address or id (usr_…)")
      .option("--json", "print the user as JSON")
      .action(async (who: string, options: { json?: boolean }, cmd: Command) => {
        const user = await withServices(cmd, async (services) => {
          const { operators, run } = await operatorsOf(services);
          return run(() => operators[act](who, BY_CLI));
        });
        if (options.json) printJson(user);
        else out(`${done}: ${user.email} (${user.id})`);
      });
  userCommand("grant", "make an account an administrator of this instance (admin pages at /admin)", "grant", "Administrator");
  userCommand("revoke", "remove an account's administrator role (never the last administrator's)", "revoke", "No longer administrator");
  userCommand(
    "disable",
    "suspend an account: its sessions end, it cannot log in, every key of it fails on the next request (enable brings them back)",
    "disable",
    "Disabled",
  );
  userCommand("enable", "enable a disabled account again (its keys work again)", "enable", "Enabled");

  admin
    .command("reset-2fa")
    .description("turn off an account's two-factor authentication (secret and backup codes forgotten), for a locked-out user")
    .argument("<user>", "the account's email address or id (usr_…)")
    .option("--json", "print the result as JSON")
    .action(async (who: string, options: { json?: boolean }, cmd: Command) => {
      const result = await withServices(cmd, async (services) => {
        const { operators, run } = await operatorsOf(services);
        return run(() => operators.resetTwoFactor(who, BY_CLI));
      });
      if (options.json) printJson(result);
      else
        out(
          result.wasOn
            ? `Two-factor authentication reset for ${result.user.email}`
            : `${result.user.email} had no two-factor authentication`,
        );
    });

  admin
    .command("users")
    .description("list accounts, oldest first (50 a page)")
    .option("--search <text>", "only emails containing this text")
    .option("--page <n>", "the page (1, 2, …)", "1")
    .option("--json", "print the users as JSON")
    .action(async (options: { search?: string; page: string; json?: boolean }, cmd: Command) => {
      if (!/^\d{1,6}$/.test(options.page) || Number(options.page) < 1) throw CliError.usage("--page: a whole number from 1");
      const { users, more } = await withServices(cmd, async (services) => {
        const { operators } = await operatorsOf(services);
        return operators.listUsers({ q: options.search, page: Number(options.page) });
      });
      if (options.json) return printJson(users);
      out(
        formatTable(
          ["ID", "EMAIL", "STATUS", "ADMIN", "2FA", "CREATED"],
          users.map((u) => [
            u.id,
            u.email,
            u.disabledAt ? "disabled" : "active",
            u.isAdmin ? "yes" : "",
            u.twoFactor ? "on" : "off",
            u.createdAt,
          ]),
        ),
      );
      if (more) out(`More: --page ${Number(options.page) + 1}`);
    });

  admin
    .command("clients")
    .description("list registered OAuth clients, newest first (50 a page)")
    .option("--page <n>", "the page (1, 2, …)", "1")
    .option("--json", "print the clients as JSON")
    .action(async (options: { page: string; json?: boolean }, cmd: Command) => {
      if (!/^\d{1,6}$/.test(options.page) || Number(options.page) < 1) throw CliError.usage("--page: a whole number from 1");
      const { clients, more } = await withServices(cmd, async (services) => {
        const { operators } = await operatorsOf(services);
        return operators.listClients({ page: Number(options.page) });
      });
      if (options.json) return printJson(clients);
      out(
        formatTable(
          ["CLIENT", "NAME", "KEYS", "STATUS"],
          clients.map((c) => [c.clientId, c.clientName ?? "", String(c.activeKeys), c.blockedAt ? `blocked ${c.blockedAt}` : "active"]),
        ),
      );
      if (more) out(`More: --page ${Number(options.page) + 1}`);
    });

  admin
    .command("block-client")
    .description("block an OAuth client: its keys fail, its requests fail, its metadata cannot register again")
    .argument("<clientId>", "the client id (dcr_… or a metadata document URL)")
    .option("--reason <text>", "why (kept with the block and on the audit trail)")
    .option("--json", "print the block as JSON")
    .action(async (clientId: string, options: { reason?: string; json?: boolean }, cmd: Command) => {
      const blocked = await withServices(cmd, async (services) => {
        const { operators, run } = await operatorsOf(services);
        return run(() => operators.blockClient(clientId, BY_CLI, options.reason));
      });
      if (options.json) printJson(blocked);
      else out(`Blocked ${blocked.clientId}`);
    });

  admin
    .command("unblock-client")
    .description("unblock an OAuth client (its keys work again)")
    .argument("<clientId>", "the client id")
    .action(async (clientId: string, _options: unknown, cmd: Command) => {
      const done = await withServices(cmd, async (services) => {
        const { operators } = await operatorsOf(services);
        return operators.unblockClient(clientId, BY_CLI);
      });
      if (!done) throw CliError.notFound(`${clientId} is not blocked`);
      out(`Unblocked ${clientId}`);
    });

  admin
    .command("audit")
    .description("the instance-wide audit trail, newest first")
    .option("--action <action>", "only this event kind (e.g. user.disabled, key.revoked)")
    .option("--user <user>", "only events about this account (email or usr_… id)")
    .option("--since <date>", "only events at or after this date (YYYY-MM-DD, UTC) or time")
    .option("--until <date>", "only events before this date or time")
    .option("--limit <n>", "at most this many events (1–500)", "50")
    .option("--json", "print the events as JSON")
    .action(
      async (options: { action?: string; user?: string; since?: string; until?: string; limit: string; json?: boolean }, cmd: Command) => {
        if (!/^\d{1,3}$/.test(options.limit) || Number(options.limit) < 1 || Number(options.limit) > 500)
          throw CliError.usage("--limit: a whole number from 1 to 500");
        const from = dateOption("--since", options.since);
        const to = dateOption("--until", options.until);
        const { events } = await withServices(cmd, async (services) => {
          const { operators } = await operatorsOf(services);
          let userId: string | undefined;
          if (options.user) {
            const u = options.user.includes("@")
              ? await services.users.findByEmail(options.user)
              : await services.users.findById(options.user);
            if (!u) throw CliError.notFound(`no user ${options.user}`);
            userId = u.id;
          }
          return operators.audit({ action: options.action, userId, from, to, limit: Number(options.limit) });
        });
        if (options.json) return printJson(events);
        out(
          formatTable(
            ["WHEN", "ACTION", "USER", "BY", "TARGET"],
            events.map((e) => [
              e.createdAt,
              e.action,
              e.userId ?? "",
              `${e.actorType}${e.actorId ? ` ${e.actorId}` : ""}`,
              e.targetId ?? "",
            ]),
          ),
        );
      },
    );
}
