// Applies pending migrations with `prisma migrate deploy` (it takes an advisory lock on
// PostgreSQL, so several instances starting at once are safe).
import { spawn } from "node:child_process";
import Database from "better-sqlite3";
import { existsSync, mkdirSync, readdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { normalizeDatabaseUrl, postgresDriver, providerOf, sqliteFile } from "./client.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const prismaCli = path.join(root, "node_modules", "prisma", "build", "index.js");
// Prisma's final line on success. Its wasm schema engine leaves a 10 s timer behind after the
// work is done (seen with 6.19.3 on PostgreSQL), so we end the idle process once it says so.
const DONE = /All migrations have been successfully applied|No pending migrations to apply/;

export class MigrationError extends Error {}

export async function migrate(databaseUrl: string): Promise<void> {
  const url = normalizeDatabaseUrl(databaseUrl);
  // Prisma's migrate starts a schema engine (3–5 s): only when a migration is missing.
  if (providerOf(url) === "postgresql") return (await postgresUpToDate(url)) ? undefined : deploy(url);
  const file = sqliteFile(url);
  // Prisma's migrate cannot open a WAL-mode file that another connection holds (a running server,
  // while the CLI starts), so an up-to-date file is left alone.
  if (sqliteUpToDate(file)) return;
  mkdirSync(path.dirname(file), { recursive: true });
  await deploy(url);
  useWriteAheadLog(file);
}

const APPLIED = `SELECT migration_name FROM "_prisma_migrations" WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL`;

/** The migrations this checkout ships for a backend (their folder names). */
const shipped = (provider: "sqlite" | "postgresql") =>
  readdirSync(path.join(root, "prisma", provider, "migrations"), { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => e.name);

/** True when every migration in prisma/postgresql/migrations is recorded as applied in the database. */
async function postgresUpToDate(url: string): Promise<boolean> {
  const client = new (postgresDriver().Client)({ connectionString: url, connectionTimeoutMillis: 10_000 });
  try {
    await client.connect();
    const applied = new Set((await client.query<{ migration_name: string }>(APPLIED)).rows.map((r) => r.migration_name));
    return shipped("postgresql").every((name) => applied.has(name));
  } catch {
    return false; // no migrations table yet, or unreachable: let Prisma say what is wrong
  } finally {
    await client.end().catch(() => {});
  }
}

/** True when every migration in prisma/sqlite/migrations is recorded as applied in the file. */
function sqliteUpToDate(file: string): boolean {
  if (!existsSync(file)) return false;
  const local = shipped("sqlite");
  let sqlite: Database.Database | undefined;
  try {
    sqlite = new Database(file, { readonly: true, fileMustExist: true, timeout: 10_000 });
    if (sqlite.pragma("journal_mode", { simple: true }) !== "wal") return false;
    const applied = new Set(sqlite.prepare(APPLIED).pluck().all() as string[]);
    return local.every((name) => applied.has(name));
  } catch {
    return false; // no migrations table yet, or not a database: let Prisma say what is wrong
  } finally {
    sqlite?.close();
  }
}

/**
 * SQLite in WAL mode (a setting stored in the file): readers never wait for a writer, and the
 * verification path's per-request change check is one read of the WAL-index header
 * (src/keys/lookup/sqlite-change-token.ts; rollback mode falls back to PRAGMA data_version).
 */
function useWriteAheadLog(file: string): void {
  const sqlite = new Database(file, { timeout: 10_000 });
  try {
    sqlite.pragma("journal_mode = WAL");
  } catch {
    // Another connection holds the file: stay in rollback mode (correct, only slower); a later start retries.
  } finally {
    sqlite.close();
  }
}

function deploy(url: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
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
        // Prisma's SQLite connector reports a busy (locked) file as `SocketTimeout`.
        if (providerOf(url) === "sqlite" && /SocketTimeout|database is locked|SQLITE_BUSY/.test(out))
          reject(
            new MigrationError(
              `Database migration failed: ${sqliteFile(url)} is in use by another process (a running Keyward server?). New migrations need the file to themselves: stop the other process and start again.`,
            ),
          );
        else reject(new MigrationError(`Database migration failed: ${(errors.length ? errors : lines.slice(-3)).join(" ")}`));
      }
    });
  });
}
