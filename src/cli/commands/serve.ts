// keyward serve: what src/main.ts does, with --database-url / --port / --host overrides.
import type { Command } from "commander";
import { createLogger } from "../../log.js";
import { configFor, redactUrl } from "../context.js";

interface ServeOptions {
  port?: string;
  host?: string;
}

export function registerServe(program: Command): void {
  program
    .command("serve")
    .description("start the HTTP server (migrates the database first); stops cleanly on SIGINT/SIGTERM")
    .option("-p, --port <port>", "port to listen on (overrides PORT)")
    .option("--host <host>", "address to bind (overrides HOST)")
    .action(async (options: ServeOptions, cmd: Command) => {
      const config = configFor(cmd, { PORT: options.port, HOST: options.host });
      const logger = createLogger(config.logLevel);
      // Loaded on demand: the HTTP stack (oidc-provider, Koa, views) is not needed by the other commands.
      const { startServer } = await import("../../server.js");
      const running = await startServer(config, logger);
      logger.info(
        { url: config.baseUrl, listen: `${config.host}:${config.port}`, database: redactUrl(config.databaseUrl) },
        "Keyward is listening",
      );
      await new Promise<void>((resolve, reject) => {
        let signals = 0;
        const shutdown = (signal: NodeJS.Signals) => {
          if (signals++ > 0) process.exit(1);
          logger.info({ signal }, "shutting down");
          running.stop().then(() => {
            process.off("SIGINT", shutdown);
            process.off("SIGTERM", shutdown);
            resolve();
          }, reject);
        };
        process.on("SIGINT", shutdown);
        process.on("SIGTERM", shutdown);
      });
    });
}
