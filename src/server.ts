// Starts and stops a Keyward HTTP server: used by main.ts, `keyward serve` and the tests.
import http from "node:http";
import type { AddressInfo } from "node:net";
import { createApp, type AppOptions } from "./app.js";
import type { Config } from "./config.js";
import type { Logger } from "./log.js";
import { openServices, type OpenOptions, type Services } from "./services.js";
import { redactDatabaseUrl } from "./db/client.js";
import { startHousekeeping } from "./housekeeping.js";
import { applyResources, readResourcesFile } from "./resources/file.js";
import { upgradeClientSecrets } from "./oauth/client-secrets/upgrade.js";

export interface RunningServer {
  services: Services;
  server: http.Server;
  url: string;
  /**
   * Stops: /readyz answers 503 "stopping" and every response says Connection: close; after `drainMs`
   * (default 0) of serving like that, stops accepting connections, finishes in-flight requests, closes
   * idle keep-alive sockets, flushes last-used, closes the database.
   */
  stop(options?: { drainMs?: number }): Promise<void>;
}

export async function startServer(config: Config, logger: Logger, options: OpenOptions & AppOptions = {}): Promise<RunningServer> {
  const services = await openServices(config, logger, options);
  try {
    // Here and in `keyward migrate`, not in openServices: every CLI command opens the services too, and
    // need not scan the Client table. A row an older instance writes later is hashed when first read.
    const upgraded = await upgradeClientSecrets(services.db);
    if (upgraded) logger.info({ clients: upgraded }, "client secrets stored in clear were replaced by their hashes");
    if (config.resourcesFile) await applyResourcesFile(services, config.resourcesFile);
  } catch (err) {
    await services.close().catch(() => undefined);
    throw err;
  }
  const app = createApp(services, options);
  const handle = app.callback();
  let draining = false;
  // While draining, Node answers with Connection: close and closes the socket after the response, so
  // a client on a keep-alive connection gets its answer and reconnects (to another instance).
  const server = http.createServer((req, res) => {
    if (draining) res.shouldKeepAlive = false;
    void handle(req, res);
  });
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
    stop({ drainMs = 0 } = {}) {
      stopping ??= (async () => {
        services.stopping = true; // /readyz: 503 stopping, so a balancer takes this instance out
        draining = true;
        housekeeping.stop();
        if (drainMs > 0) await new Promise((resolve) => setTimeout(resolve, drainMs));
        // stdio sessions hold SSE streams open for as long as their process runs: end the processes
        // (and so their streams) while the listener stops, or it would wait for them for ever.
        const listenerClosed = closeListener(server);
        await services.stdioProcesses.close();
        await listenerClosed;
        await services.close();
      })();
      return stopping;
    },
  };
}

/**
 * RESOURCES_FILE, before the first request: adds and updates what it declares (src/resources/file.ts).
 * A bad file throws ResourcesFileError (its message names the file and the entry) and the start stops.
 */
async function applyResourcesFile(services: Services, file: string): Promise<void> {
  const declared = readResourcesFile(file, services.config.scopes);
  const done = await applyResources(services.resources, declared, { actor: { type: "system" } });
  const { logger } = services;
  logger.info({ added: done.added, updated: done.updated.map((u) => u.slug), unchanged: done.unchanged.length }, "RESOURCES_FILE applied");
  if (done.notInFile.length)
    logger.warn(
      { resources: done.notInFile },
      `resources not in RESOURCES_FILE are left as they are (remove them with keyward resources remove): ${done.notInFile.join(", ")}`,
    );
}

/** Stops accepting, waits for in-flight requests; keep-alive sockets are closed as soon as they are idle. */
function closeListener(server: http.Server): Promise<void> {
  return new Promise<void>((resolve) => {
    // A request that began before the drain may still finish on a keep-alive socket: sweep until none is left.
    const sweep = setInterval(() => server.closeIdleConnections(), 100);
    server.close(() => {
      clearInterval(sweep);
      resolve();
    });
    server.closeIdleConnections();
  });
}

/**
 * Runs the server until SIGINT or SIGTERM, then stops it cleanly (a second signal exits at once).
 * SIGTERM (a balancer's or orchestrator's stop) drains first for SHUTDOWN_DRAIN_SECONDS; SIGINT (Ctrl-C
 * at a terminal) does not wait. Used by `npm start` (src/main.ts) and `keyward serve`. Rejects if
 * start-up or shutdown fails.
 */
export async function serveUntilSignal(config: Config, logger: Logger, options: AppOptions = {}): Promise<void> {
  const running = await startServer(config, logger, options);
  logger.info(
    { url: config.baseUrl, listen: `${config.host}:${config.port}`, database: redactDatabaseUrl(config.databaseUrl) },
    "Keyward is listening",
  );
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    let signals = 0;
    const onSignal = (s: NodeJS.Signals) => {
      if (signals++ > 0) process.exit(1);
      resolve(s);
    };
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
  });
  const drainMs = signal === "SIGTERM" ? config.shutdownDrainMs : 0;
  logger.info({ signal, drainSeconds: drainMs / 1000 }, "shutting down");
  try {
    await running.stop({ drainMs });
  } catch (err) {
    logger.error({ err }, "shutdown failed");
    throw err;
  }
}
