// Applies pending migrations with `prisma migrate deploy` (it takes an advisory lock on
// PostgreSQL, so several instances starting at once are safe).
import { execFile } from "node:child_process";
import { mkdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { normalizeDatabaseUrl, providerOf, sqliteFile } from "./client.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const prismaCli = path.join(root, "node_modules", "prisma", "build", "index.js");

export class MigrationError extends Error {}

export async function migrate(databaseUrl: string): Promise<void> {
  const url = normalizeDatabaseUrl(databaseUrl);
  if (providerOf(url) === "sqlite") mkdirSync(path.dirname(sqliteFile(url)), { recursive: true });
  await new Promise<void>((resolve, reject) => {
    execFile(
      process.execPath,
      [prismaCli, "migrate", "deploy"],
      { cwd: root, env: { ...process.env, DATABASE_URL: url, PRISMA_HIDE_UPDATE_MESSAGE: "1" } },
      (error, _stdout, stderr) => {
        if (error) reject(new MigrationError(`Database migration failed: ${stderr.trim() || error.message}`));
        else resolve();
      },
    );
  });
}
