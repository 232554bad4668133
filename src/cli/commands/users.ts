// keyward users create: accounts without the sign-up page (works with ALLOW_SIGNUP=false).
import type { Command } from "commander";
import { CliError } from "../errors.js";
import { withServices } from "../context.js";
import { out, passwordSource, printJson, readPassword } from "../io.js";

interface CreateOptions {
  email: string;
  passwordStdin?: boolean;
  json?: boolean;
}

export function registerUsers(program: Command): void {
  const users = program.command("users").description("manage user accounts");

  users
    .command("create")
    .description("create a user; the password comes from stdin or a hidden prompt, never from an argument")
    .requiredOption("--email <email>", "the user's email address")
    .option("--password-stdin", "read the password from stdin (one trailing newline is stripped)")
    .option("--json", "print the user as JSON")
    .action(async (options: CreateOptions, cmd: Command) => {
      // Loaded when the command runs (argon2 and the database client), not for `keyward --help`.
      const { emailSchema, passwordSchema } = await import("../../accounts/users.js");
      const email = emailSchema.safeParse(options.email);
      if (!email.success) throw CliError.usage(`--email: ${email.error.issues[0]?.message ?? "invalid email address"}`);
      const source = passwordSource(options.passwordStdin === true);
      const user = await withServices(
        cmd,
        async ({ users, audit }) => {
          if (await users.findByEmail(email.data)) throw new CliError(`an account with email ${email.data} already exists`);
          const password = passwordSchema.safeParse(await readPassword(source));
          if (!password.success) throw CliError.usage(password.error.issues[0]?.message ?? "invalid password");
          const created = await users.create(email.data, password.data);
          await audit.record({ userId: created.id, actor: { type: "cli" }, action: "user.created" }); // operators: on the instance-wide trail
          return created;
        },
        { mayCreateDatabase: true },
      );
      if (options.json) printJson(user);
      else out(`Created user ${user.email} (${user.id})`);
    });
}
