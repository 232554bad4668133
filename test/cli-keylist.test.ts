// Issue 27 item 4 on the command line: `keyward api-keys rename <id> <label>` and `keyward api-keys
// revoke --ids a,b,c | --all-unused-days N [--dry-run] [--json]`, on this machine's database (--user)
// and on a remote server (its JSON API, with KEYWARD_TOKEN). Run in process (keywardInProcess) against
// the database of a running test server, so a revoked key can be proven dead at /mcp and another
// user's key proven alive.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signUp, startTestServer, type TestServer } from "./support/server.js";
import { backdateKey, signUpWithPageKey } from "./support/keys.js";
import { BY_OPERATOR } from "./support/acting.js";
import { expectError, keywardInProcess, type Run } from "./support/cli-run.js";
import { mcpStatus } from "./support/mcp-status.js";

let server: TestServer;
let xdg: string;
type Person = Awaited<ReturnType<typeof signUp>> & { raw: string; id: string };
let alice: Person;
let bob: Person;
let bobsKeyId: string;

const DAY = 86_400_000;

/** Local form: the test server's database. */
const local = (args: string[]): Promise<Run> =>
  keywardInProcess(args, { env: { DATABASE_URL: server.database.url, XDG_CONFIG_HOME: xdg } });
/** Remote form: the test server's JSON API with `raw` as KEYWARD_TOKEN. */
const remote = (args: string[], raw: string): Promise<Run> =>
  keywardInProcess([...args, "--server", server.url], { env: { KEYWARD_TOKEN: raw, XDG_CONFIG_HOME: xdg } });

const mint = async (userId: string, label: string) => server.services.keys.mint({ userId, label, source: "cli" }, BY_OPERATOR);
const labelOf = async (userId: string, id: string) => (await server.services.keys.get(userId, id))?.label;
const statusOf = async (userId: string, id: string) => (await server.services.keys.get(userId, id))?.status;

const person = (label: string): Promise<Person> => signUpWithPageKey(server, label);

beforeAll(async () => {
  server = await startTestServer();
  xdg = mkdtempSync(path.join(tmpdir(), "keyward-cli-keylist-"));
  alice = await person("alice root");
  bob = await person("bob root");
  bobsKeyId = (await server.services.keys.page(bob.id)).items[0]!.id;
});
afterAll(async () => {
  await server?.close();
  if (xdg) rmSync(xdg, { recursive: true, force: true });
});

describe("keyward api-keys rename", () => {
  it("renames on this machine's database (text and --json); the key keeps working", async () => {
    const k = await mint(alice.id, "cli before");
    const run = await local(["api-keys", "rename", k.key.id, "cli after", "--user", alice.email]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toBe(`Renamed API key ${k.key.id} to "cli after".\n`);
    expect(await labelOf(alice.id, k.key.id)).toBe("cli after");
    const json = await local(["api-keys", "rename", k.key.id, "  json label ", "--user", alice.email, "--json"]);
    expect(json.code, json.stderr).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({ id: k.key.id, label: "json label", status: "active" });
    expect(json.stdout).not.toContain(k.raw);
    expect(await mcpStatus(server, k.raw)).toBe(200);
    expect(await server.services.db.auditEvent.count({ where: { action: "key.renamed", targetId: k.key.id } })).toBe(2);
  });

  it("an empty or over-long label is a usage error (2); another user's id is not found (3) and keeps its label", async () => {
    const k = await mint(alice.id, "stays");
    expectError(await local(["api-keys", "rename", k.key.id, "", "--user", alice.email]), 2, /Label must not be empty/);
    expectError(await local(["api-keys", "rename", k.key.id, "x".repeat(10_000), "--user", alice.email]), 2, /at most 100 characters/);
    expectError(await local(["api-keys", "rename", k.key.id, "bell\u0007", "--user", alice.email]), 2, /control characters/);
    expect(await labelOf(alice.id, k.key.id)).toBe("stays");
    expectError(
      await local(["api-keys", "rename", bobsKeyId, "mine", "--user", alice.email]),
      3,
      new RegExp(`no API key ${bobsKeyId} for`),
    );
    expect(await labelOf(bob.id, bobsKeyId)).toBe("bob root");
    expectError(await local(["api-keys", "rename", k.key.id, "--user", alice.email]), 2, /missing required argument 'label'/);
  });

  it("renames on a remote server; another user's id there is not found (3)", async () => {
    const k = await mint(alice.id, "remote before");
    const run = await remote(["api-keys", "rename", k.key.id, "remote after"], alice.raw);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toBe(`Renamed API key ${k.key.id} to "remote after".\n`);
    expect(await labelOf(alice.id, k.key.id)).toBe("remote after");
    expectError(await remote(["api-keys", "rename", bobsKeyId, "mine"], alice.raw), 3, /not found/);
    expect(await labelOf(bob.id, bobsKeyId)).toBe("bob root");
    // a label the server refuses is a usage error (2), as on the server itself
    expectError(await remote(["api-keys", "rename", k.key.id, "bad\u0007label"], alice.raw), 2, /control characters/);
    expect(await mcpStatus(server, bob.raw)).toBe(200);
  });
});

describe("keyward api-keys revoke --ids", () => {
  it("revokes them all and prints each; --dry-run first revokes nothing", async () => {
    const [a, b] = [await mint(alice.id, "ids a"), await mint(alice.id, "ids b")];
    const ids = `${a.key.id},${b.key.id}`;
    const dry = await local(["api-keys", "revoke", "--ids", ids, "--dry-run", "--user", alice.email]);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toMatch(
      new RegExp(`^Would revoke ${a.key.id} "ids a" \\(…${a.key.last4}, CLI, created \\d{4}-\\d\\d-\\d\\d, last used never\\)$`, "m"),
    );
    expect(dry.stderr).toContain("Dry run: 2 keys would be revoked; nothing was revoked.");
    expect(await mcpStatus(server, a.raw)).toBe(200);

    const run = await local(["api-keys", "revoke", "--ids", ` ${ids}, `, "--user", alice.email]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout.trim().split("\n")).toHaveLength(2);
    expect(run.stdout).toContain(`Revoked ${b.key.id} "ids b"`);
    expect(run.stderr).toContain("Revoked 2 keys. They stop working on the next request.");
    expect(await mcpStatus(server, a.raw)).toBe(401);
    expect(await mcpStatus(server, b.raw)).toBe(401);
    const again = await local(["api-keys", "revoke", "--ids", ids, "--user", alice.email, "--json"]);
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout)).toEqual([]);
  });

  it("another user's id among them: not found (3), nothing revoked, both keys still work", async () => {
    const mine = await mint(alice.id, "ids mine");
    expectError(
      await local(["api-keys", "revoke", "--ids", `${mine.key.id},${bobsKeyId}`, "--user", alice.email]),
      3,
      /not every id in --ids is an API key of .*: nothing was revoked/,
    );
    expectError(await remote(["api-keys", "revoke", "--ids", `${mine.key.id},${bobsKeyId}`], alice.raw), 3, /not found/);
    expect(await mcpStatus(server, mine.raw)).toBe(200);
    expect(await mcpStatus(server, bob.raw)).toBe(200);
  });

  it("on a remote server, with --json", async () => {
    const k = await mint(alice.id, "remote ids");
    const run = await remote(["api-keys", "revoke", "--ids", k.key.id, "--json"], alice.raw);
    expect(run.code, run.stderr).toBe(0);
    expect((JSON.parse(run.stdout) as { id: string; status: string }[]).map((x) => [x.id, x.status])).toEqual([[k.key.id, "revoked"]]);
    expect(await mcpStatus(server, k.raw)).toBe(401);
  });
});

describe("keyward api-keys revoke --all-unused-days", () => {
  it("dry run lists, the real run revokes keys created and unused for N days; others stay", async () => {
    const p = await person("sweeper root");
    const [never, stale, recent, young] = [
      await mint(p.id, "never used"),
      await mint(p.id, "used long ago"),
      await mint(p.id, "used lately"),
      await mint(p.id, "young"),
    ];
    await backdateKey(server, never.key.id, 100, null);
    await backdateKey(server, stale.key.id, 100, 95);
    await backdateKey(server, recent.key.id, 100, 3);
    await backdateKey(server, young.key.id, 5, null);

    const dry = await local(["api-keys", "revoke", "--all-unused-days", "90", "--dry-run", "--user", p.email, "--json"]);
    expect(dry.code, dry.stderr).toBe(0);
    expect((JSON.parse(dry.stdout) as { label: string }[]).map((k) => k.label).sort()).toEqual(["never used", "used long ago"]);
    expect(await statusOf(p.id, never.key.id)).toBe("active");

    const run = await local(["api-keys", "revoke", "--all-unused-days", "90", "--user", p.email]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain(`Revoked ${never.key.id} "never used"`);
    expect(run.stdout).toContain(`Revoked ${stale.key.id} "used long ago"`);
    expect(run.stderr).toContain("Revoked 2 keys.");
    for (const k of [never, stale]) expect(await mcpStatus(server, k.raw)).toBe(401);
    for (const k of [recent, young]) expect(await mcpStatus(server, k.raw)).toBe(200);
    expect(await mcpStatus(server, p.raw)).toBe(200);

    const none = await local(["api-keys", "revoke", "--all-unused-days", "90", "--user", p.email]);
    expect(none.code, none.stderr).toBe(0);
    expect(none.stdout).toBe("");
    expect(none.stderr).toContain("No active key unused for 90 days: nothing to revoke.");

    // remote: a dry run only. The server writes its pending last-used times first: "used lately" was
    // just used above (its stored time set back to 50 days ago since), so only the new stale key is listed.
    const remoteStale = await mint(p.id, "remote stale");
    await backdateKey(server, remoteStale.key.id, 100, 50);
    await backdateKey(server, recent.key.id, 100, 50);
    const remoteDry = await remote(["api-keys", "revoke", "--all-unused-days", "30", "--dry-run"], p.raw);
    expect(remoteDry.code, remoteDry.stderr).toBe(0);
    expect(remoteDry.stdout).toBe(
      `Would revoke ${remoteStale.key.id} "remote stale" (…${remoteStale.key.last4}, CLI, created ${new Date(Date.now() - 100 * DAY).toISOString().slice(0, 10)}, last used ${new Date(Date.now() - 50 * DAY).toISOString().slice(0, 10)})\n`,
    );
    expect(await mcpStatus(server, remoteStale.raw)).toBe(200);
  });

  it("0, -1, abc, 1.5 and 36501 days are usage errors (2); so are no target, two targets and --dry-run with one id", async () => {
    for (const days of ["0", "-1", "abc", "1.5", "36501", ""]) {
      const run = await local(["api-keys", "revoke", `--all-unused-days=${days}`, "--user", alice.email]);
      expectError(run, 2, /--all-unused-days: a whole number of days from 1 to 36500/);
    }
    expectError(
      await local(["api-keys", "revoke", "--user", alice.email]),
      2,
      /give one key id, --ids <id,id,…> or --all-unused-days <days>/,
    );
    expectError(await local(["api-keys", "revoke", "key_x", "--ids", "key_y", "--user", alice.email]), 2, /give one key id/);
    expectError(
      await local(["api-keys", "revoke", "--ids", "key_x", "--all-unused-days", "3", "--user", alice.email]),
      2,
      /give one key id/,
    );
    expectError(await local(["api-keys", "revoke", "--ids", " , ", "--user", alice.email]), 2, /--ids: give at least one key id/);
    expectError(
      await local(["api-keys", "revoke", "key_x", "--dry-run", "--user", alice.email]),
      2,
      /--dry-run goes with --ids or --all-unused-days/,
    );
    expect(await mcpStatus(server, alice.raw)).toBe(200);
  });

  it("help lists the new forms", async () => {
    const run = await keywardInProcess(["api-keys", "revoke", "--help"]);
    expect(run.code).toBe(0);
    for (const option of ["--ids <ids>", "--all-unused-days <days>", "--dry-run"]) expect(run.stdout).toContain(option);
    const top = await keywardInProcess(["help", "api-keys"]);
    expect(top.stdout).toMatch(/^ {2}rename \[options\] <id> <label>/m);
  });
});
