// The benchmark's server: Keyward as `npm start` runs it (src/main.ts: same config, same app, same
// shutdown), with the benchmark's routes (bench/routes.ts) mounted right after the health checks.
// Only the benchmark starts it (`node --import tsx bench/serve.ts`, bench/servers.ts); nothing in
// src/ can mount these routes.
import { ConfigError, loadConfig } from "../src/config.js";
import { createLogger } from "../src/log.js";
import { serveUntilSignal } from "../src/server.js";
import { benchRoutes } from "./routes.js";

try {
  const config = loadConfig();
  await serveUntilSignal(config, createLogger(config.logLevel), { mount: (services) => [benchRoutes(services)] });
  process.exit(0);
} catch (err) {
  process.stderr.write(
    `${err instanceof ConfigError ? err.message : `bench server stopped: ${err instanceof Error ? err.message : String(err)}`}\n`,
  );
  process.exit(1);
}
