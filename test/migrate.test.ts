// Migrations on SQLite in WAL mode: an up-to-date file is left alone, so the CLI can start while a
// server holds the file; a file that needs a migration while another process holds it gets a
// message that says so (Prisma's own says "SocketTimeout").
import { copyFileSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { migrate } from "../src/db/migrate.js";
import { createTestDatabase, type TestDatabase } from "./support/db.js";

describe.skipIf(inject("testBackend") !== "sqlite")("SQLite migrations", () => {
  let template: TestDatabase;
  let dir: string;
  beforeAll(async () => {
    template = await createTestDatabase();
    dir = mkdtempSync(path.join(os.tmpdir(), "keyward-migrate-"));
  });
  afterAll(async () => {
    await template?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  const copy = (name: string) => {
    const file = path.join(dir, name);
    copyFileSync(template.file!, file);
    return file;
  };

  it("a migrated file is in WAL mode, and migrating it again while another connection holds it is a no-op", async () => {
    const file = copy("held.db");
    await migrate(`file:${file}`);
    const held = new Database(file);
    try {
      expect(held.pragma("journal_mode", { simple: true })).toBe("wal");
      held.prepare(`SELECT count(*) FROM "ApiKey"`).get();
      await expect(migrate(`file:${file}`)).resolves.toBeUndefined();
    } finally {
      held.close();
    }
  });

  it("a pending migration while another process holds the file: a clear error, and the file is untouched", async () => {
    const file = copy("pending.db");
    await migrate(`file:${file}`);
    const held = new Database(file);
    try {
      // Make a migration look unapplied: 0006, a data-only UPDATE that can run twice (the newest one
      // may add a column or a table, which a second run refuses).
      held.prepare(`DELETE FROM "_prisma_migrations" WHERE migration_name = '0006_key_organizations'`).run();
      const before = held.prepare(`SELECT count(*) AS n FROM "_prisma_migrations"`).get() as { n: number };
      const error = await migrate(`file:${file}`).then(
        () => null,
        (err: unknown) => err as Error,
      );
      expect(error?.message).toMatch(/is in use by another process \(a running Keyward server\?\)/);
      expect(error?.message).not.toMatch(/SocketTimeout/);
      expect(held.prepare(`SELECT count(*) AS n FROM "_prisma_migrations"`).get()).toEqual(before);
    } finally {
      held.close();
    }
    // Alone again, the same file migrates.
    await expect(migrate(`file:${file}`)).resolves.toBeUndefined();
  }, 60_000);
});
