// keyward migrate: applies pending migrations and says so.
import type { Command } from "commander";
import { migrate } from "../../db/migrate.js";
import { normalizeDatabaseUrl, redactDatabaseUrl } from "../../db/client.js";
import { configFor } from "../context.js";
import { out } from "../io.js";

export function registerMigrate(program: Command): void {
  program
    .command("migrate")
    .description("apply pending database migrations (safe to run repeatedly)")
    .action(async (_options: object, cmd: Command) => {
      const config = configFor(cmd);
      await migrate(config.databaseUrl);
      out(`Database is up to date: ${redactDatabaseUrl(normalizeDatabaseUrl(config.databaseUrl))}`);
    });
}
