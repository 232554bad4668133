// keyward resources add | list | show | update | remove | apply, in process (keywardInProcess), on a
// database of this run's backend: output shapes, errors in words with their exit codes, and the
// effects seen from the outside (keys bound to a removed resource fail verification).
import { spawn, spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it, vi } from "vitest";
import { expectError, keywardInProcess } from "./support/cli-run.js";
import { createTestDatabase, type TestDatabase } from "./support/db.js";
import { loadConfig } from "../src/config.js";
import { createLogger } from "../src/log.js";
import { openServices, type Services } from "../src/services.js";

// On PostgreSQL every command that opens the database runs `prisma migrate deploy` first (seconds each).
vi.setConfig({ testTimeout: inject("testBackend") === "postgresql" ? 180_000 : 30_000 });

const ISSUER = "https://kw.example.test";
let database: TestDatabase;
let services: Services;
let env: Record<string, string>;
let userId: string;

const kw = (...args: string[]) => keywardInProcess(args, { env });
const ok = async (...args: string[]) => {
  const run = await kw(...args);
  expect(run.code, run.stderr).toBe(0);
  return run;
};
const json = async <T = Record<string, unknown>>(...args: string[]): Promise<T> => JSON.parse((await ok(...args, "--json")).stdout) as T;

beforeAll(async () => {
  database = await createTestDatabase();
  env = { DATABASE_URL: database.url, ISSUER, SCOPES: "mcp:read mcp:write notes:write" };
  services = await openServices(loadConfig({ ...env, LOG_LEVEL: "silent" }), createLogger("silent"), { migrate: false });
  userId = (await services.users.create(`cli${Date.now()}@example.com`, "correct horse battery")).id;
});

afterAll(async () => {
  await services?.close();
  await database?.drop();
});

describe("help tells resources and resource-servers apart", () => {
  it("lists both with different words, and every resources subcommand", async () => {
    const top = await kw("--help");
    expect(top.stdout).toMatch(/^ {2}resources .*MCP servers.*gateway/m);
    expect(top.stdout).toMatch(/^ {2}resource-servers +[^]*?introspect/m);
    const help = await kw("resources", "--help");
    for (const sub of ["add", "list", "show", "update", "remove", "apply"]) expect(help.stdout).toMatch(new RegExp(`^ {2}${sub}\\b`, "m"));
    expect((await kw("resources", "add", "--help")).stdout).toMatch(/--name <name>[^]*?\(required\)/);
  });
});

describe("keyward resources add --external and credentials", () => {
  it("prints the credentials once, keeps only the secret's hash, and --rotate replaces them", async () => {
    const run = await ok("resources", "add", "files", "--name", "File store", "--external", "https://files.example.test/mcp");
    const id = /client id: +(rsc_\w+)/.exec(run.stdout)?.[1];
    const secret = /client secret: +(\S+)/.exec(run.stdout)?.[1];
    expect(id).toBeTruthy();
    expect(secret).toBeTruthy();
    expect(run.stderr).toMatch(/not shown again/);
    const row = await services.db.resource.findUnique({ where: { slug: "files" } });
    expect(row).toMatchObject({ external: "https://files.example.test/mcp", credentialId: id });
    expect(JSON.stringify(row)).not.toContain(secret);

    const shown = await ok("resources", "credentials", "files");
    expect(shown.stdout.trim()).toBe(`client id: ${id}`);
    const rotated = await json<{ slug: string; clientId: string; clientSecret: string }>("resources", "credentials", "files", "--rotate");
    expect(rotated.slug).toBe("files");
    expect(rotated.clientId).not.toBe(id);
    expect(rotated.clientSecret).not.toBe(secret);
    expect((await services.db.resource.findUnique({ where: { slug: "files" } }))!.credentialId).toBe(rotated.clientId);

    const added = await json<{ credentialId: string; credentials: { clientId: string; clientSecret: string } }>(
      "resources",
      "add",
      "files-json",
      "--name",
      "Files JSON",
      "--external",
      "https://files-json.example.test/mcp",
    );
    expect(added.credentials.clientId).toBe(added.credentialId);
    // a gateway resource has no credentials
    await ok("resources", "add", "plain", "--name", "Plain", "--upstream", "http://127.0.0.1:8080/mcp");
    expect((await kw("resources", "credentials", "plain", "--rotate")).code).toBe(2);
    expect((await kw("resources", "credentials", "nothing")).code).toBe(3);
    await ok("resources", "remove", "plain", "--yes");
    await ok("resources", "remove", "files", "--yes");
    await ok("resources", "remove", "files-json", "--yes");
  });
});

describe("keyward resources add and list", () => {
  it("adds one: its URL on stdout, JSON with the documented shape", async () => {
    const run = await ok("resources", "add", "notes", "--name", "Team notes", "--upstream", "http://127.0.0.1:8080/mcp");
    expect(run.stdout.trim()).toBe(`${ISSUER}/mcp/notes`);
    expect(run.stderr).toMatch(/Added resource notes "Team notes"/);

    const added = await json(
      "resources",
      "add",
      "github-issues",
      "--name",
      "  Issues  ",
      "--upstream",
      "HTTPS://Example.COM:443/mcp",
      "--tool-scope",
      "create_issue=mcp:write",
      "--tool-scope",
      "search=mcp:read",
    );
    expect(added).toEqual({
      id: expect.stringMatching(/^res_/),
      slug: "github-issues",
      name: "Issues",
      url: `${ISSUER}/mcp/github-issues`,
      metadataUrl: `${ISSUER}/.well-known/oauth-protected-resource/mcp/github-issues`,
      upstream: "https://example.com/mcp",
      transport: { kind: "http", upstream: "https://example.com/mcp" },
      credentialId: null,
      toolScopes: { create_issue: "mcp:write", search: "mcp:read" },
      keyRateLimit: null,
      builtIn: false,
      createdAt: expect.any(String),
      updatedAt: expect.any(String),
    });
  });

  it("lists the built-in /mcp first, then the resources by slug", async () => {
    const list = await json<{ slug: string | null; builtIn: boolean; url: string; upstream: string | null; metadataUrl: string }[]>(
      "resources",
      "list",
    );
    expect(list.map((r) => [r.slug, r.builtIn, r.url])).toEqual([
      [null, true, `${ISSUER}/mcp`],
      ["github-issues", false, `${ISSUER}/mcp/github-issues`],
      ["notes", false, `${ISSUER}/mcp/notes`],
    ]);
    expect(list[0]).toMatchObject({ upstream: null, metadataUrl: `${ISSUER}/.well-known/oauth-protected-resource/mcp` });
    const table = (await ok("resources", "list")).stdout.split("\n");
    expect(table[0]).toMatch(/^SLUG +NAME +URL +UPSTREAM +TOOL SCOPES$/);
    expect(table[1]).toMatch(/^\(built-in\) .*\/mcp +- +whoami=mcp:read/);
    expect(table[2]).toMatch(/^github-issues +Issues .*create_issue=mcp:write search=mcp:read$/);
    expect(table[3]).toMatch(/^notes +Team notes .* none$/);
  });

  it("refuses bad input in words, exit 2, and adds nothing", async () => {
    const add = (slug: string, ...rest: string[]) =>
      kw("resources", "add", slug, "--name", "X", "--upstream", "http://127.0.0.1:9/mcp", ...rest);
    expectError(await add("Bad_Slug"), 2, /slug is 1 to 40 lowercase letters/);
    expectError(await kw("resources", "add", "x1", "--name", "X", "--upstream", "http://me:pw@127.0.0.1/mcp"), 2, /user name or password/);
    expectError(await kw("resources", "add", "x2", "--name", "X", "--upstream", "javascript:alert(1)"), 2, /http:\/\/ or https:\/\//);
    expectError(await add("x3", "--tool-scope", "search=root"), 2, /search: unknown scope "root" \(this server's scopes: mcp:read/);
    expectError(await add("x4", "--tool-scope", "search"), 2, /--tool-scope takes <tool>=<scope>/);
    expectError(await add("x5", "--tool-scope", "bad tool=mcp:read"), 2, /A tool name is 1 to 128/);
    expectError(await add("notes"), 2, /"notes" exists already/);
    expectError(await kw("resources", "add", "x6", "--upstream", "http://127.0.0.1:9/mcp"), 2, /required option '--name <name>'/);
    expect((await json<unknown[]>("resources", "list")).length).toBe(3);
  });
});

describe("keyward resources show", () => {
  it("shows health and how many active keys are bound to it", async () => {
    const url = `${ISSUER}/mcp/notes`;
    const by = { actor: { type: "cli" as const, id: null }, via: "cli" as const };
    await services.keys.mint({ userId, label: "a", source: "cli", resources: [url] }, by);
    await services.keys.mint({ userId, label: "b", source: "cli", resources: [`${ISSUER}/mcp/github-issues`, url] }, by);
    const revoked = await services.keys.mint({ userId, label: "c", source: "cli", resources: [url] }, by);
    await services.keys.revoke({ kind: "own", userId, id: revoked.key.id }, by);
    await services.keys.mint({ userId, label: "all", source: "cli", resources: null }, by);

    const shown = await json("resources", "show", "notes");
    expect(shown).toMatchObject({ slug: "notes", url, health: null, activeKeys: 2, builtIn: false });
    const text = (await ok("resources", "show", "notes")).stdout;
    expect(text).toMatch(/^slug: +notes$/m);
    expect(text).toMatch(/^health: +not reached yet$/m);
    expect(text).toMatch(/^keys: +2 active bound to it/m);

    const notes = await services.resources.get("notes");
    await services.db.resourceHealth.create({
      data: {
        resourceId: notes.id,
        lastOkAt: new Date("2026-01-02T03:04:00Z"),
        latencyMs: 12,
        lastErrorAt: new Date("2026-01-02T05:00:00Z"),
        lastError: "connection refused",
      },
    });
    expect((await json("resources", "show", "notes")).health).toEqual({
      lastOkAt: "2026-01-02T03:04:00.000Z",
      lastErrorAt: "2026-01-02T05:00:00.000Z",
      lastError: "connection refused",
      latencyMs: 12,
    });
    expect((await ok("resources", "show", "notes")).stdout).toMatch(
      /^health: +failing since 2026-01-02 05:00 UTC: connection refused \(last answered 2026-01-02 03:04 UTC in 12 ms\)$/m,
    );
  });

  it("an unknown slug is exit 3", async () => {
    expectError(await kw("resources", "show", "nope"), 3, /No resource "nope"/);
    expectError(await kw("resources", "show", "../notes"), 3, /No resource/);
  });
});

describe("keyward resources update", () => {
  it("changes the name and upstream; tool scopes are added, changed, removed or cleared", async () => {
    let r = await json("resources", "update", "github-issues", "--name", "GitHub issues", "--upstream", "http://127.0.0.1:7000/mcp");
    expect(r).toMatchObject({ name: "GitHub issues", upstream: "http://127.0.0.1:7000/mcp" });
    expect(r.toolScopes).toEqual({ create_issue: "mcp:write", search: "mcp:read" });
    r = await json("resources", "update", "github-issues", "--tool-scope", "search=notes:write", "--tool-scope", "close=mcp:write");
    expect(r.toolScopes).toEqual({ create_issue: "mcp:write", search: "notes:write", close: "mcp:write" });
    r = await json("resources", "update", "github-issues", "--remove-tool-scope", "search");
    expect(r.toolScopes).toEqual({ create_issue: "mcp:write", close: "mcp:write" });
    r = await json("resources", "update", "github-issues", "--no-tool-scopes", "--tool-scope", "only=mcp:read");
    expect(r.toolScopes).toEqual({ only: "mcp:read" });
    r = await json("resources", "update", "github-issues", "--no-tool-scopes");
    expect(r.toolScopes).toEqual({});
    expect((await services.resources.lookup.bySlug("github-issues"))?.name).toBe("GitHub issues");
  });

  it("refuses nothing to change, unknown tools and scopes, bad URLs; unknown slugs are exit 3", async () => {
    expectError(await kw("resources", "update", "notes"), 2, /nothing to change/);
    expectError(await kw("resources", "update", "notes", "--remove-tool-scope", "ghost"), 2, /notes has no tool scope for "ghost"/);
    expectError(await kw("resources", "update", "notes", "--tool-scope", "a=nope"), 2, /unknown scope "nope"/);
    expectError(await kw("resources", "update", "notes", "--upstream", "http://u:p@h/"), 2, /user name or password/);
    expectError(await kw("resources", "update", "notes", "--name", ""), 2, /A name is required/);
    expectError(await kw("resources", "update", "ghost", "--name", "x"), 3, /No resource "ghost"/);
    expectError(await kw("resources", "update", "ghost", "--tool-scope", "a=mcp:read"), 3, /No resource "ghost"/);
    expect((await services.resources.get("notes")).name).toBe("Team notes");
  });
});

describe("keyward resources remove", () => {
  it("without a terminal it wants --yes, and removes nothing", async () => {
    expectError(await kw("resources", "remove", "notes"), 2, /pass --yes/);
    expect(await services.resources.find("notes")).toBeDefined();
  });

  it.skipIf(spawnSync("script", ["--version"]).status !== 0)("in a terminal it asks first: anything but y keeps it", async () => {
    await ok("resources", "add", "asked", "--name", "Asked", "--upstream", "http://127.0.0.1:9/mcp");
    // util-linux `script` gives the command a pseudo-terminal; the answer goes in once the question is out
    const inTerminal = (answer: string) =>
      new Promise<{ code: number | null; output: string }>((resolve, reject) => {
        const child = spawn("script", ["-qec", "node bin/keyward.js resources remove asked", "/dev/null"], {
          env: { PATH: process.env.PATH ?? "", HOME: database.dir, LOG_LEVEL: "warn", ...env },
        });
        let output = "";
        let answered = false;
        child.stdout.on("data", (d: Buffer) => {
          output += d.toString();
          if (!answered && output.includes("[y/N]")) {
            answered = true;
            child.stdin.write(`${answer}\n`);
          }
        });
        child.on("error", reject);
        child.on("close", (code) => resolve({ code, output }));
      });
    const no = await inTerminal("n");
    expect(no.output).toMatch(
      /Remove asked \("Asked", https:\/\/kw\.example\.test\/mcp\/asked\) and revoke the 0 active keys bound to it\? \[y\/N\]/,
    );
    expect(no.output).toMatch(/keyward: asked was not removed/);
    expect(no.code).toBe(1);
    expect(await services.resources.find("asked")).toBeDefined();
    const yes = await inTerminal("y");
    expect(yes.output).toMatch(/Removed resource asked "Asked"; revoked 0 keys bound to it\./);
    expect(yes.code).toBe(0);
    expect(await services.resources.find("asked")).toBeUndefined();
  });

  it("--yes removes it, revokes the keys bound to it (not others), says how many, audit-logged", async () => {
    const url = `${ISSUER}/mcp/notes`;
    const by = { actor: { type: "cli" as const, id: null }, via: "cli" as const };
    const bound = await services.keys.mint({ userId, label: "bound", source: "cli", resources: [url] }, by);
    const other = await services.keys.mint({ userId, label: "other", source: "cli", resources: [`${ISSUER}/mcp/github-issues`] }, by);
    expect((await services.keys.verify(bound.raw, { resource: url })).ok).toBe(true);
    const notesId = (await services.resources.get("notes")).id;

    const run = await ok("resources", "remove", "notes", "--yes");
    expect(run.stdout.trim()).toBe(`Removed resource notes "Team notes"; revoked 3 keys bound to it.`);
    expect(await services.keys.verify(bound.raw, { resource: url })).toMatchObject({ ok: false, reason: "revoked" });
    expect((await services.keys.verify(other.raw, { resource: `${ISSUER}/mcp/github-issues` })).ok).toBe(true);
    expect(await services.resources.lookup.bySlug("notes")).toBeUndefined();
    const events = await services.db.auditEvent.findMany({ where: { action: "resource.removed", targetId: notesId } });
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ actorType: "cli", userId: null });

    expectError(await kw("resources", "remove", "notes", "--yes"), 3, /No resource "notes"/);
    const removed = await json("resources", "remove", "github-issues", "--yes");
    // "b" (bound to notes and github-issues) went with notes: only "other" is left to revoke
    expect(removed).toMatchObject({ resource: { slug: "github-issues" }, keysRevoked: 1 });
  });
});

describe("keyward resources apply", () => {
  it("--dry-run says what it would do and does nothing; then applies; then finds nothing to do", async () => {
    await ok("resources", "add", "kept", "--name", "Kept", "--upstream", "http://127.0.0.1:9/mcp");
    await ok("resources", "add", "changed", "--name", "Old", "--upstream", "http://127.0.0.1:9/mcp");
    const file = path.join(database.dir, "resources.json");
    writeFileSync(
      file,
      JSON.stringify({
        resources: [
          { slug: "fresh", name: "Fresh", upstream: "http://127.0.0.1:9001/mcp", toolScopes: { add: "mcp:write" } },
          { slug: "changed", name: "New", upstream: "http://127.0.0.1:9/mcp" },
        ],
      }),
    );
    const dry = await ok("resources", "apply", file, "--dry-run");
    expect(dry.stdout.trim().split("\n")).toEqual(["would add fresh", "would update changed (name)"]);
    expect(dry.stderr).toMatch(/Not in the file, left as they are: kept/);
    expect(await services.resources.find("fresh")).toBeUndefined();
    expect((await services.resources.get("changed")).name).toBe("Old");

    expect(await json("resources", "apply", file)).toEqual({
      dryRun: false,
      added: ["fresh"],
      updated: [{ slug: "changed", changed: ["name"] }],
      unchanged: [],
      notInFile: ["kept"],
    });
    expect((await services.resources.get("changed")).name).toBe("New");
    expect((await ok("resources", "apply", file)).stdout.trim().split("\n")).toEqual(["unchanged fresh", "unchanged changed"]);
  });

  it("a bad file is exit 2 with the entry named; nothing is applied", async () => {
    const file = path.join(database.dir, "bad.json");
    writeFileSync(
      file,
      JSON.stringify({
        resources: [
          { slug: "ok-one", name: "A", upstream: "http://127.0.0.1:1/mcp" },
          { slug: "b", name: "B", upstream: "gopher://x" },
        ],
      }),
    );
    expectError(
      await kw("resources", "apply", file),
      2,
      /RESOURCES_FILE .*bad\.json: resources\[1\]\.upstream: The upstream must be an http/,
    );
    expect(await services.resources.find("ok-one")).toBeUndefined();
    writeFileSync(file, "{ not json");
    expectError(await kw("resources", "apply", file), 2, /not valid JSON/);
    expectError(await kw("resources", "apply", path.join(database.dir, "missing.json")), 2, /cannot read it \(ENOENT\)/);
  });
});
