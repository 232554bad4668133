// Config and services for one command: env (plus --database-url) → loadConfig → openServices → close.
import type { Command } from "commander";
import { existsSync } from "node:fs";
import { databaseUrlProblem, loadConfig, type Config } from "../config.js";
import type { Services } from "../services.js";
import type { PublicUser } from "../accounts/users.js";
import { CliError } from "./errors.js";

export interface GlobalOptions {
  databaseUrl?: string;
}

/** The config from the environment, with the global --database-url and any per-command overrides on top. */
export function configFor(cmd: Command, overrides: Record<string, string | undefined> = {}): Config {
  const { databaseUrl } = cmd.optsWithGlobals<GlobalOptions>();
  const env: Record<string, string | undefined> = { ...process.env };
  if (databaseUrl !== undefined) env.DATABASE_URL = databaseUrl;
  // A database URL the server would refuse is the caller's mistake (exit 2), caught before any
  // file is made: `mysql://x` or a bare word used to become a SQLite file of that name.
  const url = env.DATABASE_URL;
  const problem = url === undefined || url === "" ? (databaseUrl !== undefined ? "is empty" : null) : databaseUrlProblem(url);
  if (problem) throw CliError.usage(`${databaseUrl !== undefined ? "--database-url" : "DATABASE_URL"}: ${problem}`);
  for (const [name, value] of Object.entries(overrides)) if (value !== undefined) env[name] = value;
  return loadConfig(env);
}

export interface ServicesOptions {
  /**
   * True for the commands that make something from nothing (`users create`, `resource-servers add`):
   * they may create and migrate a new SQLite database. Every other command works on rows that must
   * already exist, so a missing database file is an error for it, not a new empty file.
   */
  mayCreateDatabase?: boolean;
}

/** Opens the services (migrating first), runs `fn`, and always flushes and disconnects afterwards. */
export async function withServices<T>(cmd: Command, fn: (services: Services) => Promise<T>, options: ServicesOptions = {}): Promise<T> {
  const config = configFor(cmd);
  // Imported here, not at the top: `keyward --help` and the offline commands never load the services.
  const [{ createLogger }, { openServices }, { normalizeDatabaseUrl, providerOf, sqliteFile }] = await Promise.all([
    import("../log.js"),
    import("../services.js"),
    import("../db/client.js"),
  ]);
  const url = normalizeDatabaseUrl(config.databaseUrl);
  if (!options.mayCreateDatabase && providerOf(url) === "sqlite" && !existsSync(sqliteFile(url))) {
    throw new CliError(
      `no database at ${sqliteFile(url)}: start the server once or run \`keyward migrate\` (or point --database-url / DATABASE_URL at the server's database)`,
    );
  }
  // Logs (only flush failures, in practice) go to stderr: stdout is for results.
  const logger = createLogger(config.logLevel, process.stderr);
  // No verification cache: a command lives for one request. Its revocations are announced to the
  // running instances as they happen (src/keys/lookup/announce.ts).
  const services = await openServices(config, logger, { verifyCache: false });
  let result: T;
  try {
    result = await fn(services);
  } catch (err) {
    await services.close().catch(() => undefined);
    throw err;
  }
  await services.close();
  return result;
}

export async function requireUser(services: Services, email: string): Promise<PublicUser> {
  const user = await services.users.findByEmail(email);
  if (!user) throw CliError.notFound(`no user with email ${email}`);
  return user;
}
