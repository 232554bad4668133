// keyward serve: what src/main.ts does, with --database-url / --port / --host overrides.
import type { Command } from "commander";
import { configFor } from "../context.js";

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
      // Loaded on demand: the HTTP stack (oidc-provider, Koa, views) is not needed by the other commands.
      const [{ serveUntilSignal }, { createLogger }] = await Promise.all([import("../../server.js"), import("../../log.js")]);
      await serveUntilSignal(config, createLogger(config.logLevel));
    });
}
