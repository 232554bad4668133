// keyward migrate: applies pending migrations and says so.
import type { Command } from "commander";
import { configFor } from "../context.js";
import { out } from "../io.js";

export function registerMigrate(program: Command): void {
  program
    .command("migrate")
    .description("apply pending database migrations (safe to run repeatedly)")
    .action(async (_options: object, cmd: Command) => {
      const config = configFor(cmd);
      // Loaded when the command runs, so `keyward --help` does not load the database client.
      const [{ migrate }, { normalizeDatabaseUrl, redactDatabaseUrl }] = await Promise.all([
        import("../../db/migrate.js"),
        import("../../db/client.js"),
      ]);
      await migrate(config.databaseUrl);
      out(`Database is up to date: ${redactDatabaseUrl(normalizeDatabaseUrl(config.databaseUrl))}`);
    });
}
