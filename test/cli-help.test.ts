// What `keyward` tells people without a server or database: help marks required options and lists
// --database-url only where a database is opened; exit codes are described one way (help, README,
// docs/cli.md); mcp-config without --server uses this machine's server; whoami / logout with
// nothing stored say "not logged in" (exit 3).
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EXIT_CODES } from "../src/cli/errors.js";
import { expectError, keyward } from "./support/cli-run.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
let xdg: string;
/** A config folder with no credentials file: never logged in. */
const fresh = () => ({ XDG_CONFIG_HOME: xdg });

beforeAll(() => {
  xdg = mkdtempSync(path.join(tmpdir(), "keyward-cli-help-"));
});
afterAll(() => {
  if (xdg) rmSync(xdg, { recursive: true, force: true });
});

describe("help", () => {
  it("marks required options", async () => {
    for (const [args, option] of [
      [["mcp-config"], "--host <host>"],
      [["users", "create"], "--email <email>"],
      [["api-keys", "import"], "--user <email>"],
      [["orgs", "add-member"], "--role <role>"],
      [["auth", "set-token"], "--server <url>"],
    ] as const) {
      const run = await keyward([...args, "--help"]);
      expect(run.code).toBe(0);
      const entry = run.stdout.slice(run.stdout.indexOf(option)).split(/\n {2}-/)[0] ?? "";
      expect(entry, `${args.join(" ")} --help`).toMatch(/\(required\)/);
    }
    // An optional option is not marked.
    const list = await keyward(["api-keys", "list", "--help"]);
    expect(list.stdout).not.toContain("(required)");
  });

  it("lists --database-url only on commands that open a database", async () => {
    for (const args of [
      ["auth", "login"],
      ["auth", "whoami"],
      ["auth", "logout"],
      ["auth", "set-token"],
      ["keys", "check"],
      ["mcp-config"],
    ]) {
      const run = await keyward([...args, "--help"]);
      expect(run.code).toBe(0);
      expect(run.stdout, args.join(" ")).not.toContain("--database-url");
    }
    for (const args of [["migrate"], ["users", "create"], ["api-keys", "list"], ["resource-servers", "list"], ["orgs", "add-member"]]) {
      const run = await keyward([...args, "--help"]);
      expect(run.stdout, args.join(" ")).toContain("--database-url");
    }
  });
});

describe("exit codes are described one way", () => {
  it("keyward --help, README.md and docs/cli.md use the same words", async () => {
    const help = await keyward(["--help"]);
    expect(help.stdout).toContain(`Exit codes: ${EXIT_CODES.map(([code, meaning]) => `${code} ${meaning}`).join(", ")}.`);
    const readme = readFileSync(path.join(root, "README.md"), "utf8");
    expect(readme).toContain(`Exit codes: ${EXIT_CODES.map(([code, meaning]) => `\`${code}\` ${meaning}`).join(", ")}`);
    const docs = readFileSync(path.join(root, "docs", "cli.md"), "utf8");
    const table = docs.slice(docs.indexOf("## Errors and exit codes"));
    const rows = [...table.matchAll(/^\| (\d+) \| (.+) \|$/gm)].map((m) => [Number(m[1]), m[2] ?? ""] as const);
    expect(rows.map(([code]) => code)).toEqual(EXIT_CODES.map(([code]) => code));
    for (const [code, meaning] of EXIT_CODES) {
      const row = rows.find(([c]) => c === code)?.[1] ?? "";
      expect(row.toLowerCase().startsWith(meaning.toLowerCase()), `docs row ${code}: ${row}`).toBe(true);
    }
  });

  it("the codes are what the commands return", async () => {
    expectError(await keyward(["nope"]), 2, /unknown command/);
    expectError(await keyward(["auth", "whoami"], { env: fresh() }), 3, /not logged in/);
    expectError(await keyward(["keys", "check", "kw_user_x"]), 2, /invalid key/);
  });
});

describe("mcp-config without --server", () => {
  it("uses this machine's server: http://localhost:3000 by default", async () => {
    const run = await keyward(["mcp-config", "--host", "cursor"], { env: fresh() });
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({ mcpServers: { keyward: { url: "http://localhost:3000/mcp" } } });
    expect(run.stderr).toContain("No --server given: using this machine's server, http://localhost:3000");
  });

  it("follows PORT and ISSUER, as the server does", async () => {
    const port = await keyward(["mcp-config", "--host", "cursor"], { env: { ...fresh(), PORT: "4851" } });
    expect(JSON.parse(port.stdout)).toEqual({ mcpServers: { keyward: { url: "http://localhost:4851/mcp" } } });
    const issuer = await keyward(["mcp-config", "--host", "vscode"], { env: { ...fresh(), ISSUER: "https://keys.example.com/" } });
    expect(issuer.code, issuer.stderr).toBe(0);
    expect(issuer.stdout).toContain('"url": "https://keys.example.com/mcp"');
  });

  it("--server and KEYWARD_SERVER still win", async () => {
    const run = await keyward(["mcp-config", "--host", "cursor"], {
      env: { ...fresh(), ISSUER: "https://local.example.com", KEYWARD_SERVER: "https://remote.example.com" },
    });
    expect(run.stdout).toContain("https://remote.example.com/mcp");
    expect(run.stderr).not.toContain("No --server given");
  });
});

describe("not logged in", () => {
  it("auth whoami and auth logout with nothing stored: 'not logged in', exit 3", async () => {
    expectError(
      await keyward(["auth", "whoami"], { env: fresh() }),
      3,
      /^keyward: not logged in: no stored key; run `keyward auth login --server <url>`/,
    );
    expectError(await keyward(["auth", "logout"], { env: fresh() }), 3, /^keyward: not logged in/);
  });
});

describe("keyward --help stays light", () => {
  it("loads no database driver, Prisma client or web framework (they made --help ~0.5 s instead of ~0.3 s)", async () => {
    const { spawnSync } = await import("node:child_process");
    const probe = `
      import { createRequire } from "node:module";
      const require = createRequire(import.meta.url);
      process.argv = ["node", "keyward", "--help"];
      process.on("exit", () => {
        const heavy = Object.keys(require.cache).filter((k) => /node_modules\\/(better-sqlite3|@prisma|pg|koa|http-errors)\\//.test(k));
        process.stderr.write("HEAVY " + JSON.stringify(heavy.map((k) => k.replace(/.*node_modules\\//, ""))) + "\\n");
      });
      await import(${JSON.stringify(path.join(root, "dist", "cli", "index.js"))});`;
    const run = spawnSync(process.execPath, ["--input-type=module", "-e", probe], { cwd: root, encoding: "utf8" });
    const line = /HEAVY (.*)/.exec(run.stderr)?.[1];
    expect(line, run.stderr).toBeDefined();
    expect(JSON.parse(line!)).toEqual([]);
  });
});
