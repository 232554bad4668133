// `keyward api-keys import` as a person meets it: problems in words, the 10,000-key cap, and
// progress on stderr only when asked for (or in a terminal), with stdout left to the result.
import { createHash, randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MAX_IMPORT_LINES } from "../src/keys/import.js";
import { signUp, startTestServer, type TestServer } from "./support/server.js";
import { expectError, keyward } from "./support/cli-run.js";

const sha256 = (s: string) => createHash("sha256").update(s).digest("hex");
const line = (extra: Record<string, unknown> = {}) =>
  JSON.stringify({ hash: sha256(randomBytes(16).toString("hex")), created: "2023-04-05T06:07:08Z", last4: "x9Qe", ...extra });

describe("keyward api-keys import, for people", () => {
  let server: TestServer;
  let email: string;
  const run = (args: string[], input: string) =>
    keyward(["api-keys", "import", "--user", email, ...args], { input, env: { DATABASE_URL: server.database.url } });

  beforeAll(async () => {
    server = await startTestServer();
    email = (await signUp(server)).email;
  });
  afterAll(async () => {
    await server?.close();
  });

  it("says what is wrong with each line in words, and writes nothing (exit 2)", async () => {
    const input = [
      JSON.stringify({ label: "no hash", created: "2023-04-05T06:07:08Z", last4: "x9Qe" }),
      line({ hash: 5 }),
      line({ expires: "never" }),
      "[1, 2]",
      "nope",
      line({ label: 7 }),
      JSON.stringify({ hash: sha256("no date"), last4: "x9Qe" }),
      line({ label: "x".repeat(101) }),
      line(),
    ].join("\n");
    const result = await run([], input);
    expectError(result, 2, /^keyward: 8 invalid lines; nothing was imported$/);
    const said = result.stderr.split("\n");
    expect(said).toContain('line 1: hash: missing; every line needs "hash" (text in double quotes)');
    expect(said).toContain("line 2: hash: must be text in double quotes, not a number");
    expect(said).toContain('line 3: unknown field "expires": the fields are hash, label, created, last4');
    expect(said.find((l) => l.startsWith("line 4: "))).toMatch(
      /^line 4: each line must be one JSON object with the fields hash, label, created, last4, .*; this line is a list$/,
    );
    expect(said.find((l) => l.startsWith("line 5: "))).toMatch(/^line 5: not valid JSON: each line must be one JSON object/);
    expect(said).toContain("line 6: label: must be text in double quotes, not a number");
    expect(said).toContain('line 7: created: missing; every line needs "created" (an ISO 8601 date-time in double quotes)');
    expect(said).toContain("line 8: Label must be at most 100 characters");
    expect(result.stderr).not.toMatch(/Invalid input|Unrecognized key|expected \w+, received/);
    const list = await keyward(["api-keys", "list", "--user", email, "--json"], { env: { DATABASE_URL: server.database.url } });
    expect(JSON.parse(list.stdout)).toEqual([]);
  });

  it(`refuses more than ${MAX_IMPORT_LINES} keys in one run, naming the cap; help says it too`, async () => {
    const lines = Array.from({ length: MAX_IMPORT_LINES + 1 }, () => line());
    const result = await run(["--dry-run"], lines.join("\n"));
    expectError(result, 2, /1 invalid line; nothing was imported/);
    expect(result.stderr).toContain(`line ${MAX_IMPORT_LINES + 1}: too many lines: import at most ${MAX_IMPORT_LINES} keys at a time`);
    const help = await keyward(["api-keys", "import", "--help"]);
    expect(help.stdout.replace(/\s+/g, " ")).toContain(`at most ${MAX_IMPORT_LINES} keys per run`);
  });

  it("--progress reports each step on stderr; stdout is only the result", async () => {
    const result = await run(["--progress"], Array.from({ length: 2500 }, () => line()).join("\n"));
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe(`Imported 2500 keys for ${email} (source: Unknown).\n`);
    const steps = result.stderr.trim().split("\n");
    expect(steps[0]).toBe("Checked 2500 lines; opening the database…");
    expect(steps).toContain("Checking the hashes against the database: 0/2500");
    expect(steps).toContain("Writing 2500 keys in one transaction (all or none)…");
    expect(steps.at(-1)).toMatch(/^Done in \d+ s\.$/);
  });

  it("without a terminal and without --progress, stderr stays quiet", async () => {
    const result = await run([], line());
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toBe("");
    expect(result.stdout).toBe(`Imported 1 key for ${email} (source: Unknown).\n`);
  });

  it("a failure after progress started ends with the error line, and no 'Done'", async () => {
    const first = line();
    expect((await run([], first)).code).toBe(0);
    const result = await run(["--progress"], `${line()}\n${first}`);
    expectError(result, 2, /1 invalid line; nothing was imported/);
    expect(result.stderr).toContain("line 2: hash: a key with this hash already exists");
    expect(result.stderr).not.toContain("Done in");
  });
});
