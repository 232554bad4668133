// Config and services for one command: env (plus --database-url) → loadConfig → openServices → close.
import type { Command } from "commander";
import { loadConfig, type Config } from "../config.js";
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
  if (databaseUrl) env.DATABASE_URL = databaseUrl;
  for (const [name, value] of Object.entries(overrides)) if (value !== undefined) env[name] = value;
  return loadConfig(env);
}

/** Opens the services (migrating first), runs `fn`, and always flushes and disconnects afterwards. */
export async function withServices<T>(cmd: Command, fn: (services: Services) => Promise<T>): Promise<T> {
  const config = configFor(cmd);
  // Imported here, not at the top: `keyward --help` and the offline commands never load the services.
  const [{ createLogger }, { openServices }] = await Promise.all([import("../log.js"), import("../services.js")]);
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
