// Starts and stops a Keyward HTTP server: used by main.ts, `keyward serve` and the tests.
import http from "node:http";
import type { AddressInfo } from "node:net";
import { createApp } from "./app.js";
import type { Config } from "./config.js";
import type { Logger } from "./log.js";
import { openServices, type Services } from "./services.js";
import { purgeOAuthRecords } from "./oauth/purge.js";

export interface RunningServer {
  services: Services;
  server: http.Server;
  url: string;
  /** Stops accepting connections, finishes in-flight requests, flushes last-used, closes the database. */
  stop(): Promise<void>;
}

export async function startServer(config: Config, logger: Logger, options: { migrate?: boolean } = {}): Promise<RunningServer> {
  const services = await openServices(config, logger, options);
  const app = createApp(services);
  const server = http.createServer(app.callback());
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(config.port, config.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const purge = () =>
    purgeOAuthRecords(services.db, config.clientPurgeMs).then(
      (r) => r.clients + r.expired > 0 && logger.info(r, "purged unused OAuth clients and expired records"),
      (err: unknown) => logger.error({ err }, "OAuth purge failed"),
    );
  void purge();
  const purgeTimer = setInterval(() => void purge(), Math.min(config.clientPurgeMs, 3600_000));
  purgeTimer.unref();
  let stopping: Promise<void> | undefined;
  return {
    services,
    server,
    url: `http://127.0.0.1:${port}`,
    stop() {
      stopping ??= (async () => {
        services.stopping = true;
        clearInterval(purgeTimer);
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
