// The lists in test/backends.json decide which files the PostgreSQL pass of `npm test` skips. They must not rot
// into skipping a test that needs PostgreSQL: every listed file exists, a "noDatabase" file opens no database, and
// a "oneBackend" file never reaches into the database itself (raw SQL, its contents, the backend in use). Files not
// listed run on both backends.
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import backends from "./backends.json" with { type: "json" };

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const source = (file: string) => readFileSync(path.join(root, file), "utf8");

/** What opens a database: the test server, a test database, a Keyward process or a spawned CLI, the services or the db module. */
const OPENS_A_DATABASE =
  /support\/(server|test-db|db|processes)\.js|src\/(db|services)[/.]|startTestServer|openTestDb|inject\(|\b(keyward|startKeyward)\(/;
/** What reaches into the database beside Keyward's own requests. */
const REACHES_INTO_THE_DATABASE =
  /\.database\b|services\.db\b|\$queryRaw|\$executeRaw|\.contents\(|testBackend|adminDatabaseUrl|TEST_DATABASE_URL|support\/(test-db|db)\.js|openTestDb/;

describe("test/backends.json", () => {
  const noDatabase = Object.keys(backends.noDatabase);
  const oneBackend = Object.keys(backends.oneBackend);

  it("lists existing test files, each once, each with a reason", () => {
    for (const file of [...noDatabase, ...oneBackend]) {
      expect(existsSync(path.join(root, file)), file).toBe(true);
      expect(file, file).toMatch(/^test\/.+\.test\.ts$/);
    }
    expect(new Set([...noDatabase, ...oneBackend]).size).toBe(noDatabase.length + oneBackend.length);
    for (const reason of [...Object.values(backends.noDatabase), ...Object.values(backends.oneBackend)])
      expect(reason.length).toBeGreaterThan(10);
  });

  // This file names those helpers in its patterns, and opens nothing.
  it.each(noDatabase.filter((f) => f !== "test/backends.test.ts"))("%s opens no database", (file) => {
    expect(source(file)).not.toMatch(OPENS_A_DATABASE);
  });

  it.each(oneBackend)("%s does not reach into the database itself", (file) => {
    expect(source(file)).not.toMatch(REACHES_INTO_THE_DATABASE);
  });
});
