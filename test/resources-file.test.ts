// RESOURCES_FILE (src/resources/file.ts, applied by src/server.ts before listening): a server started
// with a file has its resources; a restart with the same file writes nothing (no audit event); a
// changed entry is updated; resources only in the database are left alone with one warning; a bad
// file stops the start with a message naming the entry; two instances starting at once with the
// same file both start. Both backends.
import { writeFileSync } from "node:fs";
import path from "node:path";
import { Writable } from "node:stream";
import { afterAll, beforeAll, describe, expect, inject, it, vi } from "vitest";
import { restartTestServer, startTestServer, type TestServer } from "./support/server.js";
import { createTestDatabase } from "./support/db.js";
import { keywardInProcess } from "./support/cli-run.js";
import { loadConfig } from "../src/config.js";
import { createLogger } from "../src/log.js";
import { startServer } from "../src/server.js";
import { ResourcesFileError, parseResourcesFile } from "../src/resources/file.js";
import { createDb } from "../src/db/client.js";
import { startInstance } from "./support/processes.js";

// On PostgreSQL every command that opens the database runs `prisma migrate deploy` first (seconds each).
vi.setConfig({ testTimeout: inject("testBackend") === "postgresql" ? 180_000 : 30_000 });

const entry = (slug: string, extra: Record<string, unknown> = {}) => ({
  slug,
  name: `The ${slug} server`,
  upstream: `http://127.0.0.1:4590/${slug}`,
  ...extra,
});
const write = (file: string, resources: unknown[]) => writeFileSync(file, JSON.stringify({ resources }, null, 2));

describe("a server started with RESOURCES_FILE", () => {
  let server: TestServer;
  let file: string;

  beforeAll(async () => {
    const dir = (await createTestDatabase()).dir; // a scratch folder for the file
    file = path.join(dir, "resources.json");
    write(file, [entry("notes", { toolScopes: { notes_add: "mcp:write" } }), entry("search")]);
    server = await startTestServer({ RESOURCES_FILE: file });
  });
  afterAll(async () => server?.close());

  const events = (action: string) => server.services.db.auditEvent.findMany({ where: { action } });

  it("has the file's resources, added once by Keyward (the system), before the first request", async () => {
    const list = await server.services.resources.list();
    expect(list.map((r) => [r.slug, r.name, r.transport.kind === "http" && r.transport.upstream, r.toolScopes])).toEqual([
      ["notes", "The notes server", "http://127.0.0.1:4590/notes", { notes_add: "mcp:write" }],
      ["search", "The search server", "http://127.0.0.1:4590/search", {}],
    ]);
    expect(list[0]!.url).toBe(`${server.config.baseUrl}/mcp/notes`);
    // startTestServer starts twice (the second time with its real ISSUER): the second start added nothing
    const added = await events("resource.added");
    expect(added).toHaveLength(2);
    for (const e of added) expect(e).toMatchObject({ actorType: "system", userId: null });
    expect(await server.services.resources.lookup.bySlug("notes")).toBeDefined();
  });

  it("a restart with the same file writes nothing: no audit event, updatedAt unchanged", async () => {
    const before = await server.services.resources.list();
    const eventsBefore = await server.services.db.auditEvent.count();
    server = await restartTestServer(server);
    expect(await server.services.resources.list()).toEqual(before);
    expect(await server.services.db.auditEvent.count()).toBe(eventsBefore);
  });

  it("a changed entry is updated (one event naming what changed); a new one added", async () => {
    write(file, [entry("notes", { name: "Notes", toolScopes: {} }), entry("search"), entry("wiki")]);
    server = await restartTestServer(server);
    expect(await server.services.resources.get("notes")).toMatchObject({ name: "Notes", toolScopes: {} });
    const updated = await events("resource.updated");
    expect(updated).toHaveLength(1);
    expect(JSON.parse(updated[0]!.details)).toMatchObject({ slug: "notes", changed: "name toolScopes" });
    expect((await events("resource.added")).length).toBe(3);
    expect(server.logs.join("")).toMatch(/RESOURCES_FILE applied/);
  });

  it("resources not in the file are left alone, with one warning naming them", async () => {
    await server.services.resources.add(entry("manual"), { actor: { type: "cli" } });
    write(file, [entry("notes", { name: "Notes" }), entry("search")]);
    const logsBefore = server.logs.length;
    server = await restartTestServer(server);
    expect((await server.services.resources.list()).map((r) => r.slug)).toEqual(["manual", "notes", "search", "wiki"]);
    const warnings = server.logs.slice(logsBefore).filter((l) => l.includes("not in RESOURCES_FILE"));
    expect(warnings).toHaveLength(1);
    expect(JSON.parse(warnings[0]!)).toMatchObject({ level: 40, resources: ["manual", "wiki"] });
    expect(await server.services.db.auditEvent.count({ where: { action: "resource.removed" } })).toBe(0);
  });

  it("keyRateLimit is declared like the rest: set, changed, and gone when the file no longer names it", async () => {
    const limitOf = async () => (await server.services.resources.get("search"))?.keyRateLimit;
    const updatesBefore = (await events("resource.updated")).length;
    write(file, [entry("notes", { name: "Notes" }), entry("search", { keyRateLimit: 30 })]);
    server = await restartTestServer(server);
    expect(await limitOf()).toBe(30);
    write(file, [entry("notes", { name: "Notes" }), entry("search", { keyRateLimit: 30 })]);
    server = await restartTestServer(server); // the same file again: nothing written
    expect((await events("resource.updated")).length).toBe(updatesBefore + 1);
    write(file, [entry("notes", { name: "Notes" }), entry("search")]);
    server = await restartTestServer(server);
    expect(await limitOf()).toBeNull();
    const updated = await events("resource.updated");
    expect(updated).toHaveLength(updatesBefore + 2);
    for (const e of updated.slice(updatesBefore)) expect(JSON.parse(e.details)).toMatchObject({ slug: "search" });
  });
});

describe("a bad RESOURCES_FILE stops the start", () => {
  const start = async (file: string) => {
    const database = await createTestDatabase();
    const logs: string[] = [];
    const sink = new Writable({ write: (c, _e, cb) => (logs.push(String(c)), cb()) });
    const config = loadConfig({ DATABASE_URL: database.url, PORT: "0", HOST: "127.0.0.1", RESOURCES_FILE: file });
    try {
      const running = await startServer(config, createLogger("info", sink), { migrate: false });
      await running.stop();
      return undefined;
    } catch (err) {
      return err as Error;
    } finally {
      await database.drop();
    }
  };

  it("names the file and the entry; nothing listens", async () => {
    const dir = (await createTestDatabase()).dir;
    const file = path.join(dir, "bad.json");
    write(file, [entry("a"), entry("b"), entry("c", { upstream: "http://user:pw@127.0.0.1/mcp" })]);
    const err = await start(file);
    expect(err).toBeInstanceOf(ResourcesFileError);
    expect(err!.message).toBe(`RESOURCES_FILE ${file}: resources[2].upstream: The upstream URL must not carry a user name or password`);
    expect(err!.message).not.toContain("pw@");

    write(file, [entry("a"), entry("a")]);
    expect((await start(file))!.message).toMatch(/resources\[1\]\.slug: "a" is declared twice \(also resources\[0\]\)/);
    write(file, [entry("a", { toolScopes: { x: "root" } })]);
    expect((await start(file))!.message).toMatch(/resources\[0\]\.toolScopes\.x: unknown scope "root"/);
    writeFileSync(file, "[]");
    expect((await start(file))!.message).toMatch(/RESOURCES_FILE .*: expected object/i);
    writeFileSync(file, "{");
    expect((await start(file))!.message).toMatch(/not valid JSON/);
    expect((await start(path.join(dir, "missing.json")))!.message).toMatch(/cannot read it \(ENOENT\)/);
  });

  it("keyward serve: one line, exit 1, no stack", async () => {
    const database = await createTestDatabase();
    const file = path.join(database.dir, "bad.json");
    write(file, [entry("ok"), { slug: "Nope", name: "x", upstream: "http://127.0.0.1/" }]);
    const run = await keywardInProcess(["serve", "--port", "0", "--host", "127.0.0.1"], {
      env: { DATABASE_URL: database.url, RESOURCES_FILE: file, LOG_LEVEL: "silent" },
    });
    await database.drop();
    expect(run.code).toBe(1);
    expect(run.stderr.trim()).toMatch(/^keyward: RESOURCES_FILE .*bad\.json: resources\[1\]\.slug: A slug is 1 to 40 lowercase letters/);
    expect(run.stderr.trim().split("\n")).toHaveLength(1);
    expect(run.stderr).not.toMatch(/\bat .*\.ts:\d+/);
  });

  it("unknown fields are refused by name, not ignored", () => {
    expect(() => parseResourcesFile({ resources: [{ ...entry("a"), upsteam: "x" }] }, ["mcp:read"])).toThrow(/resources\[0\]: .*upsteam/);
    expect(() => parseResourcesFile({ resource: [] }, ["mcp:read"])).toThrow(/resource/);
  });
});

describe("two instances starting at once with the same file (two processes)", () => {
  it("both start, each resource is added once; a bad file stops `npm start` with one line", async () => {
    const database = await createTestDatabase();
    const file = path.join(database.dir, "resources.json");
    const slugs = Array.from({ length: 15 }, (_, i) => `r${i}`);
    write(
      file,
      slugs.map((s) => entry(s)),
    );
    const env = { DATABASE_URL: database.url, RESOURCES_FILE: file };
    const instances = await Promise.all([startInstance(env), startInstance(env)]);
    const db = await createDb(database.url);
    try {
      expect((await db.resource.findMany()).map((r) => r.slug).sort()).toEqual([...slugs].sort());
      expect(await db.auditEvent.count({ where: { action: "resource.added" } })).toBe(slugs.length);
      expect(await db.auditEvent.count({ where: { action: "resource.updated" } })).toBe(0);
      await Promise.all(instances.map((i) => i.stop()));

      write(file, [entry("x", { upstream: "ftp://127.0.0.1/" })]);
      const failed = await startInstance(env).then(
        () => new Error("started"),
        (err: Error) => err,
      );
      expect(failed.message).toMatch(
        /Keyward stopped: RESOURCES_FILE .*resources\[0\]\.upstream: The upstream must be an http:\/\/ or https:\/\/ URL/,
      );
      expect(failed.message).not.toMatch(/\bat .*\.js:\d+/);
    } finally {
      await Promise.all(instances.map((i) => i.stop()));
      await db.$disconnect();
      await database.drop();
    }
  }, 120_000);
});
