// `npm run bench:startup`: what starting Keyward costs, the compiled build (dist/) against running the
// TypeScript through tsx (how `npm start`, Docker and the CLI ran before the build existed).
//   ready     from spawning the process to the first 200 from /readyz, SQLite: the first start (an
//             empty file: migrations run) and a restart on the migrated file (the common case)
//   idle RSS  resident memory STARTUP_IDLE_SECONDS (default 10) after ready, with no request at all: of
//             the server (the node process at the bottom of the tree) and of the whole tree (npm and tsx
//             add processes of their own)
//   --help    `keyward --help`, spawn to exit
// Each variant runs STARTUP_RUNS times (default 5), variants taking turns; medians, with min–max.
// STARTUP_VARIANTS=compiled keeps only the variants whose name contains that text (skip the slow tsx ones).
// Other commands instead of the variants, compared the same way: after `--`, separated by `--`, e.g.
//   npm run bench:startup -- -- node dist/main.js -- env MALLOC_ARENA_MAX=2 node dist/main.js
// Markdown on stdout (docs/performance.md quotes it). Linux only (/proc).
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { ensureBuilt } from "../scripts/build.mjs";
import { freePort } from "../test/support/processes.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const runs = Number(process.env.STARTUP_RUNS ?? 5);
const idleMs = Number(process.env.STARTUP_IDLE_SECONDS ?? 10) * 1000;
const t0 = performance.now();
const trace = (what: string) =>
  process.env.STARTUP_TRACE && process.stderr.write(`${((performance.now() - t0) / 1000).toFixed(1)} s ${what}\n`);
const tsxCli = path.join(root, "node_modules", "tsx", "dist", "cli.mjs");
const npmCli = process.env.npm_execpath; // set when run through npm

interface Variant {
  name: string;
  server: string[] | undefined;
  help: string[] | undefined;
}
const node = process.execPath;
const allVariants: Variant[] = [
  {
    name: "tsx: `node --import tsx src/main.ts` (Docker before)",
    server: [node, "--import", "tsx", "src/main.ts"],
    help: [node, "--import", "tsx", "src/cli/index.ts", "--help"],
  },
  { name: "tsx: `tsx src/main.ts` (npm start before)", server: [node, tsxCli, "src/main.ts"], help: undefined },
  { name: "compiled: `node dist/main.js`", server: [node, "dist/main.js"], help: [node, "bin/keyward.js", "--help"] },
  {
    name: "compiled: `node --max-semi-space-size=1 dist/main.js` (Docker, npm start's server)",
    server: [node, "--max-semi-space-size=1", "dist/main.js"],
    help: undefined,
  },
  ...(npmCli
    ? [
        {
          name: "compiled: `npm start` (npm, the stale check, node dist/main.js)",
          server: [node, npmCli, "start", "--silent"],
          help: undefined,
        },
      ]
    : []),
];
/** Commands given after `--` (each one after its own `--`), replacing the built-in variants. */
function commandsOf(argv: readonly string[]): Variant[] {
  const commands: string[][] = [];
  for (const word of argv.slice(argv.indexOf("--"))) {
    if (word === "--") commands.push([]);
    else commands.at(-1)!.push(word);
  }
  return commands.filter((c) => c.length).map((c) => ({ name: `\`${c.join(" ")}\``, server: c, help: undefined }));
}
const given = process.argv.includes("--") ? commandsOf(process.argv) : [];
const variants = given.length ? given : allVariants.filter((v) => v.name.includes(process.env.STARTUP_VARIANTS ?? ""));

const rssKb = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0);
const childrenOf = (pid: number) =>
  readdirSync(`/proc/${pid}/task`).flatMap((task) =>
    readFileSync(`/proc/${pid}/task/${task}/children`, "utf8").split(" ").filter(Boolean).map(Number),
  );
/** The process tree under pid: [pid, ...descendants]. */
const tree = (pid: number): number[] => [pid, ...childrenOf(pid).flatMap(tree)];

/** Resident memory in MB of the server (the last process without children) and of the whole tree under pid. */
function idleRss(pid: number): { serverMb: number; treeMb: number } {
  const pids = tree(pid);
  const server = pids.filter((p) => childrenOf(p).length === 0).at(-1) ?? pid;
  return { serverMb: rssKb(server) / 1024, treeMb: pids.reduce((kb, p) => kb + rssKb(p), 0) / 1024 };
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once("exit", r));
  trace(`SIGTERM ${child.spawnargs.slice(1).join(" ")}`);
  // The whole process group, as a terminal does (npm also passes a SIGTERM on: `exec` in the start script).
  process.kill(-child.pid!, "SIGTERM");
  const timer = setTimeout(() => process.kill(-child.pid!, "SIGKILL"), 20_000);
  await exited;
  trace("exited");
  clearTimeout(timer);
}

/** Starts the server command on `file`; ms until /readyz answers 200, and the tree's RSS once idle. */
async function startOnce(
  command: string[],
  file: string,
  measureRss: boolean,
): Promise<{ readyMs: number; rss?: { serverMb: number; treeMb: number } }> {
  const port = await freePort();
  const started = performance.now();
  trace(`start ${command.slice(1).join(" ")}`);
  const child = spawn(command[0]!, command.slice(1), {
    cwd: root,
    env: {
      ...process.env,
      DATABASE_URL: `file:${file}`,
      PORT: String(port),
      HOST: "127.0.0.1",
      LOG_LEVEL: "warn",
      SHUTDOWN_DRAIN_SECONDS: "0",
    },
    stdio: ["ignore", "ignore", "pipe"],
    detached: true, // its own process group, signalled as one
  });
  let stderr = "";
  child.stderr!.on("data", (d) => (stderr += String(d)));
  try {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`${command.join(" ")} exited: ${stderr}`);
      try {
        if ((await fetch(`http://127.0.0.1:${port}/readyz`)).ok) break;
      } catch {
        /* not listening yet */
      }
      if (performance.now() - started > 60_000) throw new Error(`${command.join(" ")} not ready in 60 s: ${stderr}`);
      await new Promise((r) => setTimeout(r, 10));
    }
    const readyMs = performance.now() - started;
    if (!measureRss) return { readyMs };
    await new Promise((r) => setTimeout(r, idleMs));
    return { readyMs, rss: idleRss(child.pid!) };
  } finally {
    await stop(child);
  }
}

async function helpOnce(command: string[]): Promise<number> {
  const started = performance.now();
  trace(`start ${command.slice(1).join(" ")}`);
  const child = spawn(command[0]!, command.slice(1), { cwd: root, stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr!.on("data", (d) => (stderr += String(d)));
  const code = await new Promise<number | null>((r) => child.on("exit", r));
  if (code !== 0 || stderr) throw new Error(`${command.join(" ")}: exit ${code}, stderr ${JSON.stringify(stderr)}`);
  return performance.now() - started;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;
const fmt = (xs: number[], unit: string, digits = 0) =>
  xs.length ? `${median(xs).toFixed(digits)} ${unit} (${Math.min(...xs).toFixed(digits)}–${Math.max(...xs).toFixed(digits)})` : "–";

ensureBuilt();
const results = variants.map(() => ({
  first: [] as number[],
  restart: [] as number[],
  server: [] as number[],
  tree: [] as number[],
  help: [] as number[],
}));
for (let run = 0; run < runs; run++) {
  for (const [i, v] of variants.entries()) {
    const r = results[i]!;
    if (v.server) {
      const dir = mkdtempSync(path.join(tmpdir(), "keyward-startup-"));
      try {
        const file = path.join(dir, "keyward.db");
        r.first.push((await startOnce(v.server, file, false)).readyMs);
        const again = await startOnce(v.server, file, true);
        r.restart.push(again.readyMs);
        r.server.push(again.rss!.serverMb);
        r.tree.push(again.rss!.treeMb);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
    if (v.help) r.help.push(await helpOnce(v.help));
  }
  process.stderr.write(`run ${run + 1}/${runs} done\n`);
}

console.log(
  `Startup, ${runs} runs per variant, median (min–max), RSS ${idleMs / 1000} s after ready; node ${process.version}, ` +
    `${cpus().length} × ${cpus()[0]?.model ?? "?"}, load ${loadavg()[0]!.toFixed(2)}, ${new Date().toISOString().slice(0, 10)}\n`,
);
console.log(
  "| Variant | Ready, first start (migrates) | Ready, restart | Idle RSS (server) | Idle RSS (process tree) | `keyward --help` |",
);
console.log("|---|---|---|---|---|---|");
for (const [i, v] of variants.entries()) {
  const r = results[i]!;
  console.log(
    `| ${v.name} | ${fmt(r.first, "ms")} | ${fmt(r.restart, "ms")} | ${fmt(r.server, "MB")} | ${fmt(r.tree, "MB")} | ${fmt(r.help, "ms")} |`,
  );
}
