// keyward migrate: applies pending migrations, hashes any client secret an older version stored in
// clear (src/oauth/client-secrets/upgrade.ts, as the server does at start), and says so. The other
// commands leave that to the server: they need not scan the Client table.
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
      const [{ migrate }, { createDb, normalizeDatabaseUrl, redactDatabaseUrl }, { upgradeClientSecrets }] = await Promise.all([
        import("../../db/migrate.js"),
        import("../../db/client.js"),
        import("../../oauth/client-secrets/upgrade.js"),
      ]);
      await migrate(config.databaseUrl);
      const db = await createDb(config.databaseUrl);
      let upgraded: number;
      try {
        upgraded = await upgradeClientSecrets(db);
      } finally {
        await db.$disconnect();
      }
      out(`Database is up to date: ${redactDatabaseUrl(normalizeDatabaseUrl(config.databaseUrl))}`);
      if (upgraded) out(`Client secrets stored in clear replaced by their hashes: ${upgraded}`);
    });
}
