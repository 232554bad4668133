// Process entry: read config, migrate the database, listen; stop cleanly on SIGINT/SIGTERM.
import { ConfigError, loadConfig } from "./config.js";
import { createLogger } from "./log.js";
import { serveUntilSignal } from "./server.js";

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
  await serveUntilSignal(config, createLogger(config.logLevel));
  process.exit(0);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((err: unknown) => {
    process.stderr.write(`Keyward stopped: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
