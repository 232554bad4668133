// `npm run bench -- --gateway`: what the gateway adds to a real MCP server nobody here wrote.
// The upstream is @modelcontextprotocol/server-everything in its Streamable HTTP mode; the same
// requests go to it directly, through Keyward's gateway (<ISSUER>/mcp/<slug>, a real key verified
// on every request, identity headers and the signed assertion added) and through a bare proxy
// (bench/bare-proxy.ts: the same plumbing and nothing else, the yardstick for the hop itself), in the
// same run, taking turns round after round (each side first, second and last in turn) because this
// shared machine's speed changes from one second to the next. Three numbers, each against its target
// (issue 24): tools/list throughput through the gateway ≥ 90 % of direct (10 connections), p99 added
// ≤ 1 ms (one connection), and time to the first SSE event of a long-running tool added ≤ 1 ms.
// --pin gives Keyward a CPU of its own (Linux taskset): the benchmark, its load generator and the
// upstream on CPU 0, Keyward (and the bare proxy) on CPU 1, so every side runs the load generator and
// the upstream on the same CPU and the gateway's work is not taken from them — a deployment where the
// gateway has its own core. Without it, on a machine with fewer than four cores the three processes share the CPUs and
// the throughput ratio measures how CPU is shared rather than what the gateway adds.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { createBenchDatabase, DEFAULT_PG_ADMIN_URL, postgresReachable, type Backend, type BenchDatabase } from "./database.js";
import { backendsOf, parseBenchArgs, pgUrlOf, positive } from "./options.js";
import { freePort, ROOT, startInstance, stopAll } from "./servers.js";
import { startEverything, type EverythingServer } from "../test/support/upstreams.js";
import { medianBy, processCpuMs, runLoad, usPerResponse, type LoadResult } from "./load.js";
import { mintKey, session } from "./oauth-client.js";
import { medianInterval } from "./report.js";

const t0 = performance.now();
const log = (msg: string) => process.stderr.write(`[gateway +${((performance.now() - t0) / 1000).toFixed(1)}s] ${msg}\n`);

const HELP = `npm run bench -- --gateway [options]
  --backends <list>      sqlite,postgresql (default both)
  --rounds <n>           rounds; in each, direct and gateway serve --round-duration s each (default 10)
  --round-duration <s>   seconds per side per round (default 2)
  --connections <n>      connections of the throughput runs (default 10)
  --first-events <n>     long-running tool calls per side for the time to the first SSE event (default 60)
  --pg-url <url>         PostgreSQL admin URL (default ${DEFAULT_PG_ADMIN_URL})
  --pin                  Keyward on CPU 1, everything else on CPU 0 (taskset; the load generator sleeps when idle)
  --out <file>           also write the Markdown report there`;

interface Options {
  backends: Backend[];
  rounds: number;
  roundSeconds: number;
  connections: number;
  firstEvents: number;
  pgUrl: string;
  pin: boolean;
  out?: string;
}

function options(argv: string[]): Options {
  const values = parseBenchArgs(argv, HELP, {
    gateway: { type: "boolean" },
    backends: { type: "string" },
    rounds: { type: "string" },
    "round-duration": { type: "string" },
    connections: { type: "string" },
    "first-events": { type: "string" },
    "pg-url": { type: "string" },
    out: { type: "string" },
    pin: { type: "boolean" },
  });
  return {
    backends: backendsOf(values.backends),
    rounds: Math.round(positive(values.rounds, "rounds", 10)),
    roundSeconds: positive(values["round-duration"], "round-duration", 2),
    connections: Math.round(positive(values.connections, "connections", 10)),
    firstEvents: Math.round(positive(values["first-events"], "first-events", 60)),
    pgUrl: pgUrlOf(values["pg-url"]),
    out: typeof values.out === "string" ? values.out : undefined,
    pin: values.pin === true,
  };
}

const SLUG = "everything";
const PROTOCOL = "2025-06-18";
const ACCEPT = "application/json, text/event-stream";

/** An MCP session: initialize, then notifications/initialized; returns the session id. */
async function openSession(url: string, auth: Record<string, string>): Promise<string> {
  const headers = { "content-type": "application/json", accept: ACCEPT, ...auth };
  const init = await fetch(url, {
    method: "POST",
    headers,
    body: JSON.stringify({
      jsonrpc: "2.0",
      id: 0,
      method: "initialize",
      params: { protocolVersion: PROTOCOL, capabilities: {}, clientInfo: { name: "keyward-bench", version: "1" } },
    }),
  });
  const id = init.headers.get("mcp-session-id");
  await init.text();
  if (init.status !== 200 || !id) throw new Error(`initialize at ${url} answered ${init.status} without a session id`);
  const sessionHeaders = { ...headers, "mcp-session-id": id, "mcp-protocol-version": PROTOCOL };
  const done = await fetch(url, {
    method: "POST",
    headers: sessionHeaders,
    body: JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" }),
  });
  await done.text();
  return id;
}

type Label = "direct" | "bare" | "gateway";

interface Side {
  label: Label;
  base: string;
  path: string;
  key?: string;
  session: string;
}

const TOOLS_LIST = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list", params: {} });

/**
 * Runs `taskset` (util-linux) with these arguments; a failure names what to do instead. With -a it
 * walks the process's threads, and one that ends meanwhile fails it ("No such process"): tried again.
 */
function taskset(args: string[]): void {
  for (let attempt = 1; ; attempt++) {
    const run = spawnSync("taskset", args, { encoding: "utf8" });
    if (run.status === 0) return;
    const why = run.error?.message ?? run.stderr.trim();
    if (attempt < 5 && /No such process/.test(why)) continue;
    throw new Error(`taskset ${args.join(" ")} failed (${why}): run without --pin`);
  }
}

let pinned = false;

function load(side: Side, connections: number, duration: number): Promise<LoadResult> {
  return runLoad({
    url: side.base,
    path: side.path,
    method: "POST",
    body: TOOLS_LIST,
    headers: {
      "content-type": "application/json",
      accept: ACCEPT,
      "mcp-session-id": side.session,
      "mcp-protocol-version": PROTOCOL,
      "mcp-method": "tools/list",
    },
    keys: side.key ? [side.key] : undefined,
    connections,
    duration,
    // Pinned, the load generator shares CPU 0 with the upstream: polling, it would take that CPU from it.
    awake: !pinned,
  });
}

/** Milliseconds from sending a tools/call of the long-running tool to the first SSE event (its first progress notification). */
async function firstEventMs(side: Side, n: number): Promise<number> {
  const body = JSON.stringify({
    jsonrpc: "2.0",
    id: 100 + n,
    method: "tools/call",
    params: { name: "trigger-long-running-operation", arguments: { duration: 0.02, steps: 2 }, _meta: { progressToken: n } },
  });
  const started = performance.now();
  const res = await fetch(`${side.base}${side.path}`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      accept: ACCEPT,
      "mcp-session-id": side.session,
      "mcp-protocol-version": PROTOCOL,
      "mcp-method": "tools/call",
      "mcp-name": "trigger-long-running-operation",
      ...(side.key ? { authorization: `Bearer ${side.key}` } : {}),
    },
    body,
  });
  if (!res.body) throw new Error(`${side.label}: no body`);
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let text = "";
  let at: number | undefined;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    text += decoder.decode(value, { stream: true });
    if (at === undefined && text.includes("notifications/progress")) at = performance.now() - started;
  }
  if (at === undefined) throw new Error(`${side.label}: no progress event before the result (status ${res.status}): ${text.slice(0, 300)}`);
  return at;
}

const median = (v: number[]) => medianBy(v, (x) => x);
const quantile = (v: number[], q: number) => [...v].sort((a, b) => a - b)[Math.min(v.length - 1, Math.floor(q * v.length))]!;

interface BackendResult {
  backend: Backend;
  /** Per round; `ratios` and `bareRatios`: gateway ÷ direct and bare proxy ÷ direct of the same round. */
  rps: Record<Label, number[]> & { ratios: number[]; bareRatios: number[] };
  p99: Record<Label, number[]> & { added: number[]; bareAdded: number[] };
  firstEvent: Record<Label, number[]>;
  /**
   * CPU (ms, user + system) the proxy in the middle (`middleMs`: Keyward, or the bare proxy on its side) and the
   * upstream spent over the throughput runs of each side, and the responses counted.
   */
  cpu: Record<Label, { middleMs: number; upstreamMs: number; requests: number }>;
  statuses: Record<string, Record<string, number>>;
}

/** The bare proxy (bench/bare-proxy.ts) in front of the upstream, on the CPU Keyward gets. */
async function startBareProxy(upstream: string): Promise<{ url: string; child: ChildProcess; stop(): Promise<void> }> {
  const port = await freePort();
  const child = spawn(process.execPath, ["--import", "tsx", "bench/bare-proxy.ts", String(port), upstream], {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "inherit"],
  });
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  await new Promise<void>((resolve, reject) => {
    child.stdout!.once("data", () => resolve());
    child.once("exit", (code) => reject(new Error(`bench/bare-proxy.ts exited (${code}) before listening`)));
  });
  return {
    url: `http://127.0.0.1:${port}`,
    child,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      await exited;
    },
  };
}

async function benchBackend(backend: Backend, cfg: Options): Promise<BackendResult> {
  let db: BenchDatabase | undefined;
  let upstream: EverythingServer | undefined;
  let bareProxy: Awaited<ReturnType<typeof startBareProxy>> | undefined;
  try {
    db = await createBenchDatabase(backend, cfg.pgUrl);
    upstream = await startEverything();
    bareProxy = await startBareProxy(upstream.url);
    const instance = await startInstance({ DATABASE_URL: db.url }, undefined, false);
    if (cfg.pin) {
      taskset(["-a", "-p", "-c", "1", String(instance.child.pid)]); // every thread, the ones it starts later too
      taskset(["-a", "-p", "-c", "1", String(bareProxy.child.pid)]); // the hop measured where Keyward runs
    }
    log(`${backend}: Keyward on ${instance.url}, server-everything on ${upstream.url}`);
    const now = backend === "sqlite" ? new Date().toISOString() : new Date();
    await db.query(
      backend === "sqlite"
        ? `INSERT INTO "Resource" (id, slug, name, upstream, "toolScopes", "createdAt", "updatedAt") VALUES (?, ?, ?, ?, '{}', ?, ?)`
        : `INSERT INTO "Resource" (id, slug, name, upstream, "toolScopes", "createdAt", "updatedAt") VALUES ($1, $2, $3, $4, '{}', $5, $6)`,
      ["res_bench", SLUG, "Everything (bench)", upstream.url, now, now],
    );
    const user = await session(instance.url);
    const { key } = await mintKey(user, "gateway bench");
    const gatewayPath = `/mcp/${SLUG}`;
    const direct: Side = {
      label: "direct",
      base: upstream.url.replace(/\/mcp$/, ""),
      path: "/mcp",
      session: await openSession(upstream.url, {}),
    };
    const bare: Side = {
      label: "bare",
      base: bareProxy.url,
      path: "/mcp",
      session: await openSession(`${bareProxy.url}/mcp`, {}),
    };
    const gateway: Side = {
      label: "gateway",
      base: instance.url,
      path: gatewayPath,
      key,
      session: await openSession(`${instance.url}${gatewayPath}`, { authorization: `Bearer ${key}` }),
    };
    const sides = [direct, bare, gateway];
    const cpuZero = () => ({ middleMs: 0, upstreamMs: 0, requests: 0 });
    const out: BackendResult = {
      backend,
      rps: { direct: [], bare: [], gateway: [], ratios: [], bareRatios: [] },
      p99: { direct: [], bare: [], gateway: [], added: [], bareAdded: [] },
      firstEvent: { direct: [], bare: [], gateway: [] },
      cpu: { direct: cpuZero(), bare: cpuZero(), gateway: cpuZero() },
      statuses: { direct: {}, bare: {}, gateway: {} },
    };
    /** Round n's order: each side first, second and last in turn (this machine's speed drifts within a round). */
    const orderOf = (n: number) => [0, 1, 2].map((i) => sides[(i + n) % sides.length]!);
    // CPU per request: what each process spent over a run, whatever else the machine is doing (the
    // ratio of Keyward's to the upstream's reads the same on a loaded machine as on a quiet one).
    const middle = (side: Side) => (side.label === "bare" ? bareProxy!.child.pid : instance.child.pid);
    const cpuNow = (side: Side) => ({ middle: processCpuMs(middle(side)), upstream: processCpuMs(upstream!.child.pid) });
    const measured = async (side: Side, connections: number, duration: number): Promise<LoadResult> => {
      const before = cpuNow(side);
      const r = await load(side, connections, duration);
      const after = cpuNow(side);
      if (before.middle !== null && after.middle !== null && before.upstream !== null && after.upstream !== null) {
        const c = out.cpu[side.label];
        c.middleMs += after.middle - before.middle;
        c.upstreamMs += after.upstream - before.upstream;
        c.requests += r.requests;
      }
      return r;
    };
    const count = (side: Side, r: LoadResult) => {
      for (const [k, v] of Object.entries(r.statuses)) out.statuses[side.label]![k] = (out.statuses[side.label]![k] ?? 0) + v;
    };
    log(`${backend}: warm-up`);
    for (const side of sides) await load(side, cfg.connections, 1);
    for (let round = 0; round < cfg.rounds; round++) {
      const order = orderOf(round);
      const rps: Record<string, number> = {};
      const p99: Record<string, number> = {};
      for (const side of order) {
        const r = await measured(side, cfg.connections, cfg.roundSeconds);
        count(side, r);
        rps[side.label] = r.rps;
      }
      for (const side of order) {
        const r = await load(side, 1, cfg.roundSeconds);
        count(side, r);
        p99[side.label] = r.p99;
      }
      for (const side of sides) {
        out.rps[side.label].push(rps[side.label]!);
        out.p99[side.label].push(p99[side.label]!);
      }
      out.rps.ratios.push(rps.gateway! / rps.direct!);
      out.rps.bareRatios.push(rps.bare! / rps.direct!);
      out.p99.added.push(p99.gateway! - p99.direct!);
      out.p99.bareAdded.push(p99.bare! - p99.direct!);
      log(
        `${backend} round ${round + 1}/${cfg.rounds}: tools/list direct ${rps.direct!.toFixed(0)}, bare proxy ${rps.bare!.toFixed(0)}, gateway ${rps.gateway!.toFixed(0)} req/s; p99 (1 conn) ${p99.direct!.toFixed(2)} / ${p99.bare!.toFixed(2)} / ${p99.gateway!.toFixed(2)} ms`,
      );
    }
    const us = (c: { middleMs: number; upstreamMs: number; requests: number }, ms: number) => usPerResponse(ms, c.requests).toFixed(0);
    log(
      `${backend}: CPU µs per request: Keyward ${us(out.cpu.gateway, out.cpu.gateway.middleMs)} (gateway), bare proxy ${us(out.cpu.bare, out.cpu.bare.middleMs)}, upstream ${us(out.cpu.direct, out.cpu.direct.upstreamMs)} (direct) / ${us(out.cpu.gateway, out.cpu.gateway.upstreamMs)} (via gateway)`,
    );
    for (let i = 0; i < cfg.firstEvents; i++) {
      for (const side of orderOf(i)) out.firstEvent[side.label].push(await firstEventMs(side, i));
    }
    await instance.stop();
    return out;
  } finally {
    await bareProxy?.stop();
    await upstream?.stop();
    await db?.drop();
  }
}

function render(cfg: Options, results: BackendResult[]): string {
  const pct = (v: number) => `${(v * 100).toFixed(1)} %`;
  const ms = (v: number) => `${v.toFixed(2)} ms`;
  const lines = [
    `# Gateway overhead (npm run bench -- --gateway)`,
    ``,
    `${new Date().toISOString()}; ${cfg.rounds} rounds of ${cfg.roundSeconds} s per side, ${cfg.connections} connections for throughput, 1 for latency; ${cfg.firstEvents} long-running calls per side for the first SSE event.`,
    `Upstream: @modelcontextprotocol/server-everything (Streamable HTTP, stateful); tools/list with a session; the gateway verifies a real portal key on every request.`,
    cfg.pin
      ? `Pinned (--pin): Keyward on CPU 1; the benchmark, its load generator (sleeping when idle) and the upstream on CPU 0. Load average at the end ${loadavg()[0]!.toFixed(2)}.`
      : `Not pinned: the load generator (polling, never sleeping), the upstream and Keyward share ${cpus().length} CPUs. Load average at the end ${loadavg()[0]!.toFixed(2)}.`,
    ``,
    `| backend | tools/list req/s direct | via gateway | gateway ÷ direct (median, interval) | p99 added (median) | first SSE event direct | via gateway | added (median) | added per call (median of the paired differences, interval) | target met |`,
    `|---|---|---|---|---|---|---|---|---|---|`,
  ];
  const firstAdded = (r: BackendResult, side: Label) => median(r.firstEvent[side]) - median(r.firstEvent.direct);
  for (const r of results) {
    const ratio = median(r.rps.ratios);
    const interval = medianInterval(r.rps.ratios);
    const added = median(r.p99.added);
    const fd = median(r.firstEvent.direct);
    const fg = median(r.firstEvent.gateway);
    const met = ratio >= 0.9 && added <= 1 && fg - fd <= 1;
    // Call i of each side ran in the same turn of the rotation: their difference leaves out the machine's drift.
    const perCall = r.firstEvent.gateway.map((g, i) => g - r.firstEvent.direct[i]!);
    const perCallInterval = medianInterval(perCall);
    lines.push(
      `| ${r.backend} | ${median(r.rps.direct).toFixed(0)} | ${median(r.rps.gateway).toFixed(0)} | ${pct(ratio)}${interval ? ` (${pct(interval.lo)}–${pct(interval.hi)})` : ""} | ${ms(added)} | ${ms(fd)} (p90 ${ms(quantile(r.firstEvent.direct, 0.9))}) | ${ms(fg)} (p90 ${ms(quantile(r.firstEvent.gateway, 0.9))}) | ${ms(fg - fd)} | ${ms(median(perCall))}${perCallInterval ? ` (${ms(perCallInterval.lo)}–${ms(perCallInterval.hi)})` : ""} | ${met ? "yes" : "no"} |`,
    );
  }
  lines.push(
    "",
    "The same three numbers for a bare proxy (bench/bare-proxy.ts: the gateway's plumbing, node:http in and undici out, with no key, no checks and no assertion), on the CPU Keyward gets, in the same rounds: what the extra loopback hop costs on this machine whoever makes it. The last columns split what the gateway adds into that hop and Keyward's own work.",
    "",
    "| backend | bare ÷ direct (median, interval) | p99 added by the bare proxy | first SSE event added by the bare proxy | gateway ÷ bare (throughput) | first SSE event: gateway − bare |",
    "|---|---|---|---|---|---|",
  );
  for (const r of results) {
    const interval = medianInterval(r.rps.bareRatios);
    const overBare = r.rps.ratios.map((g, i) => g / r.rps.bareRatios[i]!);
    lines.push(
      `| ${r.backend} | ${pct(median(r.rps.bareRatios))}${interval ? ` (${pct(interval.lo)}–${pct(interval.hi)})` : ""} | ${ms(median(r.p99.bareAdded))} | ${ms(firstAdded(r, "bare"))} | ${pct(median(overBare))} | ${ms(firstAdded(r, "gateway") - firstAdded(r, "bare"))} |`,
    );
  }
  lines.push(
    "",
    "Keyward CPU µs per request (gateway) vs upstream CPU µs per request (direct), over the throughput runs (user + system time of each process, /proc/<pid>/stat): the number to read on a loaded machine. The last column compares the two processes over the same seconds (the upstream does the same work per request either way), so it moves least with the machine's load. With a core of its own, the gateway keeps up with the upstream while Keyward's µs are at most the upstream's.",
    "",
    "| backend | Keyward CPU µs per request (gateway) | bare proxy CPU µs per request | upstream CPU µs per request (direct) | upstream via gateway | Keyward ÷ upstream (direct) | Keyward ÷ upstream (same runs) |",
    "|---|---|---|---|---|---|---|",
  );
  for (const r of results) {
    const keyward = usPerResponse(r.cpu.gateway.middleMs, r.cpu.gateway.requests);
    const bare = usPerResponse(r.cpu.bare.middleMs, r.cpu.bare.requests);
    const direct = usPerResponse(r.cpu.direct.upstreamMs, r.cpu.direct.requests);
    const via = usPerResponse(r.cpu.gateway.upstreamMs, r.cpu.gateway.requests);
    lines.push(
      `| ${r.backend} | ${keyward.toFixed(0)} | ${bare.toFixed(0)} | ${direct.toFixed(0)} | ${via.toFixed(0)} | ${pct(keyward / direct)} | ${pct(keyward / via)} |`,
    );
  }
  lines.push("", "Responses by status: " + results.map((r) => `${r.backend} ${JSON.stringify(r.statuses)}`).join("; "));
  return lines.join("\n");
}

export async function gatewayMain(argv: string[]): Promise<void> {
  const cfg = options(argv);
  if (cfg.backends.includes("postgresql")) {
    const problem = await postgresReachable(cfg.pgUrl);
    if (problem) throw new Error(`PostgreSQL is not reachable at ${cfg.pgUrl}: ${problem} (or pass --backends sqlite)`);
  }
  if (cfg.pin) {
    if (cpus().length < 2) throw new Error("--pin needs two CPUs");
    taskset(["-a", "-p", "-c", "0", String(process.pid)]); // the upstream and the load workers started from here inherit it
    pinned = true;
  }
  const results: BackendResult[] = [];
  try {
    for (const backend of cfg.backends) results.push(await benchBackend(backend, cfg));
  } finally {
    await stopAll();
  }
  const report = render(cfg, results);
  process.stdout.write(`${report}\n`);
  if (cfg.out) writeFileSync(cfg.out, `${report}\n`);
}
