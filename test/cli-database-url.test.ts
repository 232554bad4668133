// DATABASE_URL / --database-url from the outside: an unknown scheme or a non-URL is refused (exit 2)
// before any file is made, and the commands that work on existing rows never create a database.
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../src/config.js";
import { createTestDatabase, type TestDatabase } from "./support/db.js";
import { expectError, keyward } from "./support/cli-run.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
let scratch: string;

beforeAll(() => {
  scratch = mkdtempSync(path.join(tmpdir(), "keyward-cli-db-"));
});
afterAll(() => {
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

/** Every command that only works on rows already there (a user, a key, an organisation…). */
const NEEDS_EXISTING: { name: string; args: string[]; input?: string }[] = [
  { name: "api-keys list", args: ["api-keys", "list", "--user", "ada@example.com"] },
  { name: "api-keys create", args: ["api-keys", "create", "laptop", "--user", "ada@example.com"] },
  { name: "api-keys revoke", args: ["api-keys", "revoke", "key_x", "--user", "ada@example.com"] },
  {
    name: "api-keys import",
    args: ["api-keys", "import", "--user", "ada@example.com"],
    input: `${JSON.stringify({ hash: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", created: "2023-04-05T06:07:08Z", last4: "x9Qe" })}\n`,
  },
  { name: "resource-servers list", args: ["resource-servers", "list"] },
  { name: "resource-servers remove", args: ["resource-servers", "remove", "rs_x"] },
  { name: "orgs add-member", args: ["orgs", "add-member", "org_x", "ada@example.com", "--role", "member"] },
];

describe("DATABASE_URL and --database-url are validated", () => {
  for (const [url, message] of [
    ["mysql://x", /--database-url: the scheme mysql: is not supported; use file:<path> for SQLite or postgresql:\/\/… for PostgreSQL/],
    ["not a url at all", /--database-url: not a database URL/],
    ["file:", /--database-url: must name a SQLite file/],
    ["postgresql://", /--database-url: not a valid PostgreSQL URL/],
  ] as const) {
    it(`--database-url ${JSON.stringify(url)} is refused with exit 2, and no file is made`, async () => {
      const before = readdirSync(root);
      expectError(await keyward(["--database-url", url, "api-keys", "list", "--user", "ada@example.com"]), 2, message);
      expect(readdirSync(root)).toEqual(before);
    });
  }

  it("the same from DATABASE_URL, for creating commands too; a password in the URL is not repeated", async () => {
    const run = await keyward(["users", "create", "--email", "ada@example.com", "--password-stdin"], {
      env: { DATABASE_URL: "mysql://root:hunter2@db/x" },
      input: "correct horse battery",
    });
    expectError(run, 2, /^keyward: DATABASE_URL: the scheme mysql: is not supported/);
    expect(run.stderr).not.toContain("hunter2");
    expect(existsSync(path.join(root, "mysql:"))).toBe(false);
  });

  it("the server refuses the same URLs at start (loadConfig)", () => {
    for (const url of ["mysql://x", "not a url at all", "file:"]) expect(() => loadConfig({ DATABASE_URL: url })).toThrow(ConfigError);
    expect(loadConfig({ DATABASE_URL: "file:./data/x.db" }).databaseUrl).toBe("file:./data/x.db");
    expect(loadConfig({ DATABASE_URL: "postgresql://u@localhost:5432/x" }).databaseUrl).toBe("postgresql://u@localhost:5432/x");
  });
});

describe("commands that need existing rows never create a database", () => {
  for (const { name, args, input } of NEEDS_EXISTING) {
    it(`${name} on a missing SQLite file: a clear message, exit 1, nothing created`, async () => {
      const dir = path.join(scratch, name.replace(/\W+/g, "-"));
      const file = path.join(dir, "keyward.db");
      const run = await keyward(args, { env: { DATABASE_URL: `file:${file}` }, input });
      expectError(
        run,
        1,
        new RegExp(`no database at ${file.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: start the server once or run \`keyward migrate\``),
      );
      expect(existsSync(dir)).toBe(false);
    });
  }

  it("users create still creates and migrates a fresh database, which list then reads", async () => {
    const file = path.join(scratch, "fresh", "keyward.db");
    const created = await keyward(["users", "create", "--email", "ada@example.com", "--password-stdin"], {
      env: { DATABASE_URL: `file:${file}` },
      input: "correct horse battery",
    });
    expect(created.code, created.stderr).toBe(0);
    expect(existsSync(file)).toBe(true);
    const listed = await keyward(["api-keys", "list", "--user", "ada@example.com"], { env: { DATABASE_URL: `file:${file}` } });
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stderr).toContain("ada@example.com has no API keys.");
  });
});

describe.runIf(process.env.TEST_DATABASE_URL)("on PostgreSQL", () => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterAll(async () => {
    await database?.drop();
  });

  it("a read-only command against a database that does not exist fails and does not create it", async () => {
    const missing = new URL(database.url);
    missing.pathname = `${missing.pathname}_missing`;
    const first = await keyward(["api-keys", "list", "--user", "ada@example.com"], { env: { DATABASE_URL: missing.toString() } });
    expectError(first, 1, /does not exist/);
    // Still missing the second time: the first run did not create it.
    expectError(
      await keyward(["api-keys", "list", "--user", "ada@example.com"], { env: { DATABASE_URL: missing.toString() } }),
      1,
      /does not exist/,
    );
  });

  it("an existing database works with --database-url", async () => {
    const run = await keyward(["--database-url", database.url, "resource-servers", "list"]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout.trim()).toBe("No resource servers.");
  });
});
