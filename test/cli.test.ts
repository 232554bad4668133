// The `keyward` CLI, run for real (`node bin/keyward.js …`, test/support/cli-run.ts) against the database of a
// running test server (SQLite file or PostgreSQL database, per the run), so a key minted on the command line can
// be proven to work at /mcp. Help and usage errors, which need no database, are test/cli-usage.test.ts (in process).
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, uniqueEmail, type TestServer } from "./support/server.js";
import { BY_OPERATOR } from "./support/acting.js";
import type { KeyJson } from "./support/keys.js";
import { expectError as expectLastLine, keyward as keywardCli, type Run } from "./support/cli-run.js";

const KEY = /^kw_user_[0-9A-Za-z]{49}$/;

/** The CLI (test/support/cli-run.ts: a clean environment) on the test server's database. */
function keyward(args: string[], options: { input?: string; env?: Record<string, string> } = {}): Promise<Run> {
  return keywardCli(args, { input: options.input, env: { DATABASE_URL: server.database.url, ...options.env } });
}

/** The one `keyward: …` line a failing command prints, and nothing else. */
function expectError(run: Run, code: number, message: RegExp) {
  expectLastLine(run, code, message);
  expect(run.stderr.trim().split("\n")).toHaveLength(1);
}

async function whoami(raw: string) {
  return fetch(`${server.url}/mcp`, {
    method: "POST",
    headers: { Authorization: `Bearer ${raw}`, Accept: "application/json, text/event-stream", "Content-Type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "whoami", arguments: {} } }),
  });
}

let server: TestServer;
let scratch: string;
const email = uniqueEmail("cli");
const password = "correct horse battery staple";
const raws: string[] = [];
let laptop: { id: string; raw: string };
let ci: KeyJson;

beforeAll(async () => {
  server = await startTestServer();
  scratch = mkdtempSync(path.join(tmpdir(), "keyward-cli-"));
});
afterAll(async () => {
  await server?.close();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

describe("keyward CLI", () => {
  it("users create reads the password from stdin", async () => {
    const run = await keyward(["users", "create", "--email", email.toUpperCase(), "--password-stdin", "--json"], {
      input: `${password}\n`,
    });
    expect(run.code, run.stderr).toBe(0);
    const user = JSON.parse(run.stdout) as { id: string; email: string };
    expect(user).toEqual({ id: expect.stringMatching(/^usr_/), email });
    // The trailing newline was stripped: the password works on the login page's check.
    expect(await server.services.users.authenticate(email, password)).toEqual(user);
  });

  it("api-keys create prints the key once, on its own line", async () => {
    const run = await keyward(["api-keys", "create", "laptop", "--user", email]);
    expect(run.code, run.stderr).toBe(0);
    const raw = run.stdout.trimEnd();
    expect(raw).toMatch(KEY);
    expect(run.stderr).toMatch(/will not be shown again/);
    expect(run.stderr).not.toContain(raw);
    const id = /(key_[0-9A-Za-z]+)/.exec(run.stderr)?.[1];
    expect(id).toBeDefined();
    laptop = { id: id!, raw };
    raws.push(raw);
  });

  it("api-keys create --json prints the key view and the key", async () => {
    const run = await keyward(["api-keys", "create", "ci", "--user", email, "--scopes", "mcp:read, mcp:read", "--json"]);
    expect(run.code, run.stderr).toBe(0);
    ci = JSON.parse(run.stdout) as KeyJson;
    expect(ci).toMatchObject({ label: "ci", status: "active", source: "cli", sourceLabel: "CLI", scopes: ["mcp:read"], revokedAt: null });
    expect(ci.key).toMatch(KEY);
    expect(ci.last4).toBe(ci.key!.slice(-4));
    raws.push(ci.key!);
  });

  it("the CLI key works at /mcp, and neither the logs nor the database hold a raw key", async () => {
    const res = await whoami(laptop.raw);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { result: { content: { type: string; text: string }[] } };
    const info = JSON.parse(body.result.content[0]!.text) as { email: string; keyId: string; keySource: string };
    expect(info).toMatchObject({ email, keyId: laptop.id, keySource: "CLI" });

    const logs = server.logs.join("");
    for (const raw of raws) expect(logs).not.toContain(raw);
    // Every byte the database holds (SQLite files incl. -wal / -journal, or every PostgreSQL row).
    const stored = await server.database.contents();
    expect(stored.length).toBeGreaterThan(0);
    for (const raw of raws) {
      expect(stored.includes(raw), "the database holds a raw key").toBe(false);
      expect(stored.includes(raw.slice(8, 40)), "the database holds part of a raw key's secret").toBe(false);
    }
  });

  it("api-keys list shows the keys as a table", async () => {
    const run = await keyward(["api-keys", "list", "--user", email]);
    expect(run.code, run.stderr).toBe(0);
    const [header, ...rows] = run.stdout.trimEnd().split("\n");
    expect(header).toMatch(
      /^ID\s+LABEL\s+LAST4\s+STATUS\s+SOURCE\s+SCOPES\s+RESOURCES\s+CREATED \(UTC\)\s+LAST USED \(UTC\)\s+EXPIRES \(UTC\)$/,
    );
    expect(rows).toHaveLength(2);
    // Newest first.
    expect(rows[0]).toMatch(
      new RegExp(
        `^${ci.id}\\s+ci\\s+…${ci.last4}\\s+active\\s+CLI\\s+mcp:read\\s+all\\s+\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d\\s+never\\s+never$`,
      ),
    );
    expect(rows[1]).toMatch(new RegExp(`^${laptop.id}\\s+laptop\\s+…${laptop.raw.slice(-4)}\\s+active\\s+CLI\\s+full access\\s+all\\s+`));
    for (const raw of raws) expect(run.stdout).not.toContain(raw);
  });

  it("api-keys revoke revokes; the key stops working and the list shows it revoked", async () => {
    const run = await keyward(["api-keys", "revoke", laptop.id, "--user", email]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain(`Revoked API key ${laptop.id}`);
    expect((await whoami(laptop.raw)).status).toBe(401);

    const list = await keyward(["api-keys", "list", "--user", email, "--json"]);
    expect(list.code, list.stderr).toBe(0);
    const keys = JSON.parse(list.stdout) as KeyJson[];
    expect(keys.map((k) => [k.id, k.status, k.sourceLabel])).toEqual([
      [ci.id, "active", "CLI"],
      [laptop.id, "revoked", "CLI"],
    ]);
    expect(keys[1]!.revokedAt).not.toBeNull();
    expect(keys.some((k) => "key" in k)).toBe(false);
  });
});

// Independent of each other (some need the user above): run side by side to keep the suite fast.
describe.concurrent("keyward CLI: migrate and failures", () => {
  it("migrate creates and migrates a fresh database", async () => {
    const file = path.join(scratch, "nested", "fresh.db");
    const run = await keyward(["migrate"], { env: { DATABASE_URL: `file:${file}` } });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout.trim().split("\n")).toEqual([`Database is up to date: file:${file}`]);
    expect(existsSync(file)).toBe(true);
  });

  it("users create refuses a duplicate email", async () => {
    expectError(await keyward(["users", "create", "--email", email, "--password-stdin"], { input: password }), 1, /already exists/);
  });

  it("users create refuses to run without a TTY or --password-stdin", async () => {
    expectError(await keyward(["users", "create", "--email", uniqueEmail()]), 2, /--password-stdin/);
  });

  it("an unknown user is exit code 3", async () => {
    expectError(await keyward(["api-keys", "list", "--user", uniqueEmail("nobody")]), 3, /no user with email/);
  });

  it("an unknown key id and another user's key id are both exit code 3; the other key is untouched", async () => {
    const other = await server.services.users.create(uniqueEmail("other"), password);
    const { key } = await server.services.keys.mint({ userId: other.id, label: "theirs", source: "portal" }, BY_OPERATOR);
    const [missing, theirs] = await Promise.all([
      keyward(["api-keys", "revoke", "key_doesNotExist0000000", "--user", email]),
      keyward(["api-keys", "revoke", key.id, "--user", email]),
    ]);
    expectError(missing, 3, /no API key key_doesNotExist0000000 for /);
    expectError(theirs, 3, new RegExp(`no API key ${key.id} for `));
    expect((await server.services.keys.get(other.id, key.id))?.status).toBe("active");
  });

  it("an unknown scope is exit code 2", async () => {
    expectError(await keyward(["api-keys", "create", "x", "--user", email, "--scopes", "admin"]), 2, /Unknown scope: admin/);
  });
});
