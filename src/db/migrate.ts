// Applies pending migrations with `prisma migrate deploy` (it takes an advisory lock on
// PostgreSQL, so several instances starting at once are safe).
import { spawn } from "node:child_process";
import { mkdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { normalizeDatabaseUrl, providerOf, sqliteFile } from "./client.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const prismaCli = path.join(root, "node_modules", "prisma", "build", "index.js");
// Prisma's final line on success. Its wasm schema engine leaves a 10 s timer behind after the
// work is done (seen with 6.19.3 on PostgreSQL), so we end the idle process once it says so.
const DONE = /All migrations have been successfully applied|No pending migrations to apply/;

export class MigrationError extends Error {}

export async function migrate(databaseUrl: string): Promise<void> {
  const url = normalizeDatabaseUrl(databaseUrl);
  if (providerOf(url) === "sqlite") mkdirSync(path.dirname(sqliteFile(url)), { recursive: true });
  await new Promise<void>((resolve, reject) => {
    const child = spawn(process.execPath, [prismaCli, "migrate", "deploy"], {
      cwd: root,
      env: { ...process.env, DATABASE_URL: url, PRISMA_HIDE_UPDATE_MESSAGE: "1", CHECKPOINT_DISABLE: "1" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let done = false;
    const collect = (chunk: Buffer) => {
      out += chunk.toString();
      if (!done && DONE.test(out)) {
        done = true;
        child.kill();
        resolve();
      }
    };
    child.stdout.on("data", collect);
    child.stderr.on("data", collect);
    child.on("error", (err) => reject(new MigrationError(`Database migration failed: ${err.message}`)));
    child.on("exit", (code) => {
      if (done) return;
      if (code === 0) resolve();
      else {
        const lines = out.split("\n").filter((l) => l.trim());
        const errors = lines.filter((l) => /^Error|error:/i.test(l));
        reject(new MigrationError(`Database migration failed: ${(errors.length ? errors : lines.slice(-3)).join(" ")}`));
      }
    });
  });
}
