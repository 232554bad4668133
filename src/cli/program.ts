// The `keyward` program: commands, help, version, and how failures become one line + an exit code.
// Command modules import only light modules (commander, zod, pure helpers) at the top; whatever
// reaches the database, argon2, pino or the HTTP stack is imported inside the action that needs it,
// so `keyward --help` and the offline commands start fast (docs/performance.md, start-up).
import { readFileSync } from "node:fs";
import { Command } from "commander";
import { describeFailure, EXIT_CODES, ExitCode } from "./errors.js";
import { helpConfiguration } from "./help.js";
import { registerServe } from "./commands/serve.js";
import { registerMigrate } from "./commands/migrate.js";
import { registerUsers } from "./commands/users.js";
import { registerApiKeys } from "./commands/api-keys.js";
import { registerApiKeysImport } from "./commands/api-keys-import.js";
import { registerAuth } from "./commands/auth.js";
import { registerKeysCheck } from "./commands/keys-check.js";
import { registerMcpConfig } from "./commands/mcp-config.js";
import { registerOrgs } from "./commands/orgs.js";
import { registerResourceServers } from "./commands/resource-servers.js";
import { registerResources } from "./commands/resources.js";
import { registerAdmin } from "./commands/admin.js"; // operators (issue 29)
import { registerDoctor } from "./commands/doctor.js"; // issue 26: connection doctor

function packageVersion(): string {
  const pkg: unknown = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8"));
  return typeof pkg === "object" && pkg !== null && "version" in pkg && typeof pkg.version === "string" ? pkg.version : "0.0.0";
}

const EXAMPLES = `
Configuration comes from the environment (DATABASE_URL, KEY_PREFIX, SCOPES, …), as for the server.

Examples (in the checkout: npx keyward …):
  $ keyward migrate
  $ printf '%s' "$PASSWORD" | keyward users create --email ada@example.com --password-stdin
  $ keyward api-keys create laptop --user ada@example.com --scopes mcp:read
  $ keyward api-keys list --user ada@example.com --json | jq -r '.[].id'

Exit codes: ${EXIT_CODES.map(([code, meaning]) => `${code} ${meaning}`).join(", ")}.`;

export function buildProgram(): Command {
  const program = new Command("keyward");
  // Settings first: subcommands created with .command() inherit them.
  program
    .description("Keyward: self-hostable authorization server that issues user API keys")
    .version(packageVersion(), "-V, --version", "print the version")
    .helpOption("-h, --help", "show help")
    .helpCommand("help [command]", "show help for a command")
    .option("--database-url <url>", "database to use (overrides DATABASE_URL)")
    .configureHelp(helpConfiguration)
    .configureOutput({ outputError: (str, write) => write(`keyward: ${str.replace(/^error: /, "")}`) })
    .exitOverride()
    .addHelpText("after", EXAMPLES);

  registerServe(program);
  registerMigrate(program);
  registerUsers(program);
  registerApiKeys(program);
  registerApiKeysImport(program);
  registerAuth(program);
  registerKeysCheck(program);
  registerMcpConfig(program);
  registerOrgs(program);
  registerResources(program);
  registerResourceServers(program);
  registerAdmin(program); // operators (issue 29)
  registerDoctor(program); // issue 26: connection doctor
  return program;
}

/** Runs the CLI; resolves to the exit code. Errors are reported as a single `keyward: …` line. */
export async function runCli(argv: readonly string[]): Promise<number> {
  try {
    await buildProgram().parseAsync([...argv]);
    return ExitCode.ok;
  } catch (err) {
    const failure = await describeFailure(err);
    if (failure.message !== null) process.stderr.write(`keyward: ${failure.message}\n`);
    if (process.env.KEYWARD_DEBUG && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
    return failure.exitCode;
  }
}
