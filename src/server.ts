// Starts and stops a Keyward HTTP server: used by main.ts, `keyward serve` and the tests.
import http from "node:http";
import type { AddressInfo } from "node:net";
import { createApp } from "./app.js";
import type { Config } from "./config.js";
import type { Logger } from "./log.js";
import { openServices, type OpenOptions, type Services } from "./services.js";
import { redactDatabaseUrl } from "./db/client.js";
import { startHousekeeping } from "./housekeeping.js";

export interface RunningServer {
  services: Services;
  server: http.Server;
  url: string;
  /** Stops accepting connections, finishes in-flight requests, flushes last-used, closes the database. */
  stop(): Promise<void>;
}

export async function startServer(config: Config, logger: Logger, options: OpenOptions = {}): Promise<RunningServer> {
  const services = await openServices(config, logger, options);
  const app = createApp(services);
  const server = http.createServer(app.callback());
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(config.port, config.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const housekeeping = startHousekeeping(services);
  let stopping: Promise<void> | undefined;
  return {
    services,
    server,
    url: `http://127.0.0.1:${port}`,
    stop() {
      stopping ??= (async () => {
        services.stopping = true;
        housekeeping.stop();
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeIdleConnections();
        });
        await services.close();
      })();
      return stopping;
    },
  };
}

/**
 * Runs the server until SIGINT or SIGTERM, then stops it cleanly (a second signal exits at once).
 * Used by `npm start` (src/main.ts) and `keyward serve`. Rejects if start-up or shutdown fails.
 */
export async function serveUntilSignal(config: Config, logger: Logger): Promise<void> {
  const running = await startServer(config, logger);
  logger.info({ url: config.baseUrl, listen: `${config.host}:${config.port}`, database: redactDatabaseUrl(config.databaseUrl) }, "Keyward is listening");
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    let signals = 0;
    const onSignal = (s: NodeJS.Signals) => {
      if (signals++ > 0) process.exit(1);
      resolve(s);
    };
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
  });
  logger.info({ signal }, "shutting down");
  try {
    await running.stop();
  } catch (err) {
    logger.error({ err }, "shutdown failed");
    throw err;
  }
}
