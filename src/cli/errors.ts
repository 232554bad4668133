// CLI failures and their exit codes (EXIT_CODES below, the one description; docs/cli.md has the same table).
import { CommanderError } from "commander";
import { ZodError } from "zod";
import { ConfigError } from "../config.js";
import { KeyInputError } from "../keys/errors.js";

export const ExitCode = {
  ok: 0,
  failure: 1,
  usage: 2,
  notFound: 3,
  /** The user pressed Ctrl-C at a prompt (128 + SIGINT, as shells report it). */
  interrupted: 130,
} as const;

/**
 * What each exit code means, in the words `keyward --help`, README.md and docs/cli.md use
 * (test/cli-help.test.ts checks that they agree).
 */
export const EXIT_CODES: readonly (readonly [code: number, meaning: string])[] = [
  [ExitCode.ok, "success"],
  [ExitCode.failure, "any other error"],
  [ExitCode.usage, "usage or invalid input"],
  [ExitCode.notFound, "not found or not authenticated"],
  [ExitCode.interrupted, "cancelled with Ctrl-C"],
];

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = ExitCode.failure,
  ) {
    super(message);
  }

  static usage(message: string): CliError {
    return new CliError(message, ExitCode.usage);
  }

  static notFound(message: string): CliError {
    return new CliError(message, ExitCode.notFound);
  }
}

/** Multi-line messages (config problems, Prisma output) folded onto one line. */
export function oneLine(message: string, max = 600): string {
  const lines = message
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter(Boolean);
  const [first = "unknown error", ...rest] = lines;
  const text = rest.length === 0 ? first : first.endsWith(":") ? `${first} ${rest.join("; ")}` : `${first}: ${rest.join(" ")}`;
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** Prisma's output starts with chatter ("Loaded Prisma config…"): keep what follows its "Error:" line. */
function migrationMessage(message: string): string {
  const lines = message.split(/\r?\n/);
  const at = lines.findIndex((l) => /^\s*Error:/.test(l));
  if (at <= 0) return oneLine(message);
  const detail = lines
    .slice(at)
    .join("\n")
    .replace(/^\s*Error:\s*/, "");
  return oneLine(`Database migration failed: ${oneLine(detail)}`);
}

export interface Failure {
  exitCode: number;
  /** Null when the message was already written (commander reports its own errors). */
  message: string | null;
}

/**
 * Maps anything a command threw to an exit code and the one line to print. Async because the
 * modules behind the last checks (argon2, the database) are imported only when needed: a failure
 * they threw has loaded them already, and `keyward --help` or a usage error never loads them.
 */
export async function describeFailure(err: unknown): Promise<Failure> {
  if (err instanceof CommanderError) return { exitCode: err.exitCode === 0 ? ExitCode.ok : ExitCode.usage, message: null };
  if (err instanceof CliError) return { exitCode: err.exitCode, message: oneLine(err.message) };
  if (err instanceof KeyInputError) return { exitCode: ExitCode.usage, message: oneLine(err.message) };
  if (err instanceof ZodError) {
    const issue = err.issues[0];
    const where = issue && issue.path.length > 0 ? `${issue.path.join(".")}: ` : "";
    return { exitCode: ExitCode.usage, message: oneLine(issue ? `${where}${issue.message}` : err.message) };
  }
  const [{ MigrationError }, { UserExistsError }] = await Promise.all([import("../db/migrate.js"), import("../accounts/users.js")]);
  if (err instanceof MigrationError) return { exitCode: ExitCode.failure, message: migrationMessage(err.message) };
  if (err instanceof UserExistsError || err instanceof ConfigError) return { exitCode: ExitCode.failure, message: oneLine(err.message) };
  if (err instanceof Error) return { exitCode: ExitCode.failure, message: oneLine(err.message) };
  return { exitCode: ExitCode.failure, message: oneLine(String(err)) };
}
