// Process entry: read config, migrate the database, listen; stop cleanly on SIGINT/SIGTERM.
import { ConfigError, loadConfig } from "./config.js";
import { createLogger } from "./log.js";
import { startServer } from "./server.js";

export async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
  const logger = createLogger(config.logLevel);
  const running = await startServer(config, logger);
  logger.info({ url: config.baseUrl, listen: `${config.host}:${config.port}`, database: running.services.db ? config.databaseUrl.replace(/\/\/[^@]*@/, "//***@") : "" }, "Keyward is listening");
  let signals = 0;
  const shutdown = (signal: string) => {
    if (signals++ > 0) process.exit(1);
    logger.info({ signal }, "shutting down");
    running.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  process.on("SIGINT", () => shutdown("SIGINT"));
  process.on("SIGTERM", () => shutdown("SIGTERM"));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((err: unknown) => {
    process.stderr.write(`Keyward failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
