// Idle memory and start-up time of the server, measured from the outside (docs/performance.md, "Start-up").
//   node scripts/measure-idle.mjs                    `npm start` (npm, the stale check, the server), 5 runs
//   node scripts/measure-idle.mjs --runs 7 --idle 10
//   node scripts/measure-idle.mjs -- node dist/main.js   any other server command (after --)
//   node scripts/measure-idle.mjs -- npm start -- env MALLOC_ARENA_MAX=2 npm start   several, taking turns run by run
// Each run starts the command on one temporary SQLite file (migrated by a first start that is not counted) and
// a free port, with no request at all: "ready" is the "Keyward is listening" log line, from spawning the command.
// After --idle seconds (default 10) it reads VmRSS from /proc/<pid>/status of the server process (the node
// process at the bottom of the tree: npm's own process is not counted, the tree's total is printed beside it).
// Also times `node bin/keyward.js --help` (--no-help skips it). Prints each run and the medians. Linux only.
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import net from "node:net";
import { loadavg, tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const argv = process.argv.slice(2);
const dash = argv.indexOf("--");
const options = dash === -1 ? argv : argv.slice(0, dash);
/** The commands to compare, separated by `--`; default `npm start`. */
const commands = [];
for (const word of dash === -1 ? [] : argv.slice(dash)) {
  if (word === "--") commands.push([]);
  else commands.at(-1).push(word);
}
if (commands.length === 0) commands.push(["npm", "start", "--silent"]);
const option = (name, fallback) => {
  const i = options.indexOf(name);
  return i === -1 ? fallback : Number(options[i + 1]);
};
const runs = option("--runs", 5);
const idleMs = option("--idle", 10) * 1000;
const timeHelp = !options.includes("--no-help");

function freePort() {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

const rssKb = (pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0);
const childrenOf = (pid) =>
  readdirSync(`/proc/${pid}/task`).flatMap((task) =>
    readFileSync(`/proc/${pid}/task/${task}/children`, "utf8").split(" ").filter(Boolean).map(Number),
  );

/** The process tree under pid: [pid, ...descendants]. */
function tree(pid) {
  const out = [pid];
  for (const child of childrenOf(pid)) out.push(...tree(child));
  return out;
}

/** One start: ms until "Keyward is listening", then the server's and the tree's RSS (MB) after idleMs. */
async function startOnce(command, file, measure) {
  const port = await freePort();
  const started = performance.now();
  const child = spawn(command[0], command.slice(1), {
    cwd: root,
    env: {
      ...process.env,
      DATABASE_URL: `file:${file}`,
      PORT: String(port),
      HOST: "127.0.0.1",
      LOG_LEVEL: "info",
      SHUTDOWN_DRAIN_SECONDS: "0",
    },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true, // its own process group, stopped as one
  });
  const exited = new Promise((resolve) => child.once("exit", resolve));
  let output = "";
  const ready = new Promise((resolve, reject) => {
    const look = (d) => {
      output += String(d);
      if (output.includes("Keyward is listening")) resolve(performance.now() - started);
    };
    child.stdout.on("data", look);
    child.stderr.on("data", look);
    void exited.then(() => reject(new Error(`${command.join(" ")} exited before ready:\n${output}`)));
    setTimeout(() => reject(new Error(`${command.join(" ")} not ready in 60 s:\n${output}`)), 60_000).unref();
  });
  try {
    const readyMs = await ready;
    if (!measure) return { readyMs };
    await new Promise((r) => setTimeout(r, idleMs));
    const pids = tree(child.pid);
    const server = pids.filter((p) => childrenOf(p).length === 0).at(-1);
    return { readyMs, serverMb: rssKb(server) / 1024, treeMb: pids.reduce((kb, p) => kb + rssKb(p), 0) / 1024 };
  } finally {
    try {
      process.kill(-child.pid, "SIGTERM");
    } catch {
      /* gone */
    }
    const timer = setTimeout(() => process.kill(-child.pid, "SIGKILL"), 20_000);
    await exited;
    clearTimeout(timer);
  }
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
const range = (xs, digits = 0) => `${median(xs).toFixed(digits)} (${Math.min(...xs).toFixed(digits)}–${Math.max(...xs).toFixed(digits)})`;

const dir = mkdtempSync(path.join(tmpdir(), "keyward-idle-"));
try {
  const file = path.join(dir, "idle.db");
  console.log(`${runs} runs, server RSS ${idleMs / 1000} s after ready; load ${loadavg()[0].toFixed(2)}`);
  const first = await startOnce(commands[0], file, false);
  console.log(`first start (migrates): ready ${first.readyMs.toFixed(0)} ms`);
  const results = commands.map(() => []);
  for (let i = 0; i < runs; i++) {
    for (const [c, command] of commands.entries()) {
      const r = await startOnce(command, file, true);
      results[c].push(r);
      console.log(
        `run ${i + 1} ${command.join(" ")}: ready ${r.readyMs.toFixed(0)} ms, server ${r.serverMb.toFixed(1)} MB, ` +
          `tree ${r.treeMb.toFixed(1)} MB (load ${loadavg()[0].toFixed(2)})`,
      );
    }
  }
  for (const [c, command] of commands.entries()) {
    const rs = results[c];
    console.log(
      `${command.join(" ")}: median (min–max) ready ${range(rs.map((r) => r.readyMs))} ms, ` +
        `server RSS ${range(rs.map((r) => r.serverMb))} MB, tree ${range(rs.map((r) => r.treeMb))} MB`,
    );
  }
  if (timeHelp) {
    const help = [];
    for (let i = 0; i < runs; i++) {
      const started = performance.now();
      const out = spawnSync(process.execPath, ["bin/keyward.js", "--help"], { cwd: root, encoding: "utf8" });
      if (out.status !== 0) throw new Error(`keyward --help: exit ${out.status}: ${out.stderr}`);
      help.push(performance.now() - started);
    }
    console.log(`keyward --help: median (min–max) ${range(help)} ms`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
