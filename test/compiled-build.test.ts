// The compiled build (scripts/build.mjs: src/ to dist/ with tsc) from the outside: what runs is plain
// JavaScript, never older than the source. The rebuild tests work on a scratch copy of the tree, so
// the dist/ the rest of the suite spawns is never rebuilt under it.
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort, startInstance } from "./support/processes.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
// Settings a developer's shell might carry: the CLI must see only what a test gives it.
const env = Object.fromEntries(
  Object.entries(process.env).filter(([k]) => !["DATABASE_URL", "LOG_LEVEL", "KEYWARD_DEBUG", "NODE_OPTIONS"].includes(k)),
);

describe("a scratch copy of the tree", () => {
  let tree: string;
  const run = (args: string[], extra: Record<string, string> = {}) =>
    spawnSync(process.execPath, args, { cwd: tree, env: { ...env, ...extra }, encoding: "utf8" });

  beforeAll(() => {
    tree = mkdtempSync(path.join(tmpdir(), "keyward-build-"));
    for (const name of ["src", "scripts", "bin", "prisma", "prisma.config.ts", "package.json", "tsconfig.json", "tsconfig.build.json"])
      cpSync(path.join(root, name), path.join(tree, name), { recursive: true });
    symlinkSync(path.join(root, "node_modules"), path.join(tree, "node_modules"));
    execFileSync(process.execPath, ["scripts/build.mjs"], { cwd: tree, stdio: "pipe" });
  }, 60_000);
  afterAll(() => {
    if (tree) rmSync(tree, { recursive: true, force: true });
  });

  it("builds plain JavaScript into dist/ (the entry points `npm start` and the CLI run)", () => {
    for (const file of [
      "dist/main.js",
      "dist/cli/index.js",
      "dist/app.js",
      "dist/generated/sqlite/client.js",
      "dist/generated/postgresql/client.js",
    ])
      expect(existsSync(path.join(tree, file)), file).toBe(true);
    expect(readFileSync(path.join(tree, "dist/server.js"), "utf8")).not.toMatch(/^import type |: Promise<void>/m);
  });

  it("dist/main.js is the server as one bundle (its own modules inlined, packages with native code imported)", () => {
    const main = readFileSync(path.join(tree, "dist/main.js"), "utf8");
    expect(main).not.toMatch(/from\s*"\.\/(app|server|config)\.js"/);
    expect(main).toMatch(/from\s*"better-sqlite3"/);
    expect(main).not.toContain("wasm-base64");
    expect(main).toContain(`new URL("./web/render.js",import.meta.url)`);
  });

  it("the Prisma clients read their query compiler from a .wasm file, not a base64 string kept on the heap", () => {
    for (const backend of ["sqlite", "postgresql"]) {
      const client = readFileSync(path.join(tree, `dist/generated/${backend}/internal/class.js`), "utf8");
      expect(client, backend).not.toContain("wasm-base64");
      expect(client, backend).toContain('new URL("../query_compiler_bg.wasm", import.meta.url)');
      const wasm = readFileSync(path.join(tree, `dist/generated/${backend}/query_compiler_bg.wasm`));
      expect(wasm.subarray(0, 4).toString("latin1"), backend).toBe("\0asm");
    }
  });

  it("`keyward --help` runs the compiled CLI: exit 0, nothing on stderr (no oidc-provider runtime warning)", () => {
    const help = run(["bin/keyward.js", "--help"]);
    expect(help.status, help.stderr).toBe(0);
    expect(help.stderr).toBe("");
    expect(help.stdout).toMatch(/^Usage: keyward /);
  });

  it("a database command prints its one line and nothing else on stderr", () => {
    const migrate = run(["bin/keyward.js", "migrate"], { DATABASE_URL: `file:${path.join(tree, "data", "cli.db")}`, LOG_LEVEL: "warn" });
    expect(migrate.status, migrate.stderr).toBe(0);
    expect(migrate.stderr).toBe("");
    expect(migrate.stdout).toMatch(/^Database is up to date: file:/);
  }, 60_000);

  it("an unchanged tree is not rebuilt", () => {
    const before = statSync(path.join(tree, "dist/main.js")).mtimeMs;
    expect(run(["scripts/build.mjs", "--if-stale"]).status).toBe(0);
    expect(run(["bin/keyward.js", "--version"]).status).toBe(0);
    expect(statSync(path.join(tree, "dist/main.js")).mtimeMs).toBe(before);
  });

  it("an edited source is what the next `keyward` runs (a stale dist/ is rebuilt first)", () => {
    const program = path.join(tree, "src/cli/program.ts");
    writeFileSync(
      program,
      readFileSync(program, "utf8").replace("Keyward: self-hostable authorization server", "Keyward (edited after the build)"),
    );
    const help = run(["bin/keyward.js", "--help"]);
    expect(help.status, help.stderr).toBe(0);
    expect(help.stderr).toBe("");
    expect(help.stdout).toContain("Keyward (edited after the build)");
  }, 60_000);

  it("a deleted source leaves nothing behind in dist/", () => {
    writeFileSync(path.join(tree, "src/leftover.ts"), "export const leftover = 1;\n");
    expect(run(["scripts/build.mjs", "--if-stale"]).status).toBe(0);
    expect(existsSync(path.join(tree, "dist/leftover.js"))).toBe(true);
    unlinkSync(path.join(tree, "src/leftover.ts"));
    expect(run(["scripts/build.mjs", "--if-stale"]).status).toBe(0);
    expect(existsSync(path.join(tree, "dist/leftover.js"))).toBe(false);
  }, 60_000);
});

describe("the server from dist/", () => {
  it("migrates a fresh SQLite file, renders pages from views/ and serves static/", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "keyward-dist-"));
    const instance = await startInstance({ DATABASE_URL: `file:${path.join(dir, "fresh.db")}` });
    try {
      expect(instance.child.spawnargs.slice(1)).toEqual(["dist/main.js"]);
      const login = await fetch(`${instance.url}/login`);
      expect(login.status).toBe(200);
      expect(login.headers.get("content-type")).toMatch(/^text\/html/);
      expect(await login.text()).toMatch(/<form[^>]+action="\/login"/);
      const css = await fetch(`${instance.url}/static/app.css`);
      expect(css.status).toBe(200);
      expect((await css.text()).length).toBeGreaterThan(100);
    } finally {
      instance.child.kill("SIGTERM");
      expect(await instance.exited).toBe(0);
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});

describe("npm start", () => {
  it("serves from dist/, and a SIGTERM sent to npm alone stops the server, leaving no orphan", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "keyward-npm-start-"));
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    // Its own process group, so whatever happens the test can end every process npm started.
    const npm = spawn("npm", ["start", "--silent"], {
      cwd: root,
      env: {
        ...env,
        DATABASE_URL: `file:${path.join(dir, "k.db")}`,
        PORT: String(port),
        HOST: "127.0.0.1",
        LOG_LEVEL: "warn",
        SHUTDOWN_DRAIN_SECONDS: "0.2",
      },
      stdio: "ignore",
      detached: true,
    });
    const npmExited = new Promise<void>((r) => npm.on("exit", () => r()));
    const answers = async () => {
      try {
        return (await fetch(`${url}/readyz`)).status;
      } catch {
        return undefined;
      }
    };
    try {
      const deadline = Date.now() + 45_000;
      while ((await answers()) !== 200) {
        if (Date.now() > deadline) throw new Error("npm start: not ready in 45 s");
        await new Promise((r) => setTimeout(r, 100));
      }
      npm.kill("SIGTERM"); // npm's pid only, as a supervisor that started `npm start` does
      await npmExited;
      const gone = Date.now() + 15_000;
      while ((await answers()) !== undefined) {
        if (Date.now() > gone) throw new Error("the server kept running after npm was stopped");
        await new Promise((r) => setTimeout(r, 100));
      }
    } finally {
      try {
        process.kill(-npm.pid!, "SIGKILL");
      } catch {
        /* the group is gone: nothing was left behind */
      }
      rmSync(dir, { recursive: true, force: true });
    }
  }, 90_000);
});
