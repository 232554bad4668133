// keyward resources add | update | show with a stdio server (--command, --env, --clear-env, --cwd,
// --no-cwd), in process on a database of this run's backend: the command split like a shell splits
// words and stored as a list, environment values never printed, refusals in words with exit 2.
import { afterAll, beforeAll, describe, expect, inject, it, vi } from "vitest";
import { expectError, keywardInProcess } from "./support/cli-run.js";
import { createTestDatabase, type TestDatabase } from "./support/db.js";

vi.setConfig({ testTimeout: inject("testBackend") === "postgresql" ? 180_000 : 30_000 });

const ISSUER = "https://kw.example.test";
let database: TestDatabase;
let env: Record<string, string>;

const kw = (...args: string[]) => keywardInProcess(args, { env });
const ok = async (...args: string[]) => {
  const run = await kw(...args);
  expect(run.code, run.stderr).toBe(0);
  return run;
};
interface Shown {
  upstream: string | null;
  transport: { kind: string; command?: string[]; envNames?: string[]; cwd?: string | null };
}
const json = async (...args: string[]): Promise<Shown> => JSON.parse((await ok(...args, "--json")).stdout) as Shown;

beforeAll(async () => {
  database = await createTestDatabase();
  env = { DATABASE_URL: database.url, ISSUER };
});
afterAll(async () => database?.drop());

describe("keyward resources add --command", () => {
  it("splits the command like a shell (quotes, backslashes), expands nothing, keeps env names and never their values", async () => {
    const added = await json(
      "resources",
      "add",
      "files",
      "--name",
      "Files",
      "--command",
      `npx -y @modelcontextprotocol/server-filesystem '/srv/my files' "$HOME" a\\ b`,
      "--env",
      "TOKEN=secret-value-1",
      "--env",
      "MODE=a=b",
      "--cwd",
      "/srv",
    );
    expect(added.upstream).toBeNull();
    expect(added.transport).toEqual({
      kind: "stdio",
      command: ["npx", "-y", "@modelcontextprotocol/server-filesystem", "/srv/my files", "$HOME", "a b"],
      envNames: ["TOKEN", "MODE"],
      cwd: "/srv",
    });
    const shown = await ok("resources", "show", "files");
    expect(shown.stdout).toContain(
      `served by:   stdio: npx -y @modelcontextprotocol/server-filesystem '/srv/my files' '$HOME' 'a b' (env TOKEN, MODE) in /srv`,
    );
    expect(shown.stdout + (await ok("resources", "list")).stdout).not.toContain("secret-value-1");
  });

  it("refuses an unclosed quote, an empty command, a bad --env, a KEYWARD_* name, a relative --cwd, and env without a command (exit 2)", async () => {
    const add = (...more: string[]) => kw("resources", "add", "bad", "--name", "Bad", ...more);
    expectError(await add("--command", `node 'server.js`), 2, /--command: The command has a ' quote that is not closed/);
    expectError(await add("--command", "   "), 2, /--command needs a program to run/);
    expectError(await add("--command", "node", "--env", "NOVALUE"), 2, /--env takes NAME=VALUE/);
    expectError(await add("--command", "node", "--env", "KEYWARD_USER_ID=x"), 2, /KEYWARD_\* variables are set by the gateway/);
    expectError(await add("--command", "node", "--cwd", "srv"), 2, /absolute path/);
    expectError(await add("--upstream", "http://127.0.0.1:1/mcp", "--env", "A=b"), 2, /env and cwd apply to a stdio resource/);
    expectError(await add("--upstream", "http://127.0.0.1:1/mcp", "--command", "node"), 2, /exactly one of upstream/);
    expect((await kw("resources", "show", "bad")).code).toBe(3);
  });
});

describe("keyward resources update with stdio options", () => {
  it("--env adds to the environment, --clear-env drops it first, --no-cwd clears the directory, --command replaces the program", async () => {
    await ok("resources", "add", "tool", "--name", "Tool", "--command", "node server.js", "--env", "A=1", "--cwd", "/srv");
    expect((await json("resources", "update", "tool", "--env", "B=2")).transport.envNames).toEqual(["A", "B"]);
    expect((await json("resources", "update", "tool", "--clear-env", "--env", "C=3")).transport.envNames).toEqual(["C"]);
    expect((await json("resources", "update", "tool", "--clear-env")).transport.envNames).toEqual([]);
    expect((await json("resources", "update", "tool", "--no-cwd")).transport.cwd).toBeNull();
    expect((await json("resources", "update", "tool", "--cwd", "/opt")).transport.cwd).toBe("/opt");
    const changed = await json("resources", "update", "tool", "--command", `python3 -m "my server"`);
    expect(changed.transport).toMatchObject({ kind: "stdio", command: ["python3", "-m", "my server"], cwd: "/opt" });
    // Back to an http upstream, and refused stdio options there.
    expect((await json("resources", "update", "tool", "--upstream", "http://127.0.0.1:9/mcp")).transport.kind).toBe("http");
    expectError(await kw("resources", "update", "tool", "--env", "A=1"), 2, /env and cwd apply to a stdio resource/);
    expectError(await kw("resources", "update", "tool", "--command", `a "b`), 2, /" quote that is not closed/);
  });
});
