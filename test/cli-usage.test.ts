// The `keyward` program's argument parsing, help and usage errors, run in this process (keywardInProcess): what
// happens before a command opens a database, so no child process and no database. The real command, spawned, is
// tested where it does real work (test/cli.test.ts, test/compiled-build.test.ts: --help, --version, exit codes).
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { expectError, keywardInProcess } from "./support/cli-run.js";

const NO_DATABASE = { DATABASE_URL: "file:/nonexistent/keyward-cli-usage.db" };
const VALID_KEY = "kw_user_" + "0".repeat(49);

describe("keyward CLI usage (in process)", () => {
  it("--help lists every command and the global options", async () => {
    const run = await keywardInProcess(["--help"]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^Usage: keyward /);
    for (const command of ["serve", "migrate", "users", "api-keys", "auth", "keys", "mcp-config", "orgs", "resource-servers"]) {
      expect(run.stdout).toMatch(new RegExp(`^  ${command}\\b.*\\S`, "m"));
    }
    expect(run.stdout).toContain("--database-url");
    expect(run.stdout).toMatch(/Exit codes: 0 success, 1 any other error, 2 usage or invalid input, 3 not found or not authenticated/);
  });

  it("help <command> shows that command's help", async () => {
    const run = await keywardInProcess(["help", "api-keys"]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^Usage: keyward api-keys /);
    for (const sub of ["create", "list", "revoke"]) expect(run.stdout).toMatch(new RegExp(`^  ${sub}\\b`, "m"));
  });

  it("--version prints the package version", async () => {
    const { version } = JSON.parse(readFileSync("package.json", "utf8")) as { version: string };
    const run = await keywardInProcess(["--version"]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout.trim()).toBe(version);
  });

  it("an unknown option, an unknown command or a missing argument is exit code 2", async () => {
    expectError(
      await keywardInProcess(["api-keys", "create", "x", "--user", "a@example.com", "--bogus"], { env: NO_DATABASE }),
      2,
      /unknown option '--bogus'/,
    );
    expectError(await keywardInProcess(["frobnicate"], { env: NO_DATABASE }), 2, /unknown command 'frobnicate'/);
    expectError(
      await keywardInProcess(["orgs", "add-member", "org_x", "--role", "member"], { env: NO_DATABASE }),
      2,
      /missing required argument 'email'/,
    );
  });

  it("a value outside a choice list is exit code 2", async () => {
    expectError(
      await keywardInProcess(["orgs", "add-member", "org_x", "a@example.com", "--role", "god"], { env: NO_DATABASE }),
      2,
      /--role/,
    );
    expectError(await keywardInProcess(["mcp-config", "--host", "emacs", "--server", "https://kw.example.com"]), 2, /Allowed choices/);
  });

  it("a configuration error is exit code 1, before any database is opened", async () => {
    expectError(
      await keywardInProcess(["api-keys", "list", "--user", "a@example.com"], { env: { ...NO_DATABASE, KEY_PREFIX: "Nope" } }),
      1,
      /Invalid configuration: KEY_PREFIX/,
    );
  });

  it("keys check explains what is wrong with a key, offline (exit code 2)", async () => {
    expectError(await keywardInProcess(["keys", "check", "ghp_abc"]), 2, /invalid key: wrong length/);
    expectError(await keywardInProcess(["keys", "check", "hello"]), 2, /invalid key: no Keyward key prefix/);
    expectError(await keywardInProcess(["keys", "check", VALID_KEY]), 2, /invalid key: the checksum does not match/);
  });

  it("leaves the process as it found it: environment, stdout and stderr", async () => {
    const env = { ...process.env };
    const [write, writeErr] = [process.stdout.write, process.stderr.write];
    await keywardInProcess(["--help"], { env: { KEYWARD_TEST_MARKER: "1" } });
    expect(process.env).toEqual(env);
    expect([process.stdout.write, process.stderr.write]).toEqual([write, writeErr]);
  });
});
